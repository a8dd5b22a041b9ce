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

"""Unit tests of the lock benchmark's runs, without servers or services.

Only local file locks and in-process fakes: no lock server, no
``cinder-volume`` process, no timing assertion.
"""

import concurrent.futures
import io
import json
import multiprocessing
import os
import platform
import threading
import time
from unittest import mock

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder import messaging
from cinder.tests.bench import bus
from cinder.tests.bench import driver as bench_driver
from cinder.tests.bench import grow
from cinder.tests.bench import heartbeat
from cinder.tests.bench import report
from cinder.tests.bench import runner
from cinder.tests.bench import scaling
from cinder.tests.bench import subjects
from cinder.tests.bench import workers


class WorkerTestCase(base.BaseTestCase):
    """The worker's command loop, run in a thread on oslo file locks."""

    def setUp(self):
        super(WorkerTestCase, self).setUp()
        lock_dir = self.useFixture(fixtures.TempDir()).path
        self.key = subjects.key('oslo', 'file')
        self.conn, child = multiprocessing.Pipe()
        self.thread = threading.Thread(
            target=workers._serve,
            args=(child, {self.key: ('oslo', 'file', lock_dir)}),
            daemon=True)
        self.thread.start()
        self.addCleanup(self.thread.join, 10)
        self.addCleanup(self.conn.send, ('quit',))

    def ask(self, *command):
        self.conn.send(command)
        self.assertTrue(self.conn.poll(30))
        return self.conn.recv()

    def test_open_warm_run_close(self):
        self.assertEqual(('ok', None), self.ask('open', [self.key]))
        self.assertEqual(('ok', None), self.ask('warm', self.key, 'w', 3))
        now = time.monotonic()
        status, reply = self.ask('run', self.key, 'n', now, now + 30, 5)
        self.assertEqual('ok', status)
        data = workers.decode(reply)
        self.assertEqual(5, len(data['before']))
        for before, inside, after in zip(data['before'], data['inside'],
                                         data['after']):
            self.assertLessEqual(before, inside)
            self.assertLessEqual(inside, after)
        self.assertEqual(os.getpid(), reply['pid'])
        self.assertEqual(0, data['threads_started'])
        self.assertEqual(('ok', None), self.ask('close'))

    def test_an_error_is_reported_not_fatal(self):
        status, message = self.ask('run', 'missing/key', 'n', 0, 0, 1)
        self.assertEqual('error', status)
        self.assertIn('KeyError', message)
        self.assertEqual('error', self.ask('bogus')[0])
        self.assertEqual(('ok', None), self.ask('open', [self.key]))


class ThreadCountTestCase(base.BaseTestCase):

    def test_threads_started_while_cycling_are_counted(self):
        class Spawning(object):
            def cycle(self, name):
                thread = threading.Thread(target=lambda: None)
                thread.start()
                thread.join()
                return time.monotonic()

        real_start = threading.Thread.start
        now = time.monotonic()
        data = workers.decode(workers._run(Spawning(), 'n', now, now + 30,
                                           4))
        self.assertEqual(4, data['threads_started'])
        # The count stops with the run.
        self.assertIs(real_start, threading.Thread.start)


class SubjectTestCase(base.BaseTestCase):

    def test_make_and_keys(self):
        subject = subjects.make('tooz', 'redis', 'redis://h:1')
        self.assertIsInstance(subject, subjects.ToozSubject)
        self.assertEqual('tooz/redis', subject.key)
        self.assertRaises(ValueError, subjects.make, 'other', 'file', '/x')

    def test_cinder_subject_on_the_file_backend(self):
        lock_dir = self.useFixture(fixtures.TempDir()).path
        subject = subjects.make('cinder', 'file', 'file://' + lock_dir)
        subject.open()
        self.addCleanup(subject.close)
        before = time.monotonic()
        inside = subject.cycle('name')
        self.assertGreaterEqual(inside, before)
        self.assertTrue(os.path.exists(os.path.join(lock_dir,
                                                    'cinder-name')))


class HeartbeatTestCase(base.BaseTestCase):

    def test_share(self):
        self.assertEqual((1.0, 600.0), heartbeat.share(0.1, 10.0))
        self.assertEqual((None, None), heartbeat.share(1.0, 0))

    def test_used_between_ignores_exited_threads(self):
        first = {1: 1.0, 2: 2.0, 3: None}
        second = {1: 1.5, 2: None, 3: 4.0}
        self.assertEqual(0.5, heartbeat.used_between(first, second))

    def test_thread_cpu_of_a_live_and_of_no_thread(self):
        done = threading.Event()
        thread = threading.Thread(target=done.wait, args=(10,))
        thread.start()
        try:
            self.assertIsInstance(heartbeat.thread_cpu(thread.native_id),
                                  float)
        finally:
            done.set()
            thread.join()
        # PID_MAX_LIMIT: above the kernel's largest possible thread id.
        self.assertIsNone(heartbeat.thread_cpu(4194304))

    def test_the_clock_is_the_thread_cpu_clock(self):
        mine = threading.get_native_id()
        self.assertEqual(
            time.pthread_getcpuclockid(threading.get_ident()),
            heartbeat.thread_cpu_clock(mine))

    def test_file_backend_has_no_background_thread(self):
        lock_dir = self.useFixture(fixtures.TempDir()).path
        result = heartbeat.measure({'file': 'file://' + lock_dir}, 0.01)
        self.assertEqual([], result['file']['threads'])
        self.assertFalse(result['file']['heartbeat'])
        self.assertEqual(0.0, result['file']['idle']['cpu'])
        self.assertEqual(0.0, result['file']['held']['percent'])


class FakeService(object):
    def __init__(self, host, fail=None):
        self.host = host
        self.calls = []
        self.fail = fail or {}
        self.lock = threading.Lock()

    def client(self, timeout=None):
        return self

    def call(self, method, **args):
        with self.lock:
            self.calls.append(method)
        error = self.fail.get(method)
        if error is not None:
            raise error
        return None


class ScalingTestCase(base.BaseTestCase):

    def test_lifecycles_for(self):
        self.assertEqual(30, scaling.lifecycles_for(150))
        self.assertEqual(31, scaling.lifecycles_for(151))
        self.assertEqual(1, scaling.lifecycles_for(0))

    def test_load_spreads_every_step_of_every_volume(self):
        services = [FakeService('a'), FakeService('b'), FakeService('c')]
        load = scaling.Load(services, volumes=6, workers=4)
        load.run()
        calls = [c for s in services for c in s.calls]
        self.assertEqual(30, len(calls))
        self.assertEqual(30, len(load.latencies))
        for method in scaling.LIFECYCLE:
            self.assertEqual(6, calls.count(method))
        self.assertEqual([10, 10, 10], [len(s.calls) for s in services])
        self.assertEqual([], load.errors)

    def test_a_failed_create_ends_the_lifecycle(self):
        service = FakeService('a', fail={
            'create_volume': messaging.RemoteError('VolumeNotFound', 'x')})
        load = scaling.Load([service], volumes=2, workers=1)
        load.run()
        self.assertEqual(['create_volume', 'create_volume'], service.calls)
        self.assertEqual(2, len(load.errors))
        self.assertIn('create_volume on a', load.errors[0])

    def test_step_measures_after_a_warm_up(self):
        services = [FakeService('a'), FakeService('b')]
        row = scaling.step(services, requests=20, per_service=2)
        self.assertEqual(2, row['services'])
        self.assertEqual(20, row['requests'])
        self.assertEqual(4, row['workers'])
        self.assertEqual(0, row['errors'])
        # Plus one warm-up lifecycle per service.
        self.assertEqual(30, sum(len(s.calls) for s in services))

    @mock.patch('cinder.stress.cluster.Cluster')
    def test_run_configures_the_cluster(self, cluster_class):
        cluster = cluster_class.return_value
        cluster.services = [FakeService('a'), FakeService('b')]
        result = scaling.run('file', 'file:///x', '/work', 0.01, 10,
                             counts=(1, 2))
        cluster_class.assert_called_once_with(
            '/work', services=2, backend_url='file:///x',
            volume_driver=scaling.DRIVER, hosts='local',
            options={'DEFAULT': {'bench_latency': 0.01,
                                 'bench_parallel': 1},
                     'coordination': {'hooks': ''}})
        cluster.start.assert_called_once_with()
        cluster.stop.assert_called_once_with()
        self.assertEqual([1, 2], [s['services'] for s in result['steps']])
        self.assertEqual(0.01, result['latency'])
        self.assertEqual('local', result['hosts'])

    @mock.patch('cinder.stress.cluster.Cluster')
    def test_hosts_apart_start_their_own_lock_server(self, cluster_class):
        cluster_class.return_value.services = [FakeService('a')]
        result = scaling.run('redis', 'redis://127.0.0.1:1', '/work', 0.01,
                             5, counts=(1,), hosts='netns')
        kwargs = cluster_class.call_args.kwargs
        self.assertEqual('netns', kwargs['hosts'])
        # The namespaces cannot reach the benchmark's 127.0.0.1 server.
        self.assertEqual('redis', kwargs['lock_server'])
        self.assertNotIn('backend_url', kwargs)
        self.assertEqual('redis, hosts apart', report.run_label(result))
        scaling.run('file', 'file:///x', '/work', 0.01, 5, counts=(1,),
                    hosts='netns')
        self.assertIsNone(cluster_class.call_args.kwargs['lock_server'])


class BusTestCase(base.BaseTestCase):

    def test_each_scenario_is_timed_after_the_warm_up(self):
        sent = []
        client = mock.Mock()
        client.call.side_effect = lambda m: sent.append(('call', m))
        client.cast.side_effect = lambda m: sent.append(('cast', m))
        ticks = iter(range(1000))
        rows = bus.measure(client, 3, clock=lambda: next(ticks))
        self.assertEqual(bus.WARM_UP + 3 + 6, len(sent))
        self.assertEqual([('cast', 'get_volume_stats'),
                          ('call', 'get_volume_stats')], sent[-2:])
        self.assertEqual({bus.CALL, bus.CAST_THEN_CALL}, set(rows))
        self.assertEqual(3, rows[bus.CALL]['count'])
        # One clock tick per timed round trip.
        self.assertEqual(1, rows[bus.CALL]['p50'])

    def test_the_table_lists_every_scenario(self):
        results = {'bus': [{'hosts': 'local', 'requests': 2, 'scenarios': [
            {'scenario': bus.CALL, 'count': 2, 'p50': 0.002, 'p99': 0.004,
             'max': 0.005}]}]}
        title, headers, rows = report.bus_table(results)
        self.assertIn('message bus', title)
        self.assertEqual(['local', 'call', '2', '2.00 ms', '4.00 ms',
                          '5.00 ms'], rows[0])
        self.assertIn(title, report.render(results))


class GrowTestCase(base.BaseTestCase):

    def test_fallocate_fails_only_in_a_process_that_denies_it(self):
        if platform.machine() not in grow.FALLOCATE_SYSCALL:
            self.skipTest('no system call numbers for %s' %
                          platform.machine())
        directory = self.useFixture(fixtures.TempDir()).path
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context('spawn'),
                initializer=grow.deny_fallocate) as denying:
            self.assertTrue(denying.submit(grow.fallocate_fails,
                                           directory).result())
        self.assertFalse(grow.fallocate_fails(directory))

    def test_a_grow_where_fallocate_is_not_denied_is_not_measured(self):
        directory = self.useFixture(fixtures.TempDir()).path
        self.assertIsNone(grow.measure(
            os.path.join(directory, 'grow'), 'raw', 1024 * 1024,
            2 * 1024 * 1024, 'falloc', grow.WAYS[0][1], denied=True))
        self.assertEqual([], os.listdir(directory))

    def test_defaults_and_quick(self):
        self.assertEqual([1, 4], runner.parse_args([]).grow_sizes)
        self.assertEqual([1], runner.parse_args(['--quick']).grow_sizes)
        self.assertIn('grow', runner.parse_args([]).phases)


class LatencyDriverTestCase(base.BaseTestCase):

    def test_operations_take_the_volume_lock(self):
        conf = cfg.ConfigOpts()
        drv = bench_driver.LatencyDriver(configuration=conf, host='h')
        conf([], project='cinder-bench', default_config_files=[])
        conf.set_override('bench_latency', 0)
        self.assertEqual(1, conf.bench_parallel)
        self.assertTrue(drv.SUPPORTS_ACTIVE_ACTIVE)
        drv.do_setup()
        volume = mock.Mock(id='v1')
        with mock.patch('cinder.coordination.COORDINATOR') as coordinator:
            self.assertEqual({'provider_location': 'bench'},
                             drv.create_volume(volume))
            drv.extend_volume(volume, 2)
            drv.create_snapshot(mock.Mock(volume=volume))
            drv.delete_volume(volume)
        self.assertEqual([mock.call('bench-v1')] * 4,
                         coordinator.get_lock.call_args_list)
        self.assertEqual(4, coordinator.get_lock.return_value.__enter__
                         .call_count)

    def test_loadable_by_class_path(self):
        from cinder.volume import driver as driver_mod
        conf = cfg.ConfigOpts()
        drv = driver_mod.load_driver(scaling.DRIVER, configuration=conf)
        self.assertIsInstance(drv, bench_driver.LatencyDriver)


class RunnerTestCase(base.BaseTestCase):

    def test_defaults_and_quick(self):
        args = runner.parse_args([])
        self.assertEqual(list(runner.BACKENDS), args.backends)
        self.assertEqual(2.0, args.duration)
        self.assertEqual(list(runner.BACKENDS), args.scaling_backends)
        quick = runner.parse_args(['--quick', '--rounds', '3'])
        self.assertEqual(0.5, quick.duration)
        self.assertEqual(3, quick.rounds)

    def test_lists_are_checked(self):
        args = runner.parse_args(['--backends', 'file,redis',
                                  '--services', '3,1'])
        self.assertEqual(['file', 'redis'], args.backends)
        self.assertEqual([1, 3], args.services)
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', open(os.devnull,
                                                                'w')))
        self.assertRaises(SystemExit, runner.parse_args,
                          ['--backends', 'file,consul'])
        self.assertRaises(SystemExit, runner.parse_args,
                          ['--services', '0,1'])
        self.assertRaises(SystemExit, runner.parse_args,
                          ['--duration', '0'])
        self.assertRaises(SystemExit, runner.parse_args, ['--cycles', '0'])
        self.assertEqual(5, runner.parse_args(['--cycles', '5']).cycles)

    def test_hosts_apart_only_where_namespaces_can_be_made(self):
        available = self.useFixture(fixtures.MockPatchObject(
            runner, 'netns_available', return_value=True)).mock
        self.assertEqual(['local', 'netns'], runner.parse_args([]).hosts)
        available.return_value = False
        self.assertEqual(['local'], runner.parse_args([]).hosts)
        stderr = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value
        self.assertRaises(SystemExit, runner.parse_args,
                          ['--hosts', 'netns'])
        self.assertIn('--hosts netns needs root', stderr.getvalue())

    def test_report_of_saved_results(self):
        from cinder.tests.unit.bench import test_report
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'r.json')
        with open(path, 'w') as f:
            json.dump(test_report.results(), f)
        out = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.assertEqual(0, runner.main(['--report', path, '--rst']))
        text = out.getvalue()
        self.assertIn('.. list-table:: Targets', text)
        self.assertIn('   * - file', text)

    def test_subject_specs(self):
        specs = runner.subject_specs(['file', 'redis'],
                                     {'redis': 'redis://h:1'}, '/w')
        self.assertEqual({
            'oslo/file': ('oslo', 'file', '/w/oslo-locks'),
            'tooz/file': ('tooz', 'file', 'file:///w/tooz-locks'),
            'cinder/file': ('cinder', 'file', 'file:///w/cinder-locks'),
            'tooz/redis': ('tooz', 'redis', 'redis://h:1'),
            'cinder/redis': ('cinder', 'redis', 'redis://h:1'),
        }, specs)


class ThreadLabelTestCase(base.BaseTestCase):

    def test_labels(self):
        threads = [mock.Mock(), mock.Mock(), mock.Mock()]
        threads[0].name = 'Thread-3 (zk_loop)'
        threads[1].name = 'cinder-coordination-heartbeat'
        threads[2].name = 'Thread-1 (_thread_worker)'
        self.assertEqual(['_thread_worker', 'cinder-coordination-heartbeat',
                          'zk_loop'], heartbeat.thread_labels(threads))
