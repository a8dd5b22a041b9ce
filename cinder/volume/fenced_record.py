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
finds, after its ``link``, that the generation it read is gone, and is
fenced off (its file is removed again). For the same reason a removed
record keeps its last generation, a *tombstone* (:meth:`FencedRecord.end`),
and a record removed before it existed gets one too. A record written
before generations existed (a plain file at ``path``) is read as
generation 0 with token 0 until the first append, which removes it. The
newest generation is found without listing the directory
(:mod:`cinder.volume.record_files`).

The commit point is the ``link``. Its outcome is settled before anything
else: a file system that reports an error for a link it made (an NFS
server that made it and lost the reply, then answers the retransmitted
request with ``EEXIST``; a soft mount that returns ``EIO``) is caught by
comparing the file at the target with what the writer meant to link;
errors after the link (syncing the directory, removing old generations)
do not undo a commit. When the file system cannot tell either,
:class:`CommitInDoubt` is raised, and nothing the record may name may be
removed.

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
import uuid

from oslo_log import log as logging

from cinder import coordination
from cinder import exception
from cinder.volume import record_files

#: Format of the generation files' contents.
FORMAT = 1

#: Times a reader looks for the newest generation again when the one it
#: found was removed before it could open it (a writer appended meanwhile).
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


class CommitInDoubt(exception.VolumeDriverException):
    """Whether an append took place cannot be told.

    The file system failed the append's ``link`` (or the checks after
    it) and then failed to show what the generation holds. The record may
    name what the writer meant to commit: nothing it could name may be
    removed (see :meth:`FencedRecord.read`, once the file system answers).
    """


class FencedRecord(object):
    """The generations of the document at ``path``, for one writer.

    :param path: where the document lives; its files are in the same
        directory (:mod:`cinder.volume.record_files`).
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
        self.files = record_files.GenerationFiles(path)
        self.directory, self.name = self.files.directory, self.files.name

    def __repr__(self):
        return '<FencedRecord %s>' % self.path

    def generation_path(self, number):
        return self.files.generation_path(number)

    def path_of(self, generation):
        """The file *generation* was read from."""
        if generation.number == 0:
            return self.path            # from before generations
        return self.generation_path(generation.number)

    def is_generation(self, name):
        """True if the file *name* (a basename) is a generation of it."""
        return self.files.is_generation(name)

    def is_own_file(self, name):
        """True if the file *name* (a basename) is a generation or the head.

        The files that make up the record, as opposed to the files the
        document names and temporary files.
        """
        return (self.files.is_generation(name) or
                name == os.path.basename(self.files.head_path))

    def read(self, known=None):
        """The newest :class:`Generation`, or None if there is no record.

        :param known: the numbers of the generations that a listing of
            the directory the caller made shows (one listing for many
            records, :func:`generations_in`); by default the record's head
            and lookups of names find the newest generation.
        :raises VolumeDriverException: a generation cannot be parsed,
            naming its file.
        """
        for _ in range(READ_TRIES):
            number = self.files.newest(known)
            known = None
            if number is None:
                legacy = self.files.read_legacy()
                if legacy is not None:
                    return Generation(0, 0, legacy.decode('utf-8'))
                if self.files.newest() is not None:
                    continue            # the first append removed it
                return None
            try:
                content = self.files.read(number)
            except FileNotFoundError:
                continue                # removed as older: look again
            return self._parse(number, self.generation_path(number),
                               content)
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
        :raises CommitInDoubt: see :meth:`write`.
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
        :raises CommitInDoubt: see :meth:`write`.
        """
        return self._append(Generation(0, 0, None), token, text,
                            before_append)

    def write(self, token, text, base, before_append=None):
        """Append *text* as the generation after *base*.

        The outcome of the ``link`` is settled before anything else: when
        the file system reports an error (``EEXIST`` for a request it
        applied and then got again, ``EIO`` after the fact), the file at
        the target is compared with what this writer meant to link, and
        if they are the same the append took place; an error after the
        ``link`` took place (syncing the directory, removing old
        generations) is logged and the append stands.

        :param base: the :class:`Generation` this writer read (the one
            :meth:`claim` or the last :meth:`write` returned).
        :param before_append: called right before the ``link``, with the
            generation written and synced; what it raises is raised,
            with nothing changed.
        :returns: the new :class:`Generation`.
        :raises FencedOff: a newer writer appended first; nothing changed.
        :raises RecordChanged: another writer appended first.
        :raises CommitInDoubt: whether it was appended cannot be told.
        """
        self._refuse_if_newer(base, token)
        return self._append(base, token, text, before_append)

    def remove(self, token, base):
        """End the record: append a *tombstone*, an empty generation.

        :meth:`read` then returns a generation whose ``text`` is None. The
        tombstone is the one file left: it keeps fencing off every older
        writer, which could otherwise append to a directory without
        generations and bring the record back. It is some 100 bytes.

        :raises FencedOff: a newer writer appended first; nothing changed.
        """
        return self.write(token, None, base)

    def end(self, token, before_append=None):
        """End the record, whatever its newest generation holds.

        Like :meth:`remove` on the newest generation, for a writer that
        deletes what the record describes and must be able to even when
        the newest generation cannot be parsed: its token then counts as
        older than any (the ``link`` still decides between writers). A
        record that does not exist yet gets a tombstone too, as its
        first generation: a writer that would create it late (one that
        lost its lock on the way) is fenced off by it.

        :param before_append: called right before the tombstone is
            linked, when there is one to append.
        :returns: the tombstone :class:`Generation`.
        :raises FencedOff: a newer writer has written; nothing changed.
        """
        try:
            current = self.read()
        except exception.VolumeDriverException:
            number = self.files.newest()
            if number is None:
                raise
            current = Generation(number, 0, '')
        if current is None:
            current = Generation(0, 0, '')
        elif current.text is None:
            return current
        self._refuse_if_newer(current, token)
        return self._append(current, token, None, before_append)

    def ensure_newest(self, token, base):
        """Fail unless *base*, written by *token*, is the newest; reads.

        For a holder about to change something the record does not
        describe but refers to (an image in place), right before it.
        Two lookups of names, answered by the file server (no listing,
        which a client may serve from its cache): *base* is still there
        and holds *token*, and the generation after it does not exist.

        :param base: the :class:`Generation` this writer claimed or last
            wrote (None: there is no record, which fences off too).
        :raises FencedOff: another writer claimed or ended the record
            since (or there is none).
        """
        current = None
        if base is not None:
            try:
                current = self._parse(base.number,
                                      self.generation_path(base.number),
                                      self.files.read(base.number))
            except FileNotFoundError:
                current = None          # pruned: newer ones exist
            if current is not None and self.files.exists(base.number + 1):
                current = None
        if (current is None or current.token != token or
                current.source != self.source):
            newest = self.read()
            raise _refused(coordination.FencedOff, (
                '%s was last written under fencing token %s, not this '
                'writer\'s %d: another service holds the lock now' % (
                    self.path, None if newest is None else newest.token,
                    token)))

    def _refuse_if_newer(self, current, token):
        """Fail if *current* was written under a newer token of our source.

        :raises FencedOff: whose ``path`` is the record's, ``newer`` the
            token of *current* and ``token`` this writer's.
        """
        if current.token > token and current.source == self.source:
            raise _refused(coordination.FencedOff, (
                '%s was written under fencing token %d, newer than this '
                'writer\'s %d: another service holds the lock now; '
                'nothing was written' % (self.path, current.token, token)),
                path=self.path, newer=current.token, token=token)

    def _append(self, base, token, text, before_append=None):
        number = base.number + 1
        target = self.generation_path(number)
        content = json.dumps({'format': FORMAT, 'token': token,
                              'source': self.source, 'text': text,
                              'writer': uuid.uuid4().hex}).encode('utf-8')
        tmp = self.files.write_temporary(content)
        try:
            if before_append is not None:
                before_append()
            self._link(tmp, target, number, content, token)
        finally:
            try:
                record_files.unlink(tmp)
            except OSError as e:
                # Whatever the outcome, this is not what decides it.
                LOG.warning('Temporary file %s is left: %s', tmp,
                            _describe(e))
        self._refuse_if_stale(base, number, token)
        self._after_append(number)
        return Generation(number, token, text, self.source)

    def _link(self, tmp, target, number, content, token):
        """``link(2)`` *tmp* to *target*, its outcome settled.

        :raises FencedOff, RecordChanged: another writer linked first.
        :raises CommitInDoubt: the outcome cannot be told.
        :raises OSError: the link failed; nothing was appended.
        """
        try:
            os.link(tmp, target)
            return
        except OSError as e:
            error = e
        if self._holds(target, content, error):
            LOG.warning('Commit of %s: link(2) reported %s, but the file '
                        'holds this writer\'s generation: the link was made '
                        '(its reply was lost); the commit stands', target,
                        _describe(error))
            return
        if isinstance(error, FileExistsError) or (
                isinstance(error, FileNotFoundError) and
                not os.path.exists(tmp)):
            # Lost the race; or the temporary file was removed by another
            # writer while this one was stopped (a delete of the volume
            # removes leftover temporary files): it went on meanwhile.
            self._lost_race(number, target, token)
        raise error

    def _holds(self, target, content, error):
        """Whether *target* holds *content*, after *error* from link.

        :raises CommitInDoubt: *target* cannot be read.
        """
        try:
            with open(target, 'rb') as f:
                return f.read() == content
        except FileNotFoundError:
            return False
        except OSError as e:
            raise _in_doubt(target, '%s, then reading it: %s' % (
                _describe(error), _describe(e))) from None

    def _refuse_if_stale(self, base, number, token):
        """Fail if generation *number*, just linked, is not the newest.

        Its number was free only because it had been pruned: newer
        generations exist, and it would never be read. Pruning removes
        a generation only after the one below it, so the generation
        *base* is gone then; for a first generation (no base), a listing
        tells. The stale file is removed again.

        :raises FencedOff, RecordChanged: a newer writer appended.
        :raises CommitInDoubt: the file system did not tell.
        """
        try:
            if base.number > 0:
                stale = not self.files.present(base.number)
            else:
                newest = self.files.numbers(self.files.listing())
                stale = bool(newest) and newest[-1] > number
        except OSError as e:
            raise _in_doubt(self.generation_path(number), (
                'it was linked, but whether a newer generation exists '
                'cannot be told: %s' % _describe(e))) from None
        if stale:
            record_files.unlink(self.generation_path(number))
            self._lost_race(None, None, token)

    def _after_append(self, number):
        """Sync, prune and point the head; the append stands regardless."""
        steps = (('syncing the directory', self.files.sync_directory),
                 ('removing older generations',
                  lambda: self.files.prune(number)),
                 ('pointing the head at it',
                  lambda: self.files.set_hint(number)))
        for what, step in steps:
            try:
                step()
            except OSError as e:
                LOG.warning('Generation %d of %s is committed; %s failed: '
                            '%s', number, self.path, what, _describe(e))

    def _lost_race(self, number, target, token):
        theirs = None
        if target is not None:
            try:
                theirs = self._parse(number, target,
                                     self.files.read(number))
            except FileNotFoundError:
                pass                    # appended and already pruned
        if theirs is None:
            theirs = self.read()
        if theirs is None:
            raise _refused(RecordChanged, (
                'Another writer removed every generation of %s while this '
                'writer (token %d of %s) appended; nothing was written' % (
                    self.path, token, self.source)))
        self._refuse_if_newer(theirs, token)
        raise _refused(RecordChanged, (
            'Another writer (fencing token %d of %s) appended generation %d '
            'of %s first; this writer (token %d of %s) did not claim the '
            'record before writing, or locks of the two do not exclude each '
            'other' % (theirs.token, theirs.source, theirs.number, self.path,
                       token, self.source)))


def _refused(error_class, message, **details):
    """An *error_class* (FencedOff, RecordChanged), logged once here.

    At WARNING, ``Fenced off: <message>``: the one line per refused
    writer that operators and validation tools count.

    :param details: attributes of the error, for its handlers.
    """
    LOG.warning('Fenced off: %s', message)
    error = error_class(message)
    for name, value in details.items():
        setattr(error, name, value)
    return error


def _in_doubt(path, why):
    """A :class:`CommitInDoubt` for *path*, logged once here.

    At ERROR, ``Commit in doubt: <message>``.
    """
    message = ('Whether %s was committed cannot be told: %s; nothing it '
               'may name is removed' % (path, why))
    LOG.error('Commit in doubt: %s', message)
    return CommitInDoubt(message)


def _describe(error):
    """``EEXIST (File exists)`` for an OSError, its type otherwise."""
    name = errno.errorcode.get(getattr(error, 'errno', None))
    if name:
        return '%s (%s)' % (name, error.strerror)
    return type(error).__name__
