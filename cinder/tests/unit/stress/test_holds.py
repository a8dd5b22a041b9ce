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

"""Tests of the ``step-hold`` lock hook and the tool's side of it."""

import os
import threading

import fixtures

from cinder import coordination
from cinder.stress import holds
from cinder.tests.unit.coordination import fakes

WAIT = 10


class StepHoldTestCase(fakes.CoordinationTestCase):

    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path
        self.holds = holds.StepHolds(self.directory)
        self.addCleanup(self.holds.release_all)
        self.conf.register_opts(holds.step_hold_opts, group='coordination')
        self.fixture.config(group='coordination', hooks=['step-hold'],
                            step_hold_dir=self.directory)

    def step_in_thread(self, lock, step):
        """Run *step* of *lock* in a thread; the list it appends to."""
        done = []

        locks = lock if isinstance(lock, list) else [lock]

        def run():
            coordination.ensure_locks_held(locks, step=step)
            done.append(step)

        thread = threading.Thread(target=run)
        thread.start()
        self.addCleanup(thread.join, WAIT)
        return thread, done

    def test_an_armed_step_waits_after_its_check_until_let_go(self):
        lock = self.start().get_lock('v1')
        lock.acquire()
        self.holds.arm('commit', 'stale')
        self.clock.now = 4.5
        thread, done = self.step_in_thread(lock, 'commit volume-1.info')
        held = self.holds.wait_until_held('stale', WAIT)
        self.assertEqual({'lock': 'cinder-v1', 'step': 'commit volume-1.info',
                          'pid': os.getpid(), 't': 4.5}, held)
        self.assertTrue(thread.is_alive())
        self.assertEqual([], done)
        self.holds.release('stale')
        thread.join(WAIT)
        self.assertEqual(['commit volume-1.info'], done)
        # Taken once: the next step of that verb goes on at once.
        coordination.ensure_locks_held([lock], step='commit volume-1.info')
        lock.release()

    def test_other_verbs_and_skipped_steps_go_on(self):
        lock = self.start().get_lock('v1')
        lock.acquire()
        self.holds.arm('commit', 'second', skip=1)
        coordination.ensure_locks_held([lock], step='rewrite volume-1')
        coordination.ensure_locks_held([lock], step='commit volume-1.info')
        self.assertIsNone(self.holds.held('second'))
        thread, done = self.step_in_thread(lock, 'commit volume-1.info')
        self.assertEqual('commit volume-1.info',
                         self.holds.wait_until_held('second', WAIT)['step'])
        self.holds.release('second')
        thread.join(WAIT)
        self.assertEqual(['commit volume-1.info'], done)
        lock.release()

    def test_a_step_under_several_locks_counts_once(self):
        coordinator = self.start()
        first, second = coordinator.get_lock('a'), coordinator.get_lock('b')
        first.acquire()
        second.acquire()
        self.holds.arm('create', 'second', skip=1)
        both = [first, second]
        coordination.ensure_locks_held(both, step='create volume-1.x')
        self.assertIsNone(self.holds.held('second'))
        # The same words again are another step.
        thread, done = self.step_in_thread(both, 'create volume-1.x')
        self.assertEqual('cinder-a',
                         self.holds.wait_until_held('second', WAIT)['lock'])
        self.holds.release('second')
        thread.join(WAIT)
        self.assertEqual(['create volume-1.x'], done)
        second.release()
        first.release()

    def test_a_failed_check_is_never_held(self):
        lock = self.start().get_lock('v1')
        lock.acquire()
        self.driver.locks[b'cinder-v1'].acquired = False
        self.holds.arm('commit', 'never')
        self.assertRaises(coordination.LockLost,
                          coordination.ensure_locks_held, [lock],
                          step='commit volume-1.info')
        self.assertIsNone(self.holds.held('never'))
        self.assertTrue(self.holds.disarm('commit'))

    def test_disarm_says_whether_a_step_took_the_hold(self):
        self.assertFalse(self.holds.disarm('commit'))
        self.holds.arm('commit', 'back')
        self.assertTrue(self.holds.disarm('commit'))
        lock = self.start().get_lock('v1')
        lock.acquire()
        coordination.ensure_locks_held([lock], step='commit volume-1.info')
        self.assertIsNone(self.holds.held('back'))
        lock.release()

    def test_waiting_for_a_hold_is_bounded_and_stoppable(self):
        self.assertIsNone(self.holds.wait_until_held('none', 0))
        stop = threading.Event()
        stop.set()
        self.assertIsNone(self.holds.wait_until_held('none', WAIT, stop))

    def test_the_hook_needs_its_directory(self):
        self.fixture.config(group='coordination',
                            step_hold_dir=os.path.join(self.directory, 'no'))
        e = self.assertRaises(coordination.ConfigurationError, self.start)
        self.assertIn('[coordination] step_hold_dir', str(e))
