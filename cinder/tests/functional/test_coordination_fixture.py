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

"""The coordinator fixture on real lock servers, as driver maintainers
use it: the same driver tests, run against Redis and ZooKeeper.
"""

import os
import subprocess
import sys

import fixtures
import testtools

from cinder import coordination
from cinder.stress import lockservers
from cinder.tests import coordination_fixture

#: Unit tests of a driver's locks that take them through the fixture.
DRIVER_TESTS = 'cinder.tests.unit.volume.drivers.test_tgt_array'


class FixtureOnServersTest(testtools.TestCase):

    def use_server(self, kind):
        url = lockservers.server_url(kind)
        self.useFixture(fixtures.EnvironmentVariable(
            coordination_fixture.URL_ENV, url))
        return url

    def check_fixture(self, kind):
        url = self.use_server(kind)
        locks = self.useFixture(coordination_fixture.CoordinatorFixture())
        self.assertEqual(url, locks.url)
        self.assertIsNone(locks.lock_dir)
        self.assertTrue(locks.coordinator.backend.distributed)
        # A prefix of its own: parallel tests on one server stay apart.
        self.assertTrue(locks.coordinator.prefix.startswith('cinder-test-'))
        other = self.useFixture(coordination_fixture.CoordinatorFixture())
        self.assertNotEqual(locks.coordinator.prefix,
                            other.coordinator.prefix)

        @coordination.synchronized('acme-{name}')
        def work(name):
            return locks.is_locked('acme-' + name), other.is_locked(
                'acme-' + name)

        # Installed last, "other" is COORDINATOR: it takes the lock.
        self.assertEqual((False, True), work('x'))
        self.assertFalse(other.is_locked('acme-x'))

    def test_fixture_on_redis(self):
        self.check_fixture('redis')

    def test_fixture_on_zookeeper(self):
        self.check_fixture('zookeeper')

    def test_driver_tests_pass_on_redis(self):
        env = dict(os.environ)
        env[coordination_fixture.URL_ENV] = lockservers.server_url('redis')
        proc = subprocess.run(
            [sys.executable, '-m', 'testtools.run', DRIVER_TESTS],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stdout[-4000:])
        self.assertIn('OK', proc.stdout)
