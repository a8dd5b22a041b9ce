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

"""Unit tests of cinder.stress.verdict, on synthetic ledgers."""

import json
import os

import fixtures
from oslotest import base

from cinder.stress import verdict

A = ('host-a', 101, 1)
B = ('host-b', 202, 2)
C = ('host-c', 303, 3)


class _Ledger(object):
    """Builds a ledger file line by line."""

    def __init__(self, path):
        self.path = path
        self.lines = []

    def _add(self, t, event, lock, holder, **extra):
        member, pid, thread = holder
        entry = {'t': t, 'event': event, 'lock': lock, 'member': member,
                 'pid': pid, 'thread': thread}
        entry.update(extra)
        self.lines.append(json.dumps(entry))

    def enter(self, t, holder, lock='vol-1', waited=0.0):
        self._add(t, 'enter', lock, holder, waited=waited)

    def exit(self, t, holder, lock='vol-1', lost=None):
        self._add(t, 'exit', lock, holder, lost=lost)

    def lost(self, t, holder, lock='vol-1',
             lost='the backend no longer had it at release'):
        self._add(t, 'lost', lock, holder, lost=lost)

    def step(self, t, holder, words, lock='vol-1'):
        self._add(t, 'step', lock, holder, step=words)

    def declared(self, t, holder, lock='vol-1', lost='fenced: no renewal'):
        self._add(t, 'declared', lock, holder, lost=lost)

    def raw(self, text):
        self.lines.append(text)

    def write(self, trailing_newline=True):
        with open(self.path, 'w') as f:
            f.write('\n'.join(self.lines))
            if trailing_newline:
                f.write('\n')
        return self.path


class LedgerTestCase(base.BaseTestCase):

    def setUp(self):
        super(LedgerTestCase, self).setUp()
        directory = self.useFixture(fixtures.TempDir()).path
        self.ledger = _Ledger(os.path.join(directory, 'ledger'))

    def analyze(self, ended=None, trailing_newline=True):
        return verdict.analyze_ledger(self.ledger.write(trailing_newline),
                                      ended=ended)

    def test_sequential_sections_do_not_overlap(self):
        self.ledger.enter(1.0, A, waited=0.5)
        self.ledger.exit(2.0, A)
        self.ledger.enter(2.5, B, waited=1.25)
        self.ledger.exit(3.0, B)
        self.ledger.enter(3.0, A, waited=0.0)   # touching is not overlap
        self.ledger.exit(4.0, A)
        report = self.analyze()
        self.assertEqual(3, report.sections)
        self.assertEqual([0.5, 1.25, 0.0], report.waits)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)
        self.assertEqual([], report.unterminated)
        self.assertEqual(0, report.malformed)

    def test_overlap_of_protected_sections_is_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual(2, report.sections)
        self.assertEqual(1, len(report.violations))
        violation = report.violations[0]
        self.assertEqual('lock-overlap', violation.kind)
        for text in ('vol-1', 'host-a', 'host-b', '101', '202', '1.000000',
                     '1.500000', '2.000000', '3.000000'):
            self.assertIn(text, violation.detail)
        self.assertEqual([], report.overlaps_after_loss)

    def test_section_inside_another_is_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(2.0, B)
        self.ledger.exit(3.0, B)
        self.ledger.exit(4.0, A)
        report = self.analyze()
        self.assertEqual(['lock-overlap'],
                         [v.kind for v in report.violations])

    def test_threads_of_one_process_are_different_holders(self):
        self.ledger.enter(1.0, ('host-a', 101, 1))
        self.ledger.enter(1.5, ('host-a', 101, 2))
        self.ledger.exit(2.0, ('host-a', 101, 1))
        self.ledger.exit(3.0, ('host-a', 101, 2))
        report = self.analyze()
        self.assertEqual(1, len(report.violations))

    def test_overlap_on_different_locks_is_fine(self):
        self.ledger.enter(1.0, A, lock='vol-1')
        self.ledger.enter(1.5, B, lock='vol-2')
        self.ledger.exit(2.0, A, lock='vol-1')
        self.ledger.exit(3.0, B, lock='vol-2')
        report = self.analyze()
        self.assertEqual(2, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)

    def test_overlap_after_a_lost_exit_is_reported_not_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A, lost='session expired')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual([], report.violations)
        self.assertEqual(1, len(report.overlaps_after_loss))
        self.assertIn('session expired', report.overlaps_after_loss[0])
        self.assertIn('host-b', report.overlaps_after_loss[0])

    def test_a_stale_holder_that_changed_nothing_is_said_so(self):
        self.ledger.enter(1.0, A)
        self.ledger.step(1.1, A, 'create volume-1.0001')
        self.ledger.step(1.2, A, 'rewrite volume-1')
        self.ledger.step(1.3, A, 'commit volume-1.info')
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A, lost='session expired')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual([], report.violations)
        self.assertIn('changed nothing after the other entered',
                      report.overlaps_after_loss[0])

    def test_a_rewrite_after_the_other_entered_is_a_stale_write(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.step(1.7, A, 'rewrite volume-1.0001')
        self.ledger.exit(2.0, A, lost='lease expired')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        [violation] = report.violations
        self.assertEqual('stale-write', violation.kind)
        self.assertIn('rewrite volume-1.0001 at 1.700000', violation.detail)

    def test_fenced_steps_after_the_other_entered_are_listed_only(self):
        # The storage refuses them or orders them before the other's
        # claim: see verdict.FENCED_VERBS.
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.step(1.6, A, 'create volume-1.0002')
        self.ledger.step(1.7, A, 'commit volume-1.info')
        self.ledger.step(1.8, A, 'delete volume-1.0001')
        self.ledger.exit(2.0, A, lost='lease expired')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual([], report.violations)
        [text] = report.overlaps_after_loss
        self.assertIn('fenced steps: ', text)
        for words in ('create volume-1.0002 at 1.600000',
                      'commit volume-1.info at 1.700000',
                      'delete volume-1.0001 at 1.800000'):
            self.assertIn(words, text)
        self.assertNotIn('changed nothing', text)

    def test_an_in_place_rewrite_running_when_the_other_entered(self):
        self.ledger.enter(1.0, A)
        self.ledger.step(1.2, A, 'rewrite volume-1.0001')
        self.ledger.step(1.4, A, 'create volume-1.0002')
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A, lost='lease expired')
        self.ledger.exit(3.0, B)
        self.assertEqual([], self.analyze().violations)
        # The same rewrite, still running when B entered.
        del self.ledger.lines[2]
        report = self.analyze()
        [violation] = report.violations
        self.assertEqual('stale-write', violation.kind)
        self.assertIn('rewrite volume-1.0001 from 1.200000, still running '
                      'at 1.500000', violation.detail)
        self.assertIn('stale holder', report.overlaps_after_loss[0])

    def test_a_rewrite_ends_when_its_holder_declares_the_loss(self):
        # A cut-off service declares its lock lost before its lease can
        # end, and kills the section's qemu-img then: the rewrite was
        # over when the other entered, although the section left later.
        self.ledger.enter(1.0, A)
        self.ledger.step(1.2, A, 'rewrite volume-1.0001')
        self.ledger.declared(1.4, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A, lost='fenced: no renewal got through')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual([], report.violations)
        self.assertIn('changed nothing after the other entered',
                      report.overlaps_after_loss[0])

    def test_a_step_outside_a_section_is_unmatched(self):
        self.ledger.step(1.0, A, 'delete volume-1')
        report = self.analyze()
        self.assertEqual(1, len(report.unmatched))
        self.assertIn("'delete volume-1'", report.unmatched[0])

    def test_lost_line_after_exit_unprotects_the_section(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.lost(2.1, A)
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual([], report.violations)
        self.assertEqual(1, len(report.overlaps_after_loss))
        self.assertIn('no longer had it', report.overlaps_after_loss[0])

    def test_lost_line_applies_to_its_own_lock_only(self):
        self.ledger.enter(0.5, A, lock='vol-2')
        self.ledger.exit(0.6, A, lock='vol-2')
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.lost(2.1, A, lock='vol-2')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual(1, len(report.violations))
        self.assertEqual([], report.overlaps_after_loss)

    def test_lost_line_after_the_next_enter_does_not_apply(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.enter(4.0, A)
        self.ledger.lost(4.1, A)
        self.ledger.exit(3.0, B)
        self.ledger.exit(5.0, A)
        report = self.analyze()
        self.assertEqual(1, len(report.violations))
        self.assertEqual(1, len(report.unmatched))

    def test_unterminated_section_killed_before_next_enter_is_fine(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze(ended={101: 2.0})
        self.assertEqual(2, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)
        self.assertEqual(1, len(report.unterminated))
        self.assertIn('host-a', report.unterminated[0])
        self.assertIn('killed at 2.000000', report.unterminated[0])

    def test_unterminated_section_not_killed_is_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze(ended={999: 2.0})
        self.assertEqual(1, len(report.violations))
        self.assertIn('never left', report.violations[0].detail)
        self.assertEqual(1, len(report.unterminated))
        self.assertIn('never left', report.unterminated[0])

    def test_unterminated_section_killed_after_next_enter_is_reported(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze(ended={101: 3.5})
        self.assertEqual([], report.violations)
        self.assertEqual(1, len(report.overlaps_after_loss))
        self.assertIn('killed at 3.500000', report.overlaps_after_loss[0])

    def test_malformed_partial_last_line_is_counted(self):
        self.ledger.enter(1.0, A)
        self.ledger.exit(2.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.raw('{"t": 4.0, "event": "ex')
        report = self.analyze(ended={202: 5.0}, trailing_newline=False)
        self.assertEqual(1, report.malformed)
        self.assertEqual(2, report.sections)
        self.assertEqual(1, len(report.unterminated))
        self.assertEqual([], report.violations)

    def test_lines_that_are_not_ledger_entries_are_malformed(self):
        self.ledger.raw('[1, 2]')
        self.ledger.raw('{"t": 1.0, "event": "enter"}')
        self.ledger.raw('{"t": "x", "event": "enter", "lock": "l", '
                        '"member": "m", "pid": 1, "thread": 1}')
        self.ledger.raw('{"t": 1.0, "event": "enter", "lock": "l", '
                        '"member": ["m"], "pid": 1, "thread": 1}')
        self.ledger.enter(1.0, A)
        self.ledger.exit(2.0, A)
        report = self.analyze()
        self.assertEqual(4, report.malformed)
        self.assertEqual(1, report.sections)

    def test_exit_without_enter_is_unmatched(self):
        self.ledger.exit(2.0, A)
        report = self.analyze()
        self.assertEqual(0, report.sections)
        self.assertEqual(1, len(report.unmatched))

    def test_same_thread_reentering_sequentially_is_fine(self):
        for start in range(10):
            self.ledger.enter(float(start), A)
            self.ledger.exit(start + 0.9, A)
        self.ledger.enter(10.0, B)
        self.ledger.exit(11.0, B)
        report = self.analyze()
        self.assertEqual(11, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.unterminated)

    def test_nested_sections_of_one_holder_do_not_conflict(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, A)
        self.ledger.exit(2.0, A)
        self.ledger.exit(3.0, A)
        self.ledger.enter(2.5, B, lock='vol-2')
        self.ledger.exit(3.5, B, lock='vol-2')
        report = self.analyze()
        self.assertEqual(3, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)
        self.assertEqual([], report.unterminated)

    def test_exit_written_by_another_thread_of_the_process(self):
        # The coordinator writes the exits of held locks from the thread
        # that stops it.
        self.ledger.enter(1.0, ('host-a', 101, 1))
        self.ledger.exit(2.0, ('host-a', 101, 99),
                         lost='the coordinator was stopped')
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze()
        self.assertEqual(2, report.sections)
        self.assertEqual([], report.unterminated)
        self.assertEqual([], report.unmatched)
        self.assertEqual([], report.violations)

    def test_one_report_per_overlapping_section(self):
        # A section nobody left overlaps all later ones: one violation
        # each, not one per pair.
        self.ledger.enter(0.0, A)
        for i in range(1, 201):
            holder = B if i % 2 else C
            self.ledger.enter(float(i), holder)
            self.ledger.exit(i + 0.5, holder)
        report = self.analyze()
        self.assertEqual(201, report.sections)
        self.assertEqual(200, len(report.violations))
        for violation in report.violations:
            self.assertIn('host-a', violation.detail)

    def test_large_ledger(self):
        # 100,000 lines: 20 holders taking 50 locks in turn, and one
        # overlap hidden in the middle.
        holders = [('host-%d' % (i % 3), 1000 + i, i) for i in range(20)]
        for i in range(50000):
            holder = holders[i % len(holders)]
            lock = 'vol-%d' % (i % 50)
            self.ledger.enter(i / 100.0, holder, lock=lock, waited=0.001)
            self.ledger.exit((i + 40) / 100.0, holder, lock=lock)
        self.ledger.enter(100.0, ('intruder', 1, 1), lock='vol-7')
        self.ledger.exit(100.2, ('intruder', 1, 1), lock='vol-7')
        report = self.analyze()
        self.assertEqual(50001, report.sections)
        self.assertEqual(50001, len(report.waits))
        self.assertEqual(1, len(report.violations))
        self.assertIn('intruder', report.violations[0].detail)


class PercentilesTestCase(base.BaseTestCase):

    def test_empty(self):
        self.assertEqual({'p50': None, 'p99': None, 'max': None,
                          'count': 0}, verdict.percentiles([]))

    def test_nearest_rank(self):
        values = list(range(100, 0, -1))
        self.assertEqual({'p50': 50, 'p99': 99, 'max': 100, 'count': 100},
                         verdict.percentiles(values))
        self.assertEqual({'p50': 5, 'p99': 10, 'max': 10, 'count': 10},
                         verdict.percentiles(range(1, 11)))
        self.assertEqual({'p50': 3, 'p99': 5, 'max': 5, 'count': 5},
                         verdict.percentiles([5, 1, 4, 2, 3]))
        self.assertEqual({'p50': 0.25, 'p99': 0.25, 'max': 0.25,
                          'count': 1}, verdict.percentiles([0.25]))
