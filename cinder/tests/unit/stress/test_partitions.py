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

"""Unit tests of cinder.stress.partitions, on synthetic ledgers."""

import os

import fixtures
from oslotest import base

from cinder.stress import partitions
from cinder.stress import verdict
from cinder.tests.unit.stress import test_verdict

# Members as the coordinator names them: <host>-<pid>-<random>.
CUT = ('host-2-202-aaaa0000', 202, 7)
OTHER = ('host-1-101-bbbb1111', 101, 8)


def _fault(kind='partition', start=10.0, end=19.0, recovered=20.5):
    return {'kind': kind, 'host': None, 'target': 'host-2', 'start': start,
            'end': end, 'note': '', 'recovered': recovered}


class PartitionTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.ledger = test_verdict._Ledger(os.path.join(tmp, 'ledger'))

    def judge(self, *faults):
        self.ledger.write()
        report = verdict.analyze_ledger(self.ledger.path)
        return partitions.judge(list(faults) or [_fault()], report)

    def test_a_fenced_holder_before_the_next_is_a_positive_margin(self):
        self.ledger.enter(9.0, CUT)
        self.ledger.step(9.5, CUT, 'rewrite volume-1')
        self.ledger.declared(12.0, CUT)
        self.ledger.exit(12.1, CUT, lost='fenced: no renewal')
        self.ledger.enter(16.5, OTHER)
        self.ledger.exit(17.0, OTHER)
        [row], violations = self.judge()
        self.assertEqual([], violations)
        self.assertEqual((1, 12.0, 16.5), (row.held, row.declared, row.taken))
        self.assertAlmostEqual(4.5, row.margin)
        self.assertEqual(
            'cut 9.0 s, 1 section(s) inside: locks declared lost at +2.0 s, '
            'first taken by another at +6.5 s, margin 4.5 s; answered 1.5 s '
            'after the heal', row.describe())
        self.assertEqual({'kind': 'partition', 'host': 'host-2', 'cut': 9.0,
                          'locks_held': 1, 'declared_lost': 2.0,
                          'first_taken_by_another': 6.5, 'margin': 4.5,
                          'answered_after_heal': 1.5}, row.to_dict())

    def test_another_entering_first_is_a_violation(self):
        self.ledger.enter(9.0, CUT)
        self.ledger.enter(15.0, OTHER)
        self.ledger.declared(16.0, CUT)
        self.ledger.exit(16.1, CUT, lost='fenced: no renewal')
        self.ledger.exit(17.0, OTHER)
        [row], violations = self.judge()
        self.assertIn('partition-margin', [v.kind for v in violations])
        self.assertAlmostEqual(-1.0, row.margin)

    def test_a_step_after_the_declaration_is_a_violation(self):
        self.ledger.enter(9.0, CUT)
        self.ledger.declared(12.0, CUT)
        self.ledger.step(12.5, CUT, 'delete volume-1')
        self.ledger.exit(12.6, CUT, lost='fenced: no renewal')
        _rows, violations = self.judge()
        self.assertEqual(['step-after-fence'], [v.kind for v in violations])
        self.assertIn("took step 'delete volume-1' at 12.500000",
                      violations[0].detail)

    def test_no_answer_after_the_heal_is_a_violation(self):
        [row], violations = self.judge(_fault(recovered=None))
        self.assertEqual(['no-recovery'], [v.kind for v in violations])
        self.assertIn('no lock declared lost; no answer after the heal',
                      row.describe())

    def test_locks_the_server_kept_have_no_margin(self):
        # One way: the server still heard the cut-off service.
        self.ledger.enter(9.0, CUT)
        self.ledger.declared(12.0, CUT)
        self.ledger.exit(12.1, CUT, lost='fenced: no renewal')
        [row], violations = self.judge(_fault('partition-one-way'))
        self.assertEqual([], violations)
        self.assertIsNone(row.margin)
        self.assertIn('none taken by another', row.describe())

    def test_other_faults_and_earlier_sections_are_left_out(self):
        self.ledger.enter(1.0, CUT)
        self.ledger.declared(2.0, CUT)
        self.ledger.exit(2.1, CUT, lost='the coordinator was stopped')
        self.ledger.enter(3.0, OTHER)
        self.ledger.exit(4.0, OTHER)
        kill = dict(_fault(), kind='kill')
        [row], violations = self.judge(kill, _fault())
        self.assertEqual([], violations)
        self.assertEqual((0, None), (row.held, row.declared))

    def test_the_host_of_a_member_id(self):
        self.assertEqual('host-12',
                         partitions.host_of('host-12-4242-1a2b3c4d'))
