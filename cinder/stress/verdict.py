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

"""What cinder-aa-stress concludes from a run.

Two sources are audited:

The lock ledger (``[coordination] ledger_file``, written by the ledger hook)
    :func:`analyze_ledger` rebuilds the critical sections every service
    recorded and looks for two holders inside the same lock at the same
    time. See :class:`cinder.stress.ledger.Ledger` for the line format.

The volumes' files on the share (RemoteFS layout)
    :func:`audit_volume` compares a volume's info file, its ``qemu-img``
    backing chain and the files present on the share; :func:`read_bytes`
    reads the data patterns the workload wrote. See the docstring of
    :mod:`cinder.volume.drivers.remotefs` for the layout.

A finding that means the locks or the driver failed is a
:class:`Violation`; anything else worth knowing (a section cut short by a
kill, a section that lost its lock) is reported beside them.
"""

import collections
import heapq
import itertools
import json
import math
import os
import re
import subprocess

from cinder.volume.drivers import remotefs

#: A failed check: ``kind`` is a short slug, ``detail`` a sentence.
Violation = collections.namedtuple('Violation', 'kind detail')

#: Seconds one qemu-img or qemu-io run may take before it counts as failed.
QEMU_TIMEOUT = 600

_INFINITY = float('inf')

#: One line of ``qemu-io``'s ``read -v`` hex dump: offset, first byte.
_DUMP_LINE = re.compile(r'^([0-9a-fA-F]+):\s+([0-9a-fA-F]{2})(?:\s|$)')

#: Exit codes of ``qemu-img check``.
_CHECK_EXIT_CODES = {
    1: 'the check could not be completed',
    2: 'the image is corrupted',
    3: 'the image has leaked clusters',
    63: 'the format does not support checks',
}


# Ledger ---------------------------------------------------------------


class _Section(object):
    """One critical section of one holder."""

    __slots__ = ('lock', 'holder', 'enter', 'exit', 'lost', 'killed')

    def __init__(self, lock, holder, enter):
        self.lock = lock
        self.holder = holder
        self.enter = enter
        self.exit = None
        self.lost = None
        self.killed = False

    @property
    def protected(self):
        return self.lost is None and not self.killed

    def describe(self):
        member, pid, thread = self.holder
        if self.exit == _INFINITY:
            until = 'never left (process not reported killed)'
        elif self.killed:
            until = 'killed at %.6f' % self.exit
        else:
            until = 'left at %.6f' % self.exit
        text = '%s (pid %s, thread %s) entered at %.6f, %s' % (
            member, pid, thread, self.enter, until)
        if self.lost is not None:
            text += ', lock lost: %s' % self.lost
        return text


class LedgerReport(object):
    """What :func:`analyze_ledger` found.

    :ivar sections: number of critical sections, complete or unterminated.
    :ivar waits: the ``waited`` value of every ``enter``, in file order.
    :ivar violations: list of :class:`Violation` of kind ``lock-overlap``:
        two protected sections of different holders of one lock overlapped.
    :ivar overlaps_after_loss: sentences, one per overlap where at least
        one section was not protected (its lock was lost, or its process
        was killed while inside). Not violations.
    :ivar unterminated: sentences, one per ``enter`` without ``exit``.
    :ivar malformed: number of lines that are not JSON objects with the
        fields of a ledger line (a killed process may leave a partial
        line). Not violations.
    :ivar unmatched: sentences, one per ``exit`` without an open section
        or ``lost`` without a preceding ``exit``; typically the
        counterpart of a malformed line. Not violations.
    """

    def __init__(self):
        self.sections = 0
        self.waits = []
        self.violations = []
        self.overlaps_after_loss = []
        self.unterminated = []
        self.malformed = 0
        self.unmatched = []

    def __repr__(self):
        return ('<LedgerReport sections=%d violations=%d '
                'overlaps_after_loss=%d unterminated=%d malformed=%d '
                'unmatched=%d>' % (
                    self.sections, len(self.violations),
                    len(self.overlaps_after_loss), len(self.unterminated),
                    self.malformed, len(self.unmatched)))


def _parse_line(line):
    """The ledger entry on *line*, or None if it is not one."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    t = entry.get('t')
    if (entry.get('event') not in ('enter', 'exit', 'lost') or
            not isinstance(entry.get('lock'), str) or
            isinstance(t, bool) or not isinstance(t, (int, float))):
        return None
    if not isinstance(entry.get('member'), str):
        return None
    for key in ('pid', 'thread'):
        if isinstance(entry.get(key), bool) or not isinstance(entry.get(key),
                                                              int):
            return None
    return entry


def _read_sections(path, ended, report):
    """Match the events of the ledger at *path* into sections.

    Returns the sections by lock name. Fills in the report's counters and
    its ``waits``, ``unterminated`` and ``unmatched``.
    """
    by_lock = collections.defaultdict(list)
    # (holder, lock) -> stack of open sections (a lock is not reentrant,
    # but a stack costs nothing and keeps a lost exit from shifting every
    # later match).
    open_sections = collections.defaultdict(list)
    # (holder, lock) -> the section that holder last left, until its next
    # enter: a 'lost' line refers to it.
    last_closed = {}
    with open(path, 'rb') as f:
        for number, raw in enumerate(f, 1):
            line = raw.decode('utf-8', 'replace').strip()
            if not line:
                continue
            entry = _parse_line(line)
            if entry is None:
                report.malformed += 1
                continue
            lock = entry['lock']
            holder = (entry['member'], entry['pid'], entry['thread'])
            key = (holder, lock)
            event = entry['event']
            if event == 'enter':
                section = _Section(lock, holder, float(entry['t']))
                open_sections[key].append(section)
                by_lock[lock].append(section)
                last_closed.pop(key, None)
                waited = entry.get('waited')
                if (isinstance(waited, (int, float)) and
                        not isinstance(waited, bool)):
                    report.waits.append(float(waited))
            elif event == 'exit':
                section = _pop_open(open_sections, key)
                if section is None:
                    report.unmatched.append(
                        'line %d: %s (pid %s, thread %s) left lock %s at '
                        '%.6f without having entered it' % (
                            number, holder[0], holder[1], holder[2], lock,
                            entry['t']))
                    continue
                section.exit = float(entry['t'])
                if entry.get('lost') is not None:
                    section.lost = entry['lost']
                last_closed[key] = section
            else:
                section = last_closed.pop(key, None)
                if section is None:
                    report.unmatched.append(
                        'line %d: %s (pid %s, thread %s) reported lock %s '
                        'lost at %.6f after no section' % (
                            number, holder[0], holder[1], holder[2], lock,
                            entry['t']))
                    continue
                if section.lost is None:
                    section.lost = entry.get('lost') or 'lost at release'
    for sections in open_sections.values():
        for section in sections:
            pid = section.holder[1]
            if ended is not None and pid in ended:
                section.exit = float(ended[pid])
                section.killed = True
            else:
                section.exit = _INFINITY
            report.unterminated.append('lock %s: %s' % (
                section.lock, section.describe()))
    report.sections = sum(len(s) for s in by_lock.values())
    return by_lock


def _pop_open(open_sections, key):
    """The open section an ``exit`` for *key* closes, or None.

    Normally the holder's own; a lock may also be released by another
    thread of the same process than the one that took it (the coordinator
    does so when it stops), then the oldest open section of that process.
    """
    stack = open_sections.get(key)
    if stack:
        return stack.pop()
    (member, pid, _thread), lock = key
    candidates = [
        (stack[0].enter, other) for other, stack in open_sections.items()
        if stack and other[1] == lock and other[0][:2] == (member, pid)]
    if not candidates:
        return None
    _enter, other = min(candidates)
    return open_sections[other].pop(0)


def _sweep(lock, sections, report):
    """Report overlaps between *sections*, all of *lock*.

    Sections are visited by enter time; those still inside the lock are
    kept in a heap by exit time, grouped by holder. Every section that
    overlaps an earlier one yields at most one violation and one
    after-loss overlap, naming one partner and how many others there were,
    so the report stays linear even when a lock excludes nothing.
    """
    sections = sorted(sections, key=lambda s: (s.enter, s.exit))
    heap = []
    counter = itertools.count()
    inside = collections.defaultdict(set)   # holder -> sections inside
    for current in sections:
        while heap and heap[0][0] <= current.enter:
            _exit, _n, gone = heapq.heappop(heap)
            inside[gone.holder].discard(gone)
            if not inside[gone.holder]:
                del inside[gone.holder]
        protected = []
        unprotected = []
        for holder, others in inside.items():
            if holder == current.holder:
                continue
            for other in others:
                if not other.enter < current.exit:
                    continue
                if current.protected and other.protected:
                    protected.append(other)
                else:
                    unprotected.append(other)
        if protected:
            other = min(protected, key=lambda s: s.enter)
            report.violations.append(Violation('lock-overlap', _overlap(
                lock, other, current, len(protected) - 1)))
        if unprotected:
            other = min(unprotected, key=lambda s: s.enter)
            report.overlaps_after_loss.append(_overlap(
                lock, other, current, len(unprotected) - 1))
        if current.exit > current.enter:
            heapq.heappush(heap, (current.exit, next(counter), current))
            inside[current.holder].add(current)


def _overlap(lock, first, second, more):
    text = 'lock %s held by two holders at once: %s; %s' % (
        lock, first.describe(), second.describe())
    if more:
        text += ' (and %d more section(s) overlapping the second)' % more
    return text


def analyze_ledger(path, ended=None):
    """Rebuild the critical sections of the ledger at *path*; find overlaps.

    A section is one holder's (member, pid, thread) ``enter`` matched to
    its next ``exit`` of the same lock. It is *protected* unless its exit
    says the lock was lost, a ``lost`` line of the same holder and lock
    follows its exit (before that holder enters the lock again), or its
    process was killed inside it. Two sections overlap when each entered
    before the other left.

    :param ended: optional dict of pid to the ``time.monotonic()`` at which
        that process was killed. A section its process never left ends at
        that time; if the pid is not in *ended*, the section never ends
        (the process went on inside the lock), so it overlaps every later
        section of the lock.
    :returns: a :class:`LedgerReport`.
    :raises OSError: the ledger cannot be read.
    """
    report = LedgerReport()
    by_lock = _read_sections(path, ended, report)
    for lock in sorted(by_lock):
        _sweep(lock, by_lock[lock], report)
    return report


def percentiles(values):
    """p50, p99 (nearest rank), max and count of *values*.

    For no values the statistics are None and the count 0.
    """
    ordered = sorted(values)
    count = len(ordered)
    if not count:
        return {'p50': None, 'p99': None, 'max': None, 'count': 0}

    def rank(percent):
        return ordered[max(1, int(math.ceil(percent / 100.0 * count))) - 1]

    return {'p50': rank(50), 'p99': rank(99), 'max': ordered[-1],
            'count': count}


# Volumes on a RemoteFS share ---------------------------------------------


def _volume_name(volume_id):
    return 'volume-%s' % volume_id


def _files_of(share_dir, name):
    """Names of every file of volume *name* in *share_dir*, sorted."""
    return sorted(entry for entry in os.listdir(share_dir)
                  if entry == name or entry.startswith(name + '.'))


def _is_info_or_temp(name, entry):
    """Whether *entry* is the info file of *name* or a temporary copy."""
    info = name + '.info'
    return entry == info or entry.startswith(info + '.tmp-')


def _format_of(name, info, entry):
    return info.base_format if entry == name else 'qcow2'


def _load_info(share_dir, name):
    """(VolumeInfo, None) or (None, why it cannot be used)."""
    path = os.path.join(share_dir, name + '.info')
    try:
        with open(path) as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return None, 'info file %s cannot be read: %s' % (path, e)
    try:
        return remotefs.VolumeInfo.from_json(text, path, name, None), None
    except Exception as e:
        return None, str(e)


def active_image(share_dir, volume_id):
    """(path, format) of the volume's active image, or None.

    None when the info file cannot be read or is invalid.
    """
    name = _volume_name(volume_id)
    info, _why = _load_info(share_dir, name)
    if info is None:
        return None
    return (os.path.join(share_dir, info.active),
            _format_of(name, info, info.active))


def snapshot_image(share_dir, volume_id, snapshot_id):
    """(path, format) of the file holding a snapshot's image, or None.

    None when the info file cannot be read or does not list the snapshot.
    """
    name = _volume_name(volume_id)
    info, _why = _load_info(share_dir, name)
    if info is None or snapshot_id not in info.snapshots:
        return None
    entry = info.snapshots[snapshot_id]
    return os.path.join(share_dir, entry), _format_of(name, info, entry)


def _run(cmd):
    """Run *cmd*; return (exit code, stdout, stderr), or raise OSError."""
    env = dict(os.environ)
    env['LC_ALL'] = 'C'
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env,
                              timeout=QEMU_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return None, '', 'timed out after %d s' % QEMU_TIMEOUT
    return (done.returncode, done.stdout.decode('utf-8', 'replace'),
            done.stderr.decode('utf-8', 'replace'))


def _read_chain(share_dir, name, info):
    """The volume's chain as (file names, None) or (None, problem)."""
    active = os.path.join(share_dir, info.active)
    cmd = ['qemu-img', 'info', '--force-share', '--backing-chain',
           '--output=json', '-f', _format_of(name, info, info.active),
           active]
    try:
        code, out, err = _run(cmd)
    except OSError as e:
        return None, 'cannot run qemu-img: %s' % e
    if code != 0:
        return None, '%s failed (exit %s): %s' % (
            ' '.join(cmd), code, (err or out).strip())
    try:
        chain = json.loads(out)
    except ValueError as e:
        return None, 'qemu-img info printed no valid JSON (%s): %r' % (
            e, out[:200])
    if not isinstance(chain, list) or not chain:
        return None, 'qemu-img info printed no chain: %r' % out[:200]
    share = os.path.abspath(share_dir)
    names = []
    for depth, image in enumerate(chain):
        filename = image.get('filename') if isinstance(image, dict) \
            else None
        if not isinstance(filename, str):
            return None, 'qemu-img info gave no file name at depth %d' % (
                depth)
        where = os.path.abspath(os.path.join(share_dir, filename))
        entry = os.path.basename(where)
        if (os.path.dirname(where) != share or
                not remotefs.is_volume_file_name(name, entry)):
            return None, 'chain of %s reaches %s, not a file of the volume ' \
                'on the share' % (info.active, filename)
        expected = _format_of(name, info, entry)
        if image.get('format') != expected:
            return None, '%s is opened as %s, not %s' % (
                entry, image.get('format'), expected)
        names.append(entry)
    for depth, image in enumerate(chain):
        entry = names[depth]
        backing = image.get('backing-filename')
        if depth == len(chain) - 1:
            if backing is not None:
                return None, 'backing file %s of %s is missing from the ' \
                    'chain' % (backing, entry)
            continue
        if backing is None:
            return None, '%s has no backing file but the chain goes on' % (
                entry)
        if '/' in backing:
            return None, '%s names its backing file by a path (%s), not ' \
                'a bare file name' % (entry, backing)
        expected = _format_of(name, info, names[depth + 1])
        recorded = image.get('backing-filename-format')
        if recorded != expected:
            return None, '%s records backing format %s for %s, not %s' % (
                entry, recorded, backing, expected)
    return names, None


def _check_image(path):
    """(None, None) if ``qemu-img check`` passes on qcow2 *path*.

    Otherwise (kind, why): ``qemu-img-leaks`` for leaked clusters only
    (exit 3: space lost, no data harmed; what a killed ``qemu-img`` may
    leave), ``qemu-img-check`` for anything else.
    """
    cmd = ['qemu-img', 'check', '--force-share', '-f', 'qcow2', path]
    try:
        code, out, err = _run(cmd)
    except OSError as e:
        return 'qemu-img-check', 'cannot run qemu-img: %s' % e
    if code == 0:
        return None, None
    kind = 'qemu-img-leaks' if code == 3 else 'qemu-img-check'
    return kind, '%s: exit %s (%s): %s' % (
        ' '.join(cmd), code, _CHECK_EXIT_CODES.get(code, 'failed'),
        ' '.join((out + err).split())[:500])


def audit_volume(share_dir, volume_id, expected_snapshots=None,
                 exists=True):
    """Check the files of volume *volume_id* in *share_dir*.

    :param expected_snapshots: ids of the snapshots the volume must have,
        or None not to compare.
    :param exists: False if the volume was deleted: then the only check is
        that none of its files is left.
    :returns: a list of :class:`Violation`, empty when all is consistent.
    """
    name = _volume_name(volume_id)
    files = _files_of(share_dir, name)
    if not exists:
        if files:
            return [Violation('leftover-files', 'deleted volume %s left %s '
                              'in %s' % (volume_id, ', '.join(files),
                                         share_dir))]
        return []
    info, why = _load_info(share_dir, name)
    if info is None:
        return [Violation('info-unreadable', 'volume %s: %s' % (volume_id,
                                                                why))]
    problems = []
    if expected_snapshots is not None:
        expected = set(expected_snapshots)
        recorded = set(info.snapshots)
        for snapshot_id in sorted(expected - recorded):
            problems.append(Violation(
                'snapshot-missing', 'volume %s: snapshot %s is not in the '
                'info file' % (volume_id, snapshot_id)))
        for snapshot_id in sorted(recorded - expected):
            problems.append(Violation(
                'snapshot-unexpected', 'volume %s: info file lists '
                'snapshot %s (file %s), which should not exist' % (
                    volume_id, snapshot_id, info.snapshots[snapshot_id])))
    chain, why = _read_chain(share_dir, name, info)
    if chain is None:
        problems.append(Violation('chain-broken', 'volume %s: %s' % (
            volume_id, why)))
        return problems
    for entry in chain:
        if _format_of(name, info, entry) != 'qcow2':
            continue
        kind, why = _check_image(os.path.join(share_dir, entry))
        if why is not None:
            problems.append(Violation(kind, 'volume %s: %s' % (
                volume_id, why)))
    for snapshot_id, entry in sorted(info.snapshots.items()):
        if entry not in chain:
            problems.append(Violation(
                'snapshot-off-chain', 'volume %s: file %s of snapshot %s is '
                'not in the chain %s' % (volume_id, entry, snapshot_id,
                                         ' <- '.join(reversed(chain)))))
    images = set(entry for entry in files
                 if not _is_info_or_temp(name, entry))
    for entry in sorted(images - set(chain)):
        problems.append(Violation(
            'stray-file', 'volume %s: %s is on the share but not in the '
            'chain %s' % (volume_id, entry, ' <- '.join(reversed(chain)))))
    for entry in sorted(set(chain) - images):
        problems.append(Violation(
            'chain-file-missing', 'volume %s: chain file %s is not on the '
            'share' % (volume_id, entry)))
    return problems


def read_bytes(path, fmt, offsets):
    """The byte at each of *offsets* of the image at *path*, or None.

    The image is read as *fmt* through its backing chain, by one
    ``qemu-io`` run. An offset that cannot be read (past the end, I/O
    error, the image cannot be opened) gives None.
    """
    offsets = [int(offset) for offset in offsets]
    if not offsets:
        return []
    cmd = ['qemu-io', '-r', '-U', '-f', fmt]
    for offset in sorted(set(offsets)):
        cmd += ['-c', 'read -v %d 1' % offset]
    cmd.append(path)
    try:
        _code, out, _err = _run(cmd)
    except OSError:
        return [None] * len(offsets)
    found = {}
    for line in out.splitlines():
        match = _DUMP_LINE.match(line)
        if match:
            found[int(match.group(1), 16)] = int(match.group(2), 16)
    return [found.get(offset) for offset in offsets]
