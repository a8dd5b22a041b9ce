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

"""Tests of Lock: acquire, release and their errors."""

from kazoo import exceptions as kazoo_exceptions
import tenacity
from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.tests.unit.coordination import fakes


class LockTestCase(fakes.CoordinationTestCase):

    def test_acquire_miss_raises_one_class_for_every_driver_answer(self):
        self.start()
        answers = [(False, None),
                   (None, kazoo_exceptions.LockTimeout('kazoo timed out')),
                   (None, tenacity.RetryError(None))]
        for result, error in answers:
            lock = self.coordinator.get_lock('x')
            lock._tooz_lock.acquire_result = result
            lock._tooz_lock.acquire_error = error
            e = self.assertRaises(coordination.LockAcquireFailed,
                                  lock.acquire, blocking=False)
            self.assertIsInstance(e, tooz_coordination.LockAcquireFailed)
            self.assertFalse(lock.held)

    def test_connection_errors_become_backend_unavailable(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        lock._tooz_lock.acquire_error = tooz_coordination.ToozConnectionError(
            'refused')
        e = self.assertRaises(coordination.BackendUnavailable, lock.acquire)
        self.assertIn('[coordination] backend_url', str(e))
        self.assertIn('refused', str(e))

    def test_bad_blocking_value_is_refused(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        for value in (-1, 'soon', None):
            e = self.assertRaises(ValueError, lock.acquire, blocking=value)
            self.assertIn('blocking', str(e))

    def test_release_of_a_lock_not_held_is_an_error(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        self.assertRaises(coordination.LockNotHeld, lock.release)
        with lock:
            pass
        self.assertRaises(coordination.LockNotHeld, lock.release)

    def test_lock_objects_are_not_reentrant(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        with lock:
            self.assertRaises(coordination.CoordinationError, lock.acquire)

    def test_debug_logs_wait_and_hold_times(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        original = lock._tooz_lock.acquire

        def slow_acquire(blocking=True):
            self.clock.now += 1.5
            return original(blocking)
        lock._tooz_lock.acquire = slow_acquire
        lock.acquire()
        self.clock.now += 2.25
        lock.release()
        self.assertEqual(['DEBUG Acquiring lock "cinder-x"',
                          'DEBUG Lock "cinder-x" acquired :: waited 1.500s',
                          'DEBUG Lock "cinder-x" "released" :: held 2.250s'],
                         [line for line in self.log.output.splitlines()
                          if line.startswith('DEBUG')])

    def test_debug_logs_a_miss_and_a_loss(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        lock._tooz_lock.acquire_result = False
        self.assertRaises(coordination.LockAcquireFailed, lock.acquire,
                          blocking=False)
        lock._tooz_lock.acquire_result = True
        lock.acquire()
        self.clock.now += 3
        lock._tooz_lock.acquired = False
        self.assertRaises(coordination.LockLost, lock.release)
        debug = [line for line in self.log.output.splitlines()
                 if line.startswith('DEBUG')]
        self.assertEqual(['DEBUG Acquiring lock "cinder-x"',
                          'DEBUG Lock "cinder-x" "unacquired" :: held N/A',
                          'DEBUG Acquiring lock "cinder-x"',
                          'DEBUG Lock "cinder-x" acquired :: waited 0.000s',
                          'DEBUG Lock "cinder-x" "lost" :: held 3.000s'],
                         debug)

    def test_get_lock_before_start_is_an_error(self):
        e = self.assertRaises(coordination.CoordinationError,
                              self.coordinator.get_lock, 'x')
        self.assertIn('not started', str(e))

    def test_invalid_names_refused(self):
        self.start()
        for name in ('', None, 'a\0b', b'bytes'):
            self.assertRaises(coordination.LockNameError,
                              self.coordinator.get_lock, name)
