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

"""cinder-volume-demo, the README's main job, run for real."""

import io
import os
from unittest import mock

import fixtures
import testtools

from cinder.cmd import volume_demo
from cinder.stress import share


class VolumeDemoTest(testtools.TestCase):

    def run_demo(self, *args):
        work = os.path.join(self.useFixture(fixtures.TempDir()).path, 'w')
        out = io.StringIO()
        with mock.patch('sys.stdout', out), \
                mock.patch('sys.stderr', out):
            status = volume_demo.main(['--work-dir', work] + list(args))
        return status, out.getvalue(), work

    def test_default_run_ends_with_a_clean_verdict(self):
        status, out, work = self.run_demo()
        self.assertEqual(0, status, out)
        self.assertIn('verdict: OK', out)
        self.assertEqual(7, out.count('\nok '), out)
        self.assertEqual([], share.files_on_share(os.path.join(work,
                                                               'share')))

    def test_unreachable_lock_backend_fails_with_the_reason(self):
        status, out, _ = self.run_demo(
            '--backend-url', 'nosuchdriver://:pw@127.0.0.1:1')
        self.assertEqual(1, status)
        self.assertIn('cinder-volume did not start', out)
        self.assertIn('[coordination] backend_url', out)
        self.assertNotIn(':pw@', out)
