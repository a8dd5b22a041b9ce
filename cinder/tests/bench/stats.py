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

"""Statistics of the lock benchmark: percentiles, fairness, hand-offs.

Pure functions over numbers, so that they can be tested without servers.
Times are in seconds.
"""


def percentile(sorted_values, q):
    """The ``q``-th percentile (0-100) of already sorted values.

    Linear interpolation between the two nearest ranks (the default of
    numpy), so the 50th percentile of an even count is the mean of the two
    middle values. None for no values.
    """
    if not 0 <= q <= 100:
        raise ValueError('percentile must be between 0 and 100, not %r' %
                         (q,))
    n = len(sorted_values)
    if n == 0:
        return None
    position = (n - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, n - 1)
    fraction = position - low
    return (sorted_values[low] +
            (sorted_values[high] - sorted_values[low]) * fraction)


def summarize(samples):
    """Count, p50, p99 and max of ``samples`` (any order)."""
    ordered = sorted(samples)
    return {
        'count': len(ordered),
        'p50': percentile(ordered, 50),
        'p99': percentile(ordered, 99),
        'max': ordered[-1] if ordered else None,
    }


def fairness(counts):
    """How evenly ``counts`` (cycles per process) share the lock.

    ``min_share`` is the smallest count divided by the fair share (the
    total divided by the number of processes): 1.0 is perfectly fair, 0.5
    means a process got half of its fair share, 0.0 that one starved.
    """
    counts = list(counts)
    total = sum(counts)
    if not counts or total == 0:
        return {'counts': counts, 'total': total, 'fair_share': None,
                'min_share': None, 'max_share': None}
    fair = total / float(len(counts))
    return {'counts': counts, 'total': total, 'fair_share': fair,
            'min_share': min(counts) / fair,
            'max_share': max(counts) / fair}


def handoffs(holds):
    """Hand-off gaps between holders of one lock.

    :param holds: ``(time, process)`` pairs, one per critical section: the
        time is read inside the section (the section is empty, so it is
        both when the holder got the lock and when it started to release
        it). Times of all processes must come from one clock
        (``time.monotonic()``, which is system-wide on Linux).
    :returns: ``(gaps, same)``: the time from one section to the next
        whenever the next holder is another process (a hand-off to a
        waiter), and how many sections were followed by one of the same
        process (the releasing process took the lock again).
    """
    ordered = sorted(holds)
    gaps = []
    same = 0
    for (t1, p1), (t2, p2) in zip(ordered, ordered[1:]):
        if p1 == p2:
            same += 1
        else:
            gaps.append(t2 - t1)
    return gaps, same


def rate(count, seconds):
    """Events per second, or None for an empty interval."""
    if not seconds or seconds <= 0:
        return None
    return count / float(seconds)
