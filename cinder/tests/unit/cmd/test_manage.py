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

"""Unit tests of cinder-manage's commands."""

import io
import os
from unittest import mock
import uuid

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder.cmd import manage
from cinder import coordination
from cinder import lock_check
from cinder import membership
from cinder.tests import coordination_fixture
from cinder.tests.unit.coordination import fakes
from cinder.volume import driver


class CoordinationCheckTestCase(base.BaseTestCase):

    def run_check(self, report, as_json=False):
        out = io.StringIO()
        with mock.patch.object(lock_check, 'check_backend',
                               return_value=report):
            rc = manage.coordination_check(mock.sentinel.conf,
                                           as_json=as_json, out=out)
        return rc, out.getvalue()

    def test_text_report_and_exit_status(self):
        report = lock_check.BackendReport(backend='redis://:***@h')
        report.warn('something to fix')
        rc, out = self.run_check(report)
        self.assertEqual(1, rc)
        self.assertEqual(['Lock backend: redis://:***@h',
                          'Cluster:      (none)',
                          'WARNING:      something to fix',
                          'Result:       WARNING'], out.splitlines())

    def test_json_report(self):
        report = lock_check.BackendReport(backend='file:///x')
        report.fail('broken')
        rc, out = self.run_check(report, as_json=True)
        self.assertEqual(2, rc)
        self.assertIn('"result": "failure"', out)


class CleanLocksTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.locks = self.useFixture(coordination_fixture.CoordinatorFixture(
            use_env=False))
        self.conf = cfg.ConfigOpts()
        self.conf.register_opts(manage.config.global_opts)
        self.conf.register_opts(manage.config.volume_service_opts)
        self.conf([])
        self.gone = str(uuid.uuid4())
        open(os.path.join(self.locks.lock_dir, 'cinder-nfs-' + self.gone),
             'w').close()

    def clean(self, **kwargs):
        out = io.StringIO()
        # The fixture's coordinator is started; clean_locks starts it
        # (a no-op here) and stops it at the end.
        rc = manage.clean_locks(self.conf, out=out,
                                coordinator=self.locks.coordinator,
                                **kwargs)
        return rc, out.getvalue()

    def test_asks_the_driver_which_resources_exist(self):
        fake = mock.Mock()
        fake.list_resource_ids.return_value = driver.ResourceIds(set(),
                                                                 set())
        with mock.patch.object(driver, 'load_driver',
                               return_value=fake) as load:
            rc, out = self.clean()
        self.assertEqual(0, rc, out)
        load.assert_called_once_with('nfs', configuration=self.conf,
                                     host=self.conf.host)
        fake.do_setup.assert_called_once_with()
        fake.stop.assert_called_once_with()
        self.assertIn('removed cinder-nfs-' + self.gone, out)
        self.assertIn('Removed 1 lock file(s) from %s; kept 0' %
                      self.locks.lock_dir, out)
        self.assertFalse(self.locks.coordinator.started)

    def test_driver_that_cannot_list_points_to_offline_mode(self):
        fake = mock.Mock()
        fake.list_resource_ids.side_effect = NotImplementedError(
            'volume driver Fake cannot list its volumes and snapshots')
        with mock.patch.object(driver, 'load_driver', return_value=fake):
            rc, out = self.clean()
        self.assertEqual(2, rc)
        self.assertIn('cannot list its volumes', out)
        self.assertIn('--services-offline', out)
        self.assertTrue(os.path.exists(os.path.join(
            self.locks.lock_dir, 'cinder-nfs-' + self.gone)))

    def test_offline_does_not_load_the_driver(self):
        with mock.patch.object(driver, 'load_driver') as load:
            rc, out = self.clean(services_offline=True)
        self.assertEqual(0, rc, out)
        load.assert_not_called()
        self.assertIn('Removed 1 lock file(s)', out)

    def test_offline_with_a_held_lock_exits_1(self):
        lock = self.locks._other.get_lock('nfs-' + self.gone)
        lock.acquire()
        self.addCleanup(lock.release)
        # Held by this process: reported in use, like another process's.
        rc, out = self.clean(services_offline=True)
        self.assertEqual(1, rc, out)
        self.assertIn('is a cinder-volume still running?', out)

    def test_backend_that_cannot_start(self):
        coordinator = mock.Mock()
        coordinator.start.side_effect = coordination.BackendUnavailable(
            'no answer from redis://:***@h')
        rc = manage.clean_locks(self.conf, out=io.StringIO(),
                                coordinator=coordinator)
        self.assertEqual(2, rc)


class AdvanceTokensTestCase(base.BaseTestCase):
    """``coordination advance-tokens`` on a real file backend."""

    def setUp(self):
        super().setUp()
        self.locks = self.useFixture(coordination_fixture.CoordinatorFixture(
            use_env=False))
        self.coordinator = self.locks.coordinator
        self.source = self.coordinator.backend.location()
        self.conf = cfg.ConfigOpts()
        self.conf.register_opts(manage.config.global_opts)
        self.conf.register_opts(manage.config.volume_service_opts)
        self.conf([])
        self.volume_driver = mock.Mock()
        self.load = self.useFixture(fixtures.MockPatchObject(
            driver, 'load_driver', return_value=self.volume_driver)).mock

    def run_command(self, highest, dry_run=False):
        self.volume_driver.highest_fencing_token.return_value = highest
        # The fixture's coordinator is started: the command stops it.
        self.coordinator.start()
        out = io.StringIO()
        rc = manage.advance_tokens(self.conf, dry_run=dry_run, out=out,
                                   coordinator=self.coordinator)
        self.assertFalse(self.coordinator.started)
        self.volume_driver.stop.assert_called_with()
        return rc, out.getvalue()

    def next_token(self):
        other = self.locks._other
        with other.get_lock('probe') as lock:
            return lock.token()

    def test_behind_is_advanced_once(self):
        rc, out = self.run_command(10 ** 12, dry_run=True)
        self.assertEqual(1, rc, out)
        self.assertIn('Result:             BEHIND: the tokens given now are '
                      'not greater than 1000000000000; run without '
                      '--dry-run', out)
        self.assertLess(self.next_token(), 10 ** 12)
        self.volume_driver.highest_fencing_token.assert_called_with(
            self.source)
        self.load.assert_called_with('nfs', configuration=self.conf,
                                     host=self.conf.host)

        rc, out = self.run_command(10 ** 12)
        self.assertEqual(0, rc, out)
        lines = out.splitlines()
        self.assertEqual('Lock backend:       file://%s' %
                         self.locks.lock_dir, lines[0])
        self.assertEqual('Token source:       %s' % self.source, lines[1])
        self.assertEqual('Highest on storage: 1000000000000', lines[2])
        self.assertTrue(lines[4].startswith(
            'Advanced:           counter file %s/.cinder-fencing-tokens '
            'from ' % self.locks.lock_dir), lines[4])
        self.assertEqual('Next token now:     1000000000001', lines[5])
        self.assertEqual('Result:             OK: every token given from '
                         'now on is greater than every token on the '
                         'storage', lines[6])
        self.assertGreater(self.next_token(), 10 ** 12)

        rc, out = self.run_command(10 ** 12)
        self.assertEqual(0, rc, out)
        self.assertIn('nothing to do', out)
        self.assertNotIn('Advanced', out)

    def test_tokens_already_past_change_nothing(self):
        before = self.next_token()
        rc, out = self.run_command(0)
        self.assertEqual(0, rc, out)
        self.assertIn('Next token:         %d' % (before + 1), out)
        self.assertNotIn('Advanced', out)
        self.assertEqual(before + 2, self.next_token())

    def test_a_driver_without_tokens_changes_nothing(self):
        rc, out = self.run_command(None)
        self.assertEqual(1, rc, out)
        self.assertIn('NOTHING TO COMPARE: volume driver Mock keeps no '
                      'fencing tokens on its storage', out)

    def test_a_storage_that_cannot_be_read_fails(self):
        self.volume_driver.highest_fencing_token.side_effect = OSError(
            5, 'Input/output error')
        rc, out = self.run_command(None)
        self.assertEqual(2, rc, out)
        self.assertEqual('Token source: %s' % self.source,
                         out.splitlines()[1])
        self.assertEqual('FAILURE:      [Errno 5] Input/output error',
                         out.splitlines()[2])

    def test_backend_that_cannot_start(self):
        coordinator = mock.Mock()
        coordinator.start.side_effect = coordination.BackendUnavailable(
            'no answer from redis://:***@h')
        out = io.StringIO()
        rc = manage.advance_tokens(self.conf, out=out,
                                   coordinator=coordinator)
        self.assertEqual(2, rc)
        self.assertEqual('advance-tokens: the lock backend cannot be used: '
                         'no answer from redis://:***@h\n', out.getvalue())
        self.load.assert_not_called()


class CleanLocksOnLockServersTestCase(fakes.CoordinationTestCase):
    """clean_locks with Redis, etcd and ZooKeeper (fake drivers)."""

    def setUp(self):
        super().setUp()
        self.conf.register_opts(manage.config.volume_service_opts)
        self.gone, self.kept = str(uuid.uuid4()), str(uuid.uuid4())
        self.resources = mock.Mock()
        self.resources.list_resource_ids.return_value = driver.ResourceIds(
            {self.kept}, set())
        self.useFixture(fixtures.MockPatchObject(
            driver, 'load_driver', return_value=self.resources))

    def clean(self, url, **kwargs):
        self.fixture.config(group='coordination', backend_url=url)
        out = io.StringIO()
        rc = manage.clean_locks(self.conf, out=out,
                                coordinator=self.coordinator, **kwargs)
        self.assertFalse(self.coordinator.started)
        return rc, out.getvalue()

    def test_redis_leaves_nothing_to_clean(self):
        self.driver.membership_timeout = 30.0
        rc, out = self.clean('redis://:secret@127.0.0.1:1')
        self.assertEqual(0, rc, out)
        self.assertEqual(
            'Lock backend redis://:***@127.0.0.1:1 leaves nothing to clean: '
            'a release deletes the lock\'s key; the lock key of a holder '
            'that died expires 30 s after its last heartbeat (lock_timeout) '
            'and its member key after 30 s (membership_timeout)\n', out)
        self.resources.list_resource_ids.assert_not_called()

    def test_etcd_leaves_nothing_to_clean(self):
        self.driver.membership_timeout = 10
        rc, out = self.clean('etcd3+http://127.0.0.1:1',
                             services_offline=True)
        self.assertEqual(0, rc, out)
        self.assertIn('leaves nothing to clean: a release deletes the '
                      'lock\'s key; its lease, the lease of each try of a '
                      'waiter and the key of a holder that died expire by '
                      'themselves within 30 s (lock_timeout), the lease of '
                      'each stopped service within 10 s', out)

    def zookeeper(self):
        self.driver = fakes.FakeZooKeeperTree()
        self.get_coordinator.return_value = self.driver
        for name in ('%s-delete_volume' % self.gone, 'nfs-' + self.kept,
                     'tgt-targets'):
            self.driver.add('/tooz/locks/cinder-' + name)
        self.driver.add('/tooz/locks/cinder-nfs-' + self.gone,
                        'n__lock__0000000001')
        return 'zookeeper://127.0.0.1:1'

    def test_zookeeper_online(self):
        rc, out = self.clean(self.zookeeper())
        self.assertEqual(0, rc, out)
        self.assertEqual([
            'removed cinder-%s-delete_volume' % self.gone,
            'Removed 1 lock node(s) from /tooz/locks on '
            'zookeeper://127.0.0.1:1; kept 1 of existing volumes and '
            'snapshots and 1 of backend-wide locks',
            'Kept 1 lock node(s) in use: cinder-nfs-%s' % self.gone,
        ], out.splitlines())

    def test_zookeeper_offline_with_a_held_lock_exits_1(self):
        rc, out = self.clean(self.zookeeper(), services_offline=True)
        self.assertEqual(1, rc, out)
        self.assertIn('Removed 3 lock node(s) from /tooz/locks', out)
        self.assertIn('is a cinder-volume still running?', out)
        self.assertEqual({'/tooz/locks', '/tooz/locks/cinder-nfs-' +
                          self.gone}, set(self.driver.nodes))

    def test_zookeeper_without_answer_exits_2(self):
        url = self.zookeeper()
        self.driver.no_answer = True
        rc, out = self.clean(url, services_offline=True)
        self.assertEqual(2, rc, out)
        self.assertEqual(
            'clean_locks: Listing the lock nodes under /tooz/locks failed: '
            'the lock backend zookeeper://127.0.0.1:1 ([coordination] '
            'backend_url) did not answer (timed out): KazooTimeoutError: no '
            'answer from /tooz/locks (after 10.0 s, [coordination] '
            'backend_timeout). Check that the server runs and is not paused '
            'or overloaded, and that no firewall drops the packets.\n', out)


class MainTestCase(base.BaseTestCase):

    def test_missing_action_is_a_usage_error(self):
        conf = cfg.ConfigOpts()
        with mock.patch.object(manage, 'CONF', conf), \
                mock.patch('sys.stderr', io.StringIO()):
            e = self.assertRaises(SystemExit, manage.main, ['coordination'])
        self.assertEqual(2, e.code)

    def test_dispatches_to_the_command(self):
        conf = cfg.ConfigOpts()
        with mock.patch.object(manage, 'CONF', conf), \
                mock.patch.object(manage, 'setup_logging'), \
                mock.patch.object(manage, 'clean_locks',
                                  return_value=7) as clean:
            rc = manage.main(['util', 'clean_locks', '--services-offline'])
        self.assertEqual(7, rc)
        clean.assert_called_once_with(conf, services_offline=True,
                                      dry_run=False)

    def test_dispatches_advance_tokens(self):
        conf = cfg.ConfigOpts()
        with mock.patch.object(manage, 'CONF', conf), \
                mock.patch.object(manage, 'setup_logging'), \
                mock.patch.object(manage, 'advance_tokens',
                                  return_value=1) as advance:
            rc = manage.main(['coordination', 'advance-tokens',
                              '--dry-run'])
        self.assertEqual(1, rc)
        advance.assert_called_once_with(conf, dry_run=True)


class ListTestCase(base.BaseTestCase):
    """service list and cluster list read the group at the backend."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def coordinator(self, member=None):
        conf = cfg.ConfigOpts()
        coordinator = coordination.Coordinator(conf=conf, member_id=member)
        conf([], default_config_files=[])
        conf.set_override('backend_url', 'file://' + self.dir,
                          group='coordination')
        self.addCleanup(coordinator.stop)
        return coordinator

    def join(self, member, host, cluster, location):
        coordinator = self.coordinator(member)
        coordinator.start()
        coordinator.group(membership.GROUP).join(membership.record(
            host, cluster, 'nfs', '10.0.0.%s' % host[-1], 'nfs',
            location, location, pid=os.getpid()))

    def test_services_and_clusters_with_their_lock_backends(self):
        self.join('m1', 'h1', 'c1', 'redis://r:6379')
        self.join('m2', 'h2', 'c1', 'redis://r:6379')
        self.join('m3', 'h3', 'c2', 'redis://r:6379')
        self.join('m4', 'h4', 'c2', 'zookeeper://zk:2181')
        out = io.StringIO()
        self.assertEqual(0, manage.service_list(
            out=out, coordinator=self.coordinator()))
        lines = out.getvalue().splitlines()
        self.assertEqual(['Host', 'Cluster', 'Backend', 'Address', 'Driver',
                          'Lock', 'backend', 'State', 'Member'],
                         lines[0].split())
        self.assertEqual(['h1', 'c1', 'nfs', '10.0.0.1', 'nfs',
                          'redis://r:6379', 'up', 'm1'], lines[1].split())
        self.assertEqual(5, len(lines))
        out = io.StringIO()
        self.assertEqual(0, manage.cluster_list(
            out=out, coordinator=self.coordinator()))
        lines = out.getvalue().splitlines()
        self.assertEqual(['c1', 'nfs', '2', '2', 'h1,', 'h2', 'agree'],
                         lines[1].split())
        self.assertEqual(['c2', 'nfs', '2', '2', 'h3,', 'h4', 'DISAGREE:',
                          'redis://r:6379,', 'zookeeper://zk:2181'],
                         lines[2].split())

    def test_json_and_an_unusable_backend(self):
        self.join('m1', 'h1', 'c1', 'file://x')
        out = io.StringIO()
        manage.cluster_list(as_json=True, out=out,
                            coordinator=self.coordinator())
        self.assertIn('"hosts": [\n      "h1"\n    ]', out.getvalue())
        broken = self.coordinator()
        broken.conf.set_override('backend_url', 'nosuch://h',
                                 group='coordination')
        out = io.StringIO()
        self.assertEqual(2, manage.service_list(out=out, coordinator=broken))
        self.assertIn('the lock backend cannot be used', out.getvalue())
