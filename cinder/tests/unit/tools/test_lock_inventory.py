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

"""Tests of tools/lock_inventory.py."""

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from unittest import mock

from docutils import core as docutils_core
from docutils import nodes
import fixtures
from oslotest import base

from cinder.tests.unit import tools

li = tools.load_lock_inventory()

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'legacy_driver', 'acme')
CINDER = os.path.join(tools.TOP, 'cinder')
INC = os.path.join(tools.TOP, 'doc', 'source', 'contributor',
                   'lock-inventory.inc')

LEGACY = 'legacy: port to cinder.coordination'

# Every lock of the fixture: file, line, scope, api, name, function,
# legacy. Keep in step with legacy_driver/acme/*.py.
FIXTURE_LOCKS = [
    ('acme/client.py', 22, 'process', 'threading.RLock',
     '_sessions_lock', '<module>', False),
    ('acme/client.py', 31, 'host', 'utils.synchronized',
     'acme-login', 'Client.login', True),
    ('acme/client.py', 36, 'host', 'fasteners.InterProcessLock',
     '/var/lock/acme/create.lock', 'Client.create', True),
    ('acme/client.py', 40, 'host', 'lockutils.external_lock',
     "'acme-map-' + host", 'Client.map', True),
    ('acme/client.py', 44, 'process', 'lockutils.lock',
     'acme-rest', 'Client._call', True),
    ('acme/driver.py', 35, 'process', 'threading.Lock',
     'self._stats_lock', 'AcmeDriver.__init__', False),
    ('acme/driver.py', 38, 'host', 'lockutils.synchronized(external=True)',
     'acme-array', 'AcmeDriver.create_volume', True),
    ('acme/driver.py', 42, 'process', 'lockutils.synchronized',
     'acme-stats', 'AcmeDriver.get_volume_stats', True),
    ('acme/driver.py', 48, 'host', 'lockutils.lock(external=True)',
     "'acme-%s' % volume.id", 'AcmeDriver.delete_volume', True),
    ('acme/driver.py', 52, 'host', 'lockutils.synchronized(external=True)',
     'mapping', 'AcmeDriver.initialize_connection', True),
    ('acme/driver.py', 56, 'host', 'utils.synchronized',
     'acme-host-mapping', 'AcmeDriver.terminate_connection', True),
    ('acme/driver.py', 60, 'global', 'coordination.synchronized',
     '{self.driver_prefix}-{volume.id}',
     'AcmeDriver.create_volume_from_snapshot', False),
    ('acme/driver.py', 60, 'global', 'coordination.synchronized',
     '{snapshot.id}-delete_snapshot',
     'AcmeDriver.create_volume_from_snapshot', False),
    ('acme/driver.py', 66, 'global', 'coordination.COORDINATOR.get_lock',
     "f'{self.driver_prefix}-{volume.id}-extend'",
     'AcmeDriver.extend_volume', False),
]


def rows(locks):
    return [(lock.file, lock.line, lock.scope, lock.api, lock.name,
             lock.function, lock.legacy) for lock in locks]


class ToolTestCase(base.BaseTestCase):

    def run_main(self, *argv):
        """Run main(argv) in this process; return (status, out, err)."""
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.object(sys, 'stdout', out), \
                mock.patch.object(sys, 'stderr', err):
            try:
                status = li.main(list(argv))
            except SystemExit as e:
                status = e.code
        return status, out.getvalue(), err.getvalue()

    def make_tree(self, files):
        """Write {relative path: source} below a temporary directory."""
        top = self.useFixture(fixtures.TempDir()).path
        for relative, source in files.items():
            path = os.path.join(top, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(textwrap.dedent(source))
        return top

    def locks_of(self, source, name='mod.py'):
        top = self.make_tree({name: source})
        return li.scan([os.path.join(top, name)]).locks


class FixtureTestCase(ToolTestCase):
    """The sample out-of-tree driver with legacy locks."""

    def test_every_lock_is_listed_correctly(self):
        inventory = li.scan([FIXTURE])
        self.assertEqual(FIXTURE_LOCKS, rows(inventory.locks))
        self.assertEqual(['acme'], inventory.labels)
        self.assertEqual(['acme'], inventory.volume_service)
        self.assertTrue(all(lock.in_volume_service
                            for lock in inventory.locks))

    def test_name_kinds_and_notes(self):
        locks = {(lock.file, lock.line, lock.name): lock
                 for lock in li.scan([FIXTURE]).locks}
        mapping = locks[('acme/driver.py', 52, 'mapping')]
        self.assertEqual(
            [LEGACY, "through synchronized_with_prefix('acme-')"],
            mapping.notes)
        login = locks[('acme/client.py', 31, 'acme-login')]
        self.assertEqual(
            [LEGACY,
             'cinder.utils.synchronized: a host file lock in older '
             'releases',
             'external=False: a process lock in older releases'],
            login.notes)
        stats = locks[('acme/driver.py', 42, 'acme-stats')]
        self.assertEqual([LEGACY, 'no external=True: one process only'],
                         stats.notes)
        self.assertEqual(
            'expression',
            locks[('acme/driver.py', 48, "'acme-%s' % volume.id")].name_kind)
        self.assertEqual(
            'variable',
            locks[('acme/driver.py', 35, 'self._stats_lock')].name_kind)
        self.assertEqual(
            'constant',
            locks[('acme/driver.py', 38, 'acme-array')].name_kind)

    def test_table_lists_each_lock_and_exits_1(self):
        status, out, err = self.run_main(FIXTURE)
        self.assertEqual(1, status)
        lines = out.splitlines()
        self.assertEqual(['LOCATION', 'SCOPE', 'API', 'NAME', 'FUNCTION',
                          'NOTES'], lines[0].split())
        for row in FIXTURE_LOCKS:
            location = '%s:%d' % row[:2]
            self.assertTrue(any(line.startswith(location + ' ') and
                                row[4] in line and row[5] in line
                                for line in lines), location)
        self.assertIn('14 locks: 3 global, 7 host, 4 process; 9 legacy.',
                      lines)
        self.assertIn('9 legacy lock(s) in the volume service (acme)', err)
        for row in FIXTURE_LOCKS:
            location = '  %s:%d: ' % row[:2]
            self.assertEqual(row[6], location in err, location)

    def test_json(self):
        status, out, _err = self.run_main('--format', 'json', FIXTURE)
        self.assertEqual(1, status)
        data = json.loads(out)
        self.assertEqual(['acme'], data['paths'])
        self.assertEqual(['acme'], data['volume_service'])
        self.assertEqual(
            FIXTURE_LOCKS,
            [(d['file'], d['line'], d['scope'], d['api'], d['name'],
              d['function'], d['legacy']) for d in data['locks']])
        self.assertEqual(
            {'file': 'acme/driver.py', 'line': 38, 'scope': 'host',
             'api': 'lockutils.synchronized(external=True)',
             'name': 'acme-array', 'name_kind': 'constant',
             'function': 'AcmeDriver.create_volume', 'legacy': True,
             'in_volume_service': True, 'notes': [LEGACY]},
            data['locks'][6])
        self.assertEqual(
            [(row[0], row[1]) for row in FIXTURE_LOCKS if row[6]],
            [(p['file'], p['line']) for p in data['problems']])

    def test_rst_is_a_valid_list_table(self):
        status, out, _err = self.run_main('--format', 'rst', FIXTURE)
        self.assertEqual(1, status)
        self.assertIn('.. list-table:: Locks in ``acme``\n', out)
        self.assertIn('   * - host\n'
                      '     - ``acme-array``\n'
                      '     - ``AcmeDriver.create_volume``\n'
                      '     - ``acme/driver.py``\n'
                      '     - ``lockutils.synchronized(external=True)``\n'
                      '     - legacy: port to cinder.coordination\n', out)
        self.assertNotIn(':38', out)
        doctree = docutils_core.publish_doctree(
            out, settings_overrides={'report_level': 1, 'halt_level': 5})
        self.assertEqual([], [m.astext() for m in
                              doctree.findall(nodes.system_message)])
        table_rows = list(doctree.findall(nodes.row))
        self.assertEqual(len(FIXTURE_LOCKS) + 1, len(table_rows))
        self.assertEqual(
            ['Scope', 'Name', 'Function', 'File', 'API', 'Notes'],
            [entry.astext() for entry in table_rows[0].children])
        self.assertEqual(
            ['process', 'acme-rest', 'Client._call', 'acme/client.py',
             'lockutils.lock',
             LEGACY + '; no external=True: one process only'],
            [entry.astext() for entry in table_rows[5].children])

    def test_runs_as_a_script(self):
        result = subprocess.run(
            [sys.executable, tools.LOCK_INVENTORY, '--format', 'json',
             FIXTURE], capture_output=True, text=True, check=False)
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertEqual(len(FIXTURE_LOCKS),
                         len(json.loads(result.stdout)['locks']))
        self.assertTrue(os.access(tools.LOCK_INVENTORY, os.X_OK))

    def test_output_does_not_depend_on_the_working_directory(self):
        top = self.useFixture(fixtures.TempDir()).path
        copy = os.path.join(top, 'acme')
        shutil.copytree(FIXTURE, copy)
        self.assertEqual(FIXTURE_LOCKS, rows(li.scan([copy]).locks))
        outputs = []
        for cwd, path in [(tools.TOP, os.path.relpath(FIXTURE, tools.TOP)),
                          ('/', FIXTURE), (top, 'acme')]:
            result = subprocess.run(
                [sys.executable, tools.LOCK_INVENTORY, '--format', 'rst',
                 path], cwd=cwd, capture_output=True, text=True,
                check=False)
            self.assertEqual(1, result.returncode, result.stderr)
            outputs.append(result.stdout)
        self.assertEqual([outputs[0]] * 3, outputs)
        self.assertNotIn(tools.TOP, outputs[0])


class TreeTestCase(ToolTestCase):
    """This tree's own locks."""

    def setUp(self):
        super().setUp()
        self.inventory = li.scan([CINDER])

    def test_no_legacy_lock_in_the_volume_service(self):
        self.assertEqual(['cinder/volume'], self.inventory.volume_service)
        self.assertEqual([], self.inventory.problems)
        in_service = [lock for lock in self.inventory.locks
                      if lock.in_volume_service]
        self.assertTrue(in_service)
        self.assertEqual(
            in_service,
            [lock for lock in self.inventory.locks
             if lock.file.startswith('cinder/volume/')])
        self.assertEqual([], [lock for lock in in_service
                              if lock.legacy or lock.scope == 'host'])

    def test_exit_status_is_0(self):
        status, out, err = self.run_main(CINDER)
        self.assertEqual(0, status, err)
        self.assertEqual('', err)
        self.assertIn(' 0 host, ', out)

    def test_volume_manager_templates_are_listed(self):
        manager = {(lock.function, lock.name) for lock in self.inventory.locks
                   if lock.file == 'cinder/volume/manager.py'}
        for expected in [
                ('VolumeManager._delete_volume', '{volume.id}-delete_volume'),
                ('VolumeManager._create_from_source',
                 '{source_volume.id}-delete_volume'),
                ('VolumeManager._create_from_snapshot',
                 '{snapshot.id}-delete_snapshot'),
                ('VolumeManager.attach_volume', '{volume.id}'),
                ('VolumeManager.detach_volume', '{volume.id}-detach_volume')]:
            self.assertIn(expected, manager)
        self.assertEqual(
            {('global', 'coordination.synchronized')},
            {(lock.scope, lock.api) for lock in self.inventory.locks
             if lock.file == 'cinder/volume/manager.py'})

    def test_driver_locks_are_listed(self):
        names = {lock.name for lock in self.inventory.locks
                 if lock.file.startswith('cinder/volume/drivers/')}
        self.assertIn('{self.driver_prefix}-{volume.id}', names)
        self.assertIn('{self.driver_prefix}-targets', names)

    def test_tests_are_skipped_unless_asked(self):
        self.assertEqual([], [lock for lock in self.inventory.locks
                              if '/tests/' in lock.file])
        with_tests = li.scan([CINDER], include_tests=True)
        self.assertIn(
            ('cinder/tests/unit/tools/legacy_driver/acme/driver.py', 38),
            [(lock.file, lock.line) for lock in with_tests.locks])
        # The fixture is not under cinder/volume: still no problem.
        self.assertEqual([], with_tests.problems)

    def test_committed_inc_is_current(self):
        status, out, err = self.run_main('--check', INC, CINDER)
        self.assertEqual(0, status, err)
        self.assertEqual('', out)
        self.assertEqual('', err)

    def test_check_fails_on_a_stale_copy(self):
        top = self.useFixture(fixtures.TempDir()).path
        stale = os.path.join(top, 'lock-inventory.inc')
        with open(INC) as f:
            text = f.read()
        with open(stale, 'w') as f:
            f.write(text.replace('{volume.id}-delete_volume',
                                 '{volume.id}-delete', 1))
        status, out, err = self.run_main('--format', 'rst', '--check', stale,
                                         CINDER)
        self.assertEqual(1, status)
        self.assertEqual('', out)
        self.assertIn('%s is stale; regenerate it with:' % stale, err)
        self.assertIn('--format rst %s > %s' % (CINDER, stale), err)
        self.assertIn('-     - ``{volume.id}-delete``', err)
        self.assertIn('+     - ``{volume.id}-delete_volume``', err)

    def test_check_fails_on_a_missing_file(self):
        missing = os.path.join(self.useFixture(fixtures.TempDir()).path,
                               'missing.inc')
        status, _out, err = self.run_main('--check', missing, CINDER)
        self.assertEqual(1, status)
        self.assertIn('cannot be read', err)


class DetectorTestCase(ToolTestCase):
    """Import aliases and the less common lock APIs."""

    def test_import_forms(self):
        locks = self.locks_of('''\
            import threading as th
            from threading import Lock

            import oslo_concurrency.lockutils
            from oslo_concurrency.lockutils import synchronized as sync

            from cinder.coordination import COORDINATOR
            from cinder.coordination import synchronized
            import cinder.utils

            LOCK = 'fixed-name'


            @oslo_concurrency.lockutils.synchronized('a', external=True)
            def a():
                pass


            @sync('b', 'pfx-', True)
            def b():
                pass


            @synchronized(LOCK, '{x}', blocking=False)
            def c(x):
                with COORDINATOR.get_lock(name='d-' + x):
                    pass


            @cinder.utils.synchronized('e')
            def e():
                pass


            class F(object):
                lock = th.Semaphore(2)

                def f(self):
                    self.cond = th.Condition(Lock())
            ''')
        self.assertEqual([
            ('mod.py', 14, 'host', 'lockutils.synchronized(external=True)',
             'a', 'a', True),
            ('mod.py', 19, 'host', 'lockutils.synchronized(external=True)',
             'b', 'b', True),
            ('mod.py', 24, 'global', 'coordination.synchronized',
             'fixed-name', 'c', False),
            ('mod.py', 24, 'global', 'coordination.synchronized',
             '{x}', 'c', False),
            ('mod.py', 26, 'global', 'coordination.COORDINATOR.get_lock',
             "'d-' + x", 'c', False),
            ('mod.py', 30, 'host', 'utils.synchronized', 'e', 'e', True),
            ('mod.py', 36, 'process', 'threading.Semaphore', 'lock', 'F',
             False),
            ('mod.py', 39, 'process', 'threading.Condition', 'self.cond',
             'F.f', False),
            ('mod.py', 39, 'process', 'threading.Lock', '', 'F.f', False),
        ], rows(locks))
        self.assertEqual(['blocking=False', 'name from LOCK'],
                         locks[2].notes)
        self.assertEqual(['blocking=False'], locks[3].notes)
        self.assertEqual('none', locks[8].name_kind)

    def test_prefix_factories_and_other_lockutils_apis(self):
        locks = self.locks_of('''\
            from oslo_concurrency import lockutils

            lock = lockutils.lock_with_prefix('p-')


            def f(name, ext):
                with lock(name, external=True):
                    pass
                with lockutils.lock(name, external=ext):
                    pass
                with lockutils.synchronized_with_prefix('q-')('n'):
                    pass
                with lockutils.internal_lock('i'):
                    pass
                with lockutils.InterProcessLock('/tmp/x'):
                    pass
            ''')
        self.assertEqual([
            ('mod.py', 7, 'host', 'lockutils.lock(external=True)', 'name',
             'f', True),
            ('mod.py', 9, 'host', 'lockutils.lock(external=ext)', 'name',
             'f', True),
            ('mod.py', 11, 'process', 'lockutils.synchronized', 'n', 'f',
             True),
            ('mod.py', 13, 'process', 'lockutils.internal_lock', 'i', 'f',
             True),
            ('mod.py', 15, 'host', 'lockutils.InterProcessLock', '/tmp/x',
             'f', True),
        ], rows(locks))
        self.assertEqual([LEGACY, "through lock_with_prefix('p-')",
                          'name computed at run time'], locks[0].notes)
        self.assertIn('external is not a constant: counted as host',
                      locks[1].notes)

    def test_coordinators_and_unknown_external_locks(self):
        locks = self.locks_of('''\
            from tooz import coordination as tooz_coordination

            from cinder import coordination
            from acme import helpers


            class D(object):

                def __init__(self, conf):
                    self._tooz = tooz_coordination.get_coordinator(
                        conf.url, b'member')
                    self.coord = coordination.Coordinator(conf=conf)

                def run(self, coordinator, cache):
                    self._tooz.get_lock(b'acme-tooz')
                    self.coord.get_lock('acme-own')
                    coordinator.get_lock('acme-arg')
                    cache.get_lock('not-a-lock')
                    helpers.synchronized('acme-x', external=True)
                    helpers.synchronized('acme-y', external=False)
                    coordination.synchronized_remove('acme-*')
            ''')
        self.assertEqual([
            ('mod.py', 15, 'global', 'self._tooz.get_lock', 'acme-tooz',
             'D.run', False),
            ('mod.py', 16, 'global', 'self.coord.get_lock', 'acme-own',
             'D.run', False),
            ('mod.py', 17, 'global', 'coordinator.get_lock', 'acme-arg',
             'D.run', False),
            ('mod.py', 19, 'host', 'helpers.synchronized(external=True)',
             'acme-x', 'D.run', True),
        ], rows(locks))
        self.assertEqual(['self._tooz is a Tooz coordinator'],
                         locks[0].notes)
        self.assertEqual(['self.coord is a cinder.coordination.Coordinator'],
                         locks[1].notes)

    def test_relative_imports_in_a_package(self):
        top = self.make_tree({
            'cinder/__init__.py': '',
            'cinder/volume/__init__.py': '',
            'cinder/volume/drivers/__init__.py': '',
            'cinder/volume/drivers/x.py': '''\
                from ... import coordination
                from ... import utils


                @coordination.synchronized('{v}')
                def f(v):
                    pass


                @utils.synchronized('old')
                def g():
                    pass
                ''',
        })
        inventory = li.scan([os.path.join(top, 'cinder', 'volume',
                                          'drivers', 'x.py')])
        self.assertEqual([
            ('cinder/volume/drivers/x.py', 5, 'global',
             'coordination.synchronized', '{v}', 'f', False),
            ('cinder/volume/drivers/x.py', 10, 'host', 'utils.synchronized',
             'old', 'g', True),
        ], rows(inventory.locks))

    def test_not_locks(self):
        self.assertEqual([], self.locks_of('''\
            import threading

            from cinder import coordination
            from cinder import lockutils  # not oslo.concurrency's


            def f(lock):
                threading.Event()
                coordination.synchronized_remove('x*')
                lockutils.synchronized('y', external=False)
                lock.acquire()
            '''))


class VolumeServiceTestCase(ToolTestCase):

    def setUp(self):
        super().setUp()
        self.top = self.make_tree({
            'drv/__init__.py': '',
            'drv/volume/__init__.py': '',
            'drv/volume/a.py': '''\
                from oslo_concurrency import lockutils


                @lockutils.synchronized('a', external=True)
                def a():
                    pass
                ''',
            'drv/volume/b.py': '''\
                from oslo_concurrency import lockutils  # noqa

                LOCKS = {'b': lockutils}
                ''',
            'drv/other.py': '''\
                from cinder import utils


                @utils.synchronized('c')
                def c():
                    pass
                ''',
            'drv/tests/test_x.py': '''\
                from oslo_concurrency import lockutils


                @lockutils.synchronized('t', external=True)
                def t():
                    pass
                ''',
        })
        self.drv = os.path.join(self.top, 'drv')

    def test_default_is_the_volume_subpackage(self):
        inventory = li.scan([self.drv])
        self.assertEqual(['drv/volume'], inventory.volume_service)
        self.assertEqual(
            [('drv/other.py', 4, False), ('drv/volume/a.py', 4, True)],
            [(lock.file, lock.line, lock.in_volume_service)
             for lock in inventory.locks])
        self.assertEqual([
            ('drv/volume/a.py', 4,
             'host lock a: lockutils.synchronized(external=True) in a'),
            ('drv/volume/b.py', 1,
             'imports oslo_concurrency.lockutils but takes no lock with it '
             'that this tool recognises; check it by hand'),
        ], [(p.file, p.line, p.message) for p in inventory.problems])

    def test_without_a_volume_subpackage_the_whole_path_counts(self):
        volume = os.path.join(self.drv, 'volume')
        status, _out, err = self.run_main(os.path.join(self.drv, 'other.py'))
        self.assertEqual(1, status)
        self.assertIn('drv/other.py:4: host lock c', err)
        shutil.rmtree(volume)
        inventory = li.scan([self.drv])
        self.assertEqual(['drv'], inventory.volume_service)
        self.assertEqual(['drv/other.py'],
                         [p.file for p in inventory.problems])

    def test_explicit_volume_service(self):
        status, _out, err = self.run_main(
            '--volume-service', os.path.join(self.drv, 'other.py'), self.drv)
        self.assertEqual(1, status)
        self.assertIn('drv/other.py:4:', err)
        self.assertNotIn('drv/volume/a.py', err)
        status, _out, err = self.run_main(
            '--volume-service', os.path.join(self.top, 'nowhere'), self.drv)
        self.assertEqual(2, status)
        self.assertIn('no such file or directory', err)

    def test_include_tests(self):
        inventory = li.scan([self.drv], include_tests=True)
        self.assertIn('drv/tests/test_x.py',
                      [lock.file for lock in inventory.locks])
        # tests/ is not under drv/volume.
        self.assertNotIn('drv/tests/test_x.py',
                         [p.file for p in inventory.problems])


class ErrorsTestCase(ToolTestCase):

    def test_a_file_that_does_not_parse_exits_2(self):
        top = self.make_tree({'pkg/__init__.py': '',
                              'pkg/good.py': 'x = 1\n',
                              'pkg/broken.py': 'def f(:\n    pass\n'})
        status, out, err = self.run_main(os.path.join(top, 'pkg'))
        self.assertEqual(2, status)
        self.assertEqual('', out)
        self.assertIn('cannot parse pkg/broken.py', err)
        self.assertIn('(line 1)', err)
        result = subprocess.run(
            [sys.executable, tools.LOCK_INVENTORY, os.path.join(top, 'pkg')],
            capture_output=True, text=True, check=False)
        self.assertEqual(2, result.returncode)
        self.assertIn('pkg/broken.py', result.stderr)

    def test_bad_arguments_exit_2(self):
        for argv in [(), ('--format', 'xml', FIXTURE),
                     ('--check', INC, '--format', 'json', CINDER),
                     ('/no/such/path',)]:
            status, _out, err = self.run_main(*argv)
            self.assertEqual(2, status, argv)
            self.assertIn('usage: lock_inventory.py', err)
