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

"""Unit tests of the configuration a Cluster gives its services."""

import copy
import os
from unittest import mock

import fixtures
from oslotest import base

from cinder.stress import cluster as cluster_mod
from cinder.tests.unit.coordination import fakes


class ClusterOptionsTestCase(base.BaseTestCase):

    def setUp(self):
        super(ClusterOptionsTestCase, self).setUp()
        self.work_dir = self.useFixture(fixtures.TempDir()).path
        self.process = self.useFixture(fixtures.MockPatch(
            'cinder.local_service.ServiceProcess')).mock

    def started(self, **kwargs):
        kwargs.setdefault('transport_url', 'rabbit://u:pw@broker:5672/')
        cluster = cluster_mod.Cluster(self.work_dir, services=2, **kwargs)
        cluster.start()
        self.assertEqual(2, self.process.call_count)
        hold_dirs = set()
        for call in self.process.call_args_list:
            # The same options but the service's own hold directory.
            options = copy.deepcopy(call.args[1])
            hold_dirs.add(options['coordination'].pop('step_hold_dir'))
            last = copy.deepcopy(self.process.call_args.args[1])
            last['coordination'].pop('step_hold_dir')
            self.assertEqual(last, options)
        self.assertEqual(2, len(hold_dirs))
        for path in hold_dirs:
            self.assertTrue(os.path.isdir(path), path)
        return cluster, self.process.call_args.args[1]

    def test_defaults_are_unchanged(self):
        cluster, options = self.started()
        self.assertEqual('nfs', cluster.volume_driver)
        self.assertEqual('nfs', options['DEFAULT']['volume_driver'])
        self.assertEqual('stress', options['DEFAULT']['cluster'])
        self.assertEqual('ledger,step-hold', options['coordination']['hooks'])
        self.assertEqual(cluster.ledger,
                         options['coordination']['ledger_file'])
        self.assertEqual('file://%s/locks' % self.work_dir,
                         options['coordination']['backend_url'])

    def test_a_given_bus_is_used_and_no_broker_started(self):
        with mock.patch('cinder.stress.lockservers.RabbitServer') as rabbit:
            cluster, options = self.started()
        rabbit.assert_not_called()
        self.assertEqual('rabbit://u:pw@broker:5672/',
                         options['DEFAULT']['transport_url'])
        self.assertEqual('rabbit://u:***@broker:5672/',
                         cluster.describe_transport())

    def test_without_a_bus_a_private_broker_is_started_and_stopped(self):
        with mock.patch('cinder.stress.lockservers.RabbitServer') as rabbit:
            rabbit.missing.return_value = []
            rabbit.return_value.url = 'rabbit://guest:guest@127.0.0.1:1/'
            cluster, options = self.started(transport_url=None)
            self.assertEqual('rabbit://guest:guest@127.0.0.1:1/',
                             options['DEFAULT']['transport_url'])
            rabbit.return_value.start.assert_called_once_with()
            cluster.stop()
            rabbit.return_value.stop.assert_called_once_with()

    def test_volume_driver_and_options(self):
        _cluster, options = self.started(
            volume_driver='pkg.module.Driver',
            options={'DEFAULT': {'bench_latency': 0.01},
                     'coordination': {'hooks': ''},
                     'extra': {'key': 'value'}})
        self.assertEqual('pkg.module.Driver',
                         options['DEFAULT']['volume_driver'])
        self.assertEqual(0.01, options['DEFAULT']['bench_latency'])
        # Given options override the cluster's own, others stay.
        self.assertEqual('', options['coordination']['hooks'])
        self.assertEqual('10', options['coordination']['backend_timeout'])
        self.assertEqual('stress', options['DEFAULT']['cluster'])
        self.assertEqual({'key': 'value'}, options['extra'])

    def test_options_are_not_shared_between_services(self):
        self.started(options={'DEFAULT': {'a': '1'}})
        first, second = [c.args[1] for c in self.process.call_args_list]
        self.assertIsNot(first, second)
        self.assertIsNot(first['DEFAULT'], second['DEFAULT'])
        self.assertIn(mock.call().start(), self.process.mock_calls)


class FencedOffTestCase(base.BaseTestCase):

    def test_the_refusals_in_every_service_log_are_counted(self):
        work_dir = self.useFixture(fixtures.TempDir()).path
        cluster = cluster_mod.Cluster(work_dir, services=3,
                                      transport_url='rabbit://h:1/')
        lines = {'a': ['INFO ok', 'WARNING Fenced off: x', 'WARNING Fenced '
                       'off: y'],
                 'b': ['ERROR ... FencedOff: x (the traceback, not counted)',
                       'ERROR Commit in doubt: x'],
                 'c': None}
        for host, text in sorted(lines.items()):
            path = os.path.join(work_dir, host + '.log')
            if text is not None:
                with open(path, 'w') as f:
                    f.write('\n'.join(text) + '\n')
            cluster.services.append(mock.Mock(log_file=path))
        self.assertEqual(2, cluster.fenced_off())
        self.assertEqual({'fenced_off': 2, 'ambiguous_commits': 0,
                          'commits_in_doubt': 1},
                         dict(cluster.commit_counts()))


class ShareThroughFaultFSTestCase(base.BaseTestCase):
    """The services' share through the fault-injecting file system."""

    def setUp(self):
        super().setUp()
        self.work_dir = self.useFixture(fixtures.TempDir()).path
        self.process = self.useFixture(fixtures.MockPatch(
            'cinder.local_service.ServiceProcess')).mock
        self.fs_class = self.useFixture(fixtures.MockPatch(
            'cinder.stress.faultfs.FaultFS')).mock
        self.missing = self.useFixture(fixtures.MockPatch(
            'cinder.stress.faultfs.missing', return_value=[])).mock
        self.events = []
        self.process.return_value.start.side_effect = (
            lambda: self.events.append('service started'))
        self.process.return_value.terminate.side_effect = (
            lambda: self.events.append('service stopped'))
        fs = mock.Mock()
        fs.stop.side_effect = lambda: self.events.append('unmounted')

        def mount(*args, **kwargs):
            self.events.append('mounted')
            return fs
        self.fs_class.start.side_effect = mount

    def cluster(self, **kwargs):
        return cluster_mod.Cluster(self.work_dir, services=2,
                                   transport_url='rabbit://h:1/', **kwargs)

    def shares_file(self, options):
        with open(options['DEFAULT']['nfs_shares_config']) as f:
            return f.read()

    def test_the_services_get_the_mount_the_tool_the_directory(self):
        cluster = self.cluster(faultfs=True)
        cluster.start()
        share = os.path.join(self.work_dir, 'share')
        mount = os.path.join(self.work_dir, 'share-fs')
        self.fs_class.start.assert_called_once_with(share, mount,
                                                    new_session=True)
        self.assertTrue(os.path.isdir(mount))
        self.assertEqual((share, mount), (cluster.share,
                                          cluster.service_share))
        self.assertIsNotNone(cluster.fs)
        self.assertEqual(mount + '\n',
                         self.shares_file(self.process.call_args.args[1]))
        cluster.stop()
        # Mounted before the services start, unmounted after they stop.
        self.assertEqual(['mounted'] + ['service started'] * 2 +
                         ['service stopped'] * 2 + ['unmounted'],
                         self.events)

    def test_unmounted_whatever_failed_before(self):
        cluster = self.cluster(faultfs=True)
        cluster.start()
        # A Ctrl-C while the services stop, then the namespaces' removal
        # failing too (its error is the one raised).
        self.process.return_value.terminate.side_effect = KeyboardInterrupt
        cluster.network = mock.Mock()
        cluster.network.destroy.side_effect = OSError('device busy')
        self.assertRaises(OSError, cluster.stop)
        self.assertEqual(['mounted', 'service started', 'service started',
                          'unmounted'], self.events)

    def test_without_the_fault_the_services_use_the_directory(self):
        cluster = self.cluster()
        cluster.start()
        self.fs_class.start.assert_not_called()
        self.assertIsNone(cluster.fs)
        self.assertEqual(cluster.share + '\n',
                         self.shares_file(self.process.call_args.args[1]))
        cluster.stop()
        self.assertEqual(['service started'] * 2 + ['service stopped'] * 2,
                         self.events)

    def test_what_the_mount_lacks_is_named(self):
        self.missing.return_value = ['/dev/fuse (a kernel with FUSE)']
        e = self.assertRaises(cluster_mod.ClusterError,
                              self.cluster(faultfs=True).start)
        self.assertEqual('the share through the fault-injecting file '
                         'system needs /dev/fuse (a kernel with FUSE)',
                         str(e))
        self.process.assert_not_called()


class LeaseTestCase(base.BaseTestCase):

    def driver(self, **attributes):
        driver = mock.Mock(requires_beating=True, **attributes)
        self.useFixture(fixtures.MockPatch(
            'tooz.coordination.get_coordinator', return_value=driver))
        return driver

    def test_lease_of_a_given_url_is_the_backends_own(self):
        # Not a guess: what the backend was started with, here a 12 s
        # lock_timeout given in the URL's query.
        driver = self.driver(lock_timeout=12, namespace=b'tooz')
        # A Mock's own _lock is no redis-py lock (checked at start).
        driver.get_lock.side_effect = fakes.FakeToozLock
        self.assertEqual(12.0, cluster_mod.backend_lease(
            'redis://h:1?lock_timeout=12'))

    def test_zookeeper_session_timeout_is_its_lease(self):
        driver = fakes.FakeDriver()
        driver.timeout = 10
        self.useFixture(fixtures.MockPatch(
            'tooz.coordination.get_coordinator', return_value=driver))
        self.assertEqual(10.0, cluster_mod.backend_lease('zookeeper://h:1'))

    def test_file_locks_have_no_lease(self):
        self.assertIsNone(cluster_mod.backend_lease(
            'file://' + self.useFixture(fixtures.TempDir()).path))

    def test_unusable_backend_is_an_error(self):
        self.assertRaises(cluster_mod.ClusterError, cluster_mod.backend_lease,
                          'nosuchscheme://h:1')


class HostsApartTestCase(base.BaseTestCase):
    """hosts='netns': a namespace per service, servers in ``ctl``."""

    def setUp(self):
        super().setUp()
        self.work_dir = self.useFixture(fixtures.TempDir()).path
        self.process = self.useFixture(fixtures.MockPatch(
            'cinder.local_service.ServiceProcess')).mock
        self.network = self.useFixture(fixtures.MockPatch(
            'cinder.stress.netns.Network')).mock.return_value
        self.process.side_effect = lambda *a, **kw: mock.Mock(
            host=kw['host'])
        self.network.hosts = {}

        def add_host(name):
            host = mock.Mock(netns='cvaa-' + name, address='10.77.0.%d' % (
                len(self.network.hosts) + 1))
            host.name = name
            self.network.hosts[name] = host
            return host

        self.network.add_host.side_effect = add_host
        self.entered = self.useFixture(fixtures.MockPatch(
            'cinder.stress.netns.Entered')).mock
        self.machine_lock = self.useFixture(fixtures.MockPatch(
            'cinder.stress.netns.MachineLock')).mock.return_value
        self.rabbit = self.useFixture(fixtures.MockPatch(
            'cinder.stress.lockservers.RabbitServer')).mock
        self.rabbit.missing.return_value = []
        self.rabbit.return_value.url = 'rabbit://g:g@10.77.0.1:5672/'

    def test_each_service_on_its_own_host_servers_in_control(self):
        cluster = cluster_mod.Cluster(self.work_dir, services=2,
                                      hosts='netns')
        cluster.start()
        self.assertEqual(['ctl', 'host-1', 'host-2'],
                         list(self.network.hosts))
        # This thread moved into the control namespace, after every host
        # was made and before any server started.
        self.entered.assert_called_once_with('cvaa-ctl')
        self.assertEqual('10.77.0.1',
                         self.rabbit.call_args.kwargs['host'])
        self.assertEqual(['cvaa-host-1', 'cvaa-host-2'],
                         [c.kwargs['netns'] for c in
                          self.process.call_args_list])
        self.assertEqual([{'host': 'host-1', 'netns': 'cvaa-host-1',
                           'address': '10.77.0.2'},
                          {'host': 'host-2', 'netns': 'cvaa-host-2',
                           'address': '10.77.0.3'}],
                         cluster.placement())

    def test_stop_leaves_and_removes_the_namespaces_whatever_fails(self):
        cluster = cluster_mod.Cluster(self.work_dir, services=1,
                                      hosts='netns')
        cluster.start()
        self.rabbit.return_value.stop.side_effect = RuntimeError('stuck')
        self.assertRaises(RuntimeError, cluster.stop)
        self.entered.return_value.leave.assert_called_once_with()
        self.network.destroy.assert_called_once_with()
        self.machine_lock.release.assert_called_once_with()

    def test_a_failed_start_still_removes_them(self):
        self.rabbit.return_value.start.side_effect = RuntimeError('no')
        cluster = cluster_mod.Cluster(self.work_dir, services=1,
                                      hosts='netns')
        self.assertRaises(RuntimeError, cluster.start)
        cluster.stop()
        self.network.destroy.assert_called_once_with()

    def test_servers_outside_the_bridge_are_refused(self):
        for kwargs, option in (({'backend_url': 'redis://r:6379'},
                                '--backend-url'),
                               ({'transport_url': 'rabbit://b/'},
                                '--transport-url')):
            exc = self.assertRaises(cluster_mod.ClusterError,
                                    cluster_mod.Cluster, self.work_dir,
                                    hosts='netns', **kwargs)
            self.assertIn('--hosts netns cannot use %s' % option, str(exc))
        exc = self.assertRaises(cluster_mod.ClusterError,
                                cluster_mod.Cluster, self.work_dir,
                                hosts='moon')
        self.assertIn('--hosts must be one of local, netns', str(exc))
