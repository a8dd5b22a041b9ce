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

"""The lock layer's contract, run against every backend with real servers.

One mixin states the contract; one class per backend runs it: file://,
redis://, zookeeper:// and etcd3+http://. Tests that stop, restart or
pause a server exist only for the backends that have a server.
"""

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from unittest import mock
import urllib.parse

import fixtures
from oslo_config import cfg
from oslotest import base
from tooz import coordination as tooz_coordination

from cinder.cmd import lock_demo
from cinder import coordination
from cinder.coordination import lock as lock_mod
from cinder.stress import lockservers

WAIT = 30  # upper bound of event waits; reached only when the code is wrong

#: A process that takes a lock COUNT times once told to go, and prints
#: when each grant began (on the host's monotonic clock, which every
#: process shares) and its fencing token.
TOKEN_WORKER = '''
import sys
import time

from oslo_config import cfg

from cinder import coordination

url, prefix, name, count = sys.argv[1:]
conf = cfg.ConfigOpts()
coordinator = coordination.Coordinator(conf=conf, prefix=prefix)
conf([], project='cinder-test', default_config_files=[])
conf.set_override('backend_url', url, group='coordination')
conf.set_override('backend_timeout', 5, group='coordination')
coordinator.start()
print('ready', flush=True)
sys.stdin.readline()
for _ in range(int(count)):
    with coordinator.get_lock(name) as lock:
        began = time.monotonic()
        print(began, lock.token(), flush=True)
coordinator.stop()
'''


#: A process that takes a lock once for each line it reads, and prints
#: when each grant began and its fencing token.
STEP_WORKER = '''
import sys
import time

from oslo_config import cfg

from cinder import coordination

url, prefix, name = sys.argv[1:]
conf = cfg.ConfigOpts()
coordinator = coordination.Coordinator(conf=conf, prefix=prefix)
conf([], project='cinder-test', default_config_files=[])
conf.set_override('backend_url', url, group='coordination')
conf.set_override('backend_timeout', 5, group='coordination')
coordinator.start()
print('ready', flush=True)
for _ in sys.stdin:
    with coordinator.get_lock(name) as lock:
        began = time.monotonic()
        print(began, lock.token(), flush=True)
coordinator.stop()
'''


#: A process that holds lock "frozen" with a 4 s ZooKeeper session, and
#: checks it once it reads a line: the test writes it while the process
#: is frozen, so the check is the first thing the process does when it
#: wakes up. It prints how long the check took and what it raised.
FROZEN_HOLDER = '''
import json
import os
import sys
import time

from oslo_config import cfg

from cinder import coordination

url, prefix = sys.argv[1:]
conf = cfg.ConfigOpts()
coordinator = coordination.Coordinator(conf=conf, prefix=prefix)
conf([], project='cinder-test', default_config_files=[])
conf.set_override('backend_url', url, group='coordination')
conf.set_override('backend_timeout', 5, group='coordination')
conf.set_override('fencing_margin', 0.5, group='coordination')
coordinator.start()
lock = coordinator.get_lock('frozen')
lock.acquire()
print('held', flush=True)
sys.stdin.readline()
began = time.monotonic()
try:
    lock.check()
    error = None
except coordination.LockLost as e:
    error = str(e)
print(json.dumps({'took': time.monotonic() - began, 'error': error,
                  'lost': lock.lost}), flush=True)
os._exit(0)
'''


#: Upper bound of a client's return after a server restart. kazoo waits
#: for the answer to its session handshake as long as the session
#: timeout: a reconnect sent while the restarted ZooKeeper opened its
#: port but did not serve yet goes unanswered that long (measured: 2 of
#: 25 restarts, 30 s each with a 30 s session).
RESTART_WAIT = 3 * WAIT


def when_back(func, *args, **kwargs):
    """*func*'s result once its client is back after a server restart.

    A client is back within its reconnect backoff of the server, or, for
    ZooKeeper, up to a session timeout later (see :data:`RESTART_WAIT`),
    which may take longer than one call waits (``backend_timeout``):
    until then a call fails as unavailable and a check cannot confirm
    (and says so). Any other error, or these after ``RESTART_WAIT``
    seconds, is raised.
    """
    deadline = time.monotonic() + RESTART_WAIT
    while True:
        try:
            return func(*args, **kwargs)
        except (coordination.BackendUnavailable,
                coordination.LockLost) as e:
            if isinstance(e, coordination.LockLost) and \
                    'cannot be confirmed' not in str(e):
                raise
            if time.monotonic() > deadline:
                raise


class ContractMixin(object):
    """What every backend must do."""

    kind = None

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.coordination', level=logging.INFO,
            format='%(levelname)s %(message)s'))
        self.addCleanup(lock_mod.thread_locks().clear)

    def shared_url(self):
        return lockservers.shared_server(self.kind).url

    def coordinator(self, url=None, **options):
        conf = cfg.ConfigOpts()
        coordinator = coordination.Coordinator(
            conf=conf, prefix='test-%s-' % self.id().rsplit('.', 1)[-1])
        conf([], project='cinder-test', default_config_files=[])
        options.setdefault('backend_url', url or self.shared_url())
        options.setdefault('backend_timeout', 5)
        for key, value in options.items():
            conf.set_override(key, value, group='coordination')
        coordinator.start()
        self.addCleanup(coordinator.stop)
        return coordinator

    def _run_workers(self, urls, iterations):
        """One worker process per URL; returns (ledger problems, count)."""
        tmp = self.useFixture(fixtures.TempDir()).path
        problems, count, _ = lock_demo.run_workers(urls, iterations, tmp)
        return problems, count

    def test_mutual_exclusion_between_processes(self):
        problems, count = self._run_workers([self.shared_url()] * 3, 15)
        self.assertEqual([], problems)
        self.assertEqual(45, count)

    def test_non_blocking_miss_raises_and_function_does_not_run(self):
        holder, other = self.coordinator(), self.coordinator()
        ran = []

        @coordination.synchronized('{name}', blocking=False,
                                   coordinator=other)
        def guarded(name):
            ran.append(name)

        with holder.get_lock('busy'):
            e = self.assertRaises(coordination.LockAcquireFailed,
                                  other.get_lock('busy').acquire,
                                  blocking=False)
            self.assertIsInstance(e, tooz_coordination.LockAcquireFailed)
            self.assertRaises(coordination.LockAcquireFailed, guarded,
                              'busy')
        self.assertEqual([], ran)
        guarded('busy')  # free again
        self.assertEqual(['busy'], ran)

    def test_timed_acquire_raises_after_timeout(self):
        holder, other = self.coordinator(), self.coordinator()
        with holder.get_lock('busy'):
            lock = other.get_lock('busy')
            self.assertRaises(coordination.LockAcquireFailed, lock.acquire,
                              blocking=0.3)
            self.assertFalse(lock.held)

    def test_waiter_gets_the_lock_when_the_holder_releases(self):
        holder, other = self.coordinator(), self.coordinator()
        lock = holder.get_lock('handoff')
        lock.acquire()
        waiting = threading.Event()
        got = threading.Event()

        def wait_for_it():
            waiter = other.get_lock('handoff')
            waiting.set()
            waiter.acquire(blocking=WAIT)
            got.set()
            waiter.release()

        thread = threading.Thread(target=wait_for_it)
        thread.start()
        self.assertTrue(waiting.wait(WAIT))
        self.assertFalse(got.is_set())
        lock.release()
        self.assertTrue(got.wait(WAIT))
        thread.join(WAIT)

    def test_release_of_a_lock_not_held_raises(self):
        coordinator = self.coordinator()
        lock = coordinator.get_lock('never')
        self.assertRaises(coordination.LockNotHeld, lock.release)
        with lock:
            pass
        self.assertRaises(coordination.LockNotHeld, lock.release)

    def test_ownership_check_passes_while_held_and_contended(self):
        holder, other = self.coordinator(), self.coordinator()
        with holder.get_lock('mine') as lock:
            self.assertRaises(coordination.LockAcquireFailed,
                              other.get_lock('mine').acquire,
                              blocking=False)
            coordination.ensure_locks_held()
            lock.check()
        self.assertIsNone(lock.lost)
        self.assertNotIn('LOST', self.log.output)

    # Fencing tokens.

    def grant_tokens(self, coordinator, names, blocking=True):
        """Take each lock of *names* in turn; the token of each grant."""
        tokens = []
        for name in names:
            lock = coordinator.get_lock(name)
            lock.acquire(blocking=blocking)
            try:
                token = lock.token()
                self.assertEqual(token, lock.token())  # kept for the grant
                tokens.append(token)
            finally:
                lock.release()
        return tokens

    def assertIncreasing(self, tokens):
        for token in tokens:
            self.assertIsInstance(token, int)
            self.assertGreater(token, 0)
        self.assertEqual(sorted(set(tokens)), tokens,
                         'fencing tokens not strictly increasing')

    def test_tokens_increase_with_each_grant_of_a_name(self):
        self.assertIncreasing(self.grant_tokens(self.coordinator(),
                                                ['fenced'] * 4))

    def test_tokens_increase_across_members_taking_turns(self):
        first, second = self.coordinator(), self.coordinator()
        tokens = []
        for coordinator in (first, second) * 3:
            tokens += self.grant_tokens(coordinator, ['turns'])
        self.assertIncreasing(tokens)

    def test_tokens_increase_across_names(self):
        first, second = self.coordinator(), self.coordinator()
        tokens = []
        for coordinator, name in ((first, 'a'), (second, 'b'), (first, 'b'),
                                  (second, 'c'), (first, 'a')):
            tokens += self.grant_tokens(coordinator, [name])
        self.assertIncreasing(tokens)

    def test_tokens_outlive_lock_housekeeping(self):
        # clean_locks removes lock files (file) and idle parent nodes
        # (ZooKeeper); a counter kept with them would start again.
        coordinator = self.coordinator()
        tokens = self.grant_tokens(coordinator, ['vol-9', 'vol-9'])
        coordinator.remove_lock('vol-9')
        self.assertFalse(coordinator.backend.has_leftover(
            coordinator.prefix + 'vol-9'))
        tokens += self.grant_tokens(coordinator, ['vol-9'])
        self.assertIncreasing(tokens)

    def test_tokens_increase_across_processes(self):
        url = self.shared_url()
        prefix = self.coordinator(url).prefix
        workers = [subprocess.Popen(
            [sys.executable, '-c', TOKEN_WORKER, url, prefix, 'procs', '4'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
        for worker in workers:
            self.addCleanup(worker.wait)
            self.addCleanup(worker.kill)
        for worker in workers:
            self.assertEqual('ready\n', worker.stdout.readline())
        for worker in workers:
            worker.stdin.write('go\n')
            worker.stdin.flush()
        grants = []
        mine = self.coordinator(url)
        for _ in range(4):
            with mine.get_lock('procs') as lock:
                grants.append((time.monotonic(), lock.token()))
        for worker in workers:
            out, _ = worker.communicate(timeout=120)
            self.assertEqual(0, worker.returncode)
            theirs = [line.split() for line in out.splitlines()]
            self.assertEqual(4, len(theirs))
            grants += [(float(began), int(token)) for began, token in theirs]
        # Grants of one name never overlap: in the order they began, their
        # tokens increase, whichever process took each.
        self.assertIncreasing([token for _, token in sorted(grants)])

    # Advancing the tokens (cinder-manage coordination advance-tokens).

    def test_advance_puts_later_tokens_past_and_never_back(self):
        coordinator = self.coordinator()
        tokens = self.grant_tokens(coordinator, ['advance'])
        past = tokens[0] + 10 ** 9
        advanced = coordinator.advance_tokens(past)
        self.assertLess(advanced.before, past)
        self.assertEqual(past, advanced.after)
        tokens += self.grant_tokens(coordinator, ['advance', 'other'])
        # A member that started after the advance, and one that never
        # took a lock before it, get greater tokens too.
        tokens += self.grant_tokens(self.coordinator(), ['advance'])
        self.assertGreater(tokens[1], past)
        # Never lowered by a run that asks for less (a counter is where
        # the grants since took it, an offset where the advance put it).
        again = coordinator.advance_tokens(tokens[0])
        self.assertEqual(again.before, again.after)
        self.assertGreaterEqual(again.after, past)
        tokens += self.grant_tokens(self.coordinator(), ['advance'])
        self.assertIncreasing(tokens)

    def test_tokens_increase_across_processes_while_advanced(self):
        # Services keep running while the command runs: each grant, in
        # the order they began, still gets a greater token. Each advance
        # is sent while a worker takes the lock, far past the last token
        # or down to 1 (which must change nothing).
        url = self.shared_url()
        advancer = self.coordinator(url)
        workers = [subprocess.Popen(
            [sys.executable, '-c', STEP_WORKER, url, advancer.prefix,
             'advanced'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
        for worker in workers:
            self.addCleanup(worker.wait)
            self.addCleanup(worker.kill)
        for worker in workers:
            self.assertEqual('ready\n', worker.stdout.readline())
        grants = []
        for step in range(16):
            worker = workers[step % 2]
            worker.stdin.write('go\n')
            worker.stdin.flush()
            last = grants[-1][1] if grants else 0
            advancer.advance_tokens(last + 10 ** 6 if step % 4 == 1 else 1)
            began, token = worker.stdout.readline().split()
            grants.append((float(began), int(token)))
        for worker in workers:
            worker.stdin.close()
            self.assertEqual(0, worker.wait(WAIT))
        self.assertIncreasing([token for _, token in sorted(grants)])


class ServerContractMixin(ContractMixin):
    """What every backend with a server must do when the server fails."""

    #: The lock survives a short server restart (data kept on disk).
    survives_restart = True

    def restart_url(self, server):
        """The URL of a member that must outlive a restart of *server*."""
        return server.url

    def dedicated(self):
        return self.useFixture(lockservers.LockServerFixture(self.kind)).server

    def lease_url(self, url, seconds):
        """*url* with a lock lease of *seconds*, where locks have one."""
        return url

    def release_fails(self, coordinator, lock):
        """Context manager: the client fails releases of *lock*.

        The server stays up and answers everything else, heartbeats
        included: what a release lost on the network amounts to. Where
        locks are leases, every release fails (the end of the lease must
        free the lock); elsewhere only the first does (a retry must).
        """
        raise NotImplementedError

    #: What a release that the client failed raises.
    failed_release_error = coordination.BackendUnavailable

    def test_failed_release_does_not_keep_the_lock_taken(self):
        url = self.lease_url(self.shared_url(), 3)
        holder = self.coordinator(url, heartbeat=0.2,
                                  initial_reconnect_backoff=0.05,
                                  max_reconnect_backoff=0.2)
        other = self.coordinator(url)
        lock = holder.get_lock('orphan')
        lock.acquire()
        taken = other.get_lock('orphan')
        with self.release_fails(holder, lock):
            self.assertRaises(self.failed_release_error, lock.release)
            self.assertFalse(lock.held)
            # Renewed on and on by the holder's heartbeat, or never
            # released again, it would not be free while the holder runs.
            taken.acquire(blocking=WAIT)
        taken.release()

    def test_reconnects_after_server_restart(self):
        server = self.dedicated()
        # Retries at least every second, so the client is back soon after
        # the server, however long the restart takes on a loaded machine.
        coordinator = self.coordinator(server.url, max_reconnect_backoff=1)
        with coordinator.get_lock('before'):
            pass
        server.restart()
        lock = coordinator.get_lock('after')
        when_back(lock.acquire, blocking=WAIT)
        lock.release()

    def test_start_fails_within_bound_when_server_is_stopped(self):
        server = self.dedicated()
        url = server.url
        server.stop()
        start = time.monotonic()
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator, url, backend_timeout=2)
        elapsed = time.monotonic() - start
        self.assertIn('[coordination] backend_url', str(e))
        self.assertLess(elapsed, 2 * 2 + 1)

    def test_acquire_fails_within_bound_when_server_is_stopped(self):
        server = self.dedicated()
        coordinator = self.coordinator(server.url, backend_timeout=2)
        server.stop()
        for blocking in (False, True):
            start = time.monotonic()
            e = self.assertRaises(coordination.BackendUnavailable,
                                  coordinator.get_lock('down').acquire,
                                  blocking=blocking)
            self.assertLess(time.monotonic() - start, 2 * 2 + 1)
            self.assertIn('[coordination] backend_url', str(e))

    #: Tokens stay greater than those given before a restart of the
    #: server, for a member that never saw those (the server keeps them).
    tokens_survive_restart = True

    def test_tokens_increase_across_server_restart(self):
        server = self.dedicated()
        before = self.coordinator(self.restart_url(server),
                                  max_reconnect_backoff=1)
        tokens = self.grant_tokens(before, ['restart'] * 3)
        server.restart()
        if self.tokens_survive_restart:
            # Only what the server kept can make these greater.
            tokens += self.grant_tokens(self.coordinator(server.url),
                                        ['restart', 'other'], blocking=WAIT)
        tokens += when_back(self.grant_tokens, before, ['restart'],
                            blocking=WAIT)
        tokens += self.grant_tokens(self.coordinator(server.url),
                                    ['restart'])
        self.assertIncreasing(tokens)

    def take_from(self, holder, lock, other):
        """Make *other* take *lock* of *holder*, as after a lost lease."""
        raise NotImplementedError

    def test_no_token_for_a_holder_whose_lock_was_taken(self):
        holder, other = self.take_from_coordinators()
        lock = holder.get_lock('stale')
        lock.acquire()
        taken = self.take_from(holder, lock, other)
        token = taken.token()
        # The server's answer, without what this process knows (its fence
        # may have declared the lock lost already).
        self.assertIsNone(holder.backend.fencing_token(lock._tooz_lock))
        self.assertRaises(coordination.LockLost, lock.token)
        self.assertRaises(coordination.LockLost, lock.release)
        self.assertEqual(token, taken.token())
        taken.release()

    def test_lock_held_across_restart(self):
        server = self.dedicated()
        # Reconnect at least every second: a ZooKeeper session survives
        # the restart only if the client is back before it times out, and
        # the restart can take more than 10 s on a loaded machine.
        holder = self.coordinator(self.restart_url(server),
                                  max_reconnect_backoff=1)
        lock = holder.get_lock('across')
        lock.acquire()
        server.restart()
        other = self.coordinator(server.url)
        taken = other.get_lock('across')
        if self.survives_restart:
            self.assertRaises(coordination.LockAcquireFailed, taken.acquire,
                              blocking=False)
            when_back(lock.check)
            lock.release()
        else:
            # The server forgot the lock: another member takes it, and the
            # holder is told at its next check instead of carrying on.
            taken.acquire(blocking=WAIT)
            e = self.assertRaises(coordination.LockLost,
                                  coordination.ensure_locks_held)
            self.assertIn('across', str(e))
            self.assertRaises(coordination.LockLost, lock.release)
            taken.release()


class LeaseContractMixin(ServerContractMixin):
    """Backends whose locks are leases refreshed by the heartbeat."""

    lease_option = 'lock_timeout'

    def _url_with_lease(self, url, seconds):
        return '%s?%s=%d' % (url, self.lease_option, seconds)

    lease_url = _url_with_lease

    def take_from_coordinators(self):
        url = self._url_with_lease(self.shared_url(), 2)
        # The holder's heartbeat never renews; the other's does.
        return (self.coordinator(url, heartbeat=3600),
                self.coordinator(url, heartbeat=0.5))

    def take_from(self, holder, lock, other):
        taken = other.get_lock(lock.name[len(other.prefix):])
        taken.acquire(blocking=WAIT)   # once the holder's lease ran out
        return taken

    def test_heartbeat_keeps_a_lock_past_its_lease(self):
        url = self._url_with_lease(self.shared_url(), 2)
        holder = self.coordinator(url, heartbeat=0.2)
        other = self.coordinator(url, heartbeat=0.2)
        lock = holder.get_lock('long')
        lock.acquire()
        beats = holder._heartbeat
        # Wait (bounded) for beats covering more than two leases.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            self.assertRaises(coordination.LockAcquireFailed,
                              other.get_lock('long').acquire,
                              blocking=False)
            beats._stopped.wait(0.5)
        lock.check()
        lock.release()

    def test_lost_lease_is_detected_and_logged(self):
        # A holder that stops refreshing (paused, cut off) loses its lease;
        # another member takes the lock; the holder's check raises and the
        # loss is logged at ERROR with the name and hold time.
        url = self._url_with_lease(self.shared_url(), 2)
        holder = self.coordinator(url, heartbeat=3600)
        other = self.coordinator(url, heartbeat=0.5)
        lock = holder.get_lock('paused')
        lock.acquire()
        taken = other.get_lock('paused')
        taken.acquire(blocking=WAIT)
        e = self.assertRaises(coordination.LockLost, lock.check)
        self.assertIn('paused', str(e))
        self.assertIn('ERROR Lock "test-test_lost_lease_is_detected_and_'
                      'logged-paused" was LOST after being held for',
                      self.log.output)
        self.assertRaises(coordination.LockLost, lock.release)
        taken.release()

    def test_heartbeat_detects_loss_without_being_asked(self):
        server = self.dedicated()
        holder = self.coordinator(server.url, heartbeat=0.1)
        lock = holder.get_lock('watched')
        lock.acquire()
        server.restart()
        other = self.coordinator(server.url)
        taken = other.get_lock('watched')
        if not self.survives_restart:
            taken.acquire(blocking=WAIT)
            deadline = time.monotonic() + WAIT
            while lock.lost is None and time.monotonic() < deadline:
                holder._heartbeat._stopped.wait(0.05)
            self.assertIsNotNone(lock.lost)
            self.assertIn('LOST', self.log.output)
            taken.release()
        else:
            self.assertRaises(coordination.LockAcquireFailed, taken.acquire,
                              blocking=False)

    def test_heartbeat_retries_while_server_is_down(self):
        server = self.dedicated()
        self.coordinator(server.url, heartbeat=0.1, backend_timeout=1,
                         initial_reconnect_backoff=0.05,
                         max_reconnect_backoff=0.2)
        server.stop()
        deadline = time.monotonic() + WAIT
        while ('failed (attempt 2)' not in self.log.output and
               time.monotonic() < deadline):
            threading.Event().wait(0.05)
        self.assertIn('failed (attempt 2)', self.log.output)
        self.assertIn('[coordination] backend_url', self.log.output)
        server.start()
        while ('again after' not in self.log.output and
               time.monotonic() < deadline):
            threading.Event().wait(0.05)
        self.assertIn('reached the lock backend again', self.log.output)


class FileContractTest(ContractMixin, base.BaseTestCase):
    kind = 'file'

    def shared_url(self):
        try:
            return self._url
        except AttributeError:
            self._url = 'file://' + self.useFixture(fixtures.TempDir()).path
            return self._url

    def test_lock_files_of_deleted_resources_can_be_removed(self):
        coordinator = self.coordinator()
        with coordinator.get_lock('vol-1-delete_volume'):
            pass
        directory = self.shared_url()[len('file://'):]
        prefix = coordinator.prefix
        self.assertIn(prefix + 'vol-1-delete_volume', os.listdir(directory))
        self.assertEqual(1, coordination.synchronized_remove(
            'vol-1-*', coordinator=coordinator))
        self.assertNotIn(prefix + 'vol-1-delete_volume',
                         os.listdir(directory))

    def test_tokens_increase_for_a_coordinator_started_anew(self):
        # What a restart of the "server" is here: the directory stays, the
        # process that was given the tokens is gone.
        before = self.coordinator()
        tokens = self.grant_tokens(before, ['restart'] * 3)
        before.stop()
        tokens += self.grant_tokens(self.coordinator(), ['restart', 'other'])
        self.assertIncreasing(tokens)

    def test_ledger_check_sees_overlap_without_a_shared_lock(self):
        # Each worker gets a lock directory of its own: what host-local
        # locks on two hosts amount to. The ledger check must see it.
        tmp = self.useFixture(fixtures.TempDir()).path
        urls = ['file://%s/locks-%d' % (tmp, n) for n in range(3)]
        problems, count = self._run_workers(urls, 40)
        self.assertNotEqual([], problems)


class RedisContractTest(LeaseContractMixin, base.BaseTestCase):
    kind = 'redis'
    survives_restart = False  # no persistence: keys are gone
    # The test server has no persistence: the token counter is gone after
    # a restart. A member that was given tokens sets it back to the
    # highest it saw (and logs it); one that was not starts again from 1.
    # A persistent Redis keeps the counter: see the test below.
    tokens_survive_restart = False

    def test_tokens_increase_across_server_restart(self):
        super().test_tokens_increase_across_server_restart()
        self.assertIn('WARNING The fencing token counter', self.log.output)
        self.assertIn('was behind the highest token this service was given',
                      self.log.output)

    def test_tokens_survive_restart_of_a_persistent_redis(self):
        lockservers.check_available(self.kind)
        server = lockservers.PersistentRedisServer()
        self.addCleanup(server.stop)
        server.start()
        tokens = self.grant_tokens(self.coordinator(server.url),
                                   ['restart'] * 3)
        server.restart()
        tokens += self.grant_tokens(self.coordinator(server.url),
                                    ['restart', 'other'], blocking=WAIT)
        # A crash (SIGKILL) right after the last token was given: with
        # appendfsync always it was on disk before Redis answered.
        server.restart(hard=True)
        tokens += self.grant_tokens(self.coordinator(server.url),
                                    ['restart', 'other'], blocking=WAIT)
        self.assertIncreasing(tokens)
        self.assertNotIn('WARNING', self.log.output)

    # Tooz retries a release whose connection failed, and the retry finds
    # that redis-py dropped the lock's token before the first try: the
    # lock is reported as not held by then. It is not renewed either, so
    # its key ends with the lease.
    #: Up to redis-py 8.1 tooz retries the failed release itself and the
    #: retry finds the lock gone (LockLost); from redis-py 8.2 the
    #: connection error reaches the coordinator (BackendUnavailable: the
    #: lock expires within its lease). Either way the lock is not kept.
    failed_release_error = (coordination.LockLost,
                            coordination.BackendUnavailable)

    def release_fails(self, coordinator, lock):
        from redis import exceptions as redis_exceptions

        # redis-py's lock, inside tooz's: the unlock script is not sent.
        return mock.patch.object(
            lock._tooz_lock._lock, 'do_release',
            side_effect=redis_exceptions.ConnectionError('injected'))

    def test_password_never_shown(self):
        server = self.dedicated()
        url = server.url.replace('redis://', 'redis://:hunter2@')
        server.stop()
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator, url, backend_timeout=1)
        self.assertIn(':***@', str(e))
        self.assertNotIn('hunter2', str(e))
        self.assertNotIn('hunter2', self.log.output)


class EtcdContractTest(LeaseContractMixin, base.BaseTestCase):
    kind = 'etcd'

    @contextlib.contextmanager
    def release_fails(self, coordinator, lock):
        from requests import exceptions as requests_exceptions

        client = coordinator.backend.driver.client
        real = client.transaction
        failed = []

        def transaction(txn):
            if any('request_delete_range' in op
                   for op in txn.get('success', ())):
                failed.append(txn)
                raise requests_exceptions.ConnectionError('injected')
            return real(txn)

        with mock.patch.object(client, 'transaction', transaction):
            yield
        self.assertNotEqual([], failed)

    def test_retried_release_leaves_a_later_grant_held(self):
        # tooz's etcd lock keeps one token (the key's value) for all its
        # grants: a retry made with the failed grant's lock object would
        # delete the key of the Lock's next grant.
        holder = self.coordinator(heartbeat=0.2,
                                  initial_reconnect_backoff=0.05,
                                  max_reconnect_backoff=0.2)
        lock = holder.get_lock('reused')
        lock.acquire()
        with self.release_fails(holder, lock):
            self.assertRaises(coordination.BackendUnavailable, lock.release)
            # The failed grant's key goes, as when its lease (no longer
            # renewed) runs out, and the Lock is acquired again while the
            # background retries still fail.
            self.assertTrue(holder.backend.driver.get_lock(
                lock.name.encode('utf-8')).break_())
            lock.acquire(blocking=WAIT)
        self.assertTrue(holder._reaper.wait_idle(WAIT))
        self.assertIn('whose release had failed, is released',
                      self.log.output)
        lock.check()
        self.assertRaises(coordination.LockAcquireFailed,
                          self.coordinator().get_lock('reused').acquire,
                          blocking=False)
        lock.release()


class ZooKeeperContractTest(ServerContractMixin, base.BaseTestCase):
    kind = 'zookeeper'

    def restart_url(self, server):
        # A session that outlives a slow restart (the test server allows
        # sessions of up to 60 s). kazoo waits for the answer to its
        # session handshake a session timeout divided by the number of
        # hosts it was given: a handshake sent while the restarting
        # server has its port open but does not serve yet would wait out
        # the whole session, and the session expire meanwhile. Given the
        # server twice, the client tries again after half of it.
        netloc = urllib.parse.urlsplit(server.url).netloc
        return '%s?timeout=30&hosts=%s' % (server.url, netloc)

    def take_from_coordinators(self):
        return self.coordinator(), self.coordinator()

    def take_from(self, holder, lock, other):
        # The holder's node is deleted, as with its session when it
        # expires; the other member's node is created after it.
        kazoo_lock = lock._tooz_lock._lock
        holder.backend.client.delete('%s/%s' % (kazoo_lock.path,
                                                kazoo_lock.node))
        taken = other.get_lock(lock.name[len(other.prefix):])
        taken.acquire(blocking=WAIT)
        return taken

    @contextlib.contextmanager
    def release_fails(self, coordinator, lock):
        from kazoo import exceptions as kazoo_exceptions

        client = coordinator.backend.driver._coord
        real = client.delete
        failed = []

        def delete(path, *args, **kwargs):
            if not failed:
                failed.append(path)
                raise kazoo_exceptions.ZookeeperError('injected')
            return real(path, *args, **kwargs)

        with mock.patch.object(client, 'delete', delete):
            yield
        self.assertEqual(1, len(failed))

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + RESTART_WAIT
        while not predicate():
            self.assertLess(time.monotonic(), deadline, what)
            threading.Event().wait(0.05)

    def test_retried_release_leaves_a_later_grant_held(self):
        # kazoo's lock deletes the node it created last: a retry made with
        # the failed grant's lock object, once the release left behind by
        # the failed call went through and the Lock was acquired again,
        # would delete the node of that later grant.
        server = self.dedicated()
        holder = self.coordinator(self.restart_url(server),
                                  backend_timeout=1, max_reconnect_backoff=1)
        client = holder.backend.client
        lock = holder.get_lock('reused')
        lock.acquire()
        backend = holder.backend
        release = backend.release
        calls = []
        retry = threading.Event()
        self.addCleanup(retry.set)

        def held_retries(tooz_lock):
            # The first call is the holder's release; the reaper's retries
            # wait until the Lock is held again.
            calls.append(tooz_lock)
            if len(calls) > 1:
                self.assertTrue(retry.wait(WAIT))
            return release(tooz_lock)

        server.kill()
        self.wait_for(lambda: not client.connected, 'connection not lost')
        with mock.patch.object(backend, 'release', held_retries):
            # The call gives up; its request waits for the server, and
            # deletes the node once the client is back.
            self.assertRaises(coordination.BackendUnavailable, lock.release)
            server.start()
            self.wait_for(lambda: client.connected, 'connection not back')
            lock.acquire(blocking=WAIT)
            retry.set()
            self.assertTrue(holder._reaper.wait_idle(WAIT))
        self.assertGreater(len(calls), 1)   # the reaper did retry
        lock.check()
        self.assertRaises(coordination.LockAcquireFailed,
                          self.coordinator(server.url).get_lock(
                              'reused').acquire, blocking=False)
        lock.release()

    def test_check_that_gets_no_answer_cannot_tell_and_keeps_the_lock(self):
        server = self.dedicated()
        holder = self.coordinator(self.restart_url(server),
                                  backend_timeout=1)
        lock = holder.get_lock('frozen-server')
        lock.acquire()
        # Bounds this test if the check waits for the server (it must not).
        thaw = threading.Timer(WAIT, server.resume)
        with server.frozen():
            self.addCleanup(thaw.cancel)
            thaw.start()
            start = time.monotonic()
            e = self.assertRaises(coordination.LockLost,
                                  coordination.ensure_locks_held)
            self.assertLess(time.monotonic() - start, WAIT)
            thaw.cancel()
        self.assertIn('cannot be confirmed', str(e))
        self.assertIsNone(lock.lost)
        self.assertNotIn('LOST', self.log.output)
        # The server answers again, and the session lived on: the lock is
        # still this service's.
        lock.check()
        lock.release()
        self.assertNotIn('LOST', self.log.output)

    def end_session(self, url, coordinator):
        """The server ends the session of *coordinator*'s client now.

        As when it expires: a second client of the same session closes
        it, and the server deletes its nodes.
        """
        from kazoo import client as kazoo_client

        session = kazoo_client.KazooClient(
            hosts=url[len('zookeeper://'):].split('?')[0],
            client_id=coordinator.backend.driver._coord.client_id)
        session.start(timeout=WAIT)
        session.stop()
        session.close()

    def test_release_after_the_session_ended_unnoticed(self):
        url = self.shared_url()
        holder = self.coordinator(url)
        other = self.coordinator(url)
        lock = holder.get_lock('frozen')
        lock.acquire()
        # Freeze the holder's ZooKeeper client: its connection thread
        # stops, and it knows nothing of the end of its session. (Frozen
        # long enough for the session to expire, it would be fenced
        # before; see test_a_holder_frozen_past_its_session_fails_its_
        # next_check_at_once.)
        handler = holder.backend.driver._coord.handler
        thawed = threading.Event()
        self.addCleanup(thawed.set)
        real_select = handler.select

        def frozen_select(*args, **kwargs):
            self.assertTrue(thawed.wait(WAIT))
            return real_select(*args, **kwargs)

        handler.select = frozen_select
        self.addCleanup(setattr, handler, 'select', real_select)
        self.end_session(url, holder)
        taken = other.get_lock('frozen')
        taken.acquire(blocking=WAIT)   # the session and its node are gone
        taken.release()
        # The holder is thawed and releases at once: the release request
        # is what makes its client notice that the session ended.
        released = []

        def release():
            try:
                lock.release()
                released.append(None)
            except coordination.LockLost as e:
                released.append(e)

        releaser = threading.Thread(target=release)
        releaser.start()
        deadline = time.monotonic() + WAIT
        while lock.held and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        # From here the session listener can no longer mark the lock.
        handler.select = real_select
        thawed.set()
        releaser.join(WAIT)
        self.assertEqual(1, len(released))
        self.assertIsInstance(released[0], coordination.LockLost)
        self.assertIn('no longer had it at release', str(released[0]))

    def clamping_server(self):
        """A dedicated server that allows sessions of 4 s at most."""
        return self.useFixture(lockservers.LockServerFixture(
            self.kind, max_session_timeout=4000)).server

    def test_the_session_timeout_is_the_one_the_server_negotiated(self):
        url = self.clamping_server().url + '?timeout=60'
        backend = self.coordinator(url).backend
        self.assertEqual(4.0, backend.lease())
        self.assertEqual(60, backend.requested_lease())
        self.assertIn('negotiated a session timeout of 4 s, not the 60 s '
                      'requested', self.log.output)
        # A margin that a 60 s session would leave room for.
        e = self.assertRaises(coordination.ConfigurationError,
                              self.coordinator, url, fencing_margin=3)
        self.assertIn('[coordination] fencing_margin (3.0 s) must be '
                      'smaller than', str(e))
        self.assertIn('of the 4 s session timeout that the server of %s '
                      'negotiated (60 s requested)' % url, str(e))

    def test_locks_are_fenced_within_the_negotiated_session_timeout(self):
        server = self.clamping_server()
        holder = self.coordinator(server.url + '?timeout=60')
        lock = holder.get_lock('clamped')
        lock.acquire()
        with server.frozen():
            # The server last heard from the holder before this; it ends
            # the session 4 s after that at the earliest.
            frozen_at = time.monotonic()
            while (lock.lost is None and
                   time.monotonic() < frozen_at + 4):
                threading.Event().wait(0.05)
            lost_after = time.monotonic() - frozen_at
        self.assertIn('fenced', lock.lost or '')
        self.assertLess(lost_after, 4)
        self.assertRaises(coordination.LockLost, lock.release)

    def test_a_holder_frozen_past_its_session_fails_its_next_check_at_once(
            self):
        server = self.dedicated()
        other = self.coordinator(server.url)
        holder = subprocess.Popen(
            [sys.executable, '-c', FROZEN_HOLDER, server.url + '?timeout=4',
             other.prefix],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        self.assertEqual('held\n', holder.stdout.readline())
        holder.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + WAIT
        while (not lockservers.processes.threads_stopped(holder.pid) and
               time.monotonic() < deadline):
            threading.Event().wait(0.01)
        frozen_at = time.monotonic()
        # The server ends the frozen holder's session; another member
        # takes the lock.
        taken = other.get_lock('frozen')
        taken.acquire(blocking=WAIT)
        with server.frozen():
            # No answer from the server from now on: the holder must know
            # by itself. Its first step when it wakes up is the check.
            holder.stdin.write('check\n')
            holder.stdin.flush()
            thawed_at = time.monotonic()
            holder.send_signal(signal.SIGCONT)
            result = json.loads(holder.stdout.readline())
        self.assertIsNotNone(result['error'], 'the check passed')
        self.assertIn('fenced', result['error'])
        self.assertIn('fenced', result['lost'])
        self.assertLess(result['took'], 1)
        # Counted from before the freeze, not from the wake-up.
        ago = float(re.search(r'(?:sent|asked for) ([0-9.]+)s ago',
                              result['lost']).group(1))
        # (The reason gives it to a tenth of a second.)
        self.assertGreaterEqual(ago + 0.05, thawed_at - frozen_at)
        taken.release()

    def test_session_expiry_is_detected_and_logged(self):
        url = self.shared_url()
        holder = self.coordinator(url)
        other = self.coordinator(url)
        lock = holder.get_lock('session')
        lock.acquire()
        # Expire the holder's session from outside, as ZooKeeper does when
        # a client is cut off for longer than its session timeout.
        self.end_session(url, holder)
        taken = other.get_lock('session')
        taken.acquire(blocking=WAIT)
        deadline = time.monotonic() + WAIT
        while lock.lost is None and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        self.assertIn('session expired', lock.lost or '')
        self.assertIn('LOST', self.log.output)
        self.assertRaises(coordination.LockLost,
                          coordination.ensure_locks_held)
        self.assertRaises(coordination.LockLost, lock.release)
        taken.release()
