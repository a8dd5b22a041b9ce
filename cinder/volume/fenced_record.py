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

"""A small document on a shared file system that refuses stale writers.

A lock with a lease can be lost while its holder still runs (a process
frozen past its lease, a host cut off): another service takes the lock
and the old holder, when it goes on, cannot be stopped by the lock
server. The storage can stop it, if every write carries the writer's
*fencing token* (:meth:`cinder.coordination.Lock.token`, larger for every
later grant) and the storage refuses a writer older than the newest one
it has seen.

A :class:`FencedRecord` keeps one document (a driver's info file) as
numbered *generations* beside its path, ``<path>.g<N>``, each holding the
document and the token of its writer; the newest is the record. A writer
appends generation N+1 by ``link(2)`` from a temporary file it wrote and
synced in full. ``link`` fails with ``EEXIST`` when N+1 exists, atomically
on any POSIX file system (on NFS the server decides), so of two writers
that read generation N only one can append N+1, and the other learns it
from the failed ``link`` itself: there is no window between a check and
the write.

The protocol, for a holder with token T:

1. :meth:`FencedRecord.claim` at the start of its critical section: reads
   the newest generation; if its token is newer than T the holder is
   fenced off (:class:`~cinder.coordination.FencedOff`); if older, appends
   a copy of it under T. From then on every writer older than T fails:
   whatever it read is no longer the newest generation.
2. :meth:`FencedRecord.write` with the generation the claim returned (or
   the last write's): appends the next generation; if another writer
   appended first, the holder is fenced off (or, for a writer that is not
   newer, :class:`RecordChanged` is raised). Nothing is written then.

Old generations are removed after each append, all but the newest two.
A stale writer whose number was free only because it had been removed
sees newer generations after its ``link`` and is fenced off (its file is
removed again). For the same reason a removed record keeps its last
generation, a *tombstone* (:meth:`FencedRecord.remove`). A record written
before generations existed (a plain file at ``path``) is read as
generation 0 with token 0 until the first append, which removes it.

Failure behaviour: a failed append leaves no temporary file and the
record as it was; a crash between the write of the temporary file and its
removal leaves a ``<path>.tmp-*`` file that no reader looks at (and that
the writer who removes the record may remove). A writer whose temporary
file was removed before its ``link`` is refused like one that lost the
race: another writer went on with the record meanwhile.
"""

import collections
import errno
import json
import os
import re
import uuid

from oslo_log import log as logging

from cinder import coordination
from cinder import exception

#: Format of the generation files' contents.
FORMAT = 1

#: Times a reader lists the directory again when the newest generation it
#: saw was removed before it could open it (a writer appended meanwhile).
READ_TRIES = 8

LOG = logging.getLogger(__name__)

#: One generation: its number, the fencing token and token source of its
#: writer, and the document (None in a tombstone).
Generation = collections.namedtuple('Generation', 'number token text source',
                                    defaults=(None,))


class RecordChanged(exception.VolumeDriverException):
    """Another writer, not newer than this one, appended first.

    Cannot happen between holders of one lock that each claimed the record
    first; it means a writer did not.
    """


class FencedRecord(object):
    """The generations of the document at ``path``, for one writer.

    :param path: where the document lives; its generations are files in
        the same directory named ``<basename>.g<N>``.
    :param source: where this writer's tokens come from
        (:attr:`cinder.coordination.Lock.token_source`); recorded with
        each generation it writes. Tokens compare only within a source:
        a writer of another source (the lock backend changed, or services
        that lock at different places) is never refused for its token;
        its claim starts a new count, logged. Appends still go through
        ``link``: of two writers on one generation only one appends.
    """

    def __init__(self, path, source=None):
        self.path = path
        self.source = source
        self.directory, self.name = os.path.split(path)
        self._pattern = re.compile(re.escape(self.name) + r'\.g([0-9]+)$')

    def __repr__(self):
        return '<FencedRecord %s>' % self.path

    def generation_path(self, number):
        return '%s.g%d' % (self.path, number)

    def path_of(self, generation):
        """The file *generation* was read from."""
        if generation.number == 0:
            return self.path            # from before generations
        return self.generation_path(generation.number)

    def is_generation(self, name):
        """True if the file *name* (a basename) is a generation of it."""
        return self._pattern.match(name) is not None

    def _numbers(self):
        numbers = []
        for name in os.listdir(self.directory or '.'):
            match = self._pattern.match(name)
            if match:
                numbers.append(int(match.group(1)))
        return sorted(numbers)

    def read(self):
        """The newest :class:`Generation`, or None if there is no record.

        :raises VolumeDriverException: a generation cannot be parsed,
            naming its file.
        """
        for _ in range(READ_TRIES):
            numbers = self._numbers()
            if not numbers:
                try:
                    with open(self.path) as f:
                        return Generation(0, 0, f.read())
                except FileNotFoundError:
                    if self._numbers():
                        continue        # the first append removed it
                    return None
            path = self.generation_path(numbers[-1])
            try:
                with open(path) as f:
                    content = f.read()
            except FileNotFoundError:
                continue                # removed as older: list again
            return self._parse(numbers[-1], path, content)
        raise exception.VolumeDriverException(
            'The newest generation of %s kept vanishing while it was read '
            '(%d tries): is a writer looping?' % (self.path, READ_TRIES))

    @staticmethod
    def _parse(number, path, content):
        try:
            doc = json.loads(content)
            if doc['format'] != FORMAT:
                raise ValueError('format %r' % (doc['format'],))
            return Generation(number, int(doc['token']), doc['text'],
                              doc.get('source'))
        except (ValueError, KeyError, TypeError) as e:
            raise exception.VolumeDriverException(
                'Generation file %s cannot be read: %s' % (path, e))

    def claim(self, token, before_append=None):
        """Make *token* the newest writer; the generation to write on.

        An ended record (its tombstone, whose ``text`` is None) is
        returned as it is: there is nothing left to claim.

        :param before_append: called when a generation is to be
            appended (not when *token* is the newest), right before its
            ``link``: with the generation written and synced.

        :returns: the newest :class:`Generation`, or None if there is no
            record.
        :raises FencedOff: a newer writer has written; nothing changed.
        """
        current = self.read()
        if current is None or current.text is None:
            return current
        if current.token == token and current.source == self.source:
            return current
        self._refuse_if_newer(current, token)
        if current.source != self.source and current.number > 0:
            LOG.info('%s was written under fencing tokens of %s, this '
                     'writer\'s come from %s: they cannot be compared, its '
                     'claim starts a new count', self.path, current.source,
                     self.source)
        return self._append(current, token, current.text, before_append)

    def create(self, token, text, before_append=None):
        """Start the record with *text*.

        :param before_append: see :meth:`write`.
        :raises FencedOff: a writer newer than *token* made it first.
        :raises RecordChanged: another writer made it first.
        """
        return self._append(Generation(0, 0, None), token, text,
                            before_append)

    def write(self, token, text, base, before_append=None):
        """Append *text* as the generation after *base*.

        :param base: the :class:`Generation` this writer read (the one
            :meth:`claim` or the last :meth:`write` returned).
        :param before_append: called right before the ``link``, with the
            generation written and synced; what it raises is raised,
            with nothing changed.
        :returns: the new :class:`Generation`.
        :raises FencedOff: a newer writer appended first; nothing changed.
        :raises RecordChanged: another writer appended first.
        """
        self._refuse_if_newer(base, token)
        return self._append(base, token, text, before_append)

    def remove(self, token, base):
        """End the record: append a *tombstone*, an empty generation.

        :meth:`read` then returns a generation whose ``text`` is None. The
        tombstone is the one file left: it keeps fencing off every older
        writer, which could otherwise append to a directory without
        generations and bring the record back. It is some 60 bytes.

        :raises FencedOff: a newer writer appended first; nothing changed.
        """
        return self.write(token, None, base)

    def end(self, token, before_append=None):
        """End the record, whatever its newest generation holds.

        Like :meth:`remove` on the newest generation, for a writer that
        deletes what the record describes and must be able to even when
        the newest generation cannot be parsed: its token then counts as
        older than any (the ``link`` still decides between writers).

        :param before_append: called right before the tombstone is
            linked, when there is one to append.
        :returns: the tombstone :class:`Generation`, or None if there is
            no record at all.
        :raises FencedOff: a newer writer has written; nothing changed.
        """
        try:
            current = self.read()
        except exception.VolumeDriverException:
            numbers = self._numbers()
            if not numbers:
                raise
            current = Generation(numbers[-1], 0, '')
        if current is None or current.text is None:
            return current
        self._refuse_if_newer(current, token)
        return self._append(current, token, None, before_append)

    def ensure_newest(self, token):
        """Fail unless *token* is the newest writer's; reads only.

        For a holder about to change something the record does not
        describe but refers to (an image in place), right before it.

        :raises FencedOff: another writer claimed or ended the record
            since (or there is none).
        """
        current = self.read()
        if (current is None or current.token != token or
                current.source != self.source):
            raise _refused(coordination.FencedOff, (
                '%s was last written under fencing token %s, not this '
                'writer\'s %d: another service holds the lock now' % (
                    self.path, None if current is None else current.token,
                    token)))

    def _refuse_if_newer(self, current, token):
        if current.token > token and current.source == self.source:
            raise _refused(coordination.FencedOff, (
                '%s was written under fencing token %d, newer than this '
                'writer\'s %d: another service holds the lock now; '
                'nothing was written' % (self.path, current.token, token)))

    def _append(self, base, token, text, before_append=None):
        number = base.number + 1
        target = self.generation_path(number)
        tmp = '%s.tmp-%s' % (self.path, uuid.uuid4().hex[:8])
        content = json.dumps({'format': FORMAT, 'token': token,
                              'source': self.source, 'text': text})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                os.write(fd, content.encode('utf-8'))
                os.fsync(fd)
            finally:
                os.close(fd)
            if before_append is not None:
                before_append()
            try:
                os.link(tmp, target)
            except FileExistsError:
                self._lost_race(number, target, token)
            except FileNotFoundError:
                if os.path.exists(tmp):
                    raise
                # Removed by another writer while this one was stopped
                # (a delete of the volume removes leftover temporary
                # files): it went on with the record.
                self._lost_race(number, target, token)
        finally:
            _unlink(tmp)
        newest = self._numbers()[-1]
        if newest != number:
            # Our number was free only because it had been pruned: newer
            # generations exist, ours would never be read.
            _unlink(target)
            self._lost_race(newest, self.generation_path(newest), token)
        _fsync_dir(self.directory or '.')
        self._prune(number)
        return Generation(number, token, text, self.source)

    def _lost_race(self, number, target, token):
        try:
            with open(target) as f:
                theirs = self._parse(number, target, f.read())
        except FileNotFoundError:
            theirs = None               # appended and already pruned
        if theirs is None:
            theirs = self.read()
        self._refuse_if_newer(theirs, token)
        raise _refused(RecordChanged, (
            'Another writer (fencing token %d of %s) appended generation %d '
            'of %s first; this writer (token %d of %s) did not claim the '
            'record before writing, or locks of the two do not exclude each '
            'other' % (theirs.token, theirs.source, number, self.path, token,
                       self.source)))

    def _prune(self, newest):
        for number in self._numbers():
            if number < newest - 1:
                _unlink(self.generation_path(number))
        _unlink(self.path)              # the file from before generations


def _refused(error_class, message):
    """An *error_class* (FencedOff, RecordChanged), logged once here.

    At WARNING, ``Fenced off: <message>``: the one line per refused
    writer that operators and validation tools count.
    """
    LOG.warning('Fenced off: %s', message)
    return error_class(message)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        # Some file systems cannot sync a directory; link is still atomic.
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
