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

"""Tests of the tgt array driver with a fake tgtadm.

:class:`FakeTgtadm` keeps a target table and answers ``--op show`` in
tgtd's format, so the driver's parser is exercised on every call. The
driver's locks are real file locks (``CoordinatorFixture``), probed from
inside the fake commands. The driver against a real tgtd is tested in
cinder/tests/functional/test_tgt_array.py.
"""

import os
import subprocess
from unittest import mock
import uuid

import fixtures
from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from cinder.common import processes
from cinder import coordination
from cinder import exception
from cinder import objects
from cinder.tests import coordination_fixture
from cinder.tests import processes_fixture
from cinder.volume.drivers import tgt_array

GiB = 1024 ** 3
PREFIX = 'iqn.2010-10.org.openstack'
HOST_LOCK = 'tgt-host-compute-1'
TARGETS_LOCK = 'tgt-targets'
CONNECTOR = {'host': 'compute-1',
             'initiator': 'iqn.1993-08.org.debian:01:c1'}
TARGET = PREFIX + ':host-compute-1'

# Captured from tgt 1.0.85 (tgtadm --lld iscsi --op show --mode target),
# with an I_T nexus section in tgtd's format, a path with spaces and
# colons, and a section this parser does not know.
SHOW = """\
Target 1: iqn.2010-10.org.openstack:host-compute-1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.1993-08.org.debian:01:c1 alias: c1
            Connection: 0
                IP Address: 192.0.2.1
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags: \n\
        LUN: 1
            Type: disk
            SCSI ID: IET     00010001
            SCSI SN: beaf11
            Size: 1074 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: /srv/tgt volumes/volume-a:1
            Backing store flags: \n\
        LUN: 4
            Type: disk
            Size: 2147 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /srv/tgt/volume-b
    Account information:
    ACL information:
        192.0.2.1
        iqn.1993-08.org.debian:01:c1
    Future information:
        Something: else
Target 12: iqn.2001-04.com.example:other
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
    Account information:
    ACL information:
        ALL
"""


class FakeTgtadm(object):
    """tgtadm against an in-memory tgtd; answers like tgt 1.0.85."""

    def __init__(self):
        self.targets = {}  # tid -> {'name', 'luns': {n: path}, 'acl'}
        self.calls = []
        #: (op, mode) -> callable run before the command, given its
        #: options; ('convert', 'qemu-img') -> run before a copy, given
        #: the command.
        self.hooks = {}
        self.unreachable = False

    def fail(self, message, code=22):
        raise processutils.ProcessExecutionError(
            stdout='', stderr='tgtadm: %s\n' % message, exit_code=code,
            cmd='tgtadm')

    def __call__(self, *cmd, **kwargs):
        if os.path.basename(cmd[0]) == 'qemu-img':
            # A sparse copy of what the tests write: the first MiB.
            self.calls.append(list(cmd))
            hook = self.hooks.get(('convert', 'qemu-img'))
            if hook is not None:
                hook(cmd)
            with open(cmd[-2], 'rb') as src, open(cmd[-1], 'wb') as dst:
                dst.write(src.read(1 << 20))
                dst.truncate(os.fstat(src.fileno()).st_size)
            return '', ''
        self.calls.append(list(cmd))
        args = list(cmd[1:])
        opts = {}
        while args:
            key = args.pop(0)
            if key == '--force':
                opts['force'] = True
            else:
                opts[key] = args.pop(0)
        if self.unreachable:
            self.fail('failed to send request hdr to tgt daemon, Transport '
                      'endpoint is not connected', code=107)
        op, mode = opts.get('--op'), opts.get('--mode')
        hook = self.hooks.get((op, mode))
        if hook is not None:
            hook(opts)
        return getattr(self, '_%s_%s' % (op, mode))(opts), ''

    def _target(self, opts):
        tid = int(opts['--tid'])
        if tid not in self.targets:
            self.fail("can't find the target")
        return self.targets[tid]

    def _show_target(self, opts):
        out = []
        for tid, t in sorted(self.targets.items()):
            out.append('Target %d: %s' % (tid, t['name']))
            out.append('    System information:')
            out.append('        Driver: iscsi')
            out.append('        State: ready')
            out.append('    I_T nexus information:')
            out.append('    LUN information:')
            out.append('        LUN: 0')
            out.append('            Type: controller')
            out.append('            Backing store path: None')
            for n, path in sorted(t['luns'].items()):
                out.append('        LUN: %d' % n)
                out.append('            Type: disk')
                out.append('            Backing store type: rdwr')
                out.append('            Backing store path: %s' % path)
                out.append('            Backing store flags: ')
            out.append('    Account information:')
            out.append('    ACL information:')
            out.extend('        %s' % a for a in t['acl'])
        return '\n'.join(out) + ('\n' if out else '')

    def _show_portal(self, opts):
        return 'Portal: 127.0.0.1:3260,1\n'

    def _new_target(self, opts):
        tid = int(opts['--tid'])
        name = opts['--targetname']
        if tid in self.targets or any(t['name'] == name
                                      for t in self.targets.values()):
            self.fail('this target already exists')
        self.targets[tid] = {'name': name, 'luns': {}, 'acl': []}

    def _delete_target(self, opts):
        self._target(opts)
        del self.targets[int(opts['--tid'])]

    def _new_logicalunit(self, opts):
        target = self._target(opts)
        lun = int(opts['--lun'])
        if lun == 0 or lun in target['luns']:
            self.fail('this logical unit number already exists')
        target['luns'][lun] = opts['--backing-store']

    def _delete_logicalunit(self, opts):
        target = self._target(opts)
        if int(opts['--lun']) not in target['luns']:
            self.fail("can't find the logical unit")
        del target['luns'][int(opts['--lun'])]

    def _bind_target(self, opts):
        target = self._target(opts)
        value = opts.get('--initiator-name') or opts['--initiator-address']
        if value in target['acl']:
            self.fail('this access control rule already exists')
        target['acl'].append(value)

    def commands(self):
        """The tgtadm calls as (op, mode) pairs."""
        out = []
        for call in self.calls:
            if 'tgtadm' in call[0]:
                out.append((call[call.index('--op') + 1],
                            call[call.index('--mode') + 1]))
        return out


class ParserTestCase(base.BaseTestCase):

    def test_parse_show(self):
        targets = tgt_array.parse_targets(SHOW)
        self.assertEqual([1, 12], sorted(targets))
        t1 = targets[1]
        self.assertEqual('iqn.2010-10.org.openstack:host-compute-1', t1.name)
        self.assertEqual([0, 1, 4], sorted(t1.luns))
        self.assertEqual('controller', t1.luns[0].type)
        self.assertIsNone(t1.luns[0].backing_store)
        self.assertEqual({1: '/srv/tgt volumes/volume-a:1',
                          4: '/srv/tgt/volume-b'},
                         {n: lun.backing_store
                          for n, lun in t1.volume_luns.items()})
        self.assertEqual('1074 MB, Block size: 512',
                         t1.luns[1].attributes['Size'])
        self.assertEqual(['192.0.2.1', 'iqn.1993-08.org.debian:01:c1'],
                         t1.acl)
        self.assertEqual(1, t1.sessions)
        self.assertEqual(['iqn.1993-08.org.debian:01:c1'], t1.initiators)
        self.assertEqual(4, t1.lun_of('/srv/tgt//volume-b'))
        self.assertIsNone(t1.lun_of('/srv/tgt/volume-c'))
        t12 = targets[12]
        self.assertEqual(['ALL'], t12.acl)
        self.assertEqual({}, t12.volume_luns)
        self.assertEqual(0, t12.sessions)

    def test_parse_empty_and_other_indentation(self):
        self.assertEqual({}, tgt_array.parse_targets(''))
        self.assertEqual({}, tgt_array.parse_targets('\n\n'))
        text = ('Target 3: iqn.x:y\n'
                '\tLUN information:\n'
                '\t\tLUN: 1\n'
                '\t\t\tBacking store path: /v/1\n'
                '\tACL information:\n'
                '\t\tALL\n')
        target = tgt_array.parse_targets(text)[3]
        self.assertEqual({1: '/v/1'}, {n: lun.backing_store for n, lun in
                                       target.volume_luns.items()})
        self.assertEqual(['ALL'], target.acl)

    def test_parse_ignores_garbage(self):
        text = ('tgtadm: something odd\n'
                'Target x: nope\n'
                'Target 2: iqn.x:z\n'
                '    LUN information:\n'
                '        Backing store path: /orphan\n'
                '        LUN: 1\n'
                '            no colon here\n'
                '            Backing store path: /v/2\n')
        targets = tgt_array.parse_targets(text)
        self.assertEqual([2], sorted(targets))
        self.assertEqual({1: '/v/2'}, {n: lun.backing_store for n, lun in
                                       targets[2].volume_luns.items()})

    def test_host_target_name(self):
        name = tgt_array.host_target_name
        self.assertEqual(PREFIX + ':host-compute-1',
                         name(PREFIX, 'compute-1'))
        self.assertEqual(PREFIX + ':host-node.example.org',
                         name(PREFIX, 'node.example.org'))
        # Characters tgtd refuses (or case) are folded, with a hash of
        # the host, so that folded names do not collide.
        a, b, c = (name(PREFIX, 'compute_1'), name(PREFIX, 'Compute-1'),
                   name(PREFIX, 'compute@1'))
        for folded in (a, b, c):
            self.assertRegex(folded, r'^%s:host-compute-1-[0-9a-f]{12}$'
                             % PREFIX)
        self.assertEqual(4, len({a, b, c, name(PREFIX, 'compute-1')}))
        self.assertEqual(a, name(PREFIX, 'compute_1'))
        long_name = name(PREFIX, 'h' * 300)
        self.assertLessEqual(len(long_name), tgt_array.MAX_TARGET_NAME)
        self.assertNotEqual(long_name, name(PREFIX, 'h' * 299))
        self.assertRegex(name(PREFIX, '___'), r':host-host-[0-9a-f]{12}$')

    def test_lowest_free(self):
        self.assertEqual(1, tgt_array.lowest_free([]))
        self.assertEqual(1, tgt_array.lowest_free([0, 2, 3]))
        self.assertEqual(4, tgt_array.lowest_free({0: 1, 1: 1, 2: 1, 3: 1}))
        self.assertEqual(2, tgt_array.lowest_free([1, 3]))


class DriverTestCase(base.BaseTestCase):

    def setUp(self):
        super(DriverTestCase, self).setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.volumes_dir = os.path.join(self.tmp, 'volumes')
        os.mkdir(self.volumes_dir)
        self.conf = cfg.ConfigOpts()
        self.fixture = self.useFixture(config_fixture.Config(self.conf))
        self.tgtadm = FakeTgtadm()
        self.driver = tgt_array.TgtArrayDriver(configuration=self.conf,
                                               host='svc1',
                                               execute=self.tgtadm)
        self.fixture.config(state_path=self.tmp, tgt_control_port=5)
        self.fixture.config(tgt_volumes_dir=self.volumes_dir)
        self.locks = self.useFixture(coordination_fixture.CoordinatorFixture())
        self.driver.do_setup()
        self.driver.check_for_setup_error()
        self.tgtadm.calls = []

    def volume(self, size=1):
        volume = objects.Volume(size=size)
        self.driver.create_volume(volume)
        return volume

    def path(self, volume):
        return os.path.join(self.volumes_dir, volume.name)

    def luns(self, tid=1):
        return self.tgtadm.targets[tid]['luns']

    def lock_state(self):
        return (self.locks.is_locked(HOST_LOCK),
                self.locks.is_locked(TARGETS_LOCK))


class OptionsTestCase(DriverTestCase):

    def test_options_and_defaults(self):
        conf = cfg.ConfigOpts()
        tgt_array.TgtArrayDriver(configuration=conf)
        conf([])
        conf.set_override('state_path', '/var/lib/cinder')
        self.assertEqual(0, conf.tgt_control_port)
        self.assertEqual('127.0.0.1:3260', conf.tgt_portal)
        self.assertEqual('/var/lib/cinder/tgt-volumes', conf.tgt_volumes_dir)
        self.assertEqual(PREFIX, conf.tgt_target_prefix)
        self.assertEqual('tgtadm', conf.tgtadm_path)
        self.assertEqual(
            ['tgt_control_port', 'tgt_portal', 'tgt_volumes_dir',
             'tgt_target_prefix', 'tgtadm_path'],
            [o.name for o in tgt_array.tgt_array_opts])
        self.assertIs(tgt_array.tgt_array_opts,
                      tgt_array.TgtArrayDriver.OPTS)
        self.assertTrue(tgt_array.TgtArrayDriver.SUPPORTS_ACTIVE_ACTIVE)
        self.assertEqual('tgt', tgt_array.TgtArrayDriver.driver_prefix)

    def test_command_line(self):
        self.driver._show()
        self.assertEqual(['tgtadm', '-C', '5', '--lld', 'iscsi', '--op',
                          'show', '--mode', 'target'], self.tgtadm.calls[-1])
        self.fixture.config(tgt_control_port=0, tgtadm_path='/opt/tgtadm')
        self.driver._show()
        self.assertEqual(['/opt/tgtadm', '--lld', 'iscsi', '--op', 'show',
                          '--mode', 'target'], self.tgtadm.calls[-1])

    def test_unreachable_tgtd_names_control_port(self):
        self.tgtadm.unreachable = True
        for call in (self.driver.do_setup, self.driver.check_for_setup_error,
                     lambda: self.driver.initialize_connection(
                         self.volume(), CONNECTOR)):
            exc = self.assertRaises(exception.VolumeBackendAPIException,
                                    call)
            self.assertIn('tgt_control_port = 5', str(exc))
            self.assertIn('/var/run/tgtd/socket.5', str(exc))
            self.assertIn('Transport endpoint is not connected', str(exc))

    def test_hung_tgtd_times_out_naming_control_port(self):
        execute = mock.Mock(side_effect=subprocess.TimeoutExpired('x', 60))
        self.driver._execute = execute
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver._show)
        self.assertIn('within 60 s', str(exc))
        self.assertIn('tgt_control_port = 5', str(exc))
        self.assertEqual(tgt_array.TGTADM_TIMEOUT,
                         execute.call_args.kwargs['timeout'])

    def test_tgtadm_killed_by_the_stopping_service_says_so(self):
        children = self.useFixture(processes_fixture.ChildProcessesFixture())
        children.doom('cinder-volume is stopping')
        # The default runner: tgtadm runs as a registered child.
        self.fixture.config(tgtadm_path='true')
        driver = tgt_array.TgtArrayDriver(configuration=self.conf)
        exc = self.assertRaises(tgt_array.TgtadmError, driver._show)
        self.assertIn('tgtadm --op show --mode target was killed: '
                      'cinder-volume is stopping', str(exc))
        self.assertIn('killed', exc.reason)

    def test_missing_tgtadm_names_tgtadm_path(self):
        self.fixture.config(tgtadm_path='/nonexistent/tgtadm')
        driver = tgt_array.TgtArrayDriver(configuration=self.conf)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                driver.do_setup)
        self.assertIn('tgtadm_path = /nonexistent/tgtadm', str(exc))

    def test_missing_volumes_dir(self):
        missing = os.path.join(self.tmp, 'nope')
        self.fixture.config(tgt_volumes_dir=missing)
        exc = self.assertRaises(exception.ConfigurationError,
                                self.driver.do_setup)
        self.assertIn('tgt_volumes_dir = %s' % missing, str(exc))
        self.assertFalse(os.path.exists(missing))

    def test_bad_prefix_and_portal(self):
        self.fixture.config(tgt_target_prefix='iqn.x_y')
        exc = self.assertRaises(exception.ConfigurationError,
                                self.driver.do_setup)
        self.assertIn('tgt_target_prefix', str(exc))
        self.fixture.config(tgt_target_prefix=PREFIX, tgt_portal='host')
        exc = self.assertRaises(exception.ConfigurationError,
                                self.driver.do_setup)
        self.assertIn('tgt_portal', str(exc))

    def test_other_tgtadm_error_is_reported(self):
        self.tgtadm.targets[1] = {'name': 'iqn.x:other', 'luns': {},
                                  'acl': []}
        exc = self.assertRaises(
            tgt_array.TgtadmError, self.driver._tgtadm, '--op', 'new',
            '--mode', 'target', '--tid', '1', '--targetname', 'iqn.x:y')
        self.assertEqual('this target already exists', exc.reason)
        self.assertIn('exit code 22', str(exc))
        self.assertNotIn('tgt_control_port', str(exc))

    def test_stats(self):
        stats = self.driver.get_volume_stats()
        self.assertEqual('iSCSI', stats['storage_protocol'])
        self.assertTrue(stats['active_active'])
        self.assertIsInstance(stats['total_capacity_gb'], float)


class AttachTestCase(DriverTestCase):

    def test_first_attach_creates_host_target(self):
        # A foreign target holds tid 1 and 3: ours gets tid 2.
        for tid in (1, 3):
            self.tgtadm.targets[tid] = {'name': 'iqn.x:foreign%d' % tid,
                                        'luns': {}, 'acl': []}
        volume = self.volume()
        info = self.driver.initialize_connection(volume, CONNECTOR)
        self.assertEqual({
            'driver_volume_type': 'iscsi',
            'data': {'target_discovered': False,
                     'target_portal': '127.0.0.1:3260',
                     'target_iqn': TARGET,
                     'target_lun': 1,
                     'volume_id': volume.id,
                     'access_mode': 'rw'}}, info)
        self.assertEqual({'name': TARGET, 'luns': {1: self.path(volume)},
                          'acl': [CONNECTOR['initiator']]},
                         self.tgtadm.targets[2])
        self.assertEqual([('show', 'target'), ('show', 'target'),
                          ('new', 'target'), ('bind', 'target'),
                          ('new', 'logicalunit')], self.tgtadm.commands())

    def test_luns_lowest_free_and_idempotent(self):
        v1, v2, v3 = self.volume(), self.volume(), self.volume()
        lun = [self.driver.initialize_connection(v, CONNECTOR)['data']
               ['target_lun'] for v in (v1, v2, v3)]
        self.assertEqual([1, 2, 3], lun)
        self.driver.terminate_connection(v2, CONNECTOR)
        self.assertEqual({1: self.path(v1), 3: self.path(v3)}, self.luns())
        v4 = self.volume()
        self.assertEqual(2, self.driver.initialize_connection(
            v4, CONNECTOR)['data']['target_lun'])
        # Again: the same LUN, nothing added.
        self.tgtadm.calls = []
        self.assertEqual(2, self.driver.initialize_connection(
            v4, CONNECTOR)['data']['target_lun'])
        self.assertEqual([('show', 'target')], self.tgtadm.commands())
        self.assertEqual(1, len(self.tgtadm.targets))
        self.assertEqual([CONNECTOR['initiator']],
                         self.tgtadm.targets[1]['acl'])

    def test_acl_by_address_and_missing_connector_fields(self):
        volume = self.volume()
        info = self.driver.initialize_connection(
            volume, {'host': 'h2', 'ip': '192.0.2.9'})
        self.assertEqual(PREFIX + ':host-h2', info['data']['target_iqn'])
        self.assertEqual(['192.0.2.9'], self.tgtadm.targets[1]['acl'])
        self.assertIn('--initiator-address', self.tgtadm.calls[-2])
        exc = self.assertRaises(exception.InvalidInput,
                                self.driver.initialize_connection, volume,
                                {'host': 'h3'})
        self.assertIn('initiator', str(exc))
        for connector in ({'initiator': 'iqn.x:y'}, None, {'host': ''}):
            exc = self.assertRaises(exception.InvalidInput,
                                    self.driver.initialize_connection,
                                    volume, connector)
            self.assertIn('"host"', str(exc))
            self.assertRaises(exception.InvalidInput,
                              self.driver.terminate_connection, volume,
                              connector)

    def test_new_initiator_of_existing_host_is_bound(self):
        v1, v2 = self.volume(), self.volume()
        self.driver.initialize_connection(v1, CONNECTOR)
        other = dict(CONNECTOR, initiator='iqn.1993-08.org.debian:01:new')
        self.driver.initialize_connection(v2, other)
        self.assertEqual([CONNECTOR['initiator'], other['initiator']],
                         self.tgtadm.targets[1]['acl'])

    def test_missing_volume_file(self):
        volume = objects.Volume()
        self.assertRaises(exception.VolumeNotFound,
                          self.driver.initialize_connection, volume,
                          CONNECTOR)
        self.assertEqual([], self.tgtadm.calls)

    def test_failed_lun_drops_new_target(self):
        volume = self.volume()

        def fail(opts):
            self.tgtadm.fail('invalid request')
        self.tgtadm.hooks[('new', 'logicalunit')] = fail
        exc = self.assertRaises(tgt_array.TgtadmError,
                                self.driver.initialize_connection, volume,
                                CONNECTOR)
        self.assertIn('invalid request', str(exc))
        self.assertEqual({}, self.tgtadm.targets)

    def test_detach(self):
        v1, v2 = self.volume(), self.volume()
        for v in (v1, v2):
            self.driver.initialize_connection(v, CONNECTOR)
        self.driver.terminate_connection(v1, CONNECTOR)
        self.assertEqual({2: self.path(v2)}, self.luns())
        # Not attached: nothing removed, the target stays.
        self.tgtadm.calls = []
        self.driver.terminate_connection(v1, CONNECTOR)
        self.assertEqual([('show', 'target'), ('show', 'target')],
                         self.tgtadm.commands())
        # The last LUN: the target goes, with its ACL (--force: an
        # initiator may still be logged in).
        self.driver.terminate_connection(v2, CONNECTOR)
        self.assertEqual({}, self.tgtadm.targets)
        self.assertIn(['tgtadm', '-C', '5', '--lld', 'iscsi', '--op',
                       'delete', '--force', '--mode', 'target', '--tid',
                       '1'], self.tgtadm.calls)
        # No target at all: nothing to do.
        self.tgtadm.calls = []
        self.driver.terminate_connection(v2, CONNECTOR)
        self.assertEqual([('show', 'target')], self.tgtadm.commands())

    def test_detach_tolerates_lun_gone_meanwhile(self):
        volume = self.volume()
        self.driver.initialize_connection(volume, CONNECTOR)

        def gone(opts):
            self.tgtadm.targets[1]['luns'].clear()
        self.tgtadm.hooks[('delete', 'logicalunit')] = gone
        self.driver.terminate_connection(volume, CONNECTOR)
        self.assertEqual({}, self.tgtadm.targets)


class LockTestCase(DriverTestCase):
    """Lock names, scopes and order."""

    def record_locks(self, op, mode):
        seen = []
        self.tgtadm.hooks[(op, mode)] = lambda opts: seen.append(
            self.lock_state())
        return seen

    def test_first_attach_locks_volume_then_host_then_targets(self):
        new_target = self.record_locks('new', 'target')
        bind = self.record_locks('bind', 'target')
        new_lun = self.record_locks('new', 'logicalunit')
        volume = self.volume()
        self.locks.requested[:] = []
        self.driver.initialize_connection(volume, CONNECTOR)
        self.assertEqual(['tgt-%s' % volume.id, HOST_LOCK, TARGETS_LOCK],
                         self.locks.requested)
        self.assertEqual([(True, True)], new_target)
        self.assertEqual([(True, False)], bind)
        self.assertEqual([(True, False)], new_lun)
        self.assertEqual((False, False), self.lock_state())

    def test_attach_to_existing_target_takes_volume_and_host_locks(self):
        self.driver.initialize_connection(self.volume(), CONNECTOR)
        volume = self.volume()
        self.locks.requested[:] = []
        self.driver.initialize_connection(volume, CONNECTOR)
        self.assertEqual(['tgt-%s' % volume.id, HOST_LOCK],
                         self.locks.requested)

    def test_detach_of_last_lun_locks_host_then_targets(self):
        v1, v2 = self.volume(), self.volume()
        for v in (v1, v2):
            self.driver.initialize_connection(v, CONNECTOR)
        delete_lun = self.record_locks('delete', 'logicalunit')
        delete_target = self.record_locks('delete', 'target')
        self.locks.requested[:] = []
        self.driver.terminate_connection(v1, CONNECTOR)
        self.assertEqual([HOST_LOCK], self.locks.requested)
        self.locks.requested[:] = []
        self.driver.terminate_connection(v2, CONNECTOR)
        self.assertEqual([HOST_LOCK, TARGETS_LOCK], self.locks.requested)
        self.assertEqual([(True, False), (True, False)], delete_lun)
        self.assertEqual([(True, True)], delete_target)

    def test_host_lock_is_per_connector_host(self):
        volume = self.volume()
        self.locks.requested[:] = []
        self.driver.initialize_connection(
            volume, {'host': 'node_7.example', 'ip': '192.0.2.7'})
        self.assertEqual(['tgt-%s' % volume.id, 'tgt-host-node_7.example',
                          TARGETS_LOCK], self.locks.requested)

    def test_before_target_delete_runs_in_host_lock_only(self):
        volume = self.volume()
        self.driver.initialize_connection(volume, CONNECTOR)
        seen = []

        def hook(target):
            seen.append((target.tid, target.name, self.lock_state()))
        self.driver.before_target_delete = hook
        self.driver.terminate_connection(volume, CONNECTOR)
        self.assertEqual([(1, TARGET, (True, False))], seen)

    def test_lost_lock_stops_destructive_steps(self):
        volume, other = self.volume(), self.volume()
        self.driver.initialize_connection(volume, CONNECTOR)
        self.tgtadm.calls = []
        with mock.patch.object(coordination, 'ensure_locks_held',
                               side_effect=coordination.LockLost('gone')):
            self.assertRaises(coordination.LockLost,
                              self.driver.terminate_connection, volume,
                              CONNECTOR)
            self.assertRaises(coordination.LockLost,
                              self.driver.initialize_connection,
                              other, {'host': 'h2', 'ip': '1.2.3.4'})
        self.assertEqual([('show', 'target')] * 3, self.tgtadm.commands())
        self.assertEqual({1: self.path(volume)}, self.luns())


class VolumeFilesTestCase(DriverTestCase):

    def write(self, path, data, offset=0):
        with open(path, 'r+b') as f:
            f.seek(offset)
            f.write(data)

    def read(self, path, size, offset=0):
        with open(path, 'rb') as f:
            f.seek(offset)
            return f.read(size)

    def test_create_sparse_and_extend(self):
        volume = self.volume(size=2)
        path = self.path(volume)
        self.assertEqual(2 * GiB, os.path.getsize(path))
        self.assertLess(os.stat(path).st_blocks * 512, GiB)
        self.assertRaises(exception.VolumeBackendAPIException,
                          self.driver.create_volume, volume)
        self.driver.extend_volume(volume, 3)
        self.assertEqual(3 * GiB, os.path.getsize(path))
        self.assertRaises(exception.InvalidInput,
                          self.driver.extend_volume, volume, 1)

    def test_clone_snapshot_revert_delete(self):
        src = self.volume()
        self.write(self.path(src), b'data')
        clone = objects.Volume(size=2)
        self.driver.create_cloned_volume(clone, src)
        self.assertEqual(['qemu-img', 'convert', '-f', 'raw', '-O', 'raw',
                          self.path(src)], self.tgtadm.calls[-1][:-1])
        self.assertEqual(b'data', self.read(self.path(clone), 4))
        self.assertEqual(2 * GiB, os.path.getsize(self.path(clone)))

        snap = objects.Snapshot(volume=src)
        self.driver.create_snapshot(snap)
        self.write(self.path(src), b'new!')
        restored = objects.Volume(size=1)
        self.driver.create_volume_from_snapshot(restored, snap)
        self.assertEqual(b'data', self.read(self.path(restored), 4))
        self.driver.revert_to_snapshot(src, snap)
        self.assertEqual(b'data', self.read(self.path(src), 4))

        self.driver.delete_snapshot(snap)
        self.driver.delete_snapshot(snap)
        self.driver.delete_volume(clone)
        self.driver.delete_volume(clone)
        self.assertEqual(sorted([src.name, restored.name]),
                         sorted(os.listdir(self.volumes_dir)))

    def test_exported_volume_is_not_deleted_or_reverted(self):
        volume = self.volume()
        snap = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snap)
        self.driver.initialize_connection(volume, CONNECTOR)
        for call in (lambda: self.driver.delete_volume(volume),
                     lambda: self.driver.revert_to_snapshot(volume, snap)):
            exc = self.assertRaises(exception.InvalidVolume, call)
            self.assertIn('LUN 1 of target %s' % TARGET, str(exc))
        self.assertTrue(os.path.exists(self.path(volume)))

    def test_failed_copy_leaves_nothing(self):
        src = self.volume()

        def fail(*cmd, **kwargs):
            open(cmd[-1], 'w').close()
            raise processutils.ProcessExecutionError(
                stderr='qemu-img: boom', exit_code=1)
        self.driver._execute = fail
        clone = objects.Volume()
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_cloned_volume, clone, src)
        self.assertIn('qemu-img: boom', str(exc))
        self.assertEqual([src.name], os.listdir(self.volumes_dir))

    def test_copy_killed_by_the_stopping_service_says_so(self):
        src = self.volume()
        children = self.useFixture(processes_fixture.ChildProcessesFixture())
        children.doom('cinder-volume is stopping')
        self.driver._execute = processes.execute
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_cloned_volume,
                                objects.Volume(), src)
        self.assertIn('killed: cinder-volume is stopping', str(exc))
        self.assertEqual([src.name], os.listdir(self.volumes_dir))


class ListResourceIdsTestCase(DriverTestCase):

    def test_lists_volume_and_snapshot_files(self):
        volume = self.volume()
        snap = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snap)
        gone = self.volume()
        self.driver.delete_volume(gone)
        staged_id = str(uuid.uuid4())
        open(os.path.join(self.volumes_dir, 'volume-%s.revert' % staged_id),
             'w').close()
        open(os.path.join(self.volumes_dir, 'notes.txt'), 'w').close()

        ids = self.driver.list_resource_ids()

        self.assertEqual({volume.id, staged_id}, ids.volumes)
        self.assertEqual({snap.id}, ids.snapshots)

    def test_unreadable_directory_names_the_option(self):
        self.fixture.config(tgt_volumes_dir=os.path.join(self.tmp, 'nope'))
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.list_resource_ids)
        self.assertIn('tgt_volumes_dir = %s' % os.path.join(self.tmp, 'nope'),
                      str(e))
