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

"""What cinder-aa-stress concludes from the lock ledger.

The ledger (``[coordination] ledger_file``, written by the ledger hook) is
audited by :func:`analyze_ledger`: it rebuilds the critical sections every
service recorded and looks for two holders inside the same lock at the
same time. See :class:`cinder.stress.ledger.Ledger` for the line format.
What is on the share is audited by :mod:`cinder.stress.share`.

A finding that means the locks failed is a :class:`Violation`; anything
else worth knowing (a section cut short by a kill, a section that lost its
lock) is reported beside them.
"""

import collections
import heapq
import itertools
import json
import math

#: A failed check: ``kind`` is a short slug, ``detail`` a sentence.
Violation = collections.namedtuple('Violation', 'kind detail')

_INFINITY = float('inf')


# Ledger ---------------------------------------------------------------


class _Section(object):
    """One critical section of one holder."""

    __slots__ = ('lock', 'holder', 'enter', 'exit', 'lost', 'killed',
                 'steps', 'declared')

    def __init__(self, lock, holder, enter):
        self.lock = lock
        self.holder = holder
        self.enter = enter
        self.exit = None
        self.lost = None
        self.killed = False
        #: (time, words) of each step the section confirmed its lock for.
        self.steps = []
        #: When its holder declared the lock lost while inside, or None.
        self.declared = None

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
    :ivar violations: list of :class:`Violation` of kind ``lock-overlap``
        (two protected sections of different holders of one lock
        overlapped) or ``stale-write`` (see below).
    :ivar overlaps_after_loss: sentences, one per overlap where at least
        one section was not protected (its lock was lost, or its process
        was killed while inside), each saying what the unprotected holder
        did after the other entered. Not violations in themselves; a
        holder that rewrote an image in place after the other entered, or
        was still rewriting one then, adds a violation of kind
        ``stale-write``. Its other steps are *fenced* (see
        :data:`FENCED_VERBS`) and only listed.
    :ivar unterminated: sentences, one per ``enter`` without ``exit``.
    :ivar malformed: number of lines that are not JSON objects with the
        fields of a ledger line (a killed process may leave a partial
        line). Not violations.
    :ivar unmatched: sentences, one per ``exit`` without an open section
        or ``lost`` without a preceding ``exit``; typically the
        counterpart of a malformed line. Not violations.
    :ivar by_lock: lock name -> its sections (``lock``, ``holder``,
        ``enter``, ``exit``, ``steps``, ``declared``), for the report of
        each partition (:mod:`cinder.stress.partitions`).
    """

    def __init__(self):
        self.sections = 0
        self.waits = []
        self.violations = []
        self.overlaps_after_loss = []
        self.unterminated = []
        self.malformed = 0
        self.unmatched = []
        self.by_lock = {}

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
    if (entry.get('event') not in ('enter', 'exit', 'lost', 'step',
                                   'declared') or
            not isinstance(entry.get('lock'), str) or
            isinstance(t, bool) or not isinstance(t, (int, float))):
        return None
    if not isinstance(entry.get('member'), str):
        return None
    if entry['event'] == 'step' and not isinstance(entry.get('step'), str):
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
            elif event == 'step':
                stack = open_sections.get(key)
                if not stack:
                    report.unmatched.append(
                        'line %d: %s (pid %s, thread %s) took step %r under '
                        'lock %s at %.6f outside a section' % (
                            number, holder[0], holder[1], holder[2],
                            entry['step'], lock, entry['t']))
                    continue
                stack[-1].steps.append((float(entry['t']), entry['step']))
            elif event == 'declared':
                # Written by the thread that found the loss, maybe just
                # after the holder left: then nothing is left to mark.
                stack = open_sections.get(key)
                if stack and stack[-1].declared is None:
                    stack[-1].declared = float(entry['t'])
                    if stack[-1].lost is None:
                        stack[-1].lost = entry.get('lost') or 'declared lost'
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
    report.by_lock = by_lock
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
            text = _overlap(lock, other, current, len(unprotected) - 1)
            stale, fenced = set(), set()
            for partner in unprotected:
                for section, entered in ((partner, current),
                                         (current, partner)):
                    if not section.protected:
                        more_stale, more_fenced = _stale_steps(section,
                                                               entered)
                        stale.update(more_stale)
                        fenced.update(more_fenced)
            if stale:
                report.violations.append(Violation(
                    'stale-write', '%s; after the other entered, the holder '
                    'whose lock was lost went on: %s' % (
                        text, '; '.join(sorted(stale)))))
                text += '; stale holder: %s' % '; '.join(sorted(stale))
            elif not fenced:
                text += '; the holder whose lock was lost changed nothing ' \
                    'after the other entered'
            if fenced:
                text += '; fenced steps: %s' % '; '.join(sorted(fenced))
            report.overlaps_after_loss.append(text)
        if current.exit > current.enter:
            heapq.heappush(heap, (current.exit, next(counter), current))
            inside[current.holder].add(current)


def _stale_steps(section, other):
    """What *section* did after *other* entered: (stale, fenced) sentences.

    A step line is written right after the section's check passed and
    before the step, so a step recorded after the other's ``enter`` ran
    after it (the check itself may have passed before, in a process
    frozen in between: the check-then-act window only fencing closes).
    An in-place ``rewrite`` recorded before but still running then (until
    the section's next step, its end, or its holder's declaration that
    the lock was lost, when ``cinder-volume`` kills the section's
    ``qemu-img``) changed shared state after it too. Such rewrites, and
    rewrites recorded after the other entered, are stale writes; steps of
    :data:`FENCED_VERBS` are fenced.
    """
    stale, fenced = [], []
    ends = [t for t, _words in section.steps[1:]] + [section.exit]
    if section.declared is not None:
        ends = [min(end, section.declared) for end in ends]
    who = '%s (pid %s) ' % (section.holder[0], section.holder[1])
    for (t, words), end in zip(section.steps, ends):
        verb = words.split(' ', 1)[0]
        if t >= other.enter:
            (fenced if verb in FENCED_VERBS else stale).append(
                '%s%s at %.6f' % (who, words, t))
        elif verb == 'rewrite' and end > other.enter:
            stale.append('%s%s from %.6f, still running at %.6f' % (
                who, words, t, other.enter))
    return stale, fenced


#: Step verbs whose effect the storage fences (see the RemoteFS driver's
#: docstring): ``commit`` appends to the info file's fenced record, which
#: refuses a holder older than the newest claim, and only a commit makes
#: the files ``create`` made, or the absence of those ``delete`` removed,
#: part of a volume. A holder whose lock was lost can take such a step
#: after another entered without harm: it lands before the other's claim
#: (which then sees it) or is refused. An in-place ``rewrite`` is not
#: fenced: it changes a file the other holder may use.
FENCED_VERBS = frozenset(['create', 'commit', 'delete'])


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
