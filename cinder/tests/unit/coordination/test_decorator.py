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

"""Tests of cinder.coordination.synchronized."""

import inspect
from unittest import mock

import fixtures

from cinder import coordination
from cinder.coordination import lock as lock_mod
from cinder.tests.unit.coordination import fakes


class SynchronizedTestCase(fakes.CoordinationTestCase):

    def test_templates_render_attributes_items_defaults_and_f_name(self):
        self.start()
        seen = []

        class Driver(object):
            driver_prefix = 'nfs'

            @coordination.synchronized(
                '{self.driver_prefix}-{volume.id}',
                '{snapshot.volume.id}-{f_name}',
                'mapping-{connector[host]}', '{mode}',
                coordinator=self.coordinator)
            def op(self, volume, snapshot, connector, mode='rw'):
                seen.append(sorted(lock.name for lock in
                                   lock_mod.thread_locks()))
                return 'done'

        result = Driver().op(fakes.VolumeStub('v1'),
                             fakes.VolumeStub('s1', fakes.VolumeStub('v2')),
                             {'host': 'h1'})
        self.assertEqual('done', result)
        self.assertEqual([['cinder-mapping-h1', 'cinder-nfs-v1',
                           'cinder-rw', 'cinder-v2-op']], seen)

    def test_names_deduplicated_acquired_sorted_released_reversed(self):
        self.start()

        @coordination.synchronized('b-{x}', 'a-{x}', 'b-{x}',
                                   coordinator=self.coordinator)
        def f(x):
            self.driver.order.append(('run',))

        f(1)
        self.assertEqual([('acquire', b'cinder-a-1'),
                          ('acquire', b'cinder-b-1'),
                          ('run',),
                          ('release', b'cinder-b-1'),
                          ('release', b'cinder-a-1')], self.driver.order)

    def test_doubled_braces_are_literal_braces(self):
        # A fixed name is a template too: "{{" and "}}" stand for "{" and
        # "}", alone, beside other fixed names, or beside fields.
        self.start()

        @coordination.synchronized('3par-{{not a field}}',
                                   coordinator=self.coordinator)
        def alone():
            pass

        @coordination.synchronized('{{a}}', 'b}}',
                                   coordinator=self.coordinator)
        def fixed_pair():
            pass

        @coordination.synchronized('{{a}}-{x}',
                                   coordinator=self.coordinator)
        def with_field(x):
            pass

        alone()
        fixed_pair()
        with_field(1)
        acquired = [name for event, name in self.driver.order
                    if event == 'acquire']
        self.assertEqual([b'cinder-3par-{not a field}', b'cinder-b}',
                          b'cinder-{a}', b'cinder-{a}-1'], acquired)

    def test_var_keyword_arguments_can_be_named(self):
        self.start()

        @coordination.synchronized('{volume_id}',
                                   coordinator=self.coordinator)
        def f(context, **kwargs):
            return [lock.name for lock in lock_mod.thread_locks()]

        self.assertEqual(['cinder-v9'], f(None, volume_id='v9'))

    def test_signature_and_metadata_are_kept(self):
        def delete_volume(self, context, volume, force=False):
            """Docstring."""

        wrapped = coordination.synchronized('{volume.id}')(delete_volume)
        self.assertEqual(inspect.signature(delete_volume),
                         inspect.signature(wrapped))
        self.assertEqual('delete_volume', wrapped.__name__)
        self.assertEqual('Docstring.', wrapped.__doc__)

    def test_unknown_argument_fails_at_decoration_naming_both(self):
        def create_volume(self, volume):
            pass

        e = self.assertRaises(coordination.LockNameError,
                              coordination.synchronized('{snapshot.id}-x'),
                              create_volume)
        self.assertIn("'{snapshot.id}-x'", str(e))
        self.assertIn('create_volume()', str(e))
        self.assertIn('snapshot', str(e))

    def test_positional_and_malformed_fields_are_refused(self):
        def f(a):
            pass

        for template in ('{0}', '{}', '{a'):
            self.assertRaises(coordination.LockNameError,
                              coordination.synchronized(template), f)
        self.assertRaises(coordination.LockNameError,
                          coordination.synchronized)

    def test_render_error_names_template_and_function(self):
        self.start()

        @coordination.synchronized('{volume.id}',
                                   coordinator=self.coordinator)
        def extend(volume):
            self.fail('must not run')

        e = self.assertRaises(coordination.LockNameError, extend, object())
        self.assertIn("'{volume.id}'", str(e))
        self.assertIn('extend()', str(e))
        self.assertIn('AttributeError', str(e))

    def test_function_never_runs_without_its_lock(self):
        self.start()
        ran = []

        @coordination.synchronized('a', 'b', blocking=False,
                                   coordinator=self.coordinator)
        def f():
            ran.append(True)

        self.coordinator.get_lock('b')  # create the fake lock
        self.driver.locks[b'cinder-b'].acquire_result = False
        self.assertRaises(coordination.LockAcquireFailed, f)
        self.assertEqual([], ran)
        # the lock taken before the miss was given back
        self.assertIn(('release', b'cinder-a'), self.driver.order)
        self.assertFalse(self.driver.locks[b'cinder-a'].acquired)

    def test_locks_released_when_function_raises(self):
        self.start()

        @coordination.synchronized('{x}', coordinator=self.coordinator)
        def f(x):
            raise KeyError('boom')

        self.assertRaises(KeyError, f, 'k')
        self.assertEqual(('release', b'cinder-k'), self.driver.order[-1])
        self.assertEqual([], lock_mod.thread_locks())

    def test_default_coordinator_resolved_at_call_time(self):
        @coordination.synchronized('x')
        def f():
            return 'ran'

        self.start()
        self.useFixture(fixtures.MockPatchObject(
            coordination, 'COORDINATOR', self.coordinator))
        self.assertEqual('ran', f())
        self.assertIn(('acquire', b'cinder-x'), self.driver.order)

    def test_blocking_argument_passed_through(self):
        self.start()

        @coordination.synchronized('x', blocking=2.5,
                                   coordinator=self.coordinator)
        def f():
            pass

        f()
        self.assertEqual(('acquire', 2.5),
                         self.driver.locks[b'cinder-x'].calls[0])

    def test_synchronized_remove_uses_coordinator(self):
        coordinator = mock.Mock()
        coordination.synchronized_remove('v1-*', coordinator=coordinator)
        coordinator.remove_lock.assert_called_once_with('v1-*')


class SynchronizedLogTestCase(fakes.CoordinationTestCase):

    def test_debug_lines_name_the_function_as_lockutils_does(self):
        self.start()

        @coordination.synchronized('{volume.id}',
                                   coordinator=self.coordinator)
        def attach(volume):
            self.clock.now += 2.0

        attach(fakes.VolumeStub('v1'))
        name = '%s.%s' % (__name__, attach.__qualname__)
        self.assertEqual(
            ['DEBUG Acquiring lock "cinder-v1" by "%s"' % name,
             'DEBUG Lock "cinder-v1" acquired by "%s" :: waited 0.000s' %
             name,
             'DEBUG Lock "cinder-v1" "released" by "%s" :: held 2.000s' %
             name],
            [line for line in self.log.output.splitlines()
             if line.startswith('DEBUG')])

    def test_every_lock_of_a_call_names_the_function(self):
        self.start()

        @coordination.synchronized('a', 'b', blocking=False,
                                   coordinator=self.coordinator)
        def both():
            pass

        self.driver.get_lock(b'cinder-b').acquire_result = False
        self.assertRaises(coordination.LockAcquireFailed, both)
        name = '%s.%s' % (__name__, both.__qualname__)
        lines = self.log.output.splitlines()
        self.assertIn('DEBUG Lock "cinder-a" acquired by "%s" :: '
                      'waited 0.000s' % name, lines)
        self.assertIn('DEBUG Lock "cinder-b" "unacquired" by "%s" :: '
                      'held N/A' % name, lines)
        self.assertIn('DEBUG Lock "cinder-a" "released" by "%s" :: '
                      'held 0.000s' % name, lines)
