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

"""Lock cycles: one client, and four processes on one or distinct names.

Scenarios:

``single``
    One process, one name. The subjects are interleaved: each gets
    ``rounds`` slices of ``duration / rounds`` seconds in turn, so that a
    change of the machine's load during the run hits all of them alike.
``one-name``
    Four processes on one name: contention. Gives the per-process counts
    (fairness), the longest wait and the hand-off latency.
``distinct``
    Four processes, each on a name of its own: what the backend sustains
    when locks do not conflict.
"""

from cinder.tests.bench import stats
from cinder.tests.bench import workers

SINGLE = 'single'
ONE_NAME = 'one-name'
DISTINCT = 'distinct'
SCENARIOS = (SINGLE, ONE_NAME, DISTINCT)


def result(kind, backend, scenario, replies, window):
    """Summarize the replies of the processes of one scenario.

    :param replies: per process, the decoded arrays of
        :func:`cinder.tests.bench.workers.decode` (``before``, ``inside``,
        ``after``), possibly concatenated over several slices.
    :param window: seconds the processes cycled (the sum of the slices).
    """
    cycle_times = []
    waits = []
    holds = []
    per_process = []
    for index, data in enumerate(replies):
        before, inside, after = data['before'], data['inside'], data['after']
        per_process.append(len(before))
        cycle_times.extend(a - b for b, a in zip(before, after))
        waits.extend(i - b for b, i in zip(before, inside))
        holds.extend((t, index) for t in inside)
    summary = stats.summarize(cycle_times)
    row = {
        'subject': kind, 'backend': backend, 'scenario': scenario,
        'processes': len(replies), 'seconds': window,
        'cycles': summary['count'],
        'per_process': per_process,
        'throughput': stats.rate(summary['count'], window),
        'p50': summary['p50'], 'p99': summary['p99'], 'max': summary['max'],
        'wait_max': max(waits) if waits else None,
        'fairness': stats.fairness(per_process),
        'threads_started': sum(data.get('threads_started', 0)
                               for data in replies),
    }
    if scenario == ONE_NAME:
        gaps, same = stats.handoffs(holds)
        handoff = stats.summarize(gaps)
        handoff['same_holder'] = same
        row['handoff'] = handoff
    return row


def _merge(into, data):
    for field in ('before', 'inside', 'after'):
        into.setdefault(field, []).extend(data[field])
    into['threads_started'] = (into.get('threads_started', 0) +
                               data.get('threads_started', 0))


def run_single(pool, keys, duration, rounds, progress=None):
    """Interleaved single-client runs of ``keys`` on worker 0."""
    merged = {k: {} for k in keys}
    piece = duration / float(rounds)
    for round_index in range(rounds):
        for k in keys:
            if progress is not None:
                progress('single client: %s, round %d/%d' % (
                    k, round_index + 1, rounds))
            reply, = pool.run(k, ['single'], piece,
                              warm=20 if round_index == 0 else 0,
                              settle=0.01)
            _merge(merged[k], workers.decode(reply))
    return {k: merged[k] for k in keys}


def run_contended(pool, key, processes, scenario, duration):
    """``processes`` workers cycling on one name or one name each."""
    if scenario == ONE_NAME:
        names = ['one'] * processes
    else:
        names = ['distinct-%d' % i for i in range(processes)]
    replies = pool.run(key, names, duration)
    late = max(r['late'] for r in replies)
    return [workers.decode(r) for r in replies], late
