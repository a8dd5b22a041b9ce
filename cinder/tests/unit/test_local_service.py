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

"""Unit tests of the local service runner."""

import configparser
import os
import stat

import fixtures
from oslotest import base

from cinder.coordination import urls
from cinder import local_service


class OptionsTestCase(base.BaseTestCase):

    def test_a_service_needs_a_transport_url(self):
        state = self.useFixture(fixtures.TempDir()).path
        exc = self.assertRaises(ValueError, local_service.ServiceProcess,
                                state, {})
        self.assertIn('[DEFAULT] transport_url', str(exc))

    def test_addresses_of_the_host_and_its_cluster(self):
        state = self.useFixture(fixtures.TempDir()).path
        service = local_service.ServiceProcess(
            state, {'DEFAULT': {'transport_url': 'rabbit://b/',
                                'cluster': 'c1', 'volume_driver': 'tgt'}},
            host='h1')
        self.assertEqual('h1@tgt', service.address)
        self.assertEqual('c1@tgt', service.cluster_address)
        alone = local_service.ServiceProcess(
            state, {'DEFAULT': {'transport_url': 'rabbit://b/'}}, host='h2')
        self.assertEqual('h2@nfs', alone.address)
        self.assertIsNone(alone.cluster_address)


class PrepareTestCase(base.BaseTestCase):
    """The config file holds backend_url, password and all."""

    def setUp(self):
        super().setUp()
        self.state = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.MockPatchObject(urls, '_registered', ()))
        self.service = local_service.ServiceProcess(
            self.state, {'coordination': {'backend_url': 'redis://:pw@h:1'},
                         'DEFAULT': {'transport_url':
                                     'rabbit://u:bus-pw@b:5672/'}})
        self.modes = []
        write = configparser.ConfigParser.write

        def spy(parser, f, *args, **kwargs):
            # The mode at the moment the secret is written.
            self.modes.append(stat.S_IMODE(os.fstat(f.fileno()).st_mode))
            return write(parser, f, *args, **kwargs)
        self.useFixture(fixtures.MonkeyPatch(
            'configparser.ConfigParser.write', spy))

    def mode(self):
        return stat.S_IMODE(os.stat(self.service.config_file).st_mode)

    def test_config_file_is_private_from_its_creation(self):
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        self.service.prepare()
        self.assertEqual([0o600], self.modes)
        self.assertEqual(0o600, self.mode())
        with open(self.service.config_file) as f:
            self.assertIn('redis://:pw@h:1', f.read())
        self.assertEqual('***', urls.scrub('pw'))
        self.assertEqual('***', urls.scrub('bus-pw'))

    def test_an_existing_readable_file_is_narrowed_before_the_write(self):
        with open(self.service.config_file, 'w') as f:
            f.write('old content, longer than the new one ' * 100)
        os.chmod(self.service.config_file, 0o644)
        self.service.prepare()
        self.assertEqual([0o600], self.modes)
        self.assertEqual(0o600, self.mode())
        with open(self.service.config_file) as f:
            self.assertNotIn('old content', f.read())
