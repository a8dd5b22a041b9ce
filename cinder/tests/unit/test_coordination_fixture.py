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

"""Unit tests of the coordinator fixture that driver tests use."""

import os

import fixtures
from oslotest import base
import testtools

from cinder import coordination
from cinder.tests import coordination_fixture

URL_ENV = coordination_fixture.URL_ENV


class CoordinatorFixtureTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(URL_ENV))

    def test_default_is_a_file_backend_in_a_temporary_directory(self):
        locks = self.useFixture(coordination_fixture.CoordinatorFixture())
        self.assertEqual('file://' + locks.lock_dir, locks.url)
        self.assertIs(locks.coordinator, coordination.COORDINATOR)
        self.assertTrue(locks.coordinator.started)
        self.assertEqual('cinder-', locks.coordinator.prefix)

    def test_environment_variable_names_the_backend(self):
        lock_dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable(URL_ENV,
                                                     'file://' + lock_dir))
        locks = self.useFixture(coordination_fixture.CoordinatorFixture())
        self.assertEqual('file://' + lock_dir, locks.url)
        self.assertEqual(lock_dir, locks.lock_dir)

        @coordination.synchronized('acme-{name}')
        def work(name):
            self.assertIn('cinder-acme-x', os.listdir(lock_dir))
            return locks.is_locked('acme-' + name)

        self.assertTrue(work('x'))
        self.assertFalse(locks.is_locked('acme-x'))
        self.assertEqual(['acme-x'], locks.requested)

    def test_use_env_false_ignores_the_variable(self):
        self.useFixture(fixtures.EnvironmentVariable(URL_ENV,
                                                     'redis://nowhere:1'))
        locks = self.useFixture(
            coordination_fixture.CoordinatorFixture(use_env=False))
        self.assertTrue(locks.url.startswith('file://'))

    def test_stops_and_restores_the_coordinator_at_cleanup(self):
        before = coordination.COORDINATOR
        fixture = coordination_fixture.CoordinatorFixture()
        with fixture:
            coordinator = fixture.coordinator
            self.assertIs(coordinator, coordination.COORDINATOR)
        self.assertIs(before, coordination.COORDINATOR)
        self.assertFalse(coordinator.started)

    def test_records_requested_locks(self):
        locks = self.useFixture(coordination_fixture.CoordinatorFixture())

        @coordination.synchronized('b-{x}', 'a-{x}')
        def both(x):
            return locks.is_locked('a-' + x), locks.is_locked('b-' + x)

        self.assertEqual((True, True), both('1'))
        self.assertEqual(['a-1', 'b-1'], sorted(locks.requested))

    def test_unreachable_url_fails_the_test_setup(self):
        fixture = coordination_fixture.CoordinatorFixture(
            url='nosuch://host')
        self.assertRaises((coordination.CoordinationError,
                           testtools.MultipleExceptions), fixture.setUp)
