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

"""Tests of cinder-aa-stress's own arguments."""

import io

import fixtures
from oslotest import base

from cinder.cmd import aa_stress
from cinder.stress import faults


class FaultsArgumentTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.stderr = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value

    def test_alone_every_kind_the_run_allows(self):
        args = aa_stress._parse(['--faults', '--fault-interval', '4'])
        self.assertTrue(args.faults)
        self.assertIsNone(args.fault_kinds)
        self.assertEqual(4, args.fault_interval)
        self.assertFalse(aa_stress._parse([]).faults)

    def test_kinds_named(self):
        args = aa_stress._parse(['--faults', 'stale-holder, pause'])
        self.assertEqual(['stale-holder', 'pause'], args.fault_kinds)

    def test_an_unknown_kind_is_named_with_the_known_ones(self):
        self.assertRaises(SystemExit, aa_stress._parse,
                          ['--faults', 'kill,freeze'])
        error = self.stderr.getvalue()
        self.assertIn("--faults: no fault called 'freeze' (known: %s)" %
                      ', '.join(faults.KINDS), error)

    def test_the_share_goes_through_the_file_system_for_nfs_replay(self):
        missing = self.useFixture(fixtures.MockPatch(
            'cinder.stress.faultfs.missing', return_value=[])).mock
        self.assertFalse(aa_stress._parse([]).faultfs)
        self.assertFalse(aa_stress._parse(['--faults', 'kill']).faultfs)
        self.assertTrue(aa_stress._parse(['--faults', 'kill,nfs-replay'])
                        .faultfs)
        # Every kind the run allows: nfs-replay if the machine can.
        self.assertTrue(aa_stress._parse(['--faults']).faultfs)
        missing.return_value = ['/dev/fuse (a kernel with FUSE)']
        self.assertFalse(aa_stress._parse(['--faults']).faultfs)

    def test_nfs_replay_without_the_file_system_names_what_is_missing(self):
        self.useFixture(fixtures.MockPatch(
            'cinder.stress.faultfs.missing',
            return_value=['mfusepy (pip, test-requirements.txt)']))
        self.assertRaises(SystemExit, aa_stress._parse,
                          ['--faults', 'nfs-replay'])
        self.assertIn('--faults nfs-replay needs the fault-injecting file '
                      'system, which needs mfusepy (pip, '
                      'test-requirements.txt)', self.stderr.getvalue())
