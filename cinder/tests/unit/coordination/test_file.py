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

"""Tests of the file backend on a real directory."""

import fcntl
import os
import subprocess
import sys
import time
from unittest import mock

from cinder import coordination
from cinder.coordination import backends
from cinder.coordination.backends import file as file_backend
from cinder.stress import lockservers
from cinder.tests.unit.coordination import fakes


class RemoveLockTestCase(fakes.RealFileBackendTestCase):

    def _touch(self, name):
        path = os.path.join(self.dir, name)
        open(path, 'w').close()
        return path

    def test_removes_idle_matching_lock_files_only(self):
        self.start()
        gone = [self._touch('cinder-v1-delete_volume'),
                self._touch('cinder-v1-detach_volume')]
        kept = [self._touch('cinder-v2-delete_volume'),
                self._touch('other-v1-delete_volume')]
        busy = self._touch('cinder-v1-busy')
        holder = subprocess.Popen(
            [sys.executable, '-c',
             'import fcntl, sys; f = open(sys.argv[1], "r+"); '
             'fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); '
             'sys.stdin.read()', busy],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.stdin.close)
        self.assertEqual('locked\n', holder.stdout.readline())
        removed = coordination.synchronized_remove(
            'v1-*', coordinator=self.coordinator)
        self.assertEqual(2, removed)
        for path in gone:
            self.assertFalse(os.path.exists(path))
        for path in kept + [busy]:
            self.assertTrue(os.path.exists(path))
        # the file is unlocked after removal attempts of ours
        with open(kept[0], 'r+') as f:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def test_keeps_files_of_locks_this_process_holds(self):
        self.start()
        lock = self.coordinator.get_lock('v1-held')
        lock.acquire()
        self.assertEqual(0, coordination.synchronized_remove(
            'v1-*', coordinator=self.coordinator))
        self.assertTrue(os.path.exists(os.path.join(self.dir,
                                                    'cinder-v1-held')))
        # still exclusive: another process cannot take it
        probe = subprocess.run(
            [sys.executable, '-c',
             'import fcntl, sys; f = open(sys.argv[1], "r+"); '
             'fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)',
             os.path.join(self.dir, 'cinder-v1-held')])
        self.assertNotEqual(0, probe.returncode)
        lock.release()
        self.assertEqual(1, coordination.synchronized_remove(
            'v1-*', coordinator=self.coordinator))

    def test_no_op_for_other_backends(self):
        backend = backends.make_backend('redis://h:1', 1.0)
        self.assertEqual(0, backend.remove_locks('*'))


def _end_waiter(waiter):
    """Let the waiter finish, or kill it if it is still blocked."""
    waiter.stdin.close()
    try:
        waiter.wait(fakes.WAIT)
    except subprocess.TimeoutExpired:
        waiter.kill()
        waiter.wait()


class RemovedWhileWaitingTestCase(fakes.RealFileBackendTestCase):
    """A waiter whose lock file is unlinked must not hold a ghost lock."""

    def test_waiter_relocks_the_file_at_the_path(self):
        holder = self.start()
        lock = holder.get_lock('gone')
        lock.acquire()
        path = os.path.join(self.dir, 'cinder-gone')
        waiter = subprocess.Popen(
            [sys.executable, '-c',
             'import sys\n'
             'from oslo_config import cfg\n'
             'from cinder import coordination\n'
             'conf = cfg.ConfigOpts()\n'
             'c = coordination.Coordinator(conf=conf)\n'
             'conf([])\n'
             'conf.set_override("backend_url", sys.argv[1], "coordination")\n'
             'c.start()\n'
             'lock = c.get_lock("gone")\n'
             'lock.acquire()\n'
             'print("acquired", flush=True)\n'
             'sys.stdin.read()\n'
             'lock.release()\n', 'file://' + self.dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(_end_waiter, waiter)
        # Wait (bounded) until the waiter has the file open: it is then
        # blocked on the lock of this very inode.
        deadline = time.monotonic() + fakes.WAIT
        real_path = os.path.realpath(path)
        while real_path not in (
                lockservers.open_file_targets(waiter.pid) or ()):
            self.assertLess(time.monotonic(), deadline, 'waiter never '
                            'opened the lock file')
            time.sleep(0.01)
        # A remover elsewhere unlinks the file, then the holder lets go.
        os.unlink(path)
        lock.release()
        self.assertEqual('acquired\n', waiter.stdout.readline())
        # The waiter must hold the lock that everybody else now sees.
        other = holder.get_lock('gone')
        self.assertRaises(coordination.LockAcquireFailed, other.acquire,
                          blocking=False)


class RemoveWhileAcquiringTestCase(fakes.RealFileBackendTestCase):
    """remove_locks() in another thread of the acquiring process."""

    def test_file_being_acquired_is_not_removed(self):
        coordinator = self.start()
        lock = coordinator.get_lock('busy')
        backend = coordinator.backend
        tooz_lock = lock._tooz_lock
        real_acquire = tooz_lock.acquire
        removed = []

        def acquire(*args, **kwargs):
            got = real_acquire(*args, **kwargs)
            # Another request of this service removes the lock files of
            # the same, just deleted, resource at this very moment.
            removed.append(backend.remove_locks('cinder-busy'))
            return got

        tooz_lock.acquire = acquire
        lock.acquire()
        self.addCleanup(lock.release)
        self.assertEqual([0], removed)
        self.assertTrue(os.path.exists(os.path.join(self.dir,
                                                    'cinder-busy')))
        # And the lock still excludes another process.
        other = subprocess.run(
            [sys.executable, '-c',
             'import fcntl, sys; f = open(sys.argv[1], "r+")\n'
             'try:\n'
             '    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n'
             'except OSError:\n'
             '    print("busy")\n'
             'else:\n'
             '    print("free")\n',
             os.path.join(self.dir, 'cinder-busy')],
            capture_output=True, text=True)
        self.assertEqual('busy\n', other.stdout)


class FailedCheckAfterLockTestCase(fakes.RealFileBackendTestCase):
    """A check that fails after the fcntl lock was taken must let go."""

    def _lock_is_free_for_another_process(self, name):
        probe = subprocess.run(
            [sys.executable, '-c',
             'import fcntl, sys; f = open(sys.argv[1], "r+"); '
             'fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)',
             os.path.join(self.dir, name)])
        return probe.returncode == 0

    def _assert_name_still_usable(self, coordinator):
        self.assertTrue(self._lock_is_free_for_another_process(
            'cinder-check'))
        # And in this process: a new holder gets it at once.
        again = coordinator.get_lock('check')
        again.acquire(blocking=False)
        again.release()

    def test_failed_link_check_releases_the_lock(self):
        coordinator = self.start()
        lock = coordinator.get_lock('check')
        with mock.patch.object(file_backend.os, 'fstat',
                               side_effect=OSError(5, 'I/O error')):
            self.assertRaises(coordination.BackendUnavailable, lock.acquire)
        self.assertFalse(lock.held)
        self._assert_name_still_usable(coordinator)

    def test_failed_relock_releases_the_lock(self):
        coordinator = self.start()
        lock = coordinator.get_lock('check')
        checks = iter([False, OSError(5, 'I/O error')])

        def still_linked(tooz_lock):
            answer = next(checks)
            if isinstance(answer, Exception):
                raise answer
            return answer

        with mock.patch.object(file_backend.FileBackend, '_still_linked',
                               side_effect=still_linked):
            self.assertRaises(coordination.BackendUnavailable, lock.acquire)
        self._assert_name_still_usable(coordinator)
