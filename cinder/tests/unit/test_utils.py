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

"""Unit tests of the deprecated cinder.utils.synchronized."""

import warnings

import fixtures
from oslotest import base

from cinder import coordination
from cinder.tests import coordination_fixture
from cinder import utils


class LegacySynchronizedTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.locks = self.useFixture(
            coordination_fixture.CoordinatorFixture())
        self.useFixture(fixtures.MockPatchObject(utils, '_warned', False))
        self.log = self.useFixture(fixtures.FakeLogger(name='cinder.utils'))

    def test_routes_to_the_coordinator_with_the_old_name(self):
        seen = []

        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)

            @utils.synchronized('3par-{not a template}', external=True)
            def legacy(value):
                seen.append(self.locks.is_locked('3par-{not a template}'))
                return value * 2

        self.assertEqual(4, legacy(2))
        self.assertEqual([True], seen)
        self.assertEqual(['3par-{not a template}'], self.locks.requested)
        self.assertFalse(self.locks.is_locked('3par-{not a template}'))

    def test_internal_locks_become_coordination_locks_too(self):
        seen = []

        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)

            @utils.synchronized('cache', external=False, lock_path='/x')
            def legacy():
                seen.append(self.locks.is_locked('cache'))

        legacy()
        self.assertEqual([True], seen)

    def test_warns_once_per_process(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')

            @utils.synchronized('a')
            def first():
                pass

            @utils.synchronized('b')
            def second():
                pass

        deprecations = [w for w in caught
                        if issubclass(w.category, DeprecationWarning)]
        self.assertEqual(1, len(deprecations))
        message = str(deprecations[0].message)
        self.assertIn('cinder.coordination.synchronized()', message)
        self.assertIn('first', message)
        self.assertEqual(1, self.log.output.count('is deprecated'))

    def test_bad_name_is_refused(self):
        for name in ('', None, 42):
            self.assertRaises(coordination.LockNameError,
                              utils.synchronized, name)
