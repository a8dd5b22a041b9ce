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

"""Unit tests of cinder-status upgrade check's checks."""

from unittest import mock

import fixtures
from oslo_config import cfg
from oslo_upgradecheck import upgradecheck
from oslotest import base

from cinder.cmd import status
from cinder import lock_check

Code = upgradecheck.Code


class ChecksTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        self.checks = status.Checks(self.conf)
        self.conf([])
        self.conf.set_override('state_path', self.dir)

    def set(self, group=None, **values):
        for key, value in values.items():
            self.conf.set_override(key, value, group=group)

    def test_lock_backend_levels(self):
        for level, code in ((lock_check.OK, Code.SUCCESS),
                            (lock_check.WARNING, Code.WARNING),
                            (lock_check.FAILURE, Code.FAILURE)):
            report = lock_check.BackendReport(backend='redis://:***@h')
            if level != lock_check.OK:
                report.findings.append(lock_check.Finding(level, 'why'))
            with mock.patch.object(lock_check, 'check_backend',
                                   return_value=report):
                result = self.checks._check_lock_backend()
            self.assertEqual(code, result.code)
            if level != lock_check.OK:
                self.assertEqual('%s: why' % level.upper(), result.details)

    def test_driver_without_cluster(self):
        self.assertEqual(Code.SUCCESS,
                         self.checks._check_driver_in_cluster().code)

    def test_driver_in_cluster(self):
        self.set(cluster='c1')
        for driver, code, text in (
                ('nfs', Code.SUCCESS, 'supports Active/Active'),
                ('cinder.tests.unit.fake_driver.NotActiveActiveDriver',
                 Code.FAILURE, 'does not support Active/Active'),
                ('nosuch', Code.FAILURE, 'volume_driver = nosuch')):
            self.set(volume_driver=driver)
            result = self.checks._check_driver_in_cluster()
            self.assertEqual(code, result.code, driver)
            self.assertIn(text, result.details)

    def test_lock_directory_unset(self):
        self.assertEqual(Code.SUCCESS,
                         self.checks._check_lock_directory().code)

    def test_lock_directory_shared_with_the_old_release(self):
        self.set(group='oslo_concurrency', lock_path=self.dir + '/')
        self.assertEqual(Code.SUCCESS,
                         self.checks._check_lock_directory().code)

    def test_lock_directory_differs(self):
        self.set(group='oslo_concurrency', lock_path='/var/lock/cinder')
        result = self.checks._check_lock_directory()
        self.assertEqual(Code.WARNING, result.code)
        self.assertIn('set backend_url = file:///var/lock/cinder',
                      result.details)

    def test_lock_path_with_a_lock_server(self):
        self.set(group='oslo_concurrency', lock_path='/var/lock/cinder')
        self.set(group='coordination',
                 backend_url='redis://:secret@h:6379')
        result = self.checks._check_lock_directory()
        self.assertEqual(Code.WARNING, result.code)
        self.assertIn('redis://:***@h:6379', result.details)
        self.assertNotIn('secret', result.details)
        self.assertIn('Stop every old service', result.details)
