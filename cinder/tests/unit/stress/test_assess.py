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

"""Unit tests of cinder.stress.assess, with the share mocked.

What is on a real share is covered by test_share (images made with
qemu-img) and by the planted-damage functional tests.
"""

import os
from unittest import mock

import fixtures
from oslotest import base

from cinder.stress import assess
from cinder.stress import qemu
from cinder.stress import share
from cinder.stress import verdict
from cinder.tests.unit.stress import test_states
from cinder.volume.drivers import remotefs

V = '11111111-2222-3333-4444-555555555555'
NAME = 'volume-' + V
GiB = 1024 ** 3


class AssessTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.r = test_states._Requests()
        self.r.add('create_volume', volume=V, size=1)
        self.r.add('write_data', volume=V, slot=0, pattern=7)
        mock.patch.object(verdict, 'analyze_ledger',
                          return_value=verdict.LedgerReport()).start()
        self.files = [NAME, NAME + '.info']
        self.others = []
        self.info = remotefs.VolumeInfo(NAME, 'raw')
        self.chain = [NAME]
        self.problems = []
        self.slots = {NAME: [7, 0]}
        mock.patch.object(share, 'list_share', side_effect=lambda d: (
            {V: self.files} if self.files else {}, self.others)).start()
        mock.patch.object(share, 'examine_volume',
                          side_effect=self.examine).start()
        mock.patch.object(qemu, 'read_slots', side_effect=lambda p, f, o,
                          n: self.slots[p.rsplit('/', 1)[1]]).start()
        self.addCleanup(mock.patch.stopall)

    def examine(self, share_dir, volume_id):
        found = share.Examination(list(self.files))
        if self.files:
            found.info, found.chain, found.size = self.info, self.chain, GiB
        found.problems = list(self.problems)
        return found

    def assess(self, faults=(), **fields):
        model = {'faults': list(faults), 'requests': self.r.requests,
                 'slots': {'offsets': [0, 128], 'length': 64},
                 'ledger': 'ledger', 'killed': {}, 'share': 'share'}
        model.update(fields)
        report, _states = assess.assess('/run', model)
        return report

    def kinds(self, report):
        return sorted(v.kind for v in report.violations)

    def test_a_volume_as_expected(self):
        report = self.assess()
        self.assertEqual([], self.kinds(report))
        self.assertEqual(1, report.checked['volumes'])
        self.assertEqual(2, report.checked['slots'])

    def test_failures_need_a_reason_and_an_excuse(self):
        self.r.add('revert_to_snapshot', 'InvalidSnapshot', volume=V,
                   snapshot='s')
        self.r.add('extend_volume', 'VolumeDriverException', volume=V,
                   size=2)
        bad = self.r.add('attach_volume', 'LockLost', volume=V)
        bad['error'] = ''
        self.assertEqual(['failure-without-reason', 'unexpected-failure'],
                         self.kinds(self.assess()))

    def test_a_foreign_byte_is_a_data_mismatch(self):
        self.slots[NAME] = [(0x07 ^ 0xff, 7, 7), 0]
        self.assertEqual(['data-mismatch'], self.kinds(self.assess()))

    def test_a_slot_mixing_patterns_of_the_volume_is_torn(self):
        self.slots[NAME] = [(0, 7, 7), 0]
        self.assertEqual(['torn-operation'], self.kinds(self.assess()))

    def test_any_possible_state_will_do_but_not_a_mix_of_them(self):
        self.r.add('create_snapshot', volume=V, snapshot='s')
        self.r.add('write_data', volume=V, slot=0, pattern=8)
        self.r.add('write_data', volume=V, slot=1, pattern=9)
        self.r.add('revert_to_snapshot', 'ConnectionClosed', volume=V,
                   snapshot='s')
        self.info.snapshots['s'] = NAME
        self.info.active = NAME + '.0000000000000001'
        self.chain = [self.info.active, NAME]
        self.files.append(self.info.active)
        self.slots[NAME] = [7, 0]
        self.slots[self.info.active] = [7, 0]
        kill = {'kind': 'kill', 'host': 'h1', 'start': 0, 'end': 100}
        report = self.assess([kill])
        self.assertEqual([], self.kinds(report))
        self.assertEqual(1, report.checked['multi_state'])
        self.slots[self.info.active] = [8, 9]
        self.assertEqual([], self.kinds(self.assess([kill])))
        self.slots[self.info.active] = [7, 9]
        self.assertEqual(['torn-operation'], self.kinds(self.assess([kill])))

    def test_snapshot_data_is_checked(self):
        self.r.add('create_snapshot', volume=V, snapshot='s')
        self.info.snapshots['s'] = NAME
        self.info.active = NAME + '.0000000000000001'
        self.chain = [self.info.active, NAME]
        self.files.append(self.info.active)
        self.slots[self.info.active] = [7, 0]
        self.slots[NAME] = [7, 3]
        report = self.assess()
        self.assertEqual(['snapshot-data-mismatch'], self.kinds(report))
        self.assertEqual(1, report.checked['snapshots'])

    def test_strays_are_leftovers_only_of_interrupted_requests(self):
        self.problems = [verdict.Violation('stray-file', 'x')]
        self.assertEqual(['stray-file'], self.kinds(self.assess()))
        n = self.r.add('create_snapshot', 'LockLost', volume=V,
                       snapshot='s')['n']
        report = self.assess([{'kind': 'pause', 'host': None, 'start': 0,
                               'end': 100}])
        self.assertEqual([], self.kinds(report))
        self.assertEqual(1, report.checked['leftovers'])
        self.assertIn('create_snapshot request %d' % n, report.leftovers[0])

    def test_files_nobody_made_are_violations(self):
        self.others = ['notes.txt']
        self.r.requests[:] = []
        self.assertEqual(['stray-file', 'stray-volume'],
                         self.kinds(self.assess()))

    def test_presence_must_match(self):
        self.r.add('delete_volume', volume=V)
        self.assertEqual(['leftover-files'], self.kinds(self.assess()))
        self.r.requests.pop()
        self.files = []
        self.assertEqual(['volume-missing'], self.kinds(self.assess()))

    def test_size_is_checked(self):
        self.r.add('extend_volume', volume=V, size=2)
        self.assertEqual(['size-mismatch'], self.kinds(self.assess()))

    def test_scope_own_judges_only_the_runs_volumes(self):
        operator = '99999999-2222-3333-4444-555555555555'
        self.others = ['notes.txt']
        share.list_share.side_effect = lambda d: (
            {V: self.files, operator: ['volume-' + operator]}, self.others)
        self.assertEqual(['stray-file', 'stray-volume'],
                         self.kinds(self.assess()))
        share.examine_volume.reset_mock()
        report = self.assess(scope='own')
        self.assertEqual([], self.kinds(report))
        self.assertEqual(1, report.checked['volumes'])
        self.assertEqual([mock.call('/run/share', V)],
                         share.examine_volume.call_args_list)

    def test_without_a_ledger_the_share_alone_is_judged(self):
        verdict.analyze_ledger.reset_mock()
        report = self.assess(ledger=None)
        verdict.analyze_ledger.assert_not_called()
        self.assertTrue(report.ok)
        self.assertIsNone(report.to_dict()['critical_sections'])
        self.assertEqual([assess.NO_LEDGER], report.notes)
        self.assertEqual(0, report.to_dict()['lock_waits']['count'])
        self.assertEqual(0, self.assess().to_dict()['critical_sections'])


class OperatorShareTestCase(base.BaseTestCase):
    """A deployed cluster's share, with the operator's files on it."""

    def setUp(self):
        super().setUp()
        self.share = self.useFixture(fixtures.TempDir()).path
        self.files = {'notes.txt': b'ours',
                      'volume-' + V: b'not an image',
                      'volume-%s.info' % V: b'{not json'}
        for name, data in self.files.items():
            with open(os.path.join(self.share, name), 'wb') as f:
                f.write(data)
        self.before = self.snapshot()

    def snapshot(self):
        found = {}
        for name in sorted(os.listdir(self.share)):
            path = os.path.join(self.share, name)
            with open(path, 'rb') as f:
                found[name] = (f.read(), os.stat(path).st_mtime_ns)
        return found

    def assess(self, **fields):
        model = {'faults': [], 'requests': [], 'ledger': None,
                 'slots': {'offsets': [0], 'length': 64}, 'killed': {},
                 'share': self.share}
        model.update(fields)
        return assess.assess('/nowhere', model)[0]

    def test_operator_files_are_neither_judged_nor_touched(self):
        report = self.assess(scope='own')
        self.assertEqual([], report.violations)
        self.assertEqual(self.before, self.snapshot())
        report = self.assess()
        self.assertEqual(['stray-file', 'stray-volume'],
                         sorted(v.kind for v in report.violations))
        self.assertEqual(self.before, self.snapshot())
