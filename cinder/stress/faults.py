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

"""Faults that cinder-aa-stress injects while its workload runs."""

import random
import threading
import time

from cinder import exception
from cinder import messaging

#: Seconds a healed service has to answer a request again.
RECOVERY_TIMEOUT = 90
#: Seconds each probe of a healed service may take.
PROBE_TIMEOUT = 3

#: Fault kind -> way of :meth:`~cinder.stress.cluster.Cluster.partition`.
PARTITION_KINDS = {'partition': 'both', 'partition-one-way': 'one-way',
                   'partition-lock-server': 'lock-server'}


class Fault(object):
    """One fault: its kind, host, time span and what was done.

    ``recovered``: for a partition, the clock time at which the cut-off
    service answered a request again after the heal, or None; until then
    its failures are the fault's.
    """

    __slots__ = ('kind', 'host', 'target', 'start', 'end', 'note',
                 'recovered')

    def __init__(self, kind, host):
        self.kind = kind
        self.host = host          # requests it may hit; None: all
        self.target = host        # the service it was injected into
        self.start = time.monotonic()
        self.end = None
        self.note = ''
        self.recovered = None

    def hits(self, outcome):
        """Did this fault happen while ``outcome``'s request ran?"""
        if self.host is not None and outcome.host != self.host:
            return False
        end = max(self.end, self.recovered or self.end)
        return outcome.start <= end and self.start <= outcome.end


class FaultInjector(object):
    """Every ``interval`` seconds, one fault, in turn of the kinds possible.

    ``kill``: kill -9 a service (and its qemu-img) and start it again.
    ``pause``: SIGSTOP a service for its lease and 3 s more, then SIGCONT
    (only with a lease-based backend).
    ``lock-server-restart``: restart the lock server (only when the tool
    started it).
    ``partition``, ``partition-one-way``, ``partition-lock-server``: cut
    a service's host off from the broker and the lock server (both ways;
    only what it receives; only the lock server) for its lease and 3 s
    more, heal, and wait until it answers a request again, without a
    restart (only with ``--hosts netns`` and a lease-based lock server).
    """

    def __init__(self, cluster, seed=0, interval=8.0):
        self.cluster = cluster
        self.rng = random.Random('faults-%s' % seed)
        self.interval = interval
        self.faults = []
        self._stop = threading.Event()
        self._round = threading.Event()
        self._thread = None
        self.kinds = ['kill']
        if cluster.lease:
            self.kinds.append('pause')
        if cluster.server is not None:
            self.kinds.append('lock-server-restart')
        if cluster.network is not None and cluster.lease and \
                cluster.server is not None:
            self.kinds.extend(PARTITION_KINDS)

    def start(self):
        self._thread = threading.Thread(target=self._run, name='faults',
                                        daemon=True)
        self._thread.start()

    def round_done(self):
        """True once every kind of fault was injected at least once."""
        return self._round.is_set()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(120)

    def _run(self):
        turn = 0
        while not self._stop.wait(self.interval *
                                  self.rng.uniform(0.75, 1.25)):
            kind = self.kinds[turn % len(self.kinds)]
            turn += 1
            index = self.rng.randrange(len(self.cluster.services))
            host = self.cluster.services[index].host
            # A pause reaches every service: once the frozen one's lease
            # is over, others take its locks and may find its qemu-img
            # still holding an image (qemu's own image locking refuses).
            fault = Fault(kind, host if kind == 'kill' else None)
            fault.target = None if kind == 'lock-server-restart' else host
            try:
                if kind == 'kill':
                    pid = self.cluster.kill_and_restart(index)
                    fault.note = 'killed pid %d, restarted' % pid
                elif kind == 'pause':
                    seconds = self.cluster.lease + 3
                    self.cluster.pause(index, seconds, self._stop)
                    fault.note = 'paused %d s (lease %d s)' % (
                        seconds, self.cluster.lease)
                elif kind in PARTITION_KINDS:
                    self._partition(fault, index)
                else:
                    self.cluster.restart_lock_server()
                    fault.note = 'restarted %s' % (
                        self.cluster.lock_server_kind)
            except Exception as e:
                fault.note = 'failed to inject: %s' % e
            if fault.end is None:
                fault.end = time.monotonic()
            self.faults.append(fault)
            if turn >= len(self.kinds):
                self._round.set()

    def _partition(self, fault, index):
        seconds = self.cluster.lease + 3
        fault.start, fault.end = self.cluster.partition(
            index, seconds, PARTITION_KINDS[fault.kind], self._stop)
        fault.note = 'cut %d s (lease %d s), healed' % (
            seconds, self.cluster.lease)
        fault.recovered = self._wait_for_answer(index)
        if fault.recovered is None:
            fault.note += '; no answer within %d s after the heal' % (
                RECOVERY_TIMEOUT)
        else:
            fault.note += '; answered again %.1f s after the heal' % (
                fault.recovered - fault.end)

    def _wait_for_answer(self, index):
        """Clock time the service answered a probe, or None.

        ``get_volume_stats`` changes nothing, so a probe that went
        unanswered is followed by another; each is bounded, one at a time.
        """
        service = self.cluster.services[index]
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                service.client(timeout=PROBE_TIMEOUT).call(
                    'get_volume_stats')
            except (exception.RequestOutcomeUnknown,
                    messaging.RemoteError):
                continue
            return time.monotonic()
        return None
