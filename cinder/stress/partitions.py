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

"""What cinder-aa-stress concludes from each partition it injected.

For every partition fault (:mod:`cinder.stress.faults`) the ledger tells
when the cut-off service declared each of its locks lost (its fence, see
:mod:`cinder.coordination.fence`) and when another service first took
one of them after the cut began. The *margin* of a lock is the second
less the first: positive when the cut-off holder stopped before anyone
else could enter. Violations:

``partition-margin``
    another service entered a lock before the cut-off one declared it
    lost (margin 0 or less);
``step-after-fence``
    a section took a step after its holder declared its lock lost;
``no-recovery``
    the cut-off service did not answer a request after the heal.

Every time is ``time.monotonic()`` of the machine, which the tool and all
the services share.
"""

from cinder.stress import verdict

Violation = verdict.Violation


def host_of(member):
    """The host of a member id ``<host>-<pid>-<random>``."""
    return member.rsplit('-', 2)[0]


class Partition(object):
    """What one partition did: the row of the report.

    :ivar kind: the fault kind (``partition``, ``partition-one-way``,
        ``partition-lock-server``).
    :ivar host: the cut-off service's host.
    :ivar start: when the cut began; ``end``: when it was healed.
    :ivar held: number of its sections open at the cut or begun during it.
    :ivar declared: when it first declared a lock lost during the cut, or
        None.
    :ivar taken: when another service first entered one of the locks it
        declared lost, after the cut began, or None.
    :ivar margin: the smallest margin of those locks, or None.
    :ivar recovered: when it answered a request again, or None.
    """

    def __init__(self, fault):
        self.kind = fault['kind']
        self.host = fault['target']
        self.start = fault['start']
        self.end = fault['end']
        self.recovered = fault.get('recovered')
        self.held = 0
        self.declared = None
        self.taken = None
        self.margin = None

    def to_dict(self):
        def since_cut(t):
            return None if t is None else round(t - self.start, 3)

        return {'kind': self.kind, 'host': self.host,
                'cut': round(self.end - self.start, 3),
                'locks_held': self.held,
                'declared_lost': since_cut(self.declared),
                'first_taken_by_another': since_cut(self.taken),
                'margin': (None if self.margin is None
                           else round(self.margin, 3)),
                'answered_after_heal': (
                    None if self.recovered is None
                    else round(self.recovered - self.end, 3))}

    def describe(self):
        """One line: what the cut-off service and the others did."""
        def at(t):
            return '+%.1f s' % (t - self.start)

        text = 'cut %.1f s, %d section(s) inside: ' % (
            self.end - self.start, self.held)
        if self.declared is None:
            text += 'no lock declared lost'
        else:
            text += 'locks declared lost at %s' % at(self.declared)
            if self.taken is None:
                text += ', none taken by another during the run'
            else:
                text += ', first taken by another at %s, margin %.1f s' % (
                    at(self.taken), self.margin)
        if self.recovered is None:
            text += '; no answer after the heal'
        else:
            text += '; answered %.1f s after the heal' % (
                self.recovered - self.end)
        return text


def judge(faults, ledger):
    """The partitions among *faults*, judged against the *ledger*.

    :param faults: fault dicts of the run model.
    :param ledger: the :class:`~cinder.stress.verdict.LedgerReport`.
    :returns: (list of :class:`Partition`, list of violations).
    """
    rows = []
    violations = []
    for fault in faults:
        if not fault['kind'].startswith('partition'):
            continue
        row = Partition(fault)
        rows.append(row)
        violations.extend(_judge_one(row, ledger.by_lock))
    return rows, violations


def _judge_one(row, by_lock):
    violations = []
    margins = []
    for lock, sections in by_lock.items():
        mine = [s for s in sections if host_of(s.holder[0]) == row.host and
                s.enter <= row.end and s.exit >= row.start]
        row.held += len(mine)
        for section in mine:
            declared = section.declared
            if declared is None or not row.start <= declared <= row.end:
                continue
            for t, words in section.steps:
                if t > declared:
                    violations.append(Violation(
                        'step-after-fence', '%s: %s took step %r at %.6f, '
                        'after it declared lock %s lost at %.6f' % (
                            row.kind, row.host, words, t, lock, declared)))
            if row.declared is None or declared < row.declared:
                row.declared = declared
            others = [s.enter for s in sections
                      if host_of(s.holder[0]) != row.host and
                      s.enter >= row.start]
            if not others:
                continue
            taken = min(others)
            if row.taken is None or taken < row.taken:
                row.taken = taken
            margins.append(taken - declared)
            if taken <= declared:
                violations.append(Violation(
                    'partition-margin', '%s: another service entered lock '
                    '%s at %.6f, before %s declared it lost at %.6f' % (
                        row.kind, lock, taken, row.host, declared)))
    if margins:
        row.margin = min(margins)
    if row.recovered is None:
        violations.append(Violation(
            'no-recovery', '%s: %s did not answer a request after the '
            'heal' % (row.kind, row.host)))
    return violations
