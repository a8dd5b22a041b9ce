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

"""Tests of where the stress and demo tools take a backend URL from."""

import io
import os
from unittest import mock

import fixtures
from oslotest import base

from cinder.cmd import aa_stress
from cinder.cmd import url_args
from cinder.cmd import volume_demo

URL = 'redis://:s3cret@h:6379'


class UrlArgsTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(url_args.ENV))
        self.stderr = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value
        self.dir = self.useFixture(fixtures.TempDir()).path

    def url_file(self, text):
        path = os.path.join(self.dir, 'url')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_url_from_a_file_leaves_no_password_in_the_arguments(self):
        for parse in (aa_stress._parse, volume_demo._parse):
            args = parse(['--backend-url-file', self.url_file(URL + '\n')])
            self.assertEqual(URL, args.backend_url)
        self.assertEqual('', self.stderr.getvalue())

    def test_url_from_the_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(url_args.ENV, URL))
        self.assertEqual(URL, aa_stress._parse([]).backend_url)
        self.assertEqual(URL, volume_demo._parse([]).backend_url)

    def test_other_backend_options_win_over_the_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(url_args.ENV, URL))
        self.assertIsNone(aa_stress._parse(['--local-locks']).backend_url)
        self.assertIsNone(
            aa_stress._parse(['--lock-server', 'redis']).backend_url)

    def test_a_password_on_the_command_line_is_warned_about(self):
        args = aa_stress._parse(['--backend-url', URL])
        self.assertEqual(URL, args.backend_url)
        self.assertIn('WARNING: the password of --backend-url is visible '
                      'to other users', self.stderr.getvalue())
        self.assertNotIn('s3cret', self.stderr.getvalue())
        self.stderr.truncate(0)
        aa_stress._parse(['--backend-url', 'zookeeper://h:2181'])
        self.assertEqual('', self.stderr.getvalue())

    def test_unreadable_or_empty_file_is_a_usage_error(self):
        for path, why in ((os.path.join(self.dir, 'missing'),
                           'cannot be read: No such file'),
                          (self.url_file('\n'), 'holds no URL')):
            with mock.patch('sys.exit', side_effect=SystemExit(2)):
                self.assertRaises(SystemExit, aa_stress._parse,
                                  ['--backend-url-file', path])
            self.assertIn('--backend-url-file %s %s' % (path, why),
                          self.stderr.getvalue())

    def test_url_and_file_exclude_each_other(self):
        self.assertRaises(SystemExit, aa_stress._parse,
                          ['--backend-url', URL, '--backend-url-file',
                           self.url_file(URL)])

    def test_transport_url_from_the_environment_or_warned_about(self):
        self.useFixture(fixtures.EnvironmentVariable(
            url_args.TRANSPORT_ENV, 'rabbit://u:bus-pw@b:5672/'))
        for parse in (aa_stress._parse, volume_demo._parse):
            self.assertEqual('rabbit://u:bus-pw@b:5672/',
                             parse([]).transport_url)
        self.assertEqual('', self.stderr.getvalue())
        aa_stress._parse(['--transport-url', 'rabbit://u:pw2@b:5672/'])
        self.assertIn('WARNING: the password of --transport-url is visible',
                      self.stderr.getvalue())
        self.assertNotIn('pw2', self.stderr.getvalue())


class HostsArgsTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(url_args.ENV))
        self.useFixture(fixtures.EnvironmentVariable(url_args.TRANSPORT_ENV))
        self.stderr = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value
        self.useFixture(fixtures.MockPatch('os.geteuid', return_value=0))
        self.useFixture(fixtures.MockPatch('shutil.which',
                                           return_value='/usr/sbin/ip'))

    def parse_error(self, argv):
        self.assertRaises(SystemExit, aa_stress._parse, argv)
        return self.stderr.getvalue()

    def test_servers_outside_the_bridge_are_a_usage_error(self):
        for option in ('--backend-url', '--transport-url'):
            self.stderr.truncate(0)
            self.stderr.seek(0)
            error = self.parse_error(['--hosts', 'netns', option,
                                      'redis://h:1'])
            self.assertIn('--hosts netns cannot use %s' % option, error)

    def test_namespaces_need_root(self):
        os_geteuid = self.useFixture(fixtures.MockPatch('os.geteuid',
                                                        return_value=1000))
        self.assertIn('--hosts netns needs root',
                      self.parse_error(['--hosts', 'netns']))
        self.assertIn('--cleanup needs root',
                      self.parse_error(['--cleanup']))
        os_geteuid.mock.return_value = 0
        self.assertEqual('netns', aa_stress._parse(['--hosts',
                                                    'netns']).hosts)
