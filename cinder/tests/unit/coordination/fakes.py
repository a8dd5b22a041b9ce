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

"""Fakes of Tooz for the unit tests of cinder.coordination, and their base
test case.

The behaviour against real lock servers is checked by the contract suite
in cinder/tests/functional/test_coordination.py.
"""

import logging
import os
import threading
import types

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base
from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.coordination.backends import redis as redis_backend
from cinder.coordination import lock as lock_mod

#: An open file that is never unlinked, for the file backend's check.
_ALWAYS_LINKED = open(os.devnull)

REAL_GET_COORDINATOR = tooz_coordination.get_coordinator
WAIT = 10  # bound for waits on events; never reached when the code works


class FakeClock(object):
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


class FakeToozLock(object):
    def __init__(self, name):
        self.name = name
        self.acquired = False
        self.acquire_result = True
        self.acquire_error = None
        self.owner = True
        self.calls = []
        #: Raised by the next releases, one each, while not empty.
        self.release_errors = []
        # What the backends reach inside tooz's locks (see
        # cinder.coordination.internals): the kazoo lock (ZooKeeper), the
        # fasteners lock and its open file (file: an always linked one),
        # the redis-py lock's token (Redis), the key and token (etcd).
        self._lock = types.SimpleNamespace(path=name, node=None, data=b'',
                                           is_acquired=False,
                                           lockfile=_ALWAYS_LINKED,
                                           local=types.SimpleNamespace(
                                               token=None))
        self._barrier = types.SimpleNamespace(cond=threading.Condition(),
                                              owner=None)
        self._key_b64 = 'a2V5'
        self._uuid = 'token'

    def acquire(self, blocking=True):
        self.calls.append(('acquire', blocking))
        if self.acquire_error is not None:
            raise self.acquire_error
        self.acquired = self.acquire_result
        return self.acquire_result

    def release(self):
        self.calls.append(('release',))
        if self.release_errors:
            raise self.release_errors.pop(0)
        was = self.acquired
        self.acquired = False
        return was

    def is_still_owner(self):
        if isinstance(self.owner, Exception):
            raise self.owner
        return self.owner

    def heartbeat(self):
        """Tooz's renewal of this one lock: True if it is acquired."""
        self.calls.append(('heartbeat',))
        return self.acquired


class FakeRedisClient(object):
    """The parts of a redis-py client the Redis backend uses.

    ``values`` holds the keys and ``expires`` the clock time at which a
    key with an expiry goes; the scripts the backend registers (the
    fencing token's, the lease left's) run on them as Redis would run
    their Lua.
    """

    def __init__(self, clock):
        self.values = {}
        self.expires = {}
        self.clock = clock
        self.scripts = []
        #: The scripts run, by name.
        self.ran = []

    def set_retry(self, retry):
        pass

    def get(self, key):
        if key in self.expires and self.expires[key] <= self.clock():
            self.values.pop(key, None)
            del self.expires[key]
        return self.values.get(key)

    def register_script(self, script):
        self.scripts.append(script)
        if script == redis_backend._LEASE_LEFT:
            return self._lease_left
        return self._next_token

    def _next_token(self, keys, args):
        lock_key, counter = keys
        token, highest = args
        if self.get(lock_key) != token:
            return [0, 0]
        behind = int(self.values.get(counter, 0) < highest)
        value = max(self.values.get(counter, 0), highest) + 1
        self.values[counter] = value
        return [value, behind]

    def _lease_left(self, keys, args):
        self.ran.append('lease_left')
        key, = keys
        token, = args
        if self.get(key) != token:
            return [0, 0]
        if key not in self.expires:
            return [1, -1]
        return [1, int(round((self.expires[key] - self.clock()) * 1000))]


class FakeKazooConnection(object):
    """kazoo's connection handler: its reconnect policy, its handshake.

    The server takes the session timeout asked for, or ``negotiated_ms``
    when set, as a server whose bounds clamp it.
    """

    def __init__(self):
        self.retry_sleeper = types.SimpleNamespace(delay=0.1,
                                                   max_delay=3600.0)
        self.negotiated_ms = None

    def _invoke(self, timeout, request, xid=None):
        answer = request._replace(time_out=self.negotiated_ms or
                                  request.time_out)
        return answer, None

    def handshake(self, requested_ms):
        """What kazoo does for each connection: send a Connect, read."""
        from kazoo.protocol import serialization

        return self._invoke(requested_ms / 1000.0, serialization.Connect(
            0, 0, requested_ms, 0, b'\0' * 16, False))


class FakeDriver(object):
    requires_beating = True
    lock_timeout = 30
    namespace = b'tooz'

    def __init__(self, clock=None):
        self.clock = clock or FakeClock()
        self.locks = {}
        self.started = 0
        self.stopped = 0
        self.beats = 0
        self.beat_errors = []
        #: Names of locks whose next renewal by heartbeat() fails, once
        #: each: like Tooz's Redis driver, it goes on with the others.
        self.renewals_lost = []
        self.beat_event = threading.Event()
        self.listeners = []
        self._coord = self  # what the ZooKeeper backend reaches for
        # What the Redis and etcd backends reach for. A held lock has
        # a key with a lease there, renewed by heartbeat().
        self._client = FakeRedisClient(self.clock)
        self._acquired_locks = set()
        # kazoo's connection handler and its reconnect policy.
        self._connection = FakeKazooConnection()
        self.order = []

    def start(self, start_heart=False):
        assert start_heart is False
        self.started += 1
        # kazoo's session handshake, for the ZooKeeper backend.
        self._connection.handshake(int(getattr(self, 'timeout', 10) * 1000))

    def stop(self):
        self.stopped += 1

    def get_lock(self, name):
        lock = self.locks.get(name)
        if lock is None:
            lock = self.locks[name] = FakeToozLock(name)
        order = self.order

        def acquire(blocking=True, _orig=lock.acquire):
            order.append(('acquire', name))
            got = _orig(blocking)
            if got:
                # As redis-py's lock: its token, SET NX PX.
                token = lock._lock.local.token = b'token-%d' % len(order)
                self._client.values[name] = token
                self._renew(lock)
            return got

        def release(_orig=lock.release):
            order.append(('release', name))
            released = _orig()
            token = lock._lock.local.token
            if token is not None and self._client.get(name) == token:
                del self._client.values[name]
                self._client.expires.pop(name, None)
            lock._lock.local.token = None
            return released
        lock.acquire, lock.release = acquire, release
        return lock

    def _renew(self, lock):
        """PEXPIRE of the lock's key, if it holds the lock's token."""
        if self._client.get(lock.name) == lock._lock.local.token:
            self._client.expires[lock.name] = self.clock() + self.lock_timeout

    def heartbeat(self):
        self.beats += 1
        try:
            if self.beat_errors:
                raise self.beat_errors.pop(0)
            for lock in self.locks.values():
                if not lock.acquired:
                    continue
                if lock.name in self.renewals_lost:
                    self.renewals_lost.remove(lock.name)
                else:
                    self._renew(lock)
        finally:
            self.beat_event.set()
        return 1.0

    def add_listener(self, listener):
        self.listeners.append(listener)

    def exists_async(self, path):
        """The read of the ZooKeeper backend's session watch: answered."""
        return FakeAsyncResult(None)


class CoordinationTestCase(base.BaseTestCase):
    url = 'file:///nonexistent-test-dir'

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        self.fixture = self.useFixture(config_fixture.Config(self.conf))
        self.clock = FakeClock()
        self.coordinator = coordination.Coordinator(
            member_id='test-member', conf=self.conf, clock=self.clock)
        self.fixture.config(group='coordination', backend_url=self.url,
                            backend_timeout=WAIT)
        self.driver = FakeDriver(self.clock)
        self.get_coordinator = self.useFixture(fixtures.MockPatchObject(
            tooz_coordination, 'get_coordinator',
            return_value=self.driver)).mock
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.coordination', level=logging.DEBUG,
            format='%(levelname)s %(message)s'))

        self.addCleanup(lock_mod.thread_locks().clear)

    def start(self):
        self.coordinator.start()
        self.addCleanup(self.coordinator.stop)
        return self.coordinator


class VolumeStub(object):
    def __init__(self, id, volume=None):
        self.id = id
        self.volume = volume


class RealFileBackendTestCase(CoordinationTestCase):
    """Tests that need the real file driver on a temporary directory."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.fixture.config(group='coordination',
                            backend_url='file://' + self.dir)
        # The real file driver: local files are this backend's whole state.
        self.get_coordinator.side_effect = REAL_GET_COORDINATOR


class FakeAsyncResult(object):
    """A kazoo IAsyncResult that is already answered (or never is)."""

    def __init__(self, value=None, error=None):
        self.value = value
        self.error = error

    def get(self, block=True, timeout=None):
        if self.error is not None:
            raise self.error
        return self.value


class FakeZooKeeperTree(FakeDriver):
    """FakeDriver whose kazoo client keeps a tree of lock nodes.

    ``nodes`` maps a path to the set of its children's names;
    ``calls`` records the kazoo calls; ``no_answer`` makes every call
    time out as kazoo's threading handler does.
    """

    def __init__(self):
        super().__init__()
        self.nodes = {}
        self.calls = []
        self.no_answer = False
        self.sequence = 0

    def add(self, path, *children):
        parent, _, name = path.rpartition('/')
        self.nodes.setdefault(parent, set()).add(name)
        self.nodes.setdefault(path, set()).update(children)

    def _answer(self, call, path, value=None, error=None):
        from kazoo.handlers import threading as kazoo_threading
        self.calls.append((call, path))
        if self.no_answer:
            return FakeAsyncResult(error=kazoo_threading.KazooTimeoutError(
                'no answer from %s' % path))
        return FakeAsyncResult(value, error)

    def get_children_async(self, path):
        from kazoo import exceptions
        if path not in self.nodes:
            return self._answer('get_children', path,
                                error=exceptions.NoNodeError())
        return self._answer('get_children', path, sorted(self.nodes[path]))

    def exists_async(self, path):
        return self._answer('exists', path,
                            object() if path in self.nodes else None)

    def delete_async(self, path):
        from kazoo import exceptions
        if self.no_answer or path not in self.nodes:
            return self._answer('delete', path,
                                error=exceptions.NoNodeError())
        if self.nodes[path]:
            return self._answer('delete', path,
                                error=exceptions.NotEmptyError())
        del self.nodes[path]
        parent, _, name = path.rpartition('/')
        self.nodes[parent].discard(name)
        return self._answer('delete', path, True)

    def ensure_path(self, path):
        self.calls.append(('ensure_path', path))
        while path and path not in self.nodes:
            self.add(path)
            path = path.rpartition('/')[0]

    def create(self, path, ephemeral=False, sequence=False):
        from kazoo import exceptions
        self.calls.append(('create', path))
        parent, _, name = path.rpartition('/')
        if parent not in self.nodes:
            raise exceptions.NoNodeError()
        if sequence:
            path += '%010d' % self.sequence
            self.sequence += 1
        elif path in self.nodes:
            raise exceptions.NodeExistsError()
        self.add(path)
        return path

    def delete(self, path):
        self.calls.append(('delete', path))
        self.delete_async(path).get()

    def transaction(self):
        return FakeTransaction(self)


class FakeTransaction(object):
    """A kazoo TransactionRequest of creates, on a FakeZooKeeperTree."""

    def __init__(self, tree):
        self.tree = tree
        self.creates = []

    def create(self, path, ephemeral=False, sequence=False):
        self.creates.append((path, ephemeral, sequence))

    def commit(self):
        from kazoo import exceptions
        self.tree.calls.append(('commit', [p for p, _, _ in self.creates]))
        saved = {k: set(v) for k, v in self.tree.nodes.items()}
        calls = list(self.tree.calls)
        results = []
        for args in self.creates:
            try:
                results.append(self.tree.create(*args))
            except exceptions.KazooException as e:
                results.append(e)
                break
        self.tree.calls = calls
        if len(results) < len(self.creates) or any(
                isinstance(r, Exception) for r in results):
            self.tree.nodes = saved
            results += [exceptions.RolledBackError()] * (
                len(self.creates) - len(results))
        return results
