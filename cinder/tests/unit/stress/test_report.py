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

"""Unit tests of cinder.stress.report: what a run without a ledger says."""

import io
import json

from oslotest import base

from cinder.stress import assess
from cinder.stress import report as report_mod
from cinder.stress import verdict

MODEL = {'services': ['a', 'b'], 'backend': 'redis://r:6379', 'seed': 1}


class ReportTestCase(base.BaseTestCase):

    def output(self, report, as_json):
        out = io.StringIO()
        report_mod.output(report, MODEL, 1.0, as_json, out,
                          {'removed': ['v1']})
        return out.getvalue()

    def test_without_a_ledger_no_critical_section_is_claimed(self):
        report = assess.Report()
        report.notes.append(assess.NO_LEDGER)
        text = self.output(report, False)
        self.assertIn('critical sections: not judged; no ledger: the locks '
                      'were judged by the share alone', text)
        self.assertIn('verdict: OK: nothing lost (the locks judged by the '
                      'share alone)', text)
        data = json.loads(self.output(report, True))
        self.assertIsNone(data['critical_sections'])
        self.assertEqual(['v1'], data['removed'])
        self.assertEqual([assess.NO_LEDGER], data['notes'])

    def test_with_a_ledger_its_sections_are_counted(self):
        report = assess.Report()
        report.ledger = verdict.LedgerReport()
        report.ledger.sections = 12
        text = self.output(report, False)
        self.assertIn('critical sections: 12; overlaps after a lost lock: '
                      '0', text)
        self.assertIn('verdict: OK: nothing lost, no critical section '
                      'overlapped', text)
        data = json.loads(self.output(report, True))
        self.assertEqual(12, data['critical_sections'])

    def test_the_fenced_off_steps_are_told(self):
        report = assess.Report()
        out = io.StringIO()
        report_mod.output(report, MODEL, 1.0, False, out, {'fenced_off': 3})
        self.assertIn('fenced off by the share: 3 step(s) of holders whose '
                      'lock was lost', out.getvalue())
        self.assertNotIn('fenced off', self.output(report, False))
        out = io.StringIO()
        report_mod.output(report, MODEL, 1.0, True, out, {'fenced_off': 3})
        self.assertEqual(3, json.loads(out.getvalue())['fenced_off'])

    def test_the_commits_the_services_settled_are_told(self):
        report = assess.Report()
        counts = {'fenced_off': 0, 'ambiguous_commits': 2,
                  'commits_in_doubt': 1}
        out = io.StringIO()
        report_mod.output(report, MODEL, 1.0, False, out, counts)
        self.assertIn('ambiguous commits resolved: 2 (a link reported an '
                      'error but was made: the commit stood); commits in '
                      'doubt: 1\n', out.getvalue())
        self.assertNotIn('ambiguous', self.output(report, False))
        out = io.StringIO()
        report_mod.output(report, MODEL, 1.0, True, out, counts)
        data = json.loads(out.getvalue())
        self.assertEqual((2, 1), (data['ambiguous_commits'],
                                  data['commits_in_doubt']))
