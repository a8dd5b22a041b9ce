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

"""Tests of locks whose release failed: nothing may keep them taken."""

import threading
from unittest import mock

from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.coordination import orphans
from cinder.tests.unit.coordination import fakes

Down = tooz_coordination.ToozConnectionError


class FailedReleaseTestCase(fakes.CoordinationTestCase):

    def setUp(self):
        super().setUp()
        self.fixture.config(group='coordination',
                            initial_reconnect_backoff=0.01,
                            max_reconnect_backoff=0.01)

    def held_lock(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        return coordinator, lock, self.driver.locks[b'cinder-v1']

    def test_failed_release_is_retried_in_the_background(self):
        coordinator, lock, tooz_lock = self.held_lock()
        released = threading.Event()
        real_release = tooz_lock.release

        def release():
            result = real_release()
            released.set()
            return result

        tooz_lock.release = release
        tooz_lock.release_errors = [Down('down'), Down('still down')]
        e = self.assertRaises(coordination.BackendUnavailable, lock.release)
        self.assertIn('This service no longer holds lock cinder-v1: the '
                      'release is retried in the background', str(e))
        self.assertIn('ERROR Releasing lock cinder-v1 failed',
                      self.log.output)
        # Given up by its holder at once...
        self.assertFalse(lock.held)
        self.assertEqual([], coordination.lock.thread_locks())
        # ... and released by the reaper once the backend answers.
        self.assertTrue(coordinator._reaper.wait_idle(fakes.WAIT))
        self.assertTrue(released.is_set())
        self.assertFalse(tooz_lock.acquired)
        self.assertEqual(3, tooz_lock.calls.count(('release',)))

    def test_lease_backend_stops_renewing_and_says_when_it_is_free(self):
        coordinator, lock, tooz_lock = self.held_lock()
        backend = coordinator.backend
        tooz_lock.release_errors = [Down('down')]
        with mock.patch.object(backend, 'needs_heartbeat', True), \
                mock.patch.object(backend, 'lease', return_value=6), \
                mock.patch.object(backend, 'forget',
                                  return_value=False) as forget:
            e = self.assertRaises(coordination.BackendUnavailable,
                                  lock.release)
        forget.assert_called_once_with(tooz_lock)
        self.assertIn('it is no longer renewed, so the backend frees it '
                      'when its 6 s lease ends', str(e))
        # Nothing to retry: the lease runs out instead.
        self.assertEqual([], coordinator._reaper.pending)

    def test_hooks_see_a_clean_section(self):
        coordinator, lock, tooz_lock = self.held_lock()
        hook = mock.Mock()
        coordinator.add_hook(hook)
        tooz_lock.release_errors = [Down('down')]
        self.assertRaises(coordination.BackendUnavailable, lock.release)
        hook.released.assert_called_once_with(lock, None)

    def test_secrets_of_the_error_are_scrubbed(self):
        self.fixture.config(group='coordination',
                            backend_url='file:///d?password=s3cret')
        coordinator, lock, tooz_lock = self.held_lock()
        tooz_lock.release_errors = [Down('auth s3cret')]
        e = self.assertRaises(coordination.BackendUnavailable, lock.release)
        self.assertNotIn('s3cret', str(e))
        self.assertNotIn('s3cret', self.log.output)


class GrantServer(object):
    """Where the grants of the fake driver below are: name -> lock object.

    Tooz's lock objects release the grant they hold *now*: etcd's deletes
    the key if its value is the object's token, ZooKeeper's the node the
    object created last. ``releases_fail`` makes every release raise, as
    a server that does not answer them.
    """

    def __init__(self):
        self.holders = {}
        self.releases_fail = threading.Event()


class GrantLock(fakes.FakeToozLock):
    """A driver lock whose release frees whatever grant it holds."""

    def __init__(self, name, server):
        super().__init__(name)
        self.server = server

    def acquire(self, blocking=True):
        self.calls.append(('acquire', blocking))
        if self.server.holders.get(self.name) is not None:
            return False
        self.server.holders[self.name] = self
        self.acquired = True
        return True

    def release(self):
        self.calls.append(('release',))
        if self.server.releases_fail.is_set():
            raise Down('no answer')
        self.acquired = False
        if self.server.holders.get(self.name) is self:
            del self.server.holders[self.name]
            return True
        return False


class GrantDriver(fakes.FakeDriver):
    """A driver that makes a new lock object at each get_lock, as Tooz's."""

    def __init__(self, server):
        super().__init__()
        self.server = server

    def get_lock(self, name):
        return GrantLock(name, self.server)


class ReusedLockTestCase(fakes.CoordinationTestCase):

    def setUp(self):
        super().setUp()
        self.fixture.config(group='coordination',
                            initial_reconnect_backoff=0.01,
                            max_reconnect_backoff=0.01)
        self.server = GrantServer()
        self.get_coordinator.return_value = GrantDriver(self.server)

    def test_retry_leaves_a_later_grant_of_the_same_lock_held(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        first = self.server.holders[b'cinder-v1']
        self.server.releases_fail.set()
        self.assertRaises(coordination.BackendUnavailable, lock.release)
        # The failed grant ends on the server (its lease ran out, or the
        # release got through after all) and the same Lock is acquired
        # again, while the reaper's retries still fail.
        del self.server.holders[b'cinder-v1']
        lock.acquire()
        second = self.server.holders[b'cinder-v1']
        self.server.releases_fail.clear()
        self.assertTrue(coordinator._reaper.wait_idle(fakes.WAIT))
        # The retry released the failed grant's lock object, which the
        # later grant does not use: that grant is still held.
        self.assertIs(second, self.server.holders.get(b'cinder-v1'))
        self.assertIsNot(first, second)
        self.assertEqual(1, [call[0] for call in first.calls].count(
            'acquire'))
        self.assertEqual([('acquire', True)], second.calls)
        lock.release()
        self.assertEqual({}, self.server.holders)


class ReaperTestCase(fakes.CoordinationTestCase):

    def reaper(self, release):
        reaper = orphans.Reaper(release, coordination.Backoff(0.01, 0.01),
                                self.clock)
        self.addCleanup(reaper.stop)
        return reaper

    def test_gives_up_once_the_lease_has_ended(self):
        tried = []

        def release(tooz_lock):
            tried.append(tooz_lock)
            if len(tried) == 2:
                self.clock.now = 200.0
            if len(tried) > 2:
                self.fail('tried after the lease ended')
            raise Down('down')

        reaper = self.reaper(release)
        reaper.add(orphans.Orphan('cinder-v1', 'tl', give_up_at=150.0))
        self.assertTrue(reaper.wait_idle(fakes.WAIT))
        self.assertEqual(['tl', 'tl'], tried)
        self.assertIn('its lease has ended by now', self.log.output)

    def test_stop_interrupts_and_leaves_the_rest_to_the_lease(self):
        reaper = self.reaper(mock.Mock(side_effect=OSError('down')))
        reaper.add(orphans.Orphan('cinder-v1', 'tl', give_up_at=None))
        reaper.stop(timeout=fakes.WAIT)
        self.assertEqual(['cinder-v1'], reaper.pending)
        self.assertFalse(reaper.wait_idle(0))
        # Added after the stop: dropped.
        reaper.add(orphans.Orphan('cinder-v2', 'tl', give_up_at=None))
        self.assertEqual(['cinder-v1'], reaper.pending)
