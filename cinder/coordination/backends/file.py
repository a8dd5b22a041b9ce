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

"""``file://DIR``: fcntl locks on one host."""

import errno
import fcntl
import glob
import logging
import os
import socket
import stat
import threading
import time
import urllib.parse

from cinder.coordination.backends import base
from cinder.coordination import bounded
from cinder.coordination import exceptions
from cinder.coordination import internals

LOG = logging.getLogger('cinder.coordination')

#: The fencing token counter of a lock directory: a hidden, non-empty
#: file, which housekeeping never takes for a lock file.
TOKEN_FILE = '.cinder-fencing-tokens'
#: Digits of the counter (a fixed width: each write replaces them all).
TOKEN_WIDTH = 20
#: fcntl locks belong to the process: this keeps its threads apart, and
#: keeps a close() of one thread from dropping another thread's lock.
_token_mutex = threading.Lock()


class FileBackend(base.Backend):
    """``file://DIR``: fcntl locks, one host only, never lost."""

    schemes = ('file',)
    distributed = False
    needs_heartbeat = False

    @property
    def directory(self):
        return urllib.parse.urlsplit(self.url).path

    def location(self):
        """The directory, on this machine: nowhere else sees its locks."""
        return 'file://%s%s' % (socket.gethostname(),
                                os.path.realpath(self.directory))

    def acquire(self, tooz_lock, blocking):
        """Lock the file, then check it is the one at the lock's path.

        If the check (or the relock it may need) fails, the file is
        unlocked again before the error is raised: a failed acquire never
        leaves the lock taken.
        """
        deadline = None
        if blocking is not True and blocking is not False:
            deadline = time.monotonic() + float(blocking)
        try:
            got = tooz_lock.acquire(blocking=blocking)
            if got and not self._still_linked(tooz_lock):
                got = self._relock(tooz_lock, blocking, deadline)
        except BaseException:
            # The file is locked but a check after it failed: the caller
            # gets the error and never releases, so let go here, or the
            # name stays taken in this process (and on this host) until
            # the process ends.
            if tooz_lock.acquired:
                bounded.quietly(tooz_lock.release)
            raise
        return got

    def _relock(self, tooz_lock, blocking, deadline):
        """Lock again until the locked file is the one at the path."""
        while True:
            # remove_locks() in another process unlinked the file while
            # this one waited on it: the lock is on a file nobody else
            # will open again. Let go and lock the file now at the path.
            LOG.debug('Lock file %s was removed while waiting for it; '
                      'locking it again', tooz_lock.name)
            tooz_lock.release()
            if deadline is not None:
                blocking = max(0.0, deadline - time.monotonic())
            if not tooz_lock.acquire(blocking=blocking):
                return False
            if self._still_linked(tooz_lock):
                return True

    def after_start(self, coordinator):
        internals.check_file(self.probe_lock())

    @staticmethod
    def _still_linked(tooz_lock):
        """Is the locked file still linked, so the one at the lock's path?

        remove_locks() only ever unlinks lock files, so a locked file
        whose link count fell to zero is one that a new holder will not
        open again. One fstat() of the open descriptor tells, without a
        look-up of the path.
        """
        return os.fstat(internals.locked_file(tooz_lock).fileno()).st_nlink > 0

    def release(self, tooz_lock):
        return tooz_lock.release()

    def is_still_owner(self, tooz_lock):
        return bool(tooz_lock.acquired)

    fencing_tokens = True

    def fencing_token(self, tooz_lock):
        """The next value of the lock directory's counter, if still held.

        A file lock is never lost while held (no I/O is needed to tell),
        so the counter is only read and written: see :func:`next_token`.
        One counter for the directory, not one per name: a counter in the
        lock file would start again at 1 once housekeeping removed the
        file (``cinder-manage util clean_locks``). Grants of a name never
        overlap and each takes its token while it holds the lock, so a
        later grant of any name gets a greater token.

        :returns: the token, or None if the lock is not held.
        :raises OSError: the counter cannot be read, written or synced.
        :raises CoordinationError: the counter file holds no number.
        """
        if not tooz_lock.acquired:
            return None
        return next_token(self.token_file())

    def token_file(self):
        """The path of the lock directory's fencing token counter."""
        return os.path.join(self.directory, TOKEN_FILE)

    def tokens_went_back_causes(self):
        return ('the fencing token counter %s was deleted, or restored '
                'from an older backup' % self.token_file())

    def advance_tokens(self, past):
        """Raise the counter file to *past*, if it is lower.

        Under the same locks as :func:`next_token`, and synced before it
        returns: the next token is greater than *past*.
        """
        path = self.token_file()
        before = _update_counter(path, lambda current: max(current, past))
        return base.Advanced('counter file %s' % path, before,
                             max(before, past))

    leftover_kind = 'lock file'

    def leftovers_place(self):
        return self.directory

    def list_lock_names(self, prefix):
        """Sorted names of the lock files in the lock directory.

        Only empty regular files whose name starts with *prefix* are lock
        files: the request socket, logs or anything else an operator
        keeps in ``$state_path`` are never listed.
        """
        names = []
        for entry in os.scandir(self.directory):
            if not entry.name.startswith(prefix):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size == 0:
                names.append(entry.name)
        return sorted(names)

    def has_leftover(self, name):
        return os.path.lexists(os.path.join(self.directory, name))

    def remove_locks(self, pattern):
        """Unlink the idle lock files matching *pattern*.

        The fencing token counter (:data:`TOKEN_FILE`) is never removed.

        A file is only ever opened here (to lock it while it is unlinked)
        under tooz's per-path barrier of this process, and only if no
        thread of this process holds or is acquiring its lock: fcntl
        cannot tell a process about its own locks, and closing any
        descriptor of a file drops every fcntl lock the process holds on
        it. A thread that starts to acquire meanwhile waits at the
        barrier.
        """
        removed = 0
        for path in glob.glob(os.path.join(self.directory, pattern)):
            name = os.path.relpath(path, self.directory)
            if name == TOKEN_FILE:
                continue   # not a lock file: the fencing token counter
            # Keeps the path's barrier alive (tooz holds them weakly), so
            # that every lock of this path made meanwhile shares it.
            probe = self.driver.get_lock(name.encode('utf-8'))
            barrier = internals.file_barrier(probe)
            with barrier.cond:
                if barrier.owner is not None:
                    LOG.debug('Not removing lock file %s: this process '
                              'holds it', path)
                    continue
                if _remove_idle_lock_file(path):
                    removed += 1
        return removed


def _remove_idle_lock_file(path):
    """Unlink *path* if no process holds the lock it backs.

    The file is locked (without waiting) while it is unlinked, so a holder
    in another process never loses its lock to the removal; the caller
    skips the files this process holds or is acquiring. A process that
    opened the file
    before the unlink and locks it afterwards would hold a lock on a
    removed file that nobody else sees; :meth:`FileBackend.acquire`
    notices (the inode at the path differs) and locks the new file.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EISDIR):
            return False
        raise
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            LOG.debug('Not removing lock file %s: it is in use', path)
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)


def next_token(path):
    """Increment the counter in the file *path* and return the new value.

    The file (created with 0 if missing) holds ``TOKEN_WIDTH`` digits and a
    newline. Under an exclusive fcntl lock of the file (which every
    process using the directory takes) and a mutex of this process, the
    value is read with ``pread``, rewritten whole with ``pwrite`` and
    synced with ``fsync`` before it is returned: a token handed out
    survives a crash of the host, so a later one is greater. It would
    not be if the file were deleted or restored from a backup.

    :raises OSError: the file cannot be opened, locked, read, written or
        synced; the value is then unchanged or already the new one (a
        token may be skipped, never repeated).
    :raises CoordinationError: the file holds something else than a
        number.
    """
    return _update_counter(path, lambda current: current + 1) + 1


def _update_counter(path, change):
    """Replace the counter in *path* by ``change(value)``; the old value.

    Under the locks :func:`next_token` describes; the new value is
    written whole and synced before this returns, and not written at
    all when it is the old one.

    :raises OSError, CoordinationError: see :func:`next_token`.
    """
    with _token_mutex:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            data = os.pread(fd, TOKEN_WIDTH + 1, 0)
            try:
                current = int(data) if data else 0
            except ValueError:
                raise exceptions.CoordinationError(
                    'the fencing token counter %s holds %r, not a number; '
                    'it is never written but by cinder.coordination' % (
                        path, data[:TOKEN_WIDTH + 1])) from None
            value = change(current)
            if value >= 10 ** TOKEN_WIDTH:
                raise exceptions.CoordinationError(
                    'the fencing token counter %s cannot count past %d '
                    '(%d digits)' % (path, 10 ** TOKEN_WIDTH - 1,
                                     TOKEN_WIDTH))
            if value != current:
                os.pwrite(fd, b'%0*d\n' % (TOKEN_WIDTH, value), 0)
                os.fsync(fd)
            return current
        finally:
            # Drops the fcntl lock: the mutex keeps every other descriptor
            # of the file in this process closed meanwhile.
            os.close(fd)
