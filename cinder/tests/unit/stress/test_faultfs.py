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

"""The fault file system's client, without a mount."""

import os
import subprocess
import tempfile
from unittest import mock

import fixtures
from oslotest import base

from cinder.stress import faultfs
from cinder.stress import faultrules

MOUNTINFO = (
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n'
    '90 22 0:50 / /tmp/a\\040b rw,nosuid,nodev,relatime shared:60 - '
    'fuse.cinder-faultfs cinder-faultfs rw,user_id=0,group_id=0\n'
    '91 22 0:51 / /tmp/other rw,relatime - fuse.sshfs host: rw\n'
    '92 22 0:52 / /tmp/c rw - fuse.cinder-faultfs cinder-faultfs rw\n')


class MountsTest(base.BaseTestCase):

    def test_only_this_file_system_and_escapes_decoded(self):
        self.assertEqual(['/tmp/a b', '/tmp/c'],
                         faultfs.parse_mounts(MOUNTINFO))

    def test_optional_fields_do_not_shift_the_type(self):
        line = ('93 22 0:53 / /m rw shared:2 master:3 - '
                'fuse.cinder-faultfs x rw\n')
        self.assertEqual(['/m'], faultfs.parse_mounts(line))


class UnmountTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.mounted = ['/mnt/x']
        self.commands = []
        self.useFixture(fixtures.MockPatchObject(
            faultfs, 'mounts', side_effect=lambda: list(self.mounted)))
        self.useFixture(fixtures.MockPatchObject(
            subprocess, 'run', side_effect=self.fake_run))
        self.useFixture(fixtures.MockPatchObject(
            os, 'geteuid', return_value=0))
        self.busy = False
        self.stuck = False

    def fake_run(self, command, **kwargs):
        self.commands.append(command)
        lazy = '-l' in command or '-z' in command
        if not self.stuck and (lazy or not self.busy):
            self.mounted.remove('/mnt/x')
        return subprocess.CompletedProcess(command, 0, b'target is busy')

    def test_a_clean_unmount(self):
        self.assertFalse(faultfs.unmount('/mnt/x'))
        self.assertEqual([['umount', '/mnt/x']], self.commands)

    def test_a_busy_mount_is_detached_lazily(self):
        self.busy = True
        self.assertTrue(faultfs.unmount('/mnt/x'))
        self.assertEqual([['umount', '/mnt/x'], ['umount', '-l', '/mnt/x']],
                         self.commands)

    def test_nothing_mounted_runs_nothing(self):
        self.mounted = []
        self.assertFalse(faultfs.unmount('/mnt/x'))
        self.assertEqual([], self.commands)

    def test_a_mount_that_stays_is_an_error_with_what_umount_said(self):
        self.stuck = True
        error = self.assertRaises(faultfs.FaultFSError, faultfs.unmount,
                                  '/mnt/x')
        self.assertIn('/mnt/x is still mounted', str(error))
        self.assertIn('target is busy', str(error))

    def test_not_root_uses_fusermount3(self):
        with mock.patch.object(os, 'geteuid', return_value=1000):
            self.busy = True
            faultfs.unmount('/mnt/x')
        self.assertEqual([['fusermount3', '-u', '/mnt/x'],
                          ['fusermount3', '-u', '-z', '/mnt/x']],
                         self.commands)


class ControlTest(base.BaseTestCase):
    """The client over a real control socket, with no file system."""

    def setUp(self):
        super().setUp()
        directory = tempfile.mkdtemp(dir='/tmp')
        self.addCleanup(os.rmdir, directory)
        path = os.path.join(directory, 'control')
        self.rules = faultrules.RuleSet()
        server = faultrules.ControlServer(path, self.rules)
        server.start()
        self.addCleanup(os.unlink, path)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.control = faultfs.Control(path)

    def test_arm_fired_rules_disarm_clear(self):
        rule = self.control.arm('write', 'f', 'short', size=3, count=None)
        self.assertEqual(0, self.control.fired(rule))
        self.rules.take('write', ('f',))
        self.rules.take('write', ('f',))
        self.assertEqual(2, self.control.fired(rule))
        [described] = self.control.rules()
        self.assertEqual(('short', 3, None), (
            described['mode'], described['size'], described['count']))
        self.assertEqual(2, self.control.disarm(rule)['fired'])
        self.control.arm('link', 'x', 'after', errno='EEXIST')
        self.assertEqual(1, self.control.clear())
        self.assertEqual([], self.control.rules())

    def test_a_refusal_is_an_error_naming_the_argument(self):
        error = self.assertRaises(faultfs.FaultFSError, self.control.arm,
                                  'link', 'x', 'after', errno='EWHAT')
        self.assertIn("errno 'EWHAT'", str(error))
        error = self.assertRaises(faultfs.FaultFSError, self.control.fired,
                                  42)
        self.assertIn('rule 42 is not armed', str(error))


class MissingTest(base.BaseTestCase):

    def test_each_lack_is_named_with_where_to_get_it(self):
        with mock.patch.object(os.path, 'exists', return_value=False), \
                mock.patch('importlib.util.find_spec', return_value=None), \
                mock.patch('ctypes.util.find_library', return_value=None), \
                mock.patch('shutil.which', return_value=None), \
                mock.patch.object(os, 'geteuid', return_value=1000):
            lacking = faultfs.missing()
        self.assertEqual(4, len(lacking))
        for named in ('/dev/fuse', 'mfusepy (pip', 'libfuse3 (Debian fuse3',
                      'fusermount3 (Debian fuse3'):
            self.assertTrue(any(named in lack for lack in lacking), named)

    def test_root_needs_no_fusermount3(self):
        spec = object()
        with mock.patch('shutil.which', return_value=None), \
                mock.patch.object(os, 'geteuid', return_value=0), \
                mock.patch.object(os.path, 'exists', return_value=True), \
                mock.patch('importlib.util.find_spec', return_value=spec), \
                mock.patch('ctypes.util.find_library',
                           return_value='libfuse3.so.3'):
            self.assertEqual([], faultfs.missing())
