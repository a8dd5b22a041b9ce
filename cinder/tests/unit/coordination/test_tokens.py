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

"""Tests of fencing tokens: Lock.token(), and the Redis and file counters.

The tokens of every backend against real servers (and across processes
and restarts) are tested by the contract suite in
cinder/tests/functional/test_coordination.py.
"""

import os
import subprocess
import sys
import threading
from unittest import mock

from cinder import coordination
from cinder.coordination.backends import file as file_backend
from cinder.tests.unit.coordination import fakes


class LockTokenTestCase(fakes.CoordinationTestCase):
    """Lock.token() on any backend: one question per grant."""

    def setUp(self):
        super().setUp()
        self.start()
        self.fencing_token = self.useFixture(fakes.fixtures.MockPatchObject(
            self.coordinator.backend, 'fencing_token')).mock

    def test_asks_once_per_grant_and_again_after_a_new_acquire(self):
        self.fencing_token.side_effect = [7, 9]
        lock = self.coordinator.get_lock('x')
        lock.acquire()
        self.assertEqual(7, lock.token())
        self.assertEqual(7, lock.token())
        self.assertEqual(1, self.fencing_token.call_count)
        self.fencing_token.assert_called_with(lock._tooz_lock)
        lock.release()
        lock.acquire()
        self.assertEqual(9, lock.token())
        lock.release()
        self.assertEqual(2, self.fencing_token.call_count)

    def test_not_held_raises_lock_not_held(self):
        lock = self.coordinator.get_lock('x')
        self.assertRaises(coordination.LockNotHeld, lock.token)
        self.fencing_token.return_value = 3
        with lock:
            lock.token()
        self.assertRaises(coordination.LockNotHeld, lock.token)
        self.assertEqual(1, self.fencing_token.call_count)

    def test_failed_release_forgets_the_token(self):
        self.fencing_token.side_effect = [3, 4]
        lock = self.coordinator.get_lock('x')
        lock.acquire()
        lock.token()
        lock._tooz_lock.release_errors.append(OSError('disk gone'))
        self.assertRaises(coordination.CoordinationError, lock.release)
        self.assertRaises(coordination.LockNotHeld, lock.token)
        lock.acquire()
        self.assertEqual(4, lock.token())
        lock.release()

    def test_no_longer_ours_is_a_loss(self):
        self.fencing_token.return_value = None
        lock = self.coordinator.get_lock('x')
        lock.acquire()
        e = self.assertRaises(coordination.LockLost, lock.token)
        self.assertIn('another member may hold it', str(e))
        self.assertEqual('another member may hold it', lock.lost)
        self.assertIn('was LOST', self.log.output)
        # Known now: the next call asks nothing.
        self.assertRaises(coordination.LockLost, lock.token)
        self.assertEqual(1, self.fencing_token.call_count)
        self.assertRaises(coordination.LockLost, lock.release)

    def test_loss_known_after_the_token_was_given_is_raised(self):
        self.fencing_token.return_value = 5
        lock = self.coordinator.get_lock('x')
        lock.acquire()
        self.assertEqual(5, lock.token())
        self.coordinator._mark_lost(lock, 'the lease ran out')
        e = self.assertRaises(coordination.LockLost, lock.token)
        self.assertIn('the lease ran out', str(e))
        self.assertEqual(1, self.fencing_token.call_count)
        self.assertRaises(coordination.LockLost, lock.release)

    def test_backend_error_cannot_confirm_and_is_tried_again(self):
        self.fencing_token.side_effect = [ConnectionRefusedError(
            'no answer from :hunter2@h'), 6]
        backend = self.coordinator.backend
        backend._secrets = ['hunter2']
        lock = self.coordinator.get_lock('x')
        lock.acquire()
        e = self.assertRaises(coordination.LockLost, lock.token)
        self.assertIn('cannot be confirmed', str(e))
        self.assertIn('connection refused', str(e))
        self.assertNotIn('hunter2', str(e))
        self.assertIsNone(e.__cause__)
        self.assertIsNone(lock.lost)
        self.assertEqual(6, lock.token())
        lock.release()

    def test_backend_without_tokens_says_so(self):
        self.coordinator.backend.fencing_tokens = False
        lock = self.coordinator.get_lock('x')
        with lock:
            e = self.assertRaises(coordination.CoordinationError, lock.token)
            self.assertNotIsInstance(e, coordination.LockLost)
            self.assertIn('gives none', str(e))
        self.fencing_token.assert_not_called()


class RefusedTestCase(fakes.CoordinationTestCase):
    """Lock.refused(): a store refused the token of a held lock."""

    url = 'redis://:s3cret-pw@h:1'

    def setUp(self):
        super().setUp()
        self.start()
        self.lock = self.coordinator.get_lock('nfs-v1')
        self.lock.acquire()
        self.addCleanup(self.release)
        self.useFixture(fakes.fixtures.MockPatchObject(
            self.coordinator.backend, 'fencing_token', return_value=12))
        self.lock.token()
        self.refusal = coordination.FencedOff('refused')
        self.refusal.path = '/mnt/share/volume-1.info'
        self.refusal.newer, self.refusal.token = 10 ** 12, 12

    def release(self):
        try:
            self.lock.release()
        except coordination.LockLost:
            pass    # as the tests that lose it meant

    def test_held_means_the_tokens_went_back(self):
        error = self.lock.refused(self.refusal)
        self.assertIsInstance(error, coordination.FencingTokensWentBack)
        self.assertNotIsInstance(error, coordination.LockLost)
        self.assertEqual(
            'Fencing tokens of lock backend redis://:***@h:1 went back: '
            '/mnt/share/volume-1.info holds fencing token 1000000000000, '
            'greater than token 12 of lock cinder-nfs-v1, which this '
            'service still holds (checked after the refusal), so no later '
            'holder can have written it: the backend now gives lower '
            'tokens than it gave before. Likely cause: Redis lost the '
            'counter key tooz_cinder-fencing-tokens: a restart without '
            'persistence, a crash with appendfsync everysec (the last '
            'second of writes), a failover to a replica that had not '
            'received the last increments, an eviction under an allkeys-* '
            'maxmemory-policy, or a FLUSHDB. Nothing was written; every '
            'change and delete of such a record fails this way until '
            '"cinder-manage coordination advance-tokens" is run once '
            '(services may keep running; see "When fencing tokens go '
            'back" in the admin guide)', str(error))
        self.assertEqual((self.refusal.path, 10 ** 12, 12,
                          'redis://:***@h:1'),
                         (error.path, error.newer, error.token,
                          error.backend))
        self.assertEqual(1, self.log.output.count(
            'ERROR Fencing tokens of lock backend redis://:***@h:1 went '
            'back'))
        self.assertNotIn('s3cret-pw', self.log.output)
        self.assertIsNone(self.lock.lost)

    def test_lost_means_a_newer_holder(self):
        self.lock._tooz_lock.owner = False
        self.assertIs(self.refusal, self.lock.refused(self.refusal))
        self.assertNotIn('went back', self.log.output)

    def test_cannot_confirm_is_no_regression_either(self):
        self.lock._tooz_lock.owner = ConnectionRefusedError('down')
        self.assertIs(self.refusal, self.lock.refused(self.refusal))
        self.assertNotIn('went back', self.log.output)


class RedisTokenTestCase(fakes.CoordinationTestCase):
    """The Redis backend's script, on a fake client that runs it."""

    url = 'redis://h:1'

    def setUp(self):
        super().setUp()
        self.start()
        self.values = self.driver._client.values

    def acquire(self, name, token=b'mine'):
        lock = self.coordinator.get_lock(name)
        lock.acquire()
        # What redis-py's lock keeps and what SET NX put in the key.
        lock._tooz_lock._lock.local.token = token
        self.values[lock._tooz_lock.name] = token
        return lock

    def test_one_counter_under_the_prefix_for_every_name(self):
        tokens = []
        for name in ('a', 'b', 'a'):
            lock = self.acquire(name)
            tokens.append(lock.token())
            lock.release()
        self.assertEqual([1, 2, 3], tokens)
        self.assertEqual(3, self.values[b'tooz_cinder-fencing-tokens'])

    def test_no_token_unless_the_key_holds_the_locks_token(self):
        lock = self.acquire('x')
        self.values[lock._tooz_lock.name] = b'theirs'
        self.assertRaises(coordination.LockLost, lock.token)
        self.assertNotIn(b'tooz_cinder-fencing-tokens', self.values)
        self.assertRaises(coordination.LockLost, lock.release)

    def test_no_token_when_redis_py_dropped_it(self):
        lock = self.acquire('x', token=None)
        self.assertRaises(coordination.LockLost, lock.token)
        self.assertNotIn(b'tooz_cinder-fencing-tokens', self.values)
        self.assertRaises(coordination.LockLost, lock.release)

    def test_a_counter_that_went_back_is_set_to_the_highest_seen(self):
        for _ in range(3):
            lock = self.acquire('x')
            lock.token()
            lock.release()
        # Redis restarted without persistence.
        del self.values[b'tooz_cinder-fencing-tokens']
        lock = self.acquire('x')
        self.assertEqual(4, lock.token())
        lock.release()
        self.assertIn('WARNING The fencing token counter '
                      'tooz_cinder-fencing-tokens of lock backend redis://h:1 '
                      'was behind the highest token this service was given '
                      '(3)', self.log.output)


class FileTokenTestCase(fakes.RealFileBackendTestCase):
    """The file backend's counter, on a real directory."""

    def counter(self):
        return os.path.join(self.dir, file_backend.TOKEN_FILE)

    def test_one_counter_for_every_name_and_every_coordinator(self):
        first = self.start()
        second = coordination.Coordinator(member_id='second',
                                          conf=self.conf, clock=self.clock)
        second.start()
        self.addCleanup(second.stop)
        tokens = []
        for coordinator, name in ((first, 'a'), (second, 'a'),
                                  (first, 'b'), (second, 'a')):
            with coordinator.get_lock(name) as lock:
                tokens.append(lock.token())
        self.assertEqual([1, 2, 3, 4], tokens)
        with open(self.counter(), 'rb') as f:
            self.assertEqual(b'%020d\n' % 4, f.read())

    def test_counter_outlives_the_removal_of_lock_files(self):
        coordinator = self.start()
        with coordinator.get_lock('vol-1') as lock:
            before = lock.token()
        self.assertEqual(1, coordinator.remove_lock('*'))
        self.assertEqual([], coordinator.backend.list_lock_names(''))
        self.assertTrue(os.path.exists(self.counter()))
        with coordinator.get_lock('vol-1') as lock:
            self.assertGreater(lock.token(), before)

    def test_counter_is_synced_before_the_token_is_given(self):
        coordinator = self.start()
        synced = []
        real_fsync = os.fsync

        def fsync(fd):
            with open(self.counter(), 'rb') as f:
                synced.append(f.read())
            real_fsync(fd)

        with mock.patch.object(file_backend.os, 'fsync', fsync):
            with coordinator.get_lock('x') as lock:
                token = lock.token()
        self.assertEqual([b'%020d\n' % token], synced)

    def test_threads_never_get_the_same_token(self):
        tokens = []

        def take():
            for _ in range(50):
                tokens.append(file_backend.next_token(self.counter()))

        threads = [threading.Thread(target=take) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(fakes.WAIT)
        self.assertEqual(list(range(1, 201)), sorted(tokens))

    def child(self, script, says):
        """A process running *script* on the counter, once it *says* so.

        It waits for a line on its standard input before it goes on.
        """
        child = subprocess.Popen(
            [sys.executable, '-c', script, self.counter()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        self.assertEqual(says + '\n', child.stdout.readline())
        return child

    def test_processes_never_get_the_same_token(self):
        child = self.child(
            'import sys\n'
            'from cinder.coordination.backends import file\n'
            'print("ready", flush=True)\n'
            'sys.stdin.readline()\n'
            'print(" ".join(str(file.next_token(sys.argv[1]))\n'
            '               for _ in range(300)))\n', 'ready')
        child.stdin.write('go\n')
        child.stdin.flush()
        mine = [file_backend.next_token(self.counter()) for _ in range(300)]
        theirs, _ = child.communicate(timeout=60)
        self.assertEqual(0, child.returncode)
        theirs = [int(token) for token in theirs.split()]
        self.assertEqual(mine, sorted(mine))
        self.assertEqual(theirs, sorted(theirs))
        self.assertEqual(list(range(1, 601)), sorted(mine + theirs))

    def test_waits_for_the_counter_locked_by_another_process(self):
        child = self.child(
            'import fcntl, os, sys\n'
            'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n'
            'fcntl.lockf(fd, fcntl.LOCK_EX)\n'
            'print("locked", flush=True)\n'
            'sys.stdin.readline()\n'
            'os.pwrite(fd, b"%020d\\n" % 41, 0)\n', 'locked')
        locking = threading.Event()
        real_lockf = file_backend.fcntl.lockf

        def lockf(fd, operation):
            locking.set()
            return real_lockf(fd, operation)

        tokens = []
        with mock.patch.object(file_backend.fcntl, 'lockf', lockf):
            taker = threading.Thread(target=lambda: tokens.append(
                file_backend.next_token(self.counter())))
            taker.start()
            self.assertTrue(locking.wait(fakes.WAIT))
            # The other process writes its token and exits: only then may
            # the counter be read.
            child.communicate('go\n', timeout=fakes.WAIT)
            taker.join(fakes.WAIT)
        self.assertEqual([42], tokens)

    def test_no_token_for_a_lock_not_held(self):
        coordinator = self.start()
        lock = coordinator.get_lock('x')
        with lock:
            self.assertEqual(1, lock.token())
        self.assertIsNone(coordinator.backend.fencing_token(lock._tooz_lock))
        with lock:
            self.assertEqual(2, lock.token())

    def test_counter_that_is_no_number_fails_the_token(self):
        coordinator = self.start()
        with open(self.counter(), 'w') as f:
            f.write('garbage')
        with coordinator.get_lock('x') as lock:
            e = self.assertRaises(coordination.LockLost, lock.token)
            self.assertIn('cannot be confirmed', str(e))
            self.assertIn("holds b'garbage', not a number", str(e))
            self.assertIsNone(lock.lost)

    def test_counter_is_no_lock_file(self):
        coordinator = self.start()
        with coordinator.get_lock('x') as lock:
            lock.token()
        self.assertEqual(['cinder-x'],
                         coordinator.backend.list_lock_names(''))
        self.assertEqual(1, coordinator.backend.remove_locks('cinder-*'))
        self.assertEqual(0, coordinator.backend.remove_locks('.*'))
        self.assertTrue(os.path.exists(self.counter()))

    def test_advance_raises_the_counter_and_never_lowers_it(self):
        coordinator = self.start()
        with coordinator.get_lock('x') as lock:
            self.assertEqual(1, lock.token())
        advanced = coordinator.advance_tokens(10 ** 12)
        self.assertEqual(('counter file %s' % self.counter(), 1, 10 ** 12),
                         advanced)
        with open(self.counter(), 'rb') as f:
            self.assertEqual(b'%020d\n' % 10 ** 12, f.read())
        with coordinator.get_lock('x') as lock:
            self.assertEqual(10 ** 12 + 1, lock.token())
        self.assertEqual((10 ** 12 + 1, 10 ** 12 + 1),
                         coordinator.advance_tokens(5)[1:])
        with coordinator.get_lock('x') as lock:
            self.assertEqual(10 ** 12 + 2, lock.token())

    def test_advance_past_what_the_counter_can_hold_fails(self):
        coordinator = self.start()
        e = self.assertRaises(coordination.CoordinationError,
                              coordinator.advance_tokens, 10 ** 20)
        self.assertIn('cannot count past', str(e))
        self.assertFalse(os.path.getsize(self.counter()))
