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

"""Tests of the ZooKeeper backend's bounds on a lost connection."""

import threading
import time

import fixtures

from cinder import coordination
from cinder.tests.unit.coordination import fakes


class ZooKeeperOutageTestCase(fakes.CoordinationTestCase):
    url = 'zookeeper://127.0.0.1:1'

    def test_call_after_a_long_outage_gets_time_to_reconnect(self):
        coordinator = self.start()
        backend = coordinator.backend
        # kazoo reported the connection lost long before this call.
        backend._down_since = time.monotonic() - 1000
        checked = threading.Event()
        real_check = backend._connection_down_too_long

        def check(call_start):
            result = real_check(call_start)
            checked.set()
            return result

        self.useFixture(fixtures.MockPatchObject(
            backend, '_connection_down_too_long', side_effect=check))
        lock = coordinator.get_lock('v1')
        tooz_lock = self.driver.locks[b'cinder-v1']
        real_acquire = tooz_lock.acquire

        def acquire(blocking=True):
            # kazoo is still reconnecting when the caller first checks.
            self.assertTrue(checked.wait(fakes.WAIT))
            self.driver.listeners[0]('CONNECTED')
            return real_acquire(blocking)

        tooz_lock.acquire = acquire
        self.assertTrue(lock.acquire(blocking=False))
        self.assertIsNone(backend._down_since)
        lock.release()

    def test_kazoo_reconnect_delay_is_bounded_by_the_options(self):
        self.fixture.config(group='coordination',
                            initial_reconnect_backoff=0.5,
                            max_reconnect_backoff=20)
        self.start()
        sleeper = self.driver._connection.retry_sleeper
        self.assertEqual((0.5, 20.0), (sleeper.delay, sleeper.max_delay))

    def test_release_reports_a_node_lost_with_its_session(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        tooz_lock = self.driver.locks[b'cinder-v1']
        tooz_lock.owner = False   # the session expired while frozen
        exc = self.assertRaises(coordination.LockLost, lock.release)
        self.assertIn('no longer had it', str(exc))
        self.assertFalse(tooz_lock.acquired)

    def test_release_of_an_owned_lock_is_clean(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        lock.release()
        self.assertNotIn('LOST', self.log.output)

    def test_outage_during_the_call_still_bounds_it(self):
        self.fixture.config(group='coordination', backend_timeout=0.2)
        coordinator = self.start()
        backend = coordinator.backend
        release = threading.Event()
        self.addCleanup(release.set)
        lock = coordinator.get_lock('v1')
        tooz_lock = self.driver.locks[b'cinder-v1']

        def acquire(blocking=True):
            release.wait(fakes.WAIT)
            return False

        tooz_lock.acquire = acquire
        self.driver.listeners[0]('CONNECTING')
        self.assertIsNotNone(backend._down_since)
        exc = self.assertRaises(coordination.BackendUnavailable,
                                lock.acquire, blocking=False)
        self.assertIn('no connection for more than 0.2 s', str(exc))
