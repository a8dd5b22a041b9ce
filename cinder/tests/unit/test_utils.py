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

"""Unit tests of the deprecated cinder.utils lock helpers."""

import os
import warnings

import fixtures
from oslotest import base

from cinder import coordination
from cinder.tests import coordination_fixture
from cinder import utils


class LegacyTestCase(base.BaseTestCase):

    #: Whether the deprecation warning was given already in the process.
    deprecation_given = False
    #: Whether the tests look at lock files.
    needs_file_backend = False

    def setUp(self):
        super().setUp()
        self.locks = self.useFixture(coordination_fixture.CoordinatorFixture(
            use_env=not self.needs_file_backend))
        self.useFixture(fixtures.MockPatchObject(
            utils, '_warned', self.deprecation_given))
        self.useFixture(fixtures.MockPatchObject(
            utils, '_warned_ignored', set()))
        self.log = self.useFixture(fixtures.FakeLogger(name='cinder.utils'))


class LegacySynchronizedTestCase(LegacyTestCase):

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
            self.assertRaises(coordination.LockNameError,
                              utils.synchronized_remove, name)


class LegacySignatureTestCase(LegacyTestCase):
    """The whole signature of oslo.concurrency's synchronized_with_prefix."""

    deprecation_given = True

    def test_every_oslo_concurrency_argument_is_accepted(self):
        seen = []

        @utils.synchronized('acme-array', external=True, lock_path='/x',
                            semaphores=object(), delay=0.5, fair=True,
                            blocking=True, lock_file_prefix='cinder-')
        def legacy():
            seen.append(self.locks.is_locked('acme-array'))
            return 'ran'

        self.assertEqual('ran', legacy())
        self.assertEqual([True], seen)
        self.assertEqual(['acme-array'], self.locks.requested)

    def test_what_no_longer_applies_is_logged_once_per_function(self):
        def decorate():
            @utils.synchronized('acme-host', external=False,
                                lock_path='/var/lib/acme', semaphores=object(),
                                delay=0.5, fair=True, lock_file_prefix='acme')
            def map_lun():
                pass

            return map_lun

        # As drivers do it: an inner function decorated at every call.
        for _ in range(3):
            decorate()()
        lines = [line for line in self.log.output.splitlines()
                 if 'no longer appl' in line]
        self.assertEqual(1, len(lines), self.log.output)
        line = lines[0]
        self.assertIn("cinder.utils.synchronized('acme-host')", line)
        self.assertIn('map_lun', line)
        for argument in ('external=False', 'lock_path', 'semaphores',
                         'delay', 'fair=True', 'lock_file_prefix'):
            self.assertIn(argument, line)
        self.assertIn('cinder-acme-host', line)

    def test_arguments_that_still_apply_log_nothing(self):
        @utils.synchronized('a', external=True, fair=False, blocking=True,
                            lock_file_prefix='cinder')
        def first():
            pass

        @utils.synchronized('b')
        def second():
            pass

        first()
        second()
        self.assertNotIn('no longer appl', self.log.output)

    def test_blocking_false_misses_without_running_the_function(self):
        ran = []

        @utils.synchronized('acme-cleanup', blocking=False)
        def cleanup():
            ran.append(True)

        with self.locks.coordinator.get_lock('acme-cleanup'):
            self.assertRaises(coordination.LockAcquireFailed, cleanup)
        self.assertEqual([], ran)
        cleanup()
        self.assertEqual([True], ran)


class LegacyRemoveTestCase(LegacyTestCase):

    deprecation_given = True
    needs_file_backend = True

    def lock_files(self):
        return sorted(os.listdir(self.locks.lock_dir))

    def take(self, *names):
        for name in names:
            with self.locks.coordinator.get_lock(name):
                pass

    def test_removes_the_lock_file_of_exactly_that_name(self):
        # Upstream removes the one file of the name; the coordination
        # call takes a glob pattern, so the name must not be one.
        self.take('acme-[1]*', 'acme-1x', 'acme-?')
        before = self.lock_files()
        self.assertEqual(1, utils.synchronized_remove('acme-[1]*'))
        self.assertEqual(sorted(set(before) - {'cinder-acme-[1]*'}),
                         self.lock_files())
        self.assertEqual(1, utils.synchronized_remove('acme-?'))
        self.assertIn('cinder-acme-1x', self.lock_files())
        self.assertEqual(0, utils.synchronized_remove('acme-?'))

    def test_a_held_lock_file_is_left_alone(self):
        with self.locks.coordinator.get_lock('acme-busy'):
            self.assertEqual(0, utils.synchronized_remove('acme-busy'))
        self.assertIn('cinder-acme-busy', self.lock_files())

    def test_lock_path_and_semaphores_no_longer_apply(self):
        self.take('acme-v1')
        for _ in range(2):
            utils.synchronized_remove('acme-v1', lock_path='/var/lib/acme',
                                      semaphores=object())
        self.assertNotIn('cinder-acme-v1', self.lock_files())
        lines = [line for line in self.log.output.splitlines()
                 if 'no longer appl' in line]
        self.assertEqual(1, len(lines), self.log.output)
        self.assertIn("cinder.utils.synchronized_remove('acme-v1')",
                      lines[0])
        self.assertIn('lock_path', lines[0])
        self.assertIn('semaphores', lines[0])
