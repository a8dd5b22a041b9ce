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

"""Round trip of a volume request through the message bus.

One real ``cinder-volume`` (:class:`cinder.tests.bench.driver.LatencyDriver`
with no latency, no ledger) on a private RabbitMQ broker, started by
:class:`cinder.stress.cluster.Cluster`. The client sends
``get_volume_stats`` (a call: request, then reply) ``requests`` times, then
as many casts each followed by a call (two messages, one reply), and
times each on its monotonic clock. The first requests warm the
connections up and are not counted. With ``hosts='netns'`` the service
runs in a network namespace of its own and the broker and this client in
another: every message crosses the bridge twice.
"""

import time

from cinder.stress import cluster as cluster_mod
from cinder.tests.bench import scaling
from cinder.tests.bench import stats

WARM_UP = 20
CALL = 'call'
CAST_THEN_CALL = 'cast, then call'


def measure(client, requests, clock=time.perf_counter):
    """``{scenario: summary}`` of ``requests`` round trips each."""
    for _ in range(WARM_UP):
        client.call('get_volume_stats')
    samples = {CALL: [], CAST_THEN_CALL: []}
    for _ in range(requests):
        began = clock()
        client.call('get_volume_stats')
        samples[CALL].append(clock() - began)
    for _ in range(requests):
        began = clock()
        client.cast('get_volume_stats')
        client.call('get_volume_stats')
        samples[CAST_THEN_CALL].append(clock() - began)
    return {scenario: stats.summarize(values)
            for scenario, values in samples.items()}


def run(work_dir, requests, progress=None, hosts='local'):
    """Start the service and broker, measure; the result dict.

    :param hosts: ``local``, or ``netns``: the service in a namespace of
        its own, the broker and the client in the control namespace.
    """
    cluster = cluster_mod.Cluster(
        work_dir, services=1, volume_driver=scaling.DRIVER, hosts=hosts,
        options={'DEFAULT': {'bench_latency': 0, 'bench_parallel': 1},
                 'coordination': {'hooks': ''}})
    try:
        if progress is not None:
            progress('bus, hosts %s: starting a broker and one service' %
                     hosts)
        cluster.start()
        if progress is not None:
            progress('bus: %d round trips per scenario' % requests)
        service = cluster.services[0]
        rows = measure(service.client(timeout=30), requests)
    finally:
        cluster.stop()
    return {'hosts': hosts, 'requests': requests,
            'scenarios': [dict(summary, scenario=name)
                          for name, summary in rows.items()]}
