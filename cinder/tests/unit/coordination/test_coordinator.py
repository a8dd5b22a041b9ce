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

"""Tests of the Coordinator's lifecycle and backend choice."""

import os
import re
import threading
from unittest import mock

from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.coordination import backends
from cinder.tests.unit.coordination import fakes


class LifecycleTestCase(fakes.CoordinationTestCase):

    def test_start_and_stop_are_idempotent(self):
        self.coordinator.stop()  # not started: nothing happens
        self.coordinator.start()
        self.coordinator.start()
        self.assertEqual(1, self.get_coordinator.call_count)
        self.assertEqual(1, self.driver.started)
        self.coordinator.stop()
        self.coordinator.stop()
        self.assertEqual(1, self.driver.stopped)
        self.assertFalse(self.coordinator.started)
        self.coordinator.start()  # and it can start again
        self.assertEqual(2, self.driver.started)
        self.coordinator.stop()

    def test_member_id_is_given_to_tooz(self):
        self.start()
        self.get_coordinator.assert_called_once_with(self.url,
                                                     b'test-member')

    def test_default_member_id_names_the_service_host(self):
        for host, shown in (('host-a@nfs', 'host-a@nfs'),
                            ('h\u00f4te 1', 'h_te_1')):
            self.fixture.config(host=host)
            coordinator = coordination.Coordinator(conf=self.conf,
                                                   clock=self.clock)
            coordinator.start()
            coordinator.stop()
            member = self.get_coordinator.call_args.args[1]
            self.assertRegex(member.decode('ascii'),
                             r'^%s-%d-[0-9a-f]{8}$' % (
                                 re.escape(shown), os.getpid()))

    def test_default_url_is_the_state_path(self):
        self.fixture.config(state_path='/srv/state')
        self.conf.clear_override('backend_url', group='coordination')
        self.start()
        self.get_coordinator.assert_called_once_with('file:///srv/state',
                                                     b'test-member')

    def test_no_heartbeat_for_file_and_zookeeper(self):
        for url in ('file:///tmp/x', 'zookeeper://127.0.0.1:1'):
            self.fixture.config(group='coordination', backend_url=url)
            self.coordinator.start()
            self.assertIsNone(self.coordinator._heartbeat)
            self.coordinator.stop()
        self.assertEqual(1, len(self.driver.listeners))  # zookeeper's

    def test_heartbeat_thread_for_lease_backends(self):
        for url in ('redis://127.0.0.1:1', 'etcd3+http://127.0.0.1:1'):
            self.fixture.config(group='coordination', backend_url=url,
                                heartbeat=0.01)
            self.driver.beat_event.clear()
            self.coordinator.start()
            heartbeat = self.coordinator._heartbeat
            self.assertTrue(heartbeat.alive)
            self.assertTrue(self.driver.beat_event.wait(fakes.WAIT))
            self.assertIsInstance(heartbeat._thread, threading.Thread)
            self.assertTrue(heartbeat._thread.daemon)
            self.coordinator.stop()
            self.assertFalse(heartbeat.alive)

    def test_unknown_scheme_lists_installed_backends_and_masks(self):
        self.fixture.config(group='coordination',
                            backend_url='bogus://user:hunter2@host/')
        e = self.assertRaises(coordination.ConfigurationError,
                              self.coordinator.start)
        self.assertIn('[coordination] backend_url', str(e))
        self.assertIn("'bogus'", str(e))
        for name in ('file', 'redis', 'zookeeper', 'etcd3+http'):
            self.assertIn(name, str(e))
        self.assertNotIn('hunter2', str(e))

    def test_start_failure_names_option_and_masks_password(self):
        self.fixture.config(group='coordination',
                            backend_url='redis://:hunter2@127.0.0.1:1')
        self.driver.start = mock.Mock(
            side_effect=tooz_coordination.ToozConnectionError(
                'cannot connect to redis://:hunter2@127.0.0.1:1'))
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator.start)
        self.assertIn('[coordination] backend_url', str(e))
        self.assertIn('redis://:***@127.0.0.1:1', str(e))
        self.assertNotIn('hunter2', str(e))
        self.assertNotIn('hunter2', self.log.output)
        self.assertFalse(self.coordinator.started)

    def test_start_that_hangs_fails_within_backend_timeout(self):
        self.fixture.config(group='coordination', backend_timeout=0.2)
        release = threading.Event()
        self.addCleanup(release.set)
        self.driver.start = lambda start_heart: release.wait(fakes.WAIT)
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator.start)
        self.assertIn('no answer within 0.2 s', str(e))
        self.assertIn('[coordination] backend_timeout', str(e))

    def test_redis_and_etcd_get_bounded_client_timeouts(self):
        backend = backends.make_backend(
            'redis://:pw@h:1?socket_timeout=5', 2.0)
        url = backend.tooz_url()
        self.assertIn('socket_timeout=5', url)  # the operator's wins
        self.assertIn('socket_connect_timeout=2.0', url)
        backend = backends.make_backend('etcd3+http://h:1', 2.0)
        self.assertIn('timeout=2', backend.tooz_url())
        self.assertIn('lock_timeout=30', backend.tooz_url())
        backend = backends.make_backend('etcd3+http://h:1?timeout=9', 2.0)
        self.assertEqual('etcd3+http://h:1?timeout=9', backend.tooz_url())

    def test_heartbeat_shorter_than_lease_is_advised(self):
        self.fixture.config(group='coordination', heartbeat=20,
                            backend_url='redis://h:1')
        self.start()
        self.assertIn('heartbeat (20.0 s) should be a third of the lock '
                      'lease (30 s)', self.log.output)
