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

"""Tests of the ZooKeeper backend: bounds, ownership and lost sessions.

Tooz's own ZooKeeperLock runs on a fake kazoo client, so that what tooz
does with kazoo's answers (and errors) is what these tests see.
"""

import importlib.metadata
import threading
import time
import types
from unittest import mock

import fixtures
from kazoo import exceptions as kazoo_exceptions
from kazoo.handlers import threading as kazoo_threading
from tooz.drivers import zookeeper as tooz_zookeeper

from cinder import coordination
from cinder.tests.unit.coordination import fakes

#: What a read answers: a value, an exception, or PENDING (no answer yet).
PENDING = object()


class FakeKazooLock(object):
    """kazoo's Lock recipe, as far as tooz and this project look at it."""

    def __init__(self, client, path, identifier):
        self.client = client
        self.path = path
        self.data = identifier.encode('utf-8')
        self.node = None
        self.is_acquired = False

    def acquire(self, blocking=True, timeout=None):
        self.client.request(('acquire', self.path))
        error = self.client.acquire_errors.pop(0) if (
            self.client.acquire_errors) else None
        if error is not None:
            raise error
        self.node = '%s__lock__%010d' % ('0' * 32, len(self.client.nodes))
        self.client.nodes[self.path + '/' + self.node] = self.data
        self.is_acquired = True
        return True

    def release(self):
        self.client.request(('release', self.path))
        if not self.is_acquired:
            return False
        # kazoo ignores a node that is already gone.
        self.client.nodes.pop(self.path + '/' + self.node, None)
        self.is_acquired = False
        self.node = None
        return True


class FakeKazooClient(object):
    """The parts of a KazooClient that tooz and this project use."""

    def __init__(self):
        self.handler = kazoo_threading.SequentialThreadingHandler()
        self.state = 'CONNECTED'
        self.listeners = []
        self.nodes = {}
        self.calls = []
        self.reads = []            # scripted answers of the next reads
        #: Scripted answers of the next exists (the session watch's
        #: reads): an exception, or a callable run before the answer.
        self.exists_answers = []
        self.acquire_errors = []
        self.unnoticed_expiry = False
        # The connection handler, its reconnect policy and handshake.
        self._connection = fakes.FakeKazooConnection()

    def add_listener(self, listener):
        self.listeners.append(listener)

    def change_state(self, state):
        self.state = state
        for listener in self.listeners:
            listener(state)

    def Lock(self, path, identifier):
        return FakeKazooLock(self, path, identifier)

    def expire_session(self):
        """The server expires the session, the client does not see it yet.

        As when the process was frozen for longer than the session timeout:
        the session's nodes are gone, and the client finds out at its next
        request, on which it reports the session LOST and opens a new one.
        """
        self.nodes.clear()
        self.unnoticed_expiry = True

    def request(self, call):
        self.calls.append(call)
        if self.unnoticed_expiry:
            self.unnoticed_expiry = False
            self.change_state('LOST')
            self.change_state('CONNECTED')

    def get_async(self, path):
        self.request(('get', path))
        result = self.handler.async_result()
        answer = self.reads.pop(0) if self.reads else None
        if answer is None:
            if path in self.nodes:
                result.set((self.nodes[path], None))
            else:
                result.set_exception(kazoo_exceptions.NoNodeError())
        elif isinstance(answer, Exception):
            result.set_exception(answer)
        elif answer is not PENDING:
            result.set(answer)
        return result

    def exists_async(self, path):
        self.request(('exists', path))
        result = self.handler.async_result()
        answer = self.exists_answers.pop(0) if self.exists_answers else None
        if callable(answer):
            answer = answer()
        if isinstance(answer, Exception):
            result.set_exception(answer)
        else:
            result.set(None)
        return result

    def get(self, path):
        # kazoo waits without bound; a test must not.
        return self.get_async(path).get(timeout=fakes.WAIT)


class FakeZooKeeperDriver(object):
    """tooz's KazooDriver around a :class:`FakeKazooClient`."""

    timeout = 10   # the session timeout

    def __init__(self):
        self._coord = FakeKazooClient()
        self.locks = {}

    def start(self, start_heart=False):
        self._coord._connection.handshake(self.timeout * 1000)

    def stop(self):
        self._coord.change_state('LOST')

    def get_lock(self, name):
        lock = tooz_zookeeper.ZooKeeperLock(
            name, self._coord.Lock('/tooz/locks/' + name.decode(), 'member'))
        self.locks[name] = lock
        return lock


class ZooKeeperTestCase(fakes.CoordinationTestCase):
    url = 'zookeeper://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.driver = FakeZooKeeperDriver()
        self.client = self.driver._coord
        self.get_coordinator.return_value = self.driver

    def acquired(self, name='v1'):
        coordinator = self.start()
        lock = coordinator.get_lock(name)
        lock.acquire()
        return lock


class ZooKeeperOutageTestCase(ZooKeeperTestCase):

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
        kazoo_lock = self.driver.locks[b'cinder-v1']._lock
        real_acquire = kazoo_lock.acquire

        def acquire(blocking=True, timeout=None):
            # kazoo is still reconnecting when the caller first checks.
            self.assertTrue(checked.wait(fakes.WAIT))
            self.client.change_state('CONNECTED')
            return real_acquire(blocking, timeout)

        kazoo_lock.acquire = acquire
        self.assertTrue(lock.acquire(blocking=False))
        self.assertIsNone(backend._down_since)
        lock.release()

    def test_kazoo_reconnect_delay_is_bounded_by_the_options(self):
        self.fixture.config(group='coordination',
                            initial_reconnect_backoff=0.5,
                            max_reconnect_backoff=20)
        self.start()
        sleeper = self.client._connection.retry_sleeper
        self.assertEqual((0.5, 20.0), (sleeper.delay, sleeper.max_delay))

    def test_outage_during_the_call_still_bounds_it(self):
        self.fixture.config(group='coordination', backend_timeout=0.2)
        coordinator = self.start()
        backend = coordinator.backend
        release = threading.Event()
        self.addCleanup(release.set)
        lock = coordinator.get_lock('v1')
        kazoo_lock = self.driver.locks[b'cinder-v1']._lock

        def acquire(blocking=True, timeout=None):
            release.wait(fakes.WAIT)
            return False

        kazoo_lock.acquire = acquire
        self.client.change_state('SUSPENDED')
        self.assertIsNotNone(backend._down_since)
        exc = self.assertRaises(coordination.BackendUnavailable,
                                lock.acquire, blocking=False)
        self.assertIn('no connection for more than 0.2 s', str(exc))


class ZooKeeperSessionTestCase(ZooKeeperTestCase):
    """A lock is held in one session; a release costs one request."""

    def test_release_after_the_session_expired_unnoticed_is_a_loss(self):
        lock = self.acquired()
        # Frozen past the session timeout; the client notices the expiry
        # only during the release, which kazoo then reports as a success.
        self.client.expire_session()
        exc = self.assertRaises(coordination.LockLost, lock.release)
        self.assertIn('no longer had it', str(exc))
        self.assertIn('ERROR Lock "cinder-v1" was LOST', self.log.output)
        self.assertFalse(self.driver.locks[b'cinder-v1'].acquired)

    def test_release_of_an_owned_lock_is_one_request(self):
        lock = self.acquired()
        del self.client.calls[:]
        lock.release()
        self.assertNotIn('LOST', self.log.output)
        self.assertEqual({}, self.client.nodes)
        self.assertEqual([('release', '/tooz/locks/cinder-v1')],
                         self.client.calls)

    def test_a_retried_release_fails_until_the_node_is_released(self):
        # The release got no answer: the retry of the reaper must not
        # take a second failure for a lost session and drop the orphan.
        lock = self.acquired()
        backend = self.coordinator.backend
        tooz_lock = self.driver.locks[b'cinder-v1']
        kazoo_lock = tooz_lock._lock
        real_release = kazoo_lock.release
        failures = [kazoo_exceptions.ConnectionLoss()] * 2

        def release():
            if failures:
                raise failures.pop()
            return real_release()

        kazoo_lock.release = release
        self.useFixture(fixtures.MockPatchObject(backend, 'forget',
                                                 return_value=False))
        self.assertRaises(coordination.BackendUnavailable, lock.release)
        self.assertRaises(kazoo_exceptions.ConnectionLoss,
                          backend.release_orphan, tooz_lock)
        self.assertIn('/tooz/locks/cinder-v1', str(self.client.nodes))
        backend.release_orphan(tooz_lock)
        self.assertEqual({}, self.client.nodes)

    def test_a_retried_release_after_a_lost_session_is_done(self):
        lock = self.acquired()
        backend = self.coordinator.backend
        tooz_lock = self.driver.locks[b'cinder-v1']
        kazoo_lock = tooz_lock._lock
        kazoo_lock.release = mock.Mock(
            side_effect=kazoo_exceptions.ConnectionLoss())
        self.useFixture(fixtures.MockPatchObject(backend, 'forget',
                                                 return_value=False))
        self.assertRaises(coordination.BackendUnavailable, lock.release)
        backend._sessions_lost += 1     # the node went with its session
        self.assertFalse(backend.release(tooz_lock))

    def test_check_after_a_lost_session_asks_nothing(self):
        lock = self.acquired()
        backend = self.coordinator.backend
        # The session was lost before the coordinator knew of the lock
        # (between the acquire and its bookkeeping): the listener could
        # not mark it, the next check does.
        backend._sessions_lost += 1
        del self.client.calls[:]
        exc = self.assertRaises(coordination.LockLost,
                                coordination.ensure_locks_held)
        self.assertIn('lock cinder-v1 was lost', str(exc))
        self.assertIsNotNone(lock.lost)
        self.assertEqual([], self.client.calls)

    def test_session_expired_during_the_acquire_fails_it(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        kazoo_lock = self.driver.locks[b'cinder-v1']._lock
        real_acquire = kazoo_lock.acquire

        def acquire(blocking=True, timeout=None):
            # kazoo took the lock, the session expired, and kazoo took it
            # again in the new session before returning.
            real_acquire(blocking, timeout)
            self.client.expire_session()
            return real_acquire(blocking, timeout)

        kazoo_lock.acquire = acquire
        exc = self.assertRaises(coordination.BackendUnavailable,
                                lock.acquire)
        self.assertIn('session expired during the call', str(exc))
        self.assertFalse(lock.held)
        self.assertFalse(kazoo_lock.is_acquired)
        self.assertEqual({}, self.client.nodes)
        # The next acquire is in one session and holds.
        kazoo_lock.acquire = real_acquire
        lock.acquire()
        coordination.ensure_locks_held()
        lock.release()


class ZooKeeperOwnershipTestCase(ZooKeeperTestCase):
    """A check that cannot tell is not a loss; a loss is one for good."""

    def assertCannotTell(self, lock):
        exc = self.assertRaises(coordination.LockLost,
                                coordination.ensure_locks_held)
        self.assertIn('ownership of lock cinder-v1 cannot be confirmed',
                      str(exc))
        self.assertIsNone(lock.lost)
        self.assertNotIn('LOST', self.log.output)

    def assertLost(self, lock):
        exc = self.assertRaises(coordination.LockLost,
                                coordination.ensure_locks_held)
        self.assertIn('lock cinder-v1 was lost', str(exc))
        self.assertIsNotNone(lock.lost)
        self.assertIn('ERROR Lock "cinder-v1" was LOST', self.log.output)
        self.assertRaises(coordination.LockLost, lock.release)

    def test_connection_loss_during_the_read_cannot_tell(self):
        lock = self.acquired()
        self.client.reads = [kazoo_exceptions.ConnectionLoss()]
        self.assertCannotTell(lock)
        # The connection is back and the node is still ours: the next
        # check passes, and so does the release.
        coordination.ensure_locks_held()
        lock.release()

    def test_outage_longer_than_the_bound_cannot_tell(self):
        self.fixture.config(group='coordination', backend_timeout=0.1)
        lock = self.acquired()
        self.client.change_state('SUSPENDED')
        # kazoo holds the read until the connection is back.
        self.client.reads = [PENDING]
        self.assertCannotTell(lock)
        self.client.change_state('CONNECTED')
        coordination.ensure_locks_held()
        lock.release()

    def test_node_gone_is_lost(self):
        lock = self.acquired()
        self.client.nodes.clear()
        self.assertLost(lock)

    def test_expired_session_is_lost(self):
        lock = self.acquired()
        self.client.reads = [kazoo_exceptions.SessionExpiredError()]
        self.assertLost(lock)

    def test_node_of_another_holder_is_lost(self):
        lock = self.acquired()
        self.client.reads = [(b'another-member', None)]
        self.assertLost(lock)


class ZooKeeperTokenTestCase(ZooKeeperTestCase):
    """The token is the czxid of the node read by an ownership check."""

    assertLost = ZooKeeperOwnershipTestCase.assertLost

    @staticmethod
    def stat(czxid):
        from kazoo.protocol import states as kazoo_states

        return kazoo_states.ZnodeStat(
            czxid=czxid, mzxid=czxid, ctime=0, mtime=0, version=0,
            cversion=0, aversion=0, ephemeralOwner=1, dataLength=0,
            numChildren=0, pzxid=czxid)

    def test_token_is_the_czxid_of_the_nodes_read(self):
        lock = self.acquired()
        stat = self.stat(0x300000007)
        self.client.reads = [(lock._tooz_lock._lock.data, stat)]
        # The offset node is absent (no advance-tokens ever ran): 0.
        self.assertEqual(0x300000007, lock.token())
        gets = [c[1] for c in self.client.calls if c[0] == 'get']
        self.assertEqual(2, len(gets))
        self.assertEqual('/tooz/cinder-fencing-token-offset', gets[1])
        lock.release()

    def test_token_adds_the_offset_read_in_the_same_round_trip(self):
        lock = self.acquired()
        node = (lock._tooz_lock._lock.data, self.stat(0x300000007))
        results = []

        def get_async(path):
            self.client.calls.append(('get', path))
            results.append(self.client.handler.async_result())
            if len(results) == 2:
                # Both reads were sent before either was answered: the
                # token waits for one round trip, not two.
                results[0].set(node)
                results[1].set((b'1000000000000', None))
            return results[-1]
        self.useFixture(fixtures.MockPatchObject(
            self.client, 'get_async', side_effect=get_async))
        self.assertEqual(10 ** 12 + 0x300000007, lock.token())
        lock.release()

    def test_an_offset_that_is_no_number_cannot_confirm(self):
        lock = self.acquired()
        self.client.reads = [(lock._tooz_lock._lock.data, self.stat(9)),
                             (b'garbage', None)]
        e = self.assertRaises(coordination.LockLost, lock.token)
        self.assertIn('the fencing token offset '
                      '/tooz/cinder-fencing-token-offset holds', str(e))
        self.assertIsNone(lock.lost)
        lock.release()

    def test_token_of_a_node_of_another_holder_is_a_loss(self):
        lock = self.acquired()
        self.client.reads = [(b'another-member', self.stat(9))]
        self.assertRaises(coordination.LockLost, lock.token)
        self.assertLost(lock)

    def test_token_that_cannot_be_read_cannot_tell(self):
        lock = self.acquired()
        self.client.reads = [kazoo_exceptions.ConnectionLoss()]
        e = self.assertRaises(coordination.LockLost, lock.token)
        self.assertIn('cannot be confirmed', str(e))
        self.assertIsNone(lock.lost)
        lock.release()


class ZooKeeperPrivateAttributeTestCase(ZooKeeperTestCase):

    def test_tooz_lock_without_its_kazoo_lock_fails_at_start(self):
        # Pins tooz's ZooKeeperLock._lock, read by the ownership check.
        self.assertIsInstance(
            tooz_zookeeper.ZooKeeperLock(b'x', self.client.Lock('/x', 'm'))
            ._lock, FakeKazooLock)
        self.driver.get_lock = lambda name: types.SimpleNamespace(name=name)
        exc = self.assertRaises(coordination.CoordinationError,
                                self.coordinator.start)
        self.assertIn('tooz %s ' % importlib.metadata.version('tooz'),
                      str(exc))
        self.assertIn("'_lock'", str(exc))
        self.assertFalse(self.coordinator.started)
