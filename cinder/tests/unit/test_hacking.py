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

"""Unit tests of the project's local hacking checks."""

import os
import subprocess
import sys

import fixtures
from oslotest import base

from cinder.tests.hacking import checks

VOLUME = 'cinder/volume/drivers/acme.py'
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))


def c310(line, filename=VOLUME, noqa=False):
    return list(checks.no_host_local_locks(line, filename, noqa))


class NoHostLocalLocksTestCase(base.BaseTestCase):

    def test_legacy_patterns_are_rejected(self):
        for line in ('from oslo_concurrency import lockutils',
                     'from oslo_concurrency import processutils, lockutils',
                     'import oslo_concurrency.lockutils as lu',
                     'from oslo_concurrency.lockutils import synchronized',
                     '@lockutils.synchronized("x", external=True)',
                     'with lockutils.lock(name):',
                     '@utils.synchronized("acme-host", external=True)',
                     'lock = make_lock(name, external = True)'):
            found = c310(line)
            self.assertEqual(1, len(found), line)
            self.assertIn('C310', found[0][1])
            self.assertIn('cinder.coordination', found[0][1])

    def test_coordination_and_other_code_pass(self):
        for line in ('from oslo_concurrency import processutils',
                     "@coordination.synchronized('{volume.id}')",
                     'external = False',
                     'self.external_ip = True',
                     'mylockutils_helper()'):
            self.assertEqual([], c310(line), line)

    def test_only_the_volume_service_is_checked(self):
        line = 'from oslo_concurrency import lockutils'
        self.assertEqual([], c310(line, 'cinder/cmd/lock_demo.py'))
        self.assertEqual([], c310(line, './cinder/tests/unit/test_x.py'))
        self.assertEqual(1, len(c310(line, './cinder/volume/manager.py')))
        self.assertEqual(1, len(c310(line, '/src/cinder/volume/x/y.py')))

    def test_noqa_is_honoured(self):
        self.assertEqual([], c310('from oslo_concurrency import lockutils',
                                  noqa=True))


class Pep8RunsTheCheckTestCase(base.BaseTestCase):

    def test_flake8_with_the_project_config_reports_c310(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        bad = os.path.join(tmp, 'cinder', 'volume', 'bad.py')
        os.makedirs(os.path.dirname(bad))
        with open(bad, 'w') as f:
            f.write('from oslo_concurrency import lockutils  # noqa: F401'
                    '\n')
        result = subprocess.run(
            [sys.executable, '-m', 'flake8', '--config',
             os.path.join(TOP, 'tox.ini'), bad],
            cwd=TOP, capture_output=True, text=True)
        self.assertIn('C310', result.stdout, result.stderr)
