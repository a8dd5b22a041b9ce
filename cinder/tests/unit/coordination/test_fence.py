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
from unittest import mock

from oslotest import base
from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.coordination import fence as fence_mod
from cinder.coordination import hooks
from cinder.tests.unit.coordination import fakes


def _lock(name, asked_at):
    return types.SimpleNamespace(name=name, asked_at=asked_at,
                                 renewed_at=None, lost=None)


def _wait_in_acquire(clock, lock, seconds):
    """The next acquire of *lock* is granted *seconds* after it began."""
    grant = lock._tooz_lock.acquire

    def acquire(blocking=True):
        clock.now += seconds
        return grant(blocking)
    lock._tooz_lock.acquire = acquire


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

    def fence(self, renewals_reported=True):
        return fence_mod.Fence(lambda: list(self.held), self.expire,
                               lease=10, margin=1,
                               renewals_reported=renewals_reported,
                               clock=self.clock)

    def test_each_lock_counts_from_its_own_last_confirmed_renewal(self):
        fence = self.fence()
        renewed, missed = _lock('renewed', 100.0), _lock('missed', 100.0)
        late = _lock('late', 104.0)
        self.held += [renewed, missed, late]
        self.assertEqual(109.0, fence.deadline(renewed))
        fence.renewed(renewed, 102.0)
        fence.renewed(late, 102.0)      # of a grant before this one
        # A renewal of "renewed" says nothing of "missed"; "late" was
        # asked for after the renewal was sent: its lease runs from then.
        self.assertEqual(111.0, fence.deadline(renewed))
        self.assertEqual(109.0, fence.deadline(missed))
        self.assertEqual(113.0, fence.deadline(late))
        fence.renewed(renewed, 101.0)   # an older beat finishing late
        self.assertEqual(111.0, fence.deadline(renewed))
        self.clock.now = 109.0
        self.assertEqual(111.0, fence.check())
        self.assertEqual([('missed', 109.0)], self.expired)
        self.assertIsNone(renewed.lost)

    def test_the_lease_left_on_the_server_dates_the_renewal(self):
        fence = self.fence()                # lease 10, margin 1
        lock = _lock('vol', 100.0)
        self.held.append(lock)
        # Asked at 106, 4 s left: the server frees the key at 110 or
        # later, as it would after a renewal sent at 100. The renewals
        # since then did not reach it.
        fence.renewed(lock, 106.0, left=4.0)
        self.assertEqual(109.0, fence.deadline(lock))
        fence.renewed(lock, 107.0, left=9.5)
        self.assertEqual(115.5, fence.deadline(lock))
        fence.renewed(lock, 108.0, left=60)  # never beyond the lease
        self.assertEqual(117.0, fence.deadline(lock))

    def test_a_renewal_sets_its_lease_only_if_it_is_the_latest(self):
        # A ZooKeeper reconnection negotiated a 4 s session timeout.
        fence = self.fence()
        lock = _lock('vol', 100.0)
        self.held.append(lock)
        fence.session_renewed(104.0, lease=4)
        self.assertEqual(107.0, fence.deadline(lock))
        # An older renewal, answered under another timeout, changes
        # nothing: the server counts from the later one.
        fence.session_renewed(103.0, lease=40)
        self.assertEqual(107.0, fence.deadline(lock))
        self.clock.now = 107.0
        fence.check()
        self.assertIn('the 4 s lease may end 1 s from now', lock.lost)

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
        fence.renewed(lock, 105.0)
        self.clock.now = 114.0
        fence.check()
        self.assertIn('fenced: the last renewal of the lock that the '
                      'backend confirmed dates from 9.0s ago and no '
                      'renewal got through since', lock.lost)

    def test_a_backend_that_reports_no_renewals_has_no_deadline(self):
        fence = self.fence(renewals_reported=False)
        lock = _lock('vol', 100.0)
        self.held.append(lock)
        self.assertIsNone(fence.deadline(lock))
        self.clock.now = 1000.0
        self.assertIsNone(fence.check())
        self.assertIsNone(lock.lost)

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

    def test_a_beat_renews_from_when_it_reached_the_server(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()                              # asked at 100
        renew = self.driver.heartbeat

        def slow_heartbeat():
            renew()                                 # reaches Redis at 110
            self.clock.now += 4                     # its answer takes 4 s
            return 1.0

        self.driver.heartbeat = slow_heartbeat
        self.clock.now = 110.0
        self.coordinator._heartbeat._beat_unless_stopped()
        self.assertEqual(114.0, self.clock.now)
        self.assertEqual(139.0, self.coordinator._fence.deadline(lock))

    def test_a_lock_whose_renewal_failed_is_fenced_at_its_own_deadline(self):
        # Tooz's Redis heartbeat logs a renewal that timed out and goes
        # on: the beat succeeds, the key keeps its old expiry.
        self.start()
        renewed = self.coordinator.get_lock('renewed')
        missed = self.coordinator.get_lock('missed')
        renewed.acquire()                           # at 100: keys expire
        missed.acquire()                            # at 130
        self.driver.renewals_lost.append(missed._tooz_lock.name)
        self.clock.now = 110.0
        self.coordinator._heartbeat._beat_unless_stopped()
        fence = self.coordinator._fence
        self.assertEqual(139.0, fence.deadline(renewed))
        self.assertEqual(129.0, fence.deadline(missed))
        self.clock.now = 129.0
        self.assertEqual(139.0, fence.check())
        self.assertIn('fenced: the lock was asked for 29.0s ago and no '
                      'renewal got through since', missed.lost)
        # Before Redis frees its key.
        self.assertEqual(130.0, self.driver._client.expires[b'cinder-missed'])
        self.assertIsNone(renewed.lost)
        renewed.check()
        self.assertRaises(coordination.LockLost, missed.release)

    def test_a_failed_beat_renews_nothing(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        self.driver.beat_errors.append(ConnectionError('down'))
        self.clock.now = 110.0
        self.assertRaises(coordination.BackendUnavailable,
                          self.coordinator._heartbeat._beat_unless_stopped)
        self.assertEqual(129.0, self.coordinator._fence.deadline(lock))

    def test_a_lock_granted_after_a_long_wait_counts_from_its_lease(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        _wait_in_acquire(self.clock, lock, 4000)   # longer than a heartbeat
        lock.acquire()                      # asked at 100, granted at 4100
        # The lease left was read at once, in one request.
        self.assertEqual(['lease_left'], self.driver._client.ran)
        self.assertEqual(4129.0, self.coordinator._fence.deadline(lock))
        self.coordinator._fence.check()
        self.assertIsNone(lock.lost)
        lock.release()

    def test_a_quick_acquire_asks_nothing_more(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        _wait_in_acquire(self.clock, lock, 3600)    # the heartbeat interval
        lock.acquire()
        self.assertEqual([], self.driver._client.ran)
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


class BeatCreditTestCase(fakes.CoordinationTestCase):
    """A backend that reads no lease left: each beat renews every lock."""

    url = 'memcached://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.fixture.config(group='coordination', heartbeat=3600)
        self.start()
        self.fence = self.coordinator._fence

    def test_a_beat_renews_from_when_it_was_sent(self):
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()                              # asked at 100

        def slow_heartbeat():
            self.clock.now += 4                     # the beat takes 4 s
            return 1.0

        self.driver.heartbeat = slow_heartbeat
        self.clock.now = 110.0
        self.coordinator._heartbeat._beat_unless_stopped()
        self.assertEqual(114.0, self.clock.now)
        self.assertEqual(139.0, self.fence.deadline(lock))

    def test_a_lock_granted_after_a_long_wait_is_renewed_at_once(self):
        lock = self.coordinator.get_lock('vol-1')
        _wait_in_acquire(self.clock, lock, 4000)
        lock.acquire()                      # asked at 100, granted at 4100
        self.assertEqual(('heartbeat',), lock._tooz_lock.calls[-1])
        self.assertEqual(4129.0, self.fence.deadline(lock))

    def test_a_lease_that_cannot_be_confirmed_counts_from_the_acquire(self):
        lock = self.coordinator.get_lock('vol-1')
        _wait_in_acquire(self.clock, lock, 4000)
        lock._tooz_lock.heartbeat = mock.Mock(
            side_effect=tooz_coordination.ToozConnectionError('down'))
        lock.acquire()
        self.assertIn('WARNING Lock "cinder-vol-1": Confirming its lease '
                      'after the acquire failed', self.log.output)
        self.assertEqual(129.0, self.fence.deadline(lock))
        self.fence.check()
        self.assertIn('fenced: the lock was asked for 4000.0s ago',
                      lock.lost)

    def test_a_lock_acquired_during_the_renewals_is_not_credited(self):
        first = self.coordinator.get_lock('first')
        first.acquire()                             # asked at 100
        late = self.coordinator.get_lock('late')

        def heartbeat():
            # The acquire of "late" began at 105 (another thread) and
            # ends while the driver renews, after its renewals began:
            # they may have missed it.
            self.clock.now = 105.0
            late.acquire()
            self.clock.now = 110.5
            return 1.0

        self.driver.heartbeat = heartbeat
        self.clock.now = 110.0
        self.coordinator._heartbeat._beat_unless_stopped()
        self.assertEqual(139.0, self.fence.deadline(first))
        self.assertEqual(134.0, self.fence.deadline(late))
