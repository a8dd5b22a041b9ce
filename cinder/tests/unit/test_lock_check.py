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

"""Unit tests of cinder.lock_check's findings and report."""

import os
from unittest import mock

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder import coordination
from cinder.coordination import backends
from cinder import lock_check


class CheckTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        coordination.Coordinator(conf=self.conf)  # registers the options
        self.conf([])
        self.conf.set_override('backend_url', 'file://' + self.dir,
                               group='coordination')

    def test_file_backend_probe(self):
        report = lock_check.check_backend(self.conf, cycles=3)
        self.assertEqual(lock_check.OK, report.level)
        self.assertEqual(0, report.exit_code)
        self.assertFalse(report.distributed)
        self.assertTrue(report.excludes_other_member)
        self.assertEqual(3, len(report.cycles))
        self.assertIsNone(report.heartbeat)
        # The probe lock's file is removed again.
        self.assertEqual([], [n for n in os.listdir(self.dir)
                              if n.startswith('cinder-')])
        labels = dict(report.lines())
        self.assertEqual('services on this host only',
                         labels['Locks exclude'])
        self.assertEqual('OK', labels['Result'])

    def test_cluster_on_file_backend_warns(self):
        self.conf.set_override('cluster', 'c1')
        report = lock_check.check_backend(self.conf, cycles=1)
        self.assertEqual(1, report.exit_code)
        self.assertIn('[DEFAULT] cluster = c1', report.summary())
        self.assertIn('keeps locks on this host only', report.summary())

    def test_a_backend_that_does_not_exclude_fails(self):
        with mock.patch.object(lock_check, '_other_member_gets',
                               return_value=True):
            report = lock_check.check_backend(self.conf, cycles=1)
        self.assertFalse(report.excludes_other_member)
        self.assertEqual(2, report.exit_code)
        self.assertIn('does not exclude anything', report.summary())

    def test_second_member_probe(self):
        report = lock_check.BackendReport(backend='file://')
        self.assertTrue(lock_check._other_member_gets(self.conf, 'p', report))
        holder = coordination.Coordinator(conf=self.conf)
        holder.start()
        self.addCleanup(holder.stop)
        lock = holder.get_lock('p')
        lock.acquire()
        self.addCleanup(lock.release)
        self.assertFalse(lock_check._other_member_gets(self.conf, 'p',
                                                       report))
        self.assertEqual([], report.findings)

    def test_probe_lock_held_elsewhere_fails_after_the_timeout(self):
        self.conf.set_override('backend_timeout', 0.2, group='coordination')
        holder = coordination.Coordinator(conf=self.conf)
        holder.start()
        self.addCleanup(holder.stop)
        lock = holder.get_lock(lock_check.PROBE_LOCK)
        lock.acquire()
        self.addCleanup(lock.release)
        report = lock_check.check_backend(self.conf, cycles=1)
        self.assertEqual(2, report.exit_code)
        self.assertIn('probe lock cinder-coordination-check could not be '
                      'taken', report.summary())

    def test_unusable_backend_is_a_failure_with_the_password_masked(self):
        self.conf.set_override('backend_url', 'nosuch://:pw123@host',
                               group='coordination')
        report = lock_check.check_backend(self.conf)
        self.assertEqual(2, report.exit_code)
        self.assertFalse(report.started)
        self.assertEqual('nosuch://:***@host', report.backend)
        self.assertNotIn('pw123', repr(report.as_dict()))
        self.assertNotIn('pw123', report.summary())


class DescribeTestCase(base.BaseTestCase):
    """Findings about backend semantics, with a stand-in backend."""

    def describe(self, url, distributed=True, needs_heartbeat=True,
                 lease=30.0, heartbeat=1.0, cluster=None, known=True,
                 requested=None):
        conf = mock.Mock()
        conf.coordination.backend_url = url
        conf.coordination.heartbeat = heartbeat
        backend = mock.Mock(distributed=distributed,
                            needs_heartbeat=needs_heartbeat)
        backend.lease.return_value = lease
        backend.requested_lease.return_value = requested or lease
        coordinator = mock.Mock(backend=backend)
        report = lock_check.BackendReport(
            backend=coordination.mask_url(url), cluster=cluster)
        with mock.patch.object(backends, 'BACKENDS',
                               (mock.Mock,) if known else (str,)):
            lock_check._describe(coordinator, conf, report)
        return report

    def test_redis_lease_and_heartbeat(self):
        report = self.describe('redis://h:6379')
        self.assertEqual([], report.findings)
        self.assertEqual('lease', report.lease_kind)
        self.assertEqual('30 s lease, renewed by a heartbeat every 1 s',
                         dict(report.lines())['Lease'])

    def test_zookeeper_session(self):
        report = self.describe('zookeeper://h:2181', needs_heartbeat=False,
                               lease=10.0)
        self.assertEqual('session', report.lease_kind)
        self.assertIsNone(report.heartbeat)
        self.assertIn('10 s session', dict(report.lines())['Lease'])

    def test_zookeeper_session_timeout_negotiated_by_the_server(self):
        report = self.describe('zookeeper://h:2181?timeout=60',
                               needs_heartbeat=False, lease=40.0,
                               requested=60.0)
        self.assertEqual(40.0, report.lease)
        self.assertEqual(60.0, report.requested_lease)
        self.assertIn('40 s session (negotiated by the server; 60 s '
                      'requested)', dict(report.lines())['Lease'])
        self.assertEqual(1, report.exit_code)
        self.assertIn('the server negotiated a session timeout of 40 s, not '
                      'the 60 s requested in [coordination] backend_url',
                      report.summary())

    def test_heartbeat_too_slow_for_the_lease(self):
        report = self.describe('etcd3+http://h:2379', lease=6.0,
                               heartbeat=2.5)
        self.assertEqual(1, report.exit_code)
        self.assertIn('heartbeat = 2.5 s is more than a third of the 6 s '
                      'lease', report.summary())

    def test_memcached_is_not_recommended(self):
        report = self.describe('memcached://h:11211', known=False)
        self.assertEqual(1, report.exit_code)
        self.assertEqual(1, len(report.findings))
        self.assertIn('memcached is not recommended', report.summary())

    def test_untested_backend_warns(self):
        report = self.describe('mysql://u:pw@h/db', known=False)
        self.assertEqual(1, report.exit_code)
        self.assertIn('mysql:// is not a lock backend this project tests',
                      report.summary())
