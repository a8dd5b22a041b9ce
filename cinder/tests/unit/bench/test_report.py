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

"""Unit tests of the lock benchmark's tables, targets and figure data."""

from oslotest import base

from cinder.tests.bench import lockcycle
from cinder.tests.bench import plot
from cinder.tests.bench import report
from cinder.tests.bench import stats


def cycle_row(subject, backend, scenario, p50, per_process=(100,)):
    row = {'subject': subject, 'backend': backend, 'scenario': scenario,
           'processes': len(per_process), 'seconds': 1.0,
           'cycles': sum(per_process), 'per_process': list(per_process),
           'throughput': float(sum(per_process)), 'p50': p50,
           'p99': p50 * 3, 'max': p50 * 10, 'wait_max': p50 * 5,
           'fairness': stats.fairness(per_process)}
    if scenario == lockcycle.ONE_NAME:
        row['handoff'] = {'count': 10, 'p50': 0.001, 'p99': 0.09,
                          'max': 0.1, 'same_holder': 5}
    return row


def scaling_run(backend, rates):
    return {'backend': backend, 'latency': 0.05, 'per_service': 4,
            'steps': [{'services': i + 1, 'ops_per_second': r,
                       'errors': 0, 'requests': 150}
                      for i, r in enumerate(rates)]}


def results():
    single = lockcycle.SINGLE
    return {
        'cycles': [
            cycle_row('oslo', 'file', single, 40e-6),
            cycle_row('tooz', 'file', single, 30e-6),
            cycle_row('cinder', 'file', single, 32e-6),
            cycle_row('tooz', 'redis', single, 250e-6),
            cycle_row('cinder', 'redis', single, 300e-6),
            cycle_row('cinder', 'redis', lockcycle.ONE_NAME, 1e-3,
                      (100, 100, 40, 160)),
            cycle_row('cinder', 'zookeeper', lockcycle.ONE_NAME, 3e-3,
                      (25, 25, 25, 25)),
            cycle_row('tooz', 'zookeeper', single, 3.0e-3),
            dict(cycle_row('cinder', 'zookeeper', single, 3.2e-3),
                 threads_started=500),
            cycle_row('tooz', 'etcd', single, 5.0e-3),
            cycle_row('cinder', 'etcd', single, 5.1e-3),
        ],
        'heartbeat': {
            'file': {'threads': [], 'heartbeat': False,
                     'idle': {'percent': 0.0, 'ms_per_minute': 0.0},
                     'held': {'percent': 0.0, 'ms_per_minute': 0.0}},
            'etcd': {'threads': ['cinder-coordination-heartbeat'],
                     'heartbeat': True,
                     'idle': {'percent': 0.2, 'ms_per_minute': 120.0},
                     'held': {'percent': 0.7, 'ms_per_minute': 420.0}},
        },
        'scaling': [scaling_run('file', [20.0, 39.0, 57.0]),
                    scaling_run('zookeeper', [14.0, 28.0, 31.0])],
    }


class FormatTestCase(base.BaseTestCase):

    def test_times(self):
        self.assertEqual('-', report.fmt_time(None))
        self.assertEqual('3.5 µs', report.fmt_time(3.5e-6))
        self.assertEqual('31 µs', report.fmt_time(31.2e-6))
        self.assertEqual('3.12 ms', report.fmt_time(3.123e-3))
        self.assertEqual('45.0 ms', report.fmt_time(0.045))
        self.assertEqual('1.20 s', report.fmt_time(1.2))

    def test_rates_and_ratios(self):
        self.assertEqual('12.5', report.fmt_rate(12.46))
        self.assertEqual('12346', report.fmt_rate(12345.6))
        self.assertEqual('-', report.fmt_rate(None))
        self.assertEqual('+6.7%', report.fmt_ratio(0.0667, percent=True))
        self.assertEqual('2.85', report.fmt_ratio(2.849))

    def test_text_table_aligns_columns(self):
        text = report.render_text('T', ['a', 'long header'],
                                  [['xxxx', '1'], ['y', '22']])
        lines = text.splitlines()
        self.assertEqual('T', lines[0])
        self.assertEqual('a     long header', lines[2])
        self.assertEqual('----  -----------', lines[3])
        self.assertEqual('xxxx  1', lines[4])
        self.assertEqual('y     22', lines[5])

    def test_rst_list_table(self):
        text = report.render_rst('Title', ['a', 'b'], [['1', '']])
        self.assertEqual(['.. list-table:: Title', '   :header-rows: 1',
                          '', '   * - a', '     - b', '   * - 1',
                          '     - \\'], text.splitlines())

    def test_cycle_table_is_sorted_and_labelled(self):
        title, headers, rows = report.cycle_table(results())
        self.assertEqual('Lock cycle (get, acquire, release)', title)
        self.assertEqual(['file', 'oslo', '1 client'], rows[0][:3])
        self.assertEqual(['file', 'tooz', '1 client'], rows[1][:3])
        self.assertEqual(['redis', 'cinder', '1 client'], rows[4][:3])
        self.assertEqual(['redis', 'cinder', '4, one name'], rows[5][:3])
        self.assertEqual('100 100 40 160', rows[5][-1])
        self.assertEqual(len(headers), len(rows[0]))

    def test_contention_table_has_one_name_runs_only(self):
        _title, _headers, rows = report.contention_table(results())
        self.assertEqual(['redis', 'zookeeper'], [r[0] for r in rows])
        self.assertEqual('0.40', rows[0][2])
        self.assertEqual('1.00', rows[1][2])

    def test_rewrites_table_compares_the_two_ways(self):
        results = {'rewrites': {'size_mib': 1024, 'rows': [
            {'operation': 'fold', 'way': 'in place', 'seconds': 0.1,
             'written_mib': 128.0},
            {'operation': 'fold', 'way': 'copy-on-write', 'seconds': 0.4,
             'written_mib': 384.5},
            {'operation': 'grow', 'way': 'copy-on-write', 'seconds': 0.2,
             'written_mib': 128.0}]}}
        title, headers, rows = report.rewrites_table(results)
        self.assertIn('1024 MiB volume', title)
        self.assertEqual(['fold', '100.0 ms, 128.0 MiB', '400.0 ms, 384.5 MiB',
                          '4.0'], rows[0])
        self.assertEqual(['grow', '-', '200.0 ms, 128.0 MiB', '-'], rows[1])
        self.assertEqual(2, len(rows))

    def test_grow_table_puts_the_two_ways_side_by_side(self):
        results = {'grow': {'base_mib': 1024, 'rows': [
            {'format': 'raw', 'added_gib': 16, 'mode': 'sparse',
             'way': 'in place', 'seconds': 0.045},
            {'format': 'raw', 'added_gib': 16, 'mode': 'sparse',
             'way': 'copy-on-write', 'seconds': 0.01},
            {'format': 'raw', 'added_gib': 16,
             'mode': 'falloc, no fallocate(2)', 'way': 'in place',
             'seconds': 42.5},
            {'format': 'raw', 'added_gib': 16,
             'mode': 'falloc, no fallocate(2)', 'way': 'copy-on-write',
             'seconds': None}]}}
        title, headers, rows = report.grow_table(results)
        self.assertIn('base alone (1024 MiB)', title)
        self.assertEqual(['Base', 'Added', 'Preallocation',
                          'In place (window)', 'Copy-on-write'], headers)
        self.assertEqual([
            ['raw', '+16 GiB', 'sparse', '45.0 ms', '10.0 ms'],
            ['raw', '+16 GiB', 'falloc, no fallocate(2)', '42.50 s', '-']],
            rows)
        self.assertIn(title, report.render(results))
        self.assertNotIn('base alone', report.render({}))

    def test_share_table_and_targets(self):
        rows = [{'volumes': 100, 'snapshot_p50': 0.3, 'snapshot_max': 0.4,
                 'record_p50': 0.001, 'clean_seconds': 0.01,
                 'clean_per_volume': 0.0001},
                {'volumes': 10000, 'snapshot_p50': 0.36,
                 'snapshot_max': 0.5, 'record_p50': 0.003,
                 'clean_seconds': 2.0, 'clean_per_volume': 0.0002}]
        data = {'share': {'repeats': 10, 'ratio': 1.2, 'record_ratio': 3.0,
                          'rows': rows}}
        title, _headers, rows = report.share_table(data)
        self.assertIn('10 snapshot cycles', title)
        self.assertEqual(['100', '300.0 ms', '400.0 ms', '1.00 ms',
                          '10.0 ms', '100 µs'], rows[0])
        targets = {t['target']: t for t in report.evaluate(data)}
        flat = targets['snapshot cost flat: 10000 volumes <= 1.5 x 100 '
                       'volumes']
        self.assertEqual((1.2, report.MET), (flat['measured'],
                                             flat['status']))
        record = targets['info file cost flat: 10000 volumes <= 1.5 x 100 '
                         'volumes']
        self.assertEqual((3.0, report.MISSED), (record['measured'],
                                                record['status']))
        linear = targets['clean_locks linear: per volume at 10000 <= 1.5 x '
                         'at 100']
        self.assertEqual((2.0, report.MISSED), (linear['measured'],
                                                linear['status']))

    def test_render_includes_every_table(self):
        text = report.render(results())
        for title in ('Lock cycle', 'Contention', 'Background CPU',
                      'Active/Active', 'Targets'):
            self.assertIn(title, text)


class TargetsTestCase(base.BaseTestCase):

    def _by_name(self, targets):
        return {t['target']: t for t in targets}

    def test_evaluation(self):
        targets = self._by_name(report.evaluate(results()))
        file_overhead = targets[
            'synchronized adds <= 10% to raw tooz at p50 (file)']
        self.assertAlmostEqual(32 / 30.0 - 1, file_overhead['measured'])
        self.assertEqual(report.MET, file_overhead['status'])
        redis_overhead = targets[
            'synchronized adds <= 10% to raw tooz at p50 (redis)']
        self.assertEqual(report.MISSED, redis_overhead['status'])
        self.assertEqual(report.MET, targets[
            'synchronized adds <= 10% to raw tooz at p50 (zookeeper)'][
                'status'])
        self.assertEqual(report.MET, targets[
            'synchronized adds <= 10% to raw tooz at p50 (etcd)']['status'])
        threads = targets['no thread started per acquire (zookeeper)']
        self.assertEqual(report.MISSED, threads['status'])
        self.assertIn('500 thread(s) started in', threads['detail'])
        oslo = targets['file:// synchronized no slower than oslo external '
                       'lock at p50']
        self.assertAlmostEqual(0.8, oslo['measured'])
        self.assertEqual(report.MET, oslo['status'])
        self.assertEqual(report.MISSED, targets[
            'no process under half its fair share (redis)']['status'])
        self.assertEqual(report.MET, targets[
            'no process under half its fair share (zookeeper)']['status'])
        self.assertEqual(report.MET, targets[
            '3 services >= 2.5 x 1 service (file)']['status'])
        self.assertEqual(report.MISSED, targets[
            '3 services >= 2.5 x 1 service (zookeeper)']['status'])
        self.assertEqual(report.MET, targets[
            'heartbeat below 0.5% of one core (file)']['status'])
        etcd = targets['heartbeat below 0.5% of one core (etcd)']
        self.assertEqual(0.7, etcd['measured'])
        self.assertEqual(report.MISSED, etcd['status'])

    def test_missing_measurements_are_reported_as_such(self):
        targets = report.evaluate({})
        # Four overheads, threads per acquire, oslo, two fairness.
        self.assertEqual(8, len(targets))
        self.assertEqual({report.NOT_MEASURED},
                         {t['status'] for t in targets})
        _title, _headers, rows = report.targets_table(targets)
        self.assertEqual({'-'}, {row[1] for row in rows})

    def test_limits_are_inclusive(self):
        data = {'cycles': [
            cycle_row('tooz', 'file', lockcycle.SINGLE, 100e-6),
            cycle_row('cinder', 'file', lockcycle.SINGLE, 109.9e-6),
            cycle_row('oslo', 'file', lockcycle.SINGLE, 110e-6),
            cycle_row('cinder', 'redis', lockcycle.ONE_NAME, 1e-3,
                      (50, 100, 150, 100))]}
        targets = self._by_name(report.evaluate(data))
        self.assertEqual(report.MET, targets[
            'synchronized adds <= 10% to raw tooz at p50 (file)'][
                'status'])
        self.assertEqual(report.MET, targets[
            'file:// synchronized no slower than oslo external lock at '
            'p50']['status'])
        self.assertEqual(report.MET, targets[
            'no process under half its fair share (redis)']['status'])

    def test_speedup(self):
        self.assertAlmostEqual(2.85, report.speedup(
            scaling_run('file', [20.0, 39.0, 57.0]), 3))
        self.assertIsNone(report.speedup(scaling_run('x', [0.0, 1.0]), 2))
        self.assertIsNone(report.speedup(scaling_run('x', [1.0]), 3))

    def test_formatted_values(self):
        targets = self._by_name(report.evaluate(results()))
        _title, _headers, rows = report.targets_table(targets.values())
        values = {row[0]: row[1] for row in rows}
        self.assertEqual('+6.7%', values[
            'synchronized adds <= 10% to raw tooz at p50 (file)'])
        self.assertEqual('0.700%', values[
            'heartbeat below 0.5% of one core (etcd)'])
        self.assertEqual('2.85', values[
            '3 services >= 2.5 x 1 service (file)'])


class PlotSeriesTestCase(base.BaseTestCase):

    def test_series(self):
        data = plot.series(results())
        self.assertEqual(['file', 'redis', 'zookeeper', 'etcd'],
                         data['backends'])
        self.assertEqual([40e-6, None, None, None], data['p50']['oslo'])
        self.assertEqual([32e-6, 300e-6, 3.2e-3, 5.1e-3],
                         data['p50']['cinder'])
        self.assertEqual([1.0, 1.0, 0.4, 1.6], data['shares']['redis'])
        self.assertEqual((0.001, 0.1, 0.015),
                         data['handoff']['zookeeper'])
        self.assertEqual(([1, 2, 3], [14.0, 28.0, 31.0]),
                         data['scaling']['zookeeper'])

    def test_empty_results(self):
        data = plot.series({})
        self.assertEqual([], data['backends'])
        self.assertEqual({}, data['scaling'])
