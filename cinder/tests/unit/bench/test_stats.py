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

"""Unit tests of the lock benchmark's statistics."""

from oslotest import base

from cinder.tests.bench import lockcycle
from cinder.tests.bench import stats


class PercentileTestCase(base.BaseTestCase):

    def test_interpolates_between_ranks(self):
        values = [1.0, 2.0, 3.0, 4.0]
        self.assertEqual(2.5, stats.percentile(values, 50))
        self.assertEqual(1.0, stats.percentile(values, 0))
        self.assertEqual(4.0, stats.percentile(values, 100))
        self.assertAlmostEqual(3.97, stats.percentile(values, 99))

    def test_odd_count_median_is_the_middle_value(self):
        self.assertEqual(5, stats.percentile([1, 5, 9], 50))

    def test_one_value_and_no_value(self):
        self.assertEqual(7, stats.percentile([7], 99))
        self.assertIsNone(stats.percentile([], 50))

    def test_out_of_range_is_refused(self):
        self.assertRaises(ValueError, stats.percentile, [1], 101)
        self.assertRaises(ValueError, stats.percentile, [1], -1)

    def test_summarize_sorts_first(self):
        summary = stats.summarize([3, 1, 2, 100])
        self.assertEqual(4, summary['count'])
        self.assertEqual(2.5, summary['p50'])
        self.assertEqual(100, summary['max'])
        self.assertGreater(summary['p99'], 90)

    def test_summarize_nothing(self):
        self.assertEqual({'count': 0, 'p50': None, 'p99': None,
                          'max': None}, stats.summarize([]))


class FairnessTestCase(base.BaseTestCase):

    def test_even_counts_are_fair(self):
        result = stats.fairness([10, 10, 10, 10])
        self.assertEqual(40, result['total'])
        self.assertEqual(10.0, result['fair_share'])
        self.assertEqual(1.0, result['min_share'])
        self.assertEqual(1.0, result['max_share'])

    def test_starved_process_shows(self):
        # The etcd figures of the facts: one process got 4 of 568.
        result = stats.fairness([161, 395, 4, 8])
        self.assertEqual(142.0, result['fair_share'])
        self.assertAlmostEqual(4 / 142.0, result['min_share'])
        self.assertLess(result['min_share'], 0.5)
        self.assertAlmostEqual(395 / 142.0, result['max_share'])

    def test_no_cycles(self):
        result = stats.fairness([0, 0])
        self.assertIsNone(result['min_share'])
        self.assertIsNone(stats.fairness([])['fair_share'])


class HandoffTestCase(base.BaseTestCase):

    def test_gaps_only_between_different_processes(self):
        holds = [(1.0, 0), (1.1, 0), (1.5, 1), (1.6, 2), (2.0, 2)]
        gaps, same = stats.handoffs(holds)
        self.assertEqual(2, len(gaps))
        self.assertAlmostEqual(0.4, gaps[0])
        self.assertAlmostEqual(0.1, gaps[1])
        self.assertEqual(2, same)

    def test_order_of_input_does_not_matter(self):
        holds = [(2.0, 1), (1.0, 0), (3.0, 0)]
        self.assertEqual(([1.0, 1.0], 0), stats.handoffs(holds))

    def test_too_few_holds(self):
        self.assertEqual(([], 0), stats.handoffs([(1.0, 0)]))
        self.assertEqual(([], 0), stats.handoffs([]))

    def test_rate(self):
        self.assertEqual(50.0, stats.rate(100, 2))
        self.assertIsNone(stats.rate(100, 0))


class ResultTestCase(base.BaseTestCase):

    def _reply(self, starts, hold=0.001, cycle=0.002):
        return {'before': list(starts),
                'inside': [s + hold for s in starts],
                'after': [s + cycle for s in starts]}

    def test_contended_result(self):
        replies = [self._reply([0.0, 0.004]), self._reply([0.002])]
        row = lockcycle.result('cinder', 'redis', lockcycle.ONE_NAME,
                               replies, window=1.0)
        self.assertEqual(3, row['cycles'])
        self.assertEqual([2, 1], row['per_process'])
        self.assertEqual(3.0, row['throughput'])
        self.assertAlmostEqual(0.002, row['p50'])
        self.assertAlmostEqual(0.001, row['wait_max'])
        self.assertAlmostEqual(2 / 3.0, row['fairness']['min_share'])
        # Holds at 0.001 (p0), 0.003 (p1), 0.005 (p0): two hand-offs.
        self.assertEqual(2, row['handoff']['count'])
        self.assertAlmostEqual(0.002, row['handoff']['p50'])
        self.assertEqual(0, row['handoff']['same_holder'])

    def test_uncontended_results_have_no_handoffs(self):
        row = lockcycle.result('tooz', 'file', lockcycle.SINGLE,
                               [self._reply([0.0, 0.1])], window=0.5)
        self.assertNotIn('handoff', row)
        self.assertEqual(4.0, row['throughput'])
        self.assertEqual(1, row['processes'])
