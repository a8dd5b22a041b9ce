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

"""The critical-section ledger: a lock hook of validation tools.

``cinder-aa-stress`` runs its services with ``[coordination] hooks =
ledger`` and ``[coordination] ledger_file``: every service then appends
each critical section it runs to that one file, and
:func:`cinder.stress.verdict.analyze_ledger` finds sections of one lock
name that overlapped. Production services load no hook.
"""

import json
import logging
import os
import threading
import time

from oslo_config import cfg

from cinder.coordination import exceptions
from cinder.coordination import hooks

LOG = logging.getLogger(__name__)

ledger_opts = [
    cfg.StrOpt('ledger_file',
               advanced=True,
               help='For validation tools such as cinder-aa-stress, not '
                    'for production: with [coordination] hooks = ledger, '
                    'append one JSON line to this file when this service '
                    'enters and when it leaves each critical section '
                    '(lock name, member, process, thread, monotonic time, '
                    'whether the lock was lost), so that overlapping '
                    'sections of several services on one host can be '
                    'found afterwards. Costs one write per acquire and per '
                    'release.'),
]


def list_opts():
    """The ledger hook's options, for oslo-config-generator."""
    return [('coordination', ledger_opts)]


class Ledger(object):
    """Append-only record of critical sections, for validation tools.

    Each line is a JSON object: ``t`` (``time.monotonic()``, comparable
    between processes of one host), ``event`` (``enter`` right after an
    acquire, ``exit`` right before the release, both inside the critical
    section), ``lock``, ``member``, ``pid``, ``thread``, on ``enter``
    ``waited`` (seconds the acquire took) and, on ``exit``,
    ``lost`` (the reason the lock was lost, or null). A ``step`` line,
    with ``step`` (the words of the step, such as ``"delete
    volume-1.0000000000000002"``), says that the section confirmed its
    lock right before that step, so the step ran after ``t``. A loss
    found after the ``exit`` line was written (by the release itself, or
    by the heartbeat just before it) adds another line, ``lost``: the
    section before it was not protected to its end. A ``declared`` line,
    with ``lost`` (the reason), says when this service declared the lock
    of an open section lost (the fence, the heartbeat or the backend
    found it); its ``thread`` is the holder's. One ``os.write`` of
    one line on a file opened with ``O_APPEND``, so lines of several
    processes never interleave.
    """

    def __init__(self, path, member_id, clock=time.monotonic):
        self.path = path
        self.member_id = member_id
        self._clock = clock
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                           0o600)

    def record(self, event, lock_name, lost=None, waited=None, step=None,
               thread=None):
        entry = {'t': self._clock(), 'event': event, 'lock': lock_name,
                 'member': self.member_id, 'pid': os.getpid(),
                 'thread': thread or threading.get_ident()}
        if event == 'enter':
            entry['waited'] = waited
        elif event == 'step':
            entry['step'] = step
        else:
            entry['lost'] = lost
        os.write(self._fd, (json.dumps(entry) + '\n').encode('utf-8'))

    def close(self):
        os.close(self._fd)


def size(path):
    """Bytes in the ledger at *path* now (0 before its first line)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def read_from(path, offset):
    """The ledger lines appended at *path* since byte *offset*.

    For a tool that follows a running cluster. A line still being written
    is left for the next call; a line that is not a JSON object is
    skipped (the verdict counts those).

    :returns: (entries, the offset to read from next).
    """
    try:
        with open(path, 'rb') as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    complete = data[:data.rfind(b'\n') + 1]
    entries = []
    for line in complete.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries, offset + len(complete)


class LedgerHook(hooks.LockHook):
    """The ``ledger`` lock hook: a :class:`Ledger` of every section.

    :raises ConfigurationError: ``[coordination] ledger_file`` is not set
        or cannot be opened for appending.
    """

    def __init__(self, conf, member_id, clock=time.monotonic):
        conf.register_opts(ledger_opts, group='coordination')
        path = conf.coordination.ledger_file
        if not path:
            raise exceptions.ConfigurationError(
                '[coordination] hooks = ledger needs [coordination] '
                'ledger_file')
        try:
            self.ledger = Ledger(path, member_id, clock)
        except OSError as e:
            raise exceptions.ConfigurationError(
                '[coordination] ledger_file = %s cannot be opened: %s' % (
                    path, e)) from None
        self._guard = threading.Lock()
        #: Locks whose "enter" is written and "exit" is not.
        self._open = set()
        #: Locks whose "exit" said "not lost": a loss found at release
        #: must still be written.
        self._clean = set()

    def _record(self, event, lock_name, lost=None, waited=None, step=None,
                thread=None):
        try:
            self.ledger.record(event, lock_name, lost, waited, step, thread)
        except OSError as e:
            LOG.warning('Cannot append to [coordination] ledger_file %s: %s',
                        self.ledger.path, e)

    def entered(self, lock, waited):
        with self._guard:
            self._open.add(lock)
        self._record('enter', lock.name, waited=waited)

    def checked(self, lock, step):
        with self._guard:
            if lock not in self._open:
                return
        self._record('step', lock.name, step=step)

    def lost(self, lock, reason):
        holder = lock.holder
        with self._guard:
            if lock not in self._open or holder is None:
                return
        self._record('declared', lock.name, reason, thread=holder.ident)

    def leaving(self, lock):
        # Still inside the critical section: the next holder's "enter" is
        # always later than this "exit".
        with self._guard:
            if lock not in self._open:
                return
            self._open.discard(lock)
            lost = lock.lost
            if lost is None:
                self._clean.add(lock)
        self._record('exit', lock.name, lost)

    def released(self, lock, lost):
        with self._guard:
            if lock not in self._clean:
                return
            self._clean.discard(lock)
        if lost is not None:
            # Found out after the "exit" line (at release, or by the
            # heartbeat in between): the section was not protected.
            self._record('lost', lock.name, lost)

    def close(self):
        with self._guard:
            still_open, self._open = self._open, set()
            self._clean = set()
        for lock in sorted(still_open, key=lambda lock: lock.name):
            self._record('exit', lock.name, lock.lost)
        self.ledger.close()
