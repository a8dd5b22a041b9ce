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
``<name>.tmp-<hex>``
    A writer's temporary file, before it is linked into place.
``<name>``
    The document from before generations existed (read as generation 0).

:class:`GenerationFiles` names them and does the file operations of the
record's protocol; the newest generation is the highest number that a
listing of the directory shows.
"""

import errno
import os
import re
import uuid

_NUMBER = re.compile(r'[0-9]+')


class GenerationFiles(object):
    """Names and file operations of the generations of the record *path*.

    Failure behaviour: methods raise what the file system raises
    (``OSError``), but where stated.
    """

    def __init__(self, path):
        self.path = path
        self.directory, self.name = os.path.split(path)
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

    def newest(self):
        """The number of the newest generation, or None if there is none.

        The highest number that a listing of the directory shows.
        """
        numbers = self.numbers(self.listing())
        return numbers[-1] if numbers else None

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
        """Remove every generation but the newest two.

        And the document from before generations.
        """
        for number in self.numbers(self.listing()):
            if number < newest - 1:
                unlink(self.generation_path(number))
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
