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

"""Tests of lost locks: how they are detected and reported."""

import threading

from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.tests.unit.coordination import fakes


class LockLossTestCase(fakes.CoordinationTestCase):
    url = 'redis://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.fixture.config(group='coordination', heartbeat=3600)

    def test_ensure_locks_held_asks_the_backend(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        coordination.ensure_locks_held()
        lock._tooz_lock.owner = False
        self.clock.now += 7
        e = self.assertRaises(coordination.LockLost,
                              coordination.ensure_locks_held)
        self.assertIn('cinder-vol-1', str(e))
        self.assertIn('Lock "cinder-vol-1" was LOST after being held for '
                      '7.000s', self.log.output)
        # and releasing it says so too: the section ran unprotected
        self.assertRaises(coordination.LockLost, lock.release)
        # while the driver is still told, so it stops refreshing the lease
        self.assertEqual(('release', b'cinder-vol-1'), self.driver.order[-1])

    def test_unconfirmable_ownership_counts_as_lost(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        lock._tooz_lock.owner = tooz_coordination.ToozConnectionError('down')
        e = self.assertRaises(coordination.LockLost, lock.check)
        self.assertIn('cannot be confirmed', str(e))

    def test_ensure_locks_held_only_checks_this_threads_locks(self):
        self.start()
        mine = self.coordinator.get_lock('mine')
        mine.acquire()
        theirs = self.coordinator.get_lock('theirs')
        done = threading.Event()
        threading.Thread(target=lambda: (theirs.acquire(), done.set())).start()
        self.assertTrue(done.wait(fakes.WAIT))
        theirs._tooz_lock.owner = False
        coordination.ensure_locks_held()  # does not look at theirs
        self.assertRaises(coordination.LockLost,
                          self.coordinator.ensure_locks_held)

    def test_heartbeat_marks_lost_locks_and_logs_error(self):
        self.start()
        lock = self.coordinator.get_lock('vol-2')
        lock.acquire()
        self.clock.now += 3
        # Another member's token in the key.
        self.driver._client.values[lock._tooz_lock.name] = b'theirs'
        self.coordinator._beat()
        self.assertEqual(1, self.driver.beats)
        self.assertEqual('another member may hold it', lock.lost)
        self.assertIn('ERROR Lock "cinder-vol-2" was LOST after being held '
                      'for 3.000s', self.log.output)

    def test_no_renewal_for_a_lease_less_the_margin_marks_locks_lost(self):
        self.start()
        lock = self.coordinator.get_lock('vol-3')
        lock.acquire()
        fence = self.coordinator._fence
        self.clock.now += 28.9
        fence.check()
        self.assertIsNone(lock.lost)
        self.clock.now += 0.1           # the 30 s lease less 1 s margin
        fence.check()
        self.assertIn('fenced: the lock was asked for 29.0s ago',
                      lock.lost)
        self.assertIn('ERROR Lock "cinder-vol-3" was LOST after being held '
                      'for 29.000s', self.log.output)

    def test_stop_marks_held_locks_lost(self):
        self.start()
        lock = self.coordinator.get_lock('vol-4')
        lock.acquire()
        self.coordinator.stop()
        self.assertRaises(coordination.LockLost, lock.release)
