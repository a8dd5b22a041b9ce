# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Active/Active scaling: volume operations per second with N services.

The cluster of ``cinder-aa-stress`` (:class:`cinder.stress.cluster.Cluster`)
runs the real ``cinder-volume`` processes, with
:class:`cinder.tests.bench.driver.LatencyDriver` as their driver and no
ledger. The workload does not conflict: each request is on a volume (and
its snapshot) that no other request in flight touches. Each volume goes
through :data:`LIFECYCLE`, one request per step, and each request goes to
the next service in turn, as a scheduler spreading load over a cluster
would. Every operation takes the locks it takes in production (the
manager's delete locks, the driver's volume lock) and removes the lock
files of what it deletes.

The cluster is started once with the largest number of services; a step
with ``n`` services sends requests to the first ``n`` only, the others
stay idle.
"""

import itertools
import threading
import time

from cinder import exception
from cinder import messaging
from cinder import objects
from cinder.stress import cluster as cluster_mod
from cinder.tests.bench import stats

DRIVER = 'cinder.tests.bench.driver.LatencyDriver'

#: The requests made for each volume, in order.
LIFECYCLE = ('create_volume', 'extend_volume', 'create_snapshot',
             'delete_snapshot', 'delete_volume')

REQUEST_TIMEOUT = 120


def lifecycles_for(requests):
    """How many volume lifecycles make at least ``requests`` requests."""
    return max(1, -(-requests // len(LIFECYCLE)))


class Load(object):
    """Send the lifecycles of ``volumes`` volumes to ``services``.

    :param services: objects with a ``client(timeout)`` method
        (:class:`cinder.local_service.ServiceProcess`).
    :param workers: requests in flight at once.
    """

    def __init__(self, services, volumes, workers):
        self.services = list(services)
        self.volumes = volumes
        self.workers = workers
        self.latencies = []
        self.errors = []
        self._next_volume = itertools.count()
        self._next_service = itertools.count()
        self._lock = threading.Lock()

    def _service(self):
        with self._lock:
            index = next(self._next_service) % len(self.services)
        return self.services[index]

    def _call(self, method, **args):
        service = self._service()
        began = time.monotonic()
        try:
            service.client(timeout=REQUEST_TIMEOUT).call(method, **args)
        except (messaging.RemoteError, exception.RequestOutcomeUnknown) as e:
            with self._lock:
                self.errors.append('%s on %s: %s' % (method, service.host,
                                                     e))
            return False
        finally:
            elapsed = time.monotonic() - began
            with self._lock:
                self.latencies.append(elapsed)
        return True

    def lifecycle(self):
        volume = objects.Volume(size=1)
        if not self._call('create_volume', volume=volume):
            return
        if not self._call('extend_volume', volume=volume, new_size=2):
            return
        snapshot = objects.Snapshot(volume=objects.Volume.from_dict(
            volume.to_dict()))
        if self._call('create_snapshot', snapshot=snapshot):
            self._call('delete_snapshot', snapshot=snapshot)
        self._call('delete_volume', volume=volume)

    def _worker(self):
        while True:
            with self._lock:
                number = next(self._next_volume)
            if number >= self.volumes:
                return
            self.lifecycle()

    def run(self):
        """Run every lifecycle; return the wall time in seconds."""
        threads = [threading.Thread(target=self._worker,
                                    name='bench-load-%d' % i)
                   for i in range(self.workers)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - began


def step(services, requests, per_service):
    """One measured step on ``services``; returns its result row.

    :param per_service: requests in flight per service.
    """
    # Warm up: one lifecycle per service, not measured.
    Load(services, len(services), len(services)).run()
    workers = per_service * len(services)
    load = Load(services, lifecycles_for(requests), workers)
    seconds = load.run()
    done = len(load.latencies)
    summary = stats.summarize(load.latencies)
    return {'services': len(services), 'requests': done,
            'workers': workers, 'seconds': seconds,
            'ops_per_second': stats.rate(done, seconds),
            'p50': summary['p50'], 'p99': summary['p99'],
            'errors': len(load.errors), 'error_examples': load.errors[:3]}


def run(backend, url, work_dir, latency, requests, counts=(1, 2, 3),
        per_service=4, progress=None, hosts='local'):
    """Scale from ``min(counts)`` to ``max(counts)`` services on ``url``.

    :param per_service: requests in flight per service of a step, so that
        every service always has work queued (it runs one at a time).
    :param hosts: ``local``, or ``netns``: each service in a namespace of
        its own, and the lock server (not ``url``, which the namespaces
        cannot reach) started by the cluster in the control namespace.
    """
    largest = max(counts)
    if hosts == 'netns':
        where = {'lock_server': None if backend == 'file' else backend}
    else:
        where = {'backend_url': url}
    cluster = cluster_mod.Cluster(
        work_dir, services=largest, volume_driver=DRIVER, hosts=hosts,
        **where,
        options={'DEFAULT': {'bench_latency': latency,
                             'bench_parallel': 1},
                 'coordination': {'hooks': ''}})
    steps = []
    try:
        if progress is not None:
            progress('scaling on %s, hosts %s: starting %d services' % (
                backend, hosts, largest))
        cluster.start()
        for count in counts:
            if progress is not None:
                progress('scaling on %s: %d service(s)' % (backend, count))
            row = step(cluster.services[:count], requests, per_service)
            row['backend'] = backend
            steps.append(row)
    finally:
        cluster.stop()
    return {'backend': backend, 'hosts': hosts, 'latency': latency,
            'per_service': per_service, 'steps': steps}
