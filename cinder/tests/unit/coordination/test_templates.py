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

"""The shortcut synchronized() takes instead of Signature.bind().

Made for the benchmark's overhead target: these tests check that it picks
the same argument values as a full bind for every call shape, and that a
malformed call still fails with bind's TypeError before any lock is taken.
"""

import inspect

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder import coordination
from cinder.coordination import decorator
from cinder.coordination import lock as lock_mod


class Vol(object):
    def __init__(self, id):
        self.id = id


def bound_values(func, args, kwargs):
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    values = dict(bound.arguments)
    values['f_name'] = func.__name__
    return values


class ArgumentsTestCase(base.BaseTestCase):

    def arguments(self, func, *templates):
        signature = inspect.signature(func)
        params = list(signature.parameters)
        return decorator._Arguments(
            func, signature, None,
            [decorator._Template(t, func, params, None)
             for t in templates])

    def test_same_values_as_bind_for_every_call_shape(self):
        def op(self, volume, snapshot=None, mode='rw'):
            pass

        arguments = self.arguments(op, '{volume.id}-{mode}', '{snapshot}',
                                   '{f_name}')
        self.assertTrue(arguments._fast)
        calls = [
            (('s', Vol(1)), {}),
            (('s', Vol(1), 'snap'), {}),
            (('s', Vol(1), 'snap', 'ro'), {}),
            (('s',), {'volume': Vol(2)}),
            (('s',), {'volume': Vol(2), 'mode': 'ro'}),
            ((), {'self': 's', 'volume': Vol(3), 'snapshot': 'x'}),
            (('s', Vol(4)), {'mode': 'ro'}),
        ]
        for args, kwargs in calls:
            expected = bound_values(op, args, kwargs)
            values = arguments.values(args, kwargs)
            for name in ('volume', 'snapshot', 'mode', 'f_name'):
                self.assertIs(expected[name], values[name],
                              '%s for %r %r' % (name, args, kwargs))

    def test_malformed_calls_raise_binds_type_error(self):
        def op(self, volume, mode='rw'):
            pass

        arguments = self.arguments(op, '{volume}')
        for args, kwargs in [
                (('s', 'v', 'rw', 'extra'), {}),
                (('s', 'v'), {'volume': 'again'}),
                (('s', 'v'), {'unknown': 1}),
                (('s',), {}),
                ((), {'volume': 'v'}),
        ]:
            self.assertRaises(TypeError, arguments.values, args, kwargs)

    def test_other_signatures_use_bind(self):
        def keyword_only(volume, *, mode='rw'):
            pass

        def var_positional(volume, *rest):
            pass

        for func in (keyword_only, var_positional):
            arguments = self.arguments(func, '{volume}')
            self.assertFalse(arguments._fast)
            self.assertEqual('v', arguments.values(('v',), {})['volume'])

    def test_a_field_in_a_format_spec_uses_bind(self):
        def op(name, width):
            pass

        arguments = self.arguments(op, '{name:>{width}}')
        self.assertFalse(arguments._fast)
        template = decorator._Template('{name:>{width}}', op,
                                       ['name', 'width'], None)
        self.assertEqual('   ab', template.render(
            arguments.values(('ab', 5), {})))

    def test_f_name_wins_over_an_argument_of_that_name(self):
        def op(f_name):
            pass

        values = self.arguments(op, '{f_name}').values(('x',), {})
        self.assertEqual('op', values['f_name'])

    def test_render_matches_string_formatter(self):
        import string

        def op(volume, connector, size):
            pass

        template = '{volume.id}-{connector[host]}-{size:04d}-{volume!r}'
        values = {'volume': Vol('v1'), 'connector': {'host': 'h'},
                  'size': 7, 'f_name': 'op'}
        rendered = decorator._Template(
            template, op, ['volume', 'connector', 'size'],
            None).render(values)
        self.assertEqual(string.Formatter().vformat(template, (), values),
                         rendered)


class SynchronizedCallTestCase(base.BaseTestCase):

    def setUp(self):
        super(SynchronizedCallTestCase, self).setUp()
        lock_dir = self.useFixture(fixtures.TempDir()).path
        conf = cfg.ConfigOpts()
        self.coordinator = coordination.Coordinator(conf=conf)
        conf([], project='cinder-test', default_config_files=[])
        conf.set_override('backend_url', 'file://' + lock_dir,
                          group='coordination')
        self.coordinator.start()
        self.addCleanup(self.coordinator.stop)
        self.addCleanup(lock_mod.thread_locks().clear)

    def test_type_error_comes_before_any_lock(self):
        acquired = []
        real = self.coordinator._acquire

        def spy(lock, blocking):
            acquired.append(lock.name)
            return real(lock, blocking)

        self.useFixture(fixtures.MockPatchObject(self.coordinator,
                                                 '_acquire', spy))

        @coordination.synchronized('{volume}', coordinator=self.coordinator)
        def op(volume, mode='rw'):
            return sorted(lock.name for lock in
                          lock_mod.thread_locks() if lock.held)

        self.assertEqual(['cinder-v1'], op('v1'))
        self.assertEqual(['cinder-v2'], op(volume='v2', mode='ro'))
        self.assertRaises(TypeError, op, 'v3', 'rw', 'extra')
        self.assertRaises(TypeError, op, mode='ro')
        self.assertEqual(['cinder-v1', 'cinder-v2'], acquired)

    def test_single_lock_is_released_when_the_function_raises(self):
        @coordination.synchronized('{name}', coordinator=self.coordinator)
        def op(name):
            raise ValueError(name)

        self.assertRaises(ValueError, op, 'x')
        lock = self.coordinator.get_lock('x')
        lock.acquire(blocking=False)
        lock.release()
        self.assertEqual([], [lock for lock in lock_mod.thread_locks()
                              if lock.held])
