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

"""The tgt driver's per-volume lock and the temporary files of its copies.

With :class:`~test_tgt_array.FakeTgtadm` and real file locks. That an
attach of another service, on a real lock server, waits for a revert is
shown against a real tgtd in cinder/tests/functional/test_tgt_array.py.
"""

import os
import re
from unittest import mock

from cinder import coordination
from cinder.coordination import hooks
from cinder import exception
from cinder import objects
from cinder.tests.unit.volume.drivers import test_tgt_array as base
from cinder.volume.drivers import tgt_array

_TMP = re.compile(r'\.tmp-[0-9a-f]{32}$')


class StepRecorder(hooks.LockHook):
    """Each step the driver announced, with the locks confirmed for it."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.steps = []

    def checked(self, lock, step):
        # A copy's temporary name is random: shown as ".tmp-X".
        words = ' '.join(_TMP.sub('.tmp-X', w) for w in step.split(' '))
        name = lock.name[len(self.prefix):]
        if self.steps and self.steps[-1][0] == words:
            self.steps[-1] = (words, tuple(sorted(
                self.steps[-1][1] + (name,))))
        else:
            self.steps.append((words, (name,)))


class VolumeLockTestCase(base.DriverTestCase):

    def vlock(self, volume):
        return 'tgt-%s' % volume.id

    def test_every_file_change_and_export_checks_the_volume_lock(self):
        coordinator = self.locks.coordinator
        recorder = StepRecorder(coordinator.prefix)
        coordinator.add_hook(recorder)
        vol = objects.Volume(size=1)
        self.driver.create_volume(vol)
        snap = objects.Snapshot(volume=vol)
        self.driver.create_snapshot(snap)
        clone = objects.Volume(size=1)
        self.driver.create_cloned_volume(clone, vol)
        restored = objects.Volume(size=1)
        self.driver.create_volume_from_snapshot(restored, snap)
        self.driver.extend_volume(vol, 2)
        self.driver.revert_to_snapshot(vol, snap)
        self.driver.initialize_connection(vol, base.CONNECTOR)
        self.driver.terminate_connection(vol, base.CONNECTOR)
        self.driver.delete_snapshot(snap)
        self.driver.delete_volume(clone)

        v, c, r = self.vlock(vol), self.vlock(clone), self.vlock(restored)
        host, targets = base.HOST_LOCK, base.TARGETS_LOCK
        initiator, target = base.CONNECTOR['initiator'], base.TARGET
        self.assertEqual([
            ('create %s' % vol.name, (v,)),
            ('create %s.tmp-X' % snap.name, (v,)),
            ('create %s' % snap.name, (v,)),
            ('create %s.tmp-X' % clone.name, tuple(sorted((c, v)))),
            ('create %s' % clone.name, tuple(sorted((c, v)))),
            ('create %s.tmp-X' % restored.name, tuple(sorted((r, v)))),
            ('create %s' % restored.name, tuple(sorted((r, v)))),
            ('rewrite %s' % vol.name, (v,)),
            ('create %s.tmp-X' % vol.name, (v,)),
            ('replace %s' % vol.name, (v,)),
            ('create target %s (tid 1)' % target,
             tuple(sorted((v, host, targets)))),
            ('bind %s to %s' % (initiator, target), tuple(sorted((v, host)))),
            ('export %s as LUN 1 of %s' % (vol.name, target),
             tuple(sorted((v, host)))),
            # A detach only removes an export: no volume lock.
            ('remove LUN 1 of %s' % target, (host,)),
            ('delete target %s (tid 1)' % target,
             tuple(sorted((host, targets)))),
            ('delete %s' % snap.name, (v,)),
            ('delete %s' % clone.name, (c,)),
        ], recorder.steps)

    def test_revert_copy_and_attach_hold_the_same_lock(self):
        vol, other = self.volume(), self.volume()
        snap = objects.Snapshot(volume=vol)
        self.driver.create_snapshot(snap)
        seen = []

        def probe(what):
            seen.append((what, self.locks.is_locked(self.vlock(vol)),
                         self.locks.is_locked(self.vlock(other))))
        self.tgtadm.hooks[('convert', 'qemu-img')] = (
            lambda cmd: probe('revert copy'))
        self.tgtadm.hooks[('new', 'logicalunit')] = (
            lambda opts: probe('attach'))
        self.driver.revert_to_snapshot(vol, snap)
        self.driver.initialize_connection(vol, base.CONNECTOR)
        self.assertEqual([('revert copy', True, False),
                          ('attach', True, False)], seen)

    def test_lost_lock_before_the_rename_leaves_the_volume(self):
        vol = self.volume()
        self.write(self.path(vol), b'snap')
        snap = objects.Snapshot(volume=vol)
        self.driver.create_snapshot(snap)
        self.write(self.path(vol), b'late')
        clone = objects.Volume(size=1)
        self.tgtadm.calls = []
        real_check = coordination.ensure_locks_held

        def check(locks=None, step=None):
            # Lost after a copy made its temporary file.
            if step is not None and '.tmp-' not in step:
                raise coordination.LockLost('gone before %s' % step)
            return real_check(locks, step)
        with mock.patch.object(coordination, 'ensure_locks_held',
                               side_effect=check):
            for call in (lambda: self.driver.revert_to_snapshot(vol, snap),
                         lambda: self.driver.create_cloned_volume(clone,
                                                                  vol),
                         lambda: self.driver.extend_volume(vol, 2),
                         lambda: self.driver.delete_volume(vol),
                         lambda: self.driver.delete_snapshot(snap)):
                self.assertRaises(coordination.LockLost, call)
        # The copies ran (their temporary files were made) and removed
        # their temporary files; nothing else changed.
        self.assertEqual(2, len([c for c in self.tgtadm.calls
                                 if c[0] == 'qemu-img']))
        self.assertEqual(sorted([vol.name, snap.name]),
                         sorted(os.listdir(self.volumes_dir)))
        self.assertEqual(b'late', self.read(self.path(vol), 4))
        self.assertEqual(base.GiB, os.path.getsize(self.path(vol)))

    def write(self, path, data):
        with open(path, 'r+b') as f:
            f.write(data)

    def read(self, path, size):
        with open(path, 'rb') as f:
            return f.read(size)


class TempFileTestCase(base.DriverTestCase):
    """Copies of services that share tgt_volumes_dir keep to their files.

    Another host's service may run with the same pid: ``<dst>.tmp-<pid>``
    planted here stands for its copy in progress.
    """

    def plant_foreign_temp(self, dst_path):
        foreign = '%s.tmp-%d' % (dst_path, os.getpid())
        with open(foreign, 'wb') as f:
            f.write(b'copy of another host')
        return foreign

    @staticmethod
    def state(foreign):
        try:
            with open(foreign, 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            return 'gone'
        return 'intact' if data == b'copy of another host' else 'changed'

    def test_copy_leaves_another_services_temp_file(self):
        src = self.volume()
        snap = objects.Snapshot(volume=src)
        self.driver.create_snapshot(snap)
        clone = objects.Volume(size=1)
        foreign = [self.plant_foreign_temp(self.path(clone)),
                   self.plant_foreign_temp(self.path(src))]
        self.driver.create_cloned_volume(clone, src)
        self.driver.revert_to_snapshot(src, snap)
        self.assertEqual(['intact', 'intact'],
                         [self.state(f) for f in foreign])
        self.assertEqual(
            sorted([src.name, snap.name, clone.name] +
                   [os.path.basename(f) for f in foreign]),
            sorted(os.listdir(self.volumes_dir)))

    def test_failed_copy_removes_its_own_temp_file_only(self):
        src = self.volume()
        clone = objects.Volume(size=1)
        foreign = self.plant_foreign_temp(self.path(clone))
        made = []

        def fail(cmd):
            made.append(cmd[-1])
            open(cmd[-1], 'wb').close()
            self.tgtadm.fail('qemu-img: boom', code=1)
        self.tgtadm.hooks[('convert', 'qemu-img')] = fail
        self.assertRaises(exception.VolumeBackendAPIException,
                          self.driver.create_cloned_volume, clone, src)
        self.assertEqual([False, 'intact'],
                         [os.path.exists(made[0]), self.state(foreign)])
        self.assertEqual(sorted([src.name, os.path.basename(foreign)]),
                         sorted(os.listdir(self.volumes_dir)))

    def test_services_with_one_pid_use_different_temp_names(self):
        other = tgt_array.TgtArrayDriver(configuration=self.conf,
                                         host='svc2', execute=self.tgtadm)
        src = self.volume()
        dst = objects.Volume(size=1)
        temps = []
        self.tgtadm.hooks[('convert', 'qemu-img')] = (
            lambda cmd: temps.append(cmd[-1]))
        with mock.patch.object(os, 'getpid', return_value=4242):
            for drv in (self.driver, other):
                drv.create_cloned_volume(dst, src)
                drv.delete_volume(dst)
        self.assertEqual(2, len(set(temps)), temps)
        self.assertEqual([self.path(dst)] * 2,
                         [_TMP.sub('', t) for t in temps])
