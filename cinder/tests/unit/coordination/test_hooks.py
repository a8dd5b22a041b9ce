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

"""Tests of lock hooks: what they are told, and that they cannot harm."""

from cinder import coordination
from cinder.coordination import hooks
from cinder.tests.unit.coordination import fakes


class Recorder(hooks.LockHook):
    def __init__(self, driver=None):
        self.events = []
        self.driver = driver

    def _held(self, name):
        lock = self.driver.locks.get(name.encode()) if self.driver else None
        return lock is not None and lock.acquired

    def entered(self, lock, waited):
        self.events.append(('entered', lock.name, waited,
                            self._held(lock.name)))

    def checked(self, lock, step):
        self.events.append(('checked', lock.name, step))

    def leaving(self, lock):
        self.events.append(('leaving', lock.name, lock.lost,
                            self._held(lock.name)))

    def released(self, lock, lost):
        self.events.append(('released', lock.name, lost,
                            self._held(lock.name)))

    def close(self):
        self.events.append(('close',))


class Failing(hooks.LockHook):
    def entered(self, lock, waited):
        raise RuntimeError('entered failed')

    def leaving(self, lock):
        raise RuntimeError('leaving failed')


class HooksTestCase(fakes.CoordinationTestCase):

    def test_hooks_are_told_inside_the_section_in_order(self):
        coordinator = self.start()
        recorder = Recorder(self.driver)
        coordinator.add_hook(recorder)
        lock = coordinator.get_lock('v1')
        real_acquire = self.driver.get_lock(b'cinder-v1').acquire

        def slow_acquire(blocking=True):
            self.clock.now += 0.5
            return real_acquire(blocking)

        self.driver.locks[b'cinder-v1'].acquire = slow_acquire
        with lock:
            self.assertEqual([('entered', 'cinder-v1', 0.5, True)],
                             recorder.events)
        held = coordinator.get_lock('v2')
        held.acquire()
        coordinator.stop()
        self.assertRaises(coordination.LockLost, held.release)
        self.assertEqual([
            ('entered', 'cinder-v1', 0.5, True),
            # Still held while the hook is told it is left.
            ('leaving', 'cinder-v1', None, True),
            ('released', 'cinder-v1', None, False),
            ('entered', 'cinder-v2', 0.0, True),
            # Stopped: the hooks are closed, then told nothing more.
            ('close',)], recorder.events)

    def test_a_step_is_told_once_its_lock_is_confirmed(self):
        coordinator = self.start()
        recorder = Recorder()
        coordinator.add_hook(recorder)
        lock = coordinator.get_lock('v1')
        lock.acquire()
        coordination.ensure_locks_held([lock], step='rewrite volume-1')
        coordination.ensure_locks_held([lock])
        self.assertEqual([('checked', 'cinder-v1', 'rewrite volume-1')],
                         recorder.events[1:])
        # A step whose check fails does not run: the hook is not told.
        self.driver.locks[b'cinder-v1'].acquired = False
        self.assertRaises(coordination.LockLost,
                          coordination.ensure_locks_held, [lock],
                          step='delete volume-1')
        self.assertEqual(2, len(recorder.events))

    def test_each_hook_is_told_of_every_lock_before_the_next_hook(self):
        # A hook that waits in checked() (a validation tool's hold) does
        # so only once the hooks before it know of every lock of the step.
        coordinator = self.start()
        events = []

        class Told(hooks.LockHook):
            def __init__(self, name):
                self.name = name

            def checked(self, lock, step):
                events.append((self.name, lock.name))

        coordinator.add_hook(Told('first'))
        coordinator.add_hook(Told('second'))
        first, second = coordinator.get_lock('a'), coordinator.get_lock('b')
        first.acquire()
        second.acquire()
        coordination.ensure_locks_held([first, second], step='commit x')
        self.assertEqual([('first', 'cinder-a'), ('first', 'cinder-b'),
                          ('second', 'cinder-a'), ('second', 'cinder-b')],
                         events)

    def test_a_step_is_not_told_unless_every_lock_is_confirmed(self):
        coordinator = self.start()
        recorder = Recorder()
        coordinator.add_hook(recorder)
        first, second = coordinator.get_lock('a'), coordinator.get_lock('b')
        first.acquire()
        second.acquire()
        self.driver.locks[b'cinder-b'].acquired = False
        self.assertRaises(coordination.LockLost,
                          coordination.ensure_locks_held, [first, second],
                          step='commit volume-1.info')
        self.assertEqual([], [e for e in recorder.events
                              if e[0] == 'checked'])

    def test_a_loss_found_at_release_reaches_released(self):
        coordinator = self.start()
        recorder = Recorder()
        coordinator.add_hook(recorder)
        lock = coordinator.get_lock('v1')
        lock.acquire()
        self.driver.locks[b'cinder-v1'].acquired = False
        self.assertRaises(coordination.LockLost, lock.release)
        self.assertEqual(
            [('leaving', 'cinder-v1', None, False),
             ('released', 'cinder-v1',
              'the backend no longer had it at release', False)],
            recorder.events[1:])

    def test_a_failing_hook_neither_stops_the_body_nor_keeps_the_lock(self):
        coordinator = self.start()
        coordinator.add_hook(Failing())
        recorder = Recorder()
        coordinator.add_hook(recorder)
        ran = []

        @coordination.synchronized('v1', coordinator=coordinator)
        def body():
            ran.append(True)

        body()
        self.assertEqual([True], ran)
        self.assertFalse(self.driver.locks[b'cinder-v1'].acquired)
        # The hooks after the failing one are still told.
        self.assertEqual(['entered', 'leaving', 'released'],
                         [event[0] for event in recorder.events])
        self.assertIn('Lock hook Failing failed in entered()',
                      self.log.output)
        self.assertIn('Lock hook Failing failed in leaving()',
                      self.log.output)

    def test_unknown_hook_name_fails_the_start_naming_the_option(self):
        self.fixture.config(group='coordination', hooks=['no-such-hook'])
        exc = self.assertRaises(coordination.ConfigurationError, self.start)
        self.assertIn('[coordination] hooks: no hook called no-such-hook '
                      'is installed', str(exc))
        self.get_coordinator.assert_not_called()

    def test_no_hook_by_default(self):
        coordinator = self.start()
        self.assertEqual((), coordinator._hooks)

    def test_hooks_need_a_started_coordinator(self):
        self.assertRaises(coordination.CoordinationError,
                          self.coordinator.add_hook, Recorder())
