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

"""The files of one fenced record on a shared file system.

A record (:mod:`cinder.volume.fenced_record`) at ``path`` is kept in the
same directory as:

``<name>.g<N>``
    Its generations; normally the newest two (a deleted record keeps its
    last one alone).
``<name>.head``
    A hint: a symbolic link whose target is the name of a recent
    generation, replaced after each commit. Only a hint: it may be
    missing or older than the newest generation (a writer that died
    before replacing it, two writers replacing it out of order), never
    newer.
``<name>.tmp-<hex>``
    A writer's temporary file, before it is linked or renamed into place.
``<name>``
    The document from before generations existed (read as generation 0).

:class:`GenerationFiles` finds the newest generation without listing the
directory: from the hint, it looks generations up by name, upwards, until
the next name does not exist. A listing is costly on a share with many
volumes (every name of the share) and may be served from a client's
cache (NFS serves READDIR from cache for up to ``acdirmax``); a lookup of
one name is answered by the server (with the mount options the NFS
driver's documentation requires). The directory is listed only when the
hint is missing or cannot be trusted.
"""

import errno
import os
import re
import uuid

#: Generations looked up past the hint before the directory is listed.
WALK_LIMIT = 16

_NUMBER = re.compile(r'[0-9]+')


class GenerationFiles(object):
    """Names and file operations of the generations of the record *path*.

    Failure behaviour: methods raise what the file system raises
    (``OSError``), but where stated.
    """

    def __init__(self, path):
        self.path = path
        self.directory, self.name = os.path.split(path)
        self.head_path = path + '.head'
        self._prefix = self.name + '.g'

    def generation_path(self, number):
        return '%s.g%d' % (self.path, number)

    def is_generation(self, name):
        """True if the file *name* (a basename) is a generation."""
        return self.number_of(name) is not None

    def number_of(self, name):
        """The number of the generation *name* (a basename), or None."""
        if not name.startswith(self._prefix):
            return None
        digits = name[len(self._prefix):]
        return int(digits) if _NUMBER.fullmatch(digits) else None

    def temporary_path(self):
        return '%s.tmp-%s' % (self.path, uuid.uuid4().hex[:8])

    def numbers(self, names):
        """Sorted numbers of the generations among *names* (basenames)."""
        return sorted(number for number in map(self.number_of, names)
                      if number is not None)

    def listing(self):
        """The names in the record's directory (one READDIR on NFS)."""
        return os.listdir(self.directory or '.')

    def exists(self, number):
        """Whether generation *number* exists (one lookup)."""
        return os.path.lexists(self.generation_path(number))

    def present(self, number):
        """Whether generation *number* exists, asked with an open.

        An open revalidates what an NFS client cached of the name (close
        to open consistency), where a lookup may be answered from the
        cache of names it saw.
        """
        try:
            fd = os.open(self.generation_path(number), os.O_RDONLY)
        except FileNotFoundError:
            return False
        os.close(fd)
        return True

    def newest(self, known=None):
        """The number of the newest generation, or None if there is none.

        From *known* (numbers of generations a listing the caller made
        showed) or else the hint, then by lookups upwards; the directory
        is listed only when the hint is missing or what it leads to
        cannot be trusted. A listing may be stale (NFS serves READDIR
        from a cache): the lookups upwards from its newest number find
        what was appended since, a deleted record's tombstone included.
        """
        if known is None:
            hint = self.hint()
            if hint is not None:
                found, trusted = self._walk(hint)
                if trusted:
                    return found
            known = self.numbers(self.listing())
        numbers = sorted(known)
        if not numbers:
            return None
        found, _trusted = self._walk(numbers[-1])
        return numbers[-1] if found is None else found

    def _walk(self, start):
        """(newest number found upwards from *start*, trusted), by lookups.

        ``(None, False)`` when no generation exists within
        :data:`WALK_LIMIT` numbers of *start*. A generation found alone
        (the one before it is gone), though not the first, is the last
        of a deleted record, or a stale writer's, linked into a number
        that had been pruned and about to be removed again: the numbers
        above it are looked up too, and a newer one goes on from there;
        with none, the lone one is returned, not trusted.
        """
        number = self._first_from(start)
        if number is None:
            return None, False
        while True:
            while self.exists(number + 1):
                number += 1
            if number == 1 or self.exists(number - 1):
                return number, True
            above = self._first_from(number + 2)
            if above is None:
                return number, False
            number = above

    def _first_from(self, start):
        """The first generation from *start* on, within the walk's limit."""
        for number in range(start, start + WALK_LIMIT + 1):
            if self.exists(number):
                return number
        return None

    def hint(self):
        """The generation number the head names, or None."""
        try:
            target = os.readlink(self.head_path)
        except OSError:
            return None
        return self.number_of(target)

    def set_hint(self, number):
        """Point the head at generation *number*.

        :raises OSError: the head was not replaced (it is only a hint:
            callers log and go on).
        """
        tmp = self.temporary_path()
        os.symlink(os.path.basename(self.generation_path(number)), tmp)
        try:
            os.replace(tmp, self.head_path)
        except OSError:
            unlink(tmp)
            raise

    def read(self, number):
        """The bytes of generation *number* (FileNotFoundError if gone)."""
        with open(self.generation_path(number), 'rb') as f:
            return f.read()

    def read_legacy(self):
        """The document from before generations, or None."""
        try:
            with open(self.path, 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write_temporary(self, content):
        """A new temporary file holding *content*, synced; its path.

        :raises OSError: nothing was left behind.
        """
        tmp = self.temporary_path()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                write_all(fd, content)
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            unlink(tmp)
            raise
        return tmp

    def prune(self, newest):
        """Remove the generation before the newest two.

        And the document from before generations, after the first ones.
        One unlink per commit, whatever the number of files around.
        """
        if newest > 2:
            unlink(self.generation_path(newest - 2))
        else:
            unlink(self.path)

    def sync_directory(self):
        fsync_dir(self.directory or '.')


def write_all(fd, data):
    """Write every byte of *data* to *fd*, however many calls it takes.

    :raises OSError: a write failed, or wrote nothing (ENOSPC).
    """
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, 'short write: nothing written with '
                          '%d bytes left' % len(view))
        view = view[written:]


def unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        # Some file systems cannot sync a directory; link is still atomic.
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
