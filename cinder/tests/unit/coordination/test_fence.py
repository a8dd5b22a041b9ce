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

"""Tests of the self-fencing deadline (cinder.coordination.fence)."""

import threading
import types

from oslotest import base

from cinder import coordination
from cinder.coordination import fence as fence_mod
from cinder.coordination import hooks
from cinder.tests.unit.coordination import fakes


def _lock(name, asked_at):
    return types.SimpleNamespace(name=name, asked_at=asked_at, lost=None)


class FenceTestCase(base.BaseTestCase):
    def setUp(self):
        super().setUp()
        self.clock = fakes.FakeClock(100.0)
        self.held = []
        self.expired = []

        def expire(lock, reason):
            lock.lost = reason
            self.expired.append((lock.name, self.clock.now))

        self.expire = expire

    def fence(self, heartbeat=True):
        return fence_mod.Fence(lambda: list(self.held), self.expire,
                               lease=10, margin=1,
                               renewed_by_heartbeat=heartbeat,
                               clock=self.clock)

    def test_deadline_counts_from_the_later_of_acquire_and_renewal(self):
        fence = self.fence()
        old, new = _lock('old', 100.0), _lock('new', 104.0)
        self.held += [old, new]
        self.assertEqual(109.0, fence.deadline(old))
        fence.renewed(102.0)
        # The renewal sent at 102 renewed "old"; "new" was asked for
        # later: its own lease runs from then.
        self.assertEqual(111.0, fence.deadline(old))
        self.assertEqual(113.0, fence.deadline(new))
        fence.renewed(101.0)        # an older beat finishing late
        self.assertEqual(111.0, fence.deadline(old))

    def test_check_declares_only_what_is_due_and_says_when_next(self):
        fence = self.fence()
        first, second = _lock('first', 100.0), _lock('second', 103.0)
        self.held += [first, second]
        self.clock.now = 108.9
        self.assertEqual(109.0, fence.check())
        self.assertEqual([], self.expired)
        self.clock.now = 109.0
        self.assertEqual(112.0, fence.check())
        self.assertEqual([('first', 109.0)], self.expired)
        self.assertIn('fenced: the lock was asked for 9.0s ago',
                      first.lost)
        self.assertIn('the 10 s lease may end 1 s from now', first.lost)
        self.assertIsNone(second.lost)
        self.clock.now = 112.0
        self.assertIsNone(fence.check())
        self.assertEqual('second', self.expired[-1][0])

    def test_the_reason_names_the_last_renewal(self):
        fence = self.fence()
        lock = _lock('vol', 100.0)
        self.held.append(lock)
        fence.renewed(105.0)
        self.clock.now = 114.0
        fence.check()
        self.assertIn('the last renewal that reached the backend was sent '
                      '9.0s ago', lock.lost)

    def test_a_session_backend_has_no_deadline_while_connected(self):
        fence = self.fence(heartbeat=False)
        lock = _lock('vol', 100.0)
        self.held.append(lock)
        self.assertIsNone(fence.deadline(lock))
        self.clock.now = 1000.0
        self.assertIsNone(fence.check())
        self.assertIsNone(lock.lost)
        fence.in_doubt(995.0)
        self.assertEqual(1004.0, fence.deadline(lock))
        fence.in_doubt(999.0)       # still the first moment of doubt
        self.assertEqual(1004.0, fence.deadline(lock))
        fence.resumed()
        self.assertIsNone(fence.deadline(lock))

    def test_a_lease_backend_keeps_its_deadline_when_resumed(self):
        fence = self.fence()
        lock = _lock('vol', 100.0)
        fence.resumed()
        self.assertEqual(109.0, fence.deadline(lock))

    def test_an_expire_that_fails_does_not_spare_the_others(self):
        fence = self.fence()
        self.held += [_lock('a', 100.0), _lock('b', 100.0)]
        calls = []

        def expire(lock, reason):
            calls.append(lock.name)
            if lock.name == 'a':
                raise RuntimeError('boom')

        fence._expire = expire
        self.clock.now = 200.0
        fence.check()
        self.assertEqual(['a', 'b'], sorted(calls))

    def test_the_thread_declares_a_lock_acquired_while_it_waited(self):
        # Real time: a lease of 0.2 s, no margin.
        done = threading.Event()
        lock = _lock('vol', None)
        held = []

        def expire(lock, reason):
            lock.lost = reason
            done.set()

        fence = fence_mod.Fence(lambda: list(held), expire, lease=0.2,
                                margin=0)
        fence.start()
        self.addCleanup(fence.stop, fakes.WAIT)
        lock.asked_at = fence._clock()
        held.append(lock)
        fence.poke()
        self.assertTrue(done.wait(fakes.WAIT))
        self.assertIn('fenced', lock.lost)


class _Recorder(hooks.LockHook):
    def __init__(self):
        self.lost_calls = []

    def lost(self, lock, reason):
        self.lost_calls.append((lock.name, lock.holder, reason))


class CoordinatorFenceTestCase(fakes.CoordinationTestCase):
    url = 'redis://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.fixture.config(group='coordination', heartbeat=3600)

    def test_a_beat_renews_from_when_it_was_sent(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()                              # asked at 100

        def slow_heartbeat():
            self.clock.now += 4                     # the beat takes 4 s
            return 1.0

        self.driver.heartbeat = slow_heartbeat
        self.clock.now = 110.0
        self.coordinator._heartbeat._beat_unless_stopped()
        self.assertEqual(114.0, self.clock.now)
        self.assertEqual(139.0, self.coordinator._fence.deadline(lock))

    def test_a_failed_beat_renews_nothing(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        self.driver.beat_errors.append(ConnectionError('down'))
        self.clock.now = 110.0
        self.assertRaises(coordination.BackendUnavailable,
                          self.coordinator._heartbeat._beat_unless_stopped)
        self.assertEqual(129.0, self.coordinator._fence.deadline(lock))

    def test_hooks_are_told_of_the_loss_with_the_holder(self):
        self.start()
        recorder = _Recorder()
        self.coordinator.add_hook(recorder)
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        self.clock.now += 29
        self.coordinator._fence.check()
        self.coordinator._fence.check()             # told once
        self.assertEqual(1, len(recorder.lost_calls))
        name, holder, reason = recorder.lost_calls[0]
        self.assertEqual('cinder-vol-1', name)
        self.assertIs(threading.current_thread(), holder)
        self.assertIn('fenced', reason)
        self.assertRaises(coordination.LockLost, lock.release)
        self.assertIsNone(lock.holder)

    def test_a_check_past_the_deadline_fails_before_the_thread_runs(self):
        # A process frozen past its deadline resumes: the server still has
        # the lock (nobody asked for it yet), the fence's thread has not
        # run, and the next check must fail all the same.
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()                              # asked at 100
        self.clock.now += 29                        # deadline 129
        lock._tooz_lock.owner = True
        e = self.assertRaises(coordination.LockLost, lock.check)
        self.assertIn('fenced', str(e))
        self.assertIn('fenced', lock.lost)

    def test_a_check_before_the_deadline_asks_the_server(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        self.clock.now += 28.9
        lock.check()
        self.assertIsNone(lock.lost)
        lock._tooz_lock.owner = False
        self.assertRaises(coordination.LockLost, lock.check)

    def test_a_margin_as_long_as_the_lease_is_refused(self):
        self.fixture.config(group='coordination', fencing_margin=30)
        e = self.assertRaises(coordination.ConfigurationError,
                              self.coordinator.start)
        self.assertIn('[coordination] fencing_margin (30.0 s) must be '
                      'smaller than 30 s, the 30 s lock lease of '
                      'redis://127.0.0.1:1', str(e))
        self.assertFalse(self.coordinator.started)
        self.assertEqual(1, self.driver.stopped)

    def test_a_margin_leaving_no_time_for_a_beat_is_warned_of(self):
        self.fixture.config(group='coordination', fencing_margin=10,
                            heartbeat=20)
        self.start()
        self.assertIn('WARNING [coordination] fencing_margin (10.0 s) and '
                      'heartbeat (20.0 s) add up to the lock lease (30 s) '
                      'or more', self.log.output)

    def test_the_start_line_states_the_fencing(self):
        self.start()
        self.assertIn('locks declared lost 1.0 s before their 30 s lease '
                      'can end', self.log.output)

    def test_no_fence_for_file_locks(self):
        self.fixture.config(group='coordination',
                            backend_url='file:///nonexistent-test-dir')
        self.start()
        self.assertIsNone(self.coordinator._fence)
        self.assertIn('no lease to fence', self.log.output)
