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

"""Tests of the RemoteFS snapshot driver on directory shares.

They run the real qemu-img and qemu-io on temporary directories and take
real locks from a file:// coordinator in a temporary directory.
"""

import collections
import errno
import hashlib
import json
import os
import re
import subprocess
from unittest import mock
import uuid

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from cinder import coordination
from cinder import exception
from cinder.image import qemu_img
from cinder import lock_check
from cinder import objects
from cinder.volume.drivers import remotefs
from cinder.volume import fenced_record
from cinder.volume import record_files

GiB = 1024 ** 3


def qemu_io(path, fmt, command):
    proc = subprocess.run(['qemu-io', '-f', fmt, '-c', command, path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    return proc.returncode, proc.stdout


class DirDriver(remotefs.RemoteFSSnapDriver):
    """A RemoteFS snapshot driver whose shares are plain directories."""

    shares_config_option = 'test_shares'
    share_list = ()
    volume_format = 'raw'
    snapshots = True
    copy_on_write = True
    sparse = True

    def _load_shares_config(self):
        return collections.OrderedDict((s, None) for s in self.share_list)

    def _get_mount_point_for_share(self, share):
        return share

    def _mount_share(self, share, options):
        if not os.path.isdir(share):
            raise exception.VolumeDriverException('%s is missing' % share)

    def _volume_format(self):
        return self.volume_format

    def _snapshots_supported(self):
        return self.snapshots

    def _sparse_volumes(self):
        return self.sparse

    def _copy_on_write(self):
        return self.copy_on_write


class DriverTestCase(base.BaseTestCase):
    """Sets up a coordinator, temporary shares and ``self.driver``."""

    lock_prefix = 'remotefs'
    #: How the driver rewrites chains (see chain_rewrites).
    copy_on_write = True

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        self.fixture = self.useFixture(config_fixture.Config(self.conf))
        self.coordinator = self.make_coordinator()
        self.useFixture(fixtures.MockPatchObject(
            coordination, 'COORDINATOR', self.coordinator))
        self.share = os.path.join(self.tmp, 'share1')
        self.share2 = os.path.join(self.tmp, 'share2')
        os.mkdir(self.share)
        os.mkdir(self.share2)
        self.driver = self.make_driver()
        self.driver.do_setup()
        self.driver.check_for_setup_error()

    def make_coordinator(self):
        coordinator = coordination.Coordinator(conf=self.conf)
        self.fixture.config(group='coordination',
                            backend_url='file://' + os.path.join(self.tmp,
                                                                 'locks'))
        os.makedirs(os.path.join(self.tmp, 'locks'), exist_ok=True)
        coordinator.start()
        self.addCleanup(coordinator.stop)
        return coordinator

    def make_driver(self):
        driver = DirDriver(configuration=self.conf)
        driver.share_list = [self.share]
        driver.copy_on_write = self.copy_on_write
        return driver

    # Helpers -------------------------------------------------------------

    def create_volume(self, size=1):
        volume = objects.Volume(size=size)
        volume.update(self.driver.create_volume(volume))
        return volume

    def record(self, volume):
        return fenced_record.FencedRecord(
            self.driver.volume_info_path(volume))

    def info(self, volume):
        """The newest generation of the info file, as a dict."""
        return json.loads(self.record(volume).read().text)

    def plant_info(self, volume, text):
        """Put *text* in the newest generation, as a damaged share would.

        :returns: the path of that generation.
        """
        record = self.record(volume)
        generation = record.read()
        path = record.path_of(generation)
        with open(path, 'w') as f:
            json.dump({'format': fenced_record.FORMAT,
                       'token': generation.token, 'text': text}, f)
        return path

    def live_files(self, directory=None):
        """The files in *directory* (the first share) but tombstones."""
        directory = directory or self.share
        return sorted(self.driver._live_names(directory,
                                              os.listdir(directory)))

    def file_format(self, volume, name):
        if name == volume.name:
            return self.info(volume)['base_format']
        return 'qcow2'

    def active(self, volume):
        name = self.info(volume)['active']
        return (os.path.join(os.path.dirname(
            self.driver.volume_info_path(volume)), name),
            self.file_format(volume, name))

    def snapshot_image(self, snapshot):
        volume = snapshot.volume
        name = self.info(volume)[snapshot.id]
        return (os.path.join(volume.provider_location, name),
                self.file_format(volume, name))

    def write(self, volume, pattern, offset):
        path, fmt = self.active(volume)
        rc, out = qemu_io(path, fmt, 'write -P 0x%02x %s 64k' % (pattern,
                                                                 offset))
        self.assertEqual(0, rc, out)

    def assertImageReads(self, image, expected):
        """*expected*: {offset: pattern} of 64k blocks."""
        path, fmt = image
        for offset, pattern in sorted(expected.items()):
            rc, out = qemu_io(path, fmt, 'read -P 0x%02x %s 64k' % (
                pattern, offset))
            self.assertEqual(0, rc, 'expected 0x%02x at %s in %s: %s' % (
                pattern, offset, path, out))

    def assertChainSound(self, volume):
        """Every file of the chain passes qemu-img check; no stray files."""
        directory = volume.provider_location
        info = self.info(volume)
        name = info['active']
        chain = []
        while name:
            self.assertNotIn(name, chain)
            chain.append(name)
            fmt = self.file_format(volume, name)
            path = os.path.join(directory, name)
            if fmt == 'qcow2':
                proc = subprocess.run(
                    ['qemu-img', 'check', '-f', fmt, path],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    text=True)
                self.assertEqual(0, proc.returncode, proc.stdout)
            name = qemu_img.info(path, fmt).backing_file
        mapped = set(v for k, v in info.items()
                     if k not in ('active', 'base_format'))
        self.assertLessEqual(mapped, set(chain))
        record = self.record(volume)
        present = sorted(f for f in os.listdir(directory)
                         if f.startswith(volume.name) and
                         not record.is_own_file(f))
        self.assertEqual(sorted(chain), present)
        return chain

    def compare(self, a, b):
        proc = subprocess.run(['qemu-img', 'compare', '-f', a[1], '-F', b[1],
                               a[0], b[0]], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        return proc.returncode, proc.stdout

    def spy_locks(self):
        """Record the names of the locks taken from now on."""
        names = []
        real = self.coordinator.get_lock

        def get_lock(name):
            names.append(name)
            return real(name)
        self.useFixture(fixtures.MockPatchObject(
            self.coordinator, 'get_lock', side_effect=get_lock))
        return names

    def capacities(self, **by_share):
        def capacity(share):
            return by_share[share]
        return mock.patch.object(self.driver, '_get_capacity_info',
                                 side_effect=capacity)

    def lock_name(self, volume):
        return '%s-%s' % (self.lock_prefix, volume.id)

    def probe(self, name):
        """Try to take lock *name* from another thread and coordinator.

        Returns True if it could be taken (then it is released again).
        """
        other = coordination.Coordinator(conf=self.conf)
        other.start()
        try:
            return lock_check.can_take(other, name, 10)
        finally:
            other.stop()


class SnapshotChainTestCase(DriverTestCase):
    """Data written through the volume survives every chain change.

    Copy-on-write, the default; :class:`InPlaceSnapshotChainTestCase`
    runs the same tests with images rewritten in place.
    """

    # What each image shows: {offset: pattern} of 64 KiB blocks.
    S1 = {'0': 0x11, '64k': 0x00, '128k': 0x11, '192k': 0x00}
    S2 = {'0': 0x22, '64k': 0x22, '128k': 0x11, '192k': 0x00}
    S3 = {'0': 0x22, '64k': 0x33, '128k': 0x11, '192k': 0x33}
    LIVE = {'0': 0x22, '64k': 0x33, '128k': 0x11, '192k': 0x44}

    def make_three_snapshots(self):
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        self.write(volume, 0x11, '128k')
        s1 = objects.Snapshot(volume=volume)
        self.assertIsNone(self.driver.create_snapshot(s1))
        self.write(volume, 0x22, '0')
        self.write(volume, 0x22, '64k')
        s2 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s2)
        self.write(volume, 0x33, '64k')
        self.write(volume, 0x33, '192k')
        s3 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s3)
        self.write(volume, 0x44, '192k')
        return volume, {'s1': (s1, self.S1), 's2': (s2, self.S2),
                        's3': (s3, self.S3)}

    def check_all(self, volume, snaps):
        self.assertChainSound(volume)
        self.assertImageReads(self.active(volume), self.LIVE)
        for snapshot, expected in snaps.values():
            self.assertImageReads(self.snapshot_image(snapshot), expected)

    def delete_in_order(self, order):
        volume, snaps = self.make_three_snapshots()
        self.check_all(volume, snaps)
        for key in order:
            snapshot, _ = snaps.pop(key)
            self.driver.delete_snapshot(snapshot)
            self.assertNotIn(snapshot.id, self.info(volume))
            self.check_all(volume, snaps)
        return volume

    def test_create_snapshot_layout(self):
        volume, snaps = self.make_three_snapshots()
        info = self.info(volume)
        chain = self.assertChainSound(volume)
        # active <- s3's file <- s2's file <- s1's file (the base)
        self.assertEqual(
            [info['active'], info[snaps['s3'][0].id],
             info[snaps['s2'][0].id], info[snaps['s1'][0].id]], chain)
        self.assertEqual(volume.name, info[snaps['s1'][0].id])
        self.assertEqual('raw', info['base_format'])

    def test_create_snapshot_twice_is_a_no_op(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        before = self.info(volume)
        self.driver.create_snapshot(snapshot)
        self.assertEqual(before, self.info(volume))

    def test_delete_oldest_first(self):
        volume = self.delete_in_order(['s1', 's2', 's3'])
        chain = self.assertChainSound(volume)
        if self.copy_on_write:
            # The base is never copied: it stays under one overlay.
            self.assertEqual(volume.name, chain[-1])
            self.assertEqual(2, len(chain))
        else:
            self.assertEqual(1, len(chain))

    def test_delete_newest_first_ends_on_the_raw_base(self):
        volume = self.delete_in_order(['s3', 's2', 's1'])
        chain = self.assertChainSound(volume)
        self.assertEqual(volume.name, chain[-1])
        if self.copy_on_write:
            self.assertEqual(2, len(chain))
        else:
            self.assertEqual([volume.name], chain)
            self.assertEqual(volume.name, self.info(volume)['active'])

    def test_delete_middle_first(self):
        self.delete_in_order(['s2', 's1', 's3'])

    def test_delete_middle_then_newest(self):
        self.delete_in_order(['s2', 's3', 's1'])

    def test_delete_with_qcow2_base(self):
        self.driver.volume_format = 'qcow2'
        volume = self.delete_in_order(['s1', 's3', 's2'])
        self.assertEqual('qcow2', self.info(volume)['base_format'])

    def test_delete_unknown_snapshot_is_not_an_error(self):
        volume = self.create_volume()
        before = self.info(volume)
        self.driver.delete_snapshot(objects.Snapshot(volume=volume))
        self.assertEqual(before, self.info(volume))

    def test_delete_snapshot_of_deleted_volume_is_not_an_error(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.driver.delete_volume(volume)
        self.driver.delete_snapshot(snapshot)

    def test_interrupted_delete_of_older_snapshot_is_finished(self):
        if self.copy_on_write:
            return self.interrupted_copy_on_write_delete('s2')
        volume, snaps = self.make_three_snapshots()
        s1 = snaps.pop('s1')[0]
        with mock.patch.object(self.driver, '_write_info',
                               side_effect=OSError('crash')):
            self.assertRaises(OSError, self.driver.delete_snapshot, s1)
        # The child was rebased, s1's file is out of the chain but intact.
        self.assertImageReads(self.active(volume), self.LIVE)
        self.assertImageReads(self.snapshot_image(s1), self.S1)
        # Other deletes refuse until s1's delete is finished.
        e = self.assertRaises(exception.InvalidSnapshot,
                              self.driver.delete_snapshot, snaps['s2'][0])
        self.assertIn(s1.id, str(e))
        self.driver.delete_snapshot(s1)
        self.check_all(volume, snaps)
        self.driver.delete_snapshot(snaps.pop('s2')[0])
        self.check_all(volume, snaps)

    def interrupted_copy_on_write_delete(self, key):
        """The commit fails: the files made go, nothing else changed."""
        volume, snaps = self.make_three_snapshots()
        snapshot = snaps.pop(key)[0]

        def images():
            return sorted(n for n in os.listdir(self.share)
                          if not re.search(r'\.info\.g[0-9]+$', n))

        before = images()
        info = self.info(volume)
        with mock.patch.object(self.driver, '_write_info',
                               side_effect=OSError('crash')):
            self.assertRaises(OSError, self.driver.delete_snapshot,
                              snapshot)
        self.assertEqual(before, images())
        self.assertEqual(info, self.info(volume))
        self.check_all(volume, dict(snaps, again=(snapshot,
                                                  getattr(self, key.upper()))))
        self.driver.delete_snapshot(snapshot)
        self.check_all(volume, snaps)

    def test_interrupted_delete_of_newest_snapshot_is_retried(self):
        if self.copy_on_write:
            return self.interrupted_copy_on_write_delete('s3')
        volume, snaps = self.make_three_snapshots()
        s3 = snaps.pop('s3')[0]
        with mock.patch.object(self.driver, '_write_info',
                               side_effect=OSError('crash')):
            self.assertRaises(OSError, self.driver.delete_snapshot, s3)
        self.assertImageReads(self.active(volume), self.LIVE)
        self.driver.delete_snapshot(s3)
        self.check_all(volume, snaps)

    def test_revert_to_newest_snapshot(self):
        volume, snaps = self.make_three_snapshots()
        old_active = self.info(volume)['active']
        self.driver.revert_to_snapshot(volume, snaps['s3'][0])
        self.assertNotEqual(old_active, self.info(volume)['active'])
        self.assertFalse(os.path.exists(os.path.join(self.share,
                                                     old_active)))
        self.assertImageReads(self.active(volume), self.S3)
        self.assertChainSound(volume)
        # The volume is usable, and its snapshots too.
        self.write(volume, 0x55, '0')
        self.assertImageReads(self.snapshot_image(snaps['s3'][0]), self.S3)
        self.driver.delete_snapshot(snaps['s3'][0])
        self.assertImageReads(self.active(volume), dict(self.S3, **{
            '0': 0x55}))
        self.driver.revert_to_snapshot(volume, snaps['s2'][0])
        self.assertImageReads(self.active(volume), self.S2)
        self.assertChainSound(volume)

    def test_no_image_the_chain_uses_is_written(self):
        # Copy-on-write: every file the volume used before a delete or an
        # extend is, byte for byte, as it was, or gone, the base of a
        # volume without snapshots included; in place, the images are
        # rewritten.
        alone = self.create_volume()
        self.write(alone, 0x11, '0')
        volume, snaps = self.make_three_snapshots()
        for target, change in (
                (alone, lambda: self.driver.extend_volume(alone, 2)),
                (volume, lambda: self.driver.delete_snapshot(
                    snaps['s2'][0])),
                (volume, lambda: self.driver.delete_snapshot(
                    snaps['s3'][0])),
                (volume, lambda: self.driver.extend_volume(volume, 2))):
            before = {name: self.digest(name)
                      for name in self.assertChainSound(target)}
            change()
            after = {name: self.digest(name) for name in before
                     if os.path.exists(os.path.join(self.share, name))}
            changed = sorted(n for n in after if after[n] != before[n])
            self.assertEqual([] if self.copy_on_write else changed, changed)
            if not self.copy_on_write:
                self.assertNotEqual([], changed)

    def test_every_operation_works_after_an_extend_of_the_base_alone(self):
        # Copy-on-write, the base is never grown: the volume is an overlay
        # over it from the first extend on.
        volume = self.create_volume()
        base = os.path.join(self.share, volume.name)
        self.write(volume, 0x11, '0')
        self.driver.extend_volume(volume, 2)
        self.assertEqual(GiB if self.copy_on_write else 2 * GiB,
                         qemu_img.info(base, 'raw').virtual_size)
        self.assertEqual(2 * GiB, qemu_img.info(*self.active(volume))
                         .virtual_size)
        far = str(GiB + 65536)
        self.write(volume, 0x22, far)
        s1 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s1)
        self.write(volume, 0x33, '64k')
        self.driver.revert_to_snapshot(volume, s1)
        shown = {'0': 0x11, '64k': 0x00, far: 0x22, str(GiB): 0x00}
        self.assertImageReads(self.active(volume), shown)
        self.write(volume, 0x44, '128k')
        s2 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s2)
        self.driver.delete_snapshot(s1)
        self.driver.extend_volume(volume, 3)
        shown['128k'] = 0x44
        self.assertImageReads(self.snapshot_image(s2), shown)
        self.driver.delete_snapshot(s2)
        self.assertImageReads(self.active(volume), shown)
        self.assertEqual(3 * GiB, qemu_img.info(*self.active(volume))
                         .virtual_size)
        self.assertChainSound(volume)
        clone = objects.Volume(size=3)
        clone.update(self.driver.create_cloned_volume(clone, volume))
        self.assertImageReads(self.active(clone), shown)
        if self.copy_on_write:
            self.assertEqual(GiB, qemu_img.info(base, 'raw').virtual_size)

    def digest(self, name):
        with open(os.path.join(self.share, name), 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()

    def test_revert_to_older_snapshot_is_refused(self):
        volume, snaps = self.make_three_snapshots()
        before = self.info(volume)
        e = self.assertRaises(exception.InvalidSnapshot,
                              self.driver.revert_to_snapshot, volume,
                              snaps['s1'][0])
        self.assertIn(snaps['s2'][0].id, str(e))
        self.assertIn(snaps['s3'][0].id, str(e))
        self.assertEqual(before, self.info(volume))
        self.assertImageReads(self.active(volume), self.LIVE)

    def test_revert_to_unknown_snapshot(self):
        volume = self.create_volume()
        self.assertRaises(exception.SnapshotNotFound,
                          self.driver.revert_to_snapshot, volume,
                          objects.Snapshot(volume=volume))

    def test_create_volume_from_snapshot(self):
        volume, snaps = self.make_three_snapshots()
        for key in ('s1', 's2'):
            snapshot, expected = snaps[key]
            new = objects.Volume(size=2)
            update = self.driver.create_volume_from_snapshot(new, snapshot)
            self.assertEqual({'provider_location': self.share}, update)
            new.update(update)
            self.assertEqual([new.name], self.assertChainSound(new))
            image = self.active(new)
            self.assertEqual(2 * GiB,
                             qemu_img.info(*image).virtual_size)
            self.assertImageReads(image, expected)
            rc, out = self.compare(self.snapshot_image(snapshot), image)
            self.assertEqual(0, rc, out)
        # the source is untouched
        self.check_all(volume, snaps)

    def test_create_volume_from_missing_snapshot(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        new = objects.Volume()
        self.assertRaises(exception.SnapshotNotFound,
                          self.driver.create_volume_from_snapshot, new,
                          snapshot)
        self.driver.create_snapshot(snapshot)
        self.driver.delete_volume(volume)
        self.assertRaises(exception.SnapshotNotFound,
                          self.driver.create_volume_from_snapshot, new,
                          snapshot)
        self.assertEqual([], [f for f in os.listdir(self.share)
                              if f.startswith(new.name)])


class InPlaceSnapshotChainTestCase(SnapshotChainTestCase):
    """The same, with images rewritten in place."""

    copy_on_write = False


class VolumeTestCase(DriverTestCase):

    def test_create_raw_volume(self):
        volume = self.create_volume(size=2)
        self.assertEqual(self.share, volume.provider_location)
        path = os.path.join(self.share, volume.name)
        self.assertEqual(path, self.driver.local_path(volume))
        self.assertEqual(os.path.join(self.share, volume.name + '.info'),
                         self.driver.volume_info_path(volume))
        info = qemu_img.info(path, 'raw')
        self.assertEqual(2 * GiB, info.virtual_size)
        self.assertEqual({'active': volume.name, 'base_format': 'raw'},
                         self.info(volume))
        # sparse
        self.assertLess(os.stat(path).st_blocks * 512, GiB)

    def test_create_qcow2_volume(self):
        self.driver.volume_format = 'qcow2'
        volume = self.create_volume()
        self.assertEqual('qcow2', qemu_img.info(
            self.driver.local_path(volume), 'qcow2').format)
        self.assertEqual('qcow2', self.info(volume)['base_format'])

    def test_create_refuses_to_overwrite(self):
        volume = self.create_volume()
        self.assertRaises(exception.InvalidVolume, self.driver.create_volume,
                          volume)

    def test_failed_create_leaves_nothing(self):
        volume = objects.Volume()
        with mock.patch.object(qemu_img, 'create',
                               side_effect=exception.VolumeDriverException(
                                   'boom')):
            self.assertRaises(exception.VolumeDriverException,
                              self.driver.create_volume, volume)
        self.assertEqual([], os.listdir(self.share))

    def test_delete_volume_removes_every_file(self):
        volume = self.create_volume()
        for _ in range(2):
            self.driver.create_snapshot(objects.Snapshot(volume=volume))
        # a leftover of an interrupted operation
        open(os.path.join(self.share, volume.name + '.0123456789abcdef'),
             'w').close()
        other = self.create_volume()
        self.driver.delete_volume(volume)
        self.assertEqual(sorted([other.name, other.name + '.info.g1',
                                 other.name + '.info.head']),
                         self.live_files())
        # What is left of the volume: the tombstone of its info file.
        self.assertEqual([volume.name + '.info.g6'],
                         sorted(set(os.listdir(self.share)) -
                                set(self.live_files())))
        # again: already gone is fine
        self.driver.delete_volume(volume)

    def test_delete_volume_through_a_stale_listing_removes_what_it_used(self):
        # This host's listing of the share is from before another service
        # took a snapshot: the files the info file names go all the same.
        volume = self.create_volume()
        stale = self.driver._volume_files(self.share, volume)
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        active = self.info(volume)['active']
        self.assertNotIn(os.path.join(self.share, active), stale)
        with mock.patch.object(self.driver, '_volume_files',
                               return_value=stale):
            self.driver.delete_volume(volume)
        left = sorted(name for name in os.listdir(self.share)
                      if name.startswith(volume.name))
        self.assertEqual(1, len(left), left)
        self.assertIsNone(self.record(volume).read().text)

    def test_delete_volume_with_garbled_info_file(self):
        for garbage in ('{"format"', None):
            volume = self.create_volume()
            path = self.plant_info(volume, '{garbage')
            if garbage is not None:
                with open(path, 'w') as f:
                    f.write(garbage)
            self.driver.delete_volume(volume)
            self.assertEqual([], self.live_files())

    def test_delete_volume_without_share(self):
        self.driver.delete_volume(objects.Volume())

    def test_extend_without_snapshots(self):
        # Copy-on-write: a new overlay of the new size over the base.
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        self.driver.extend_volume(volume, 3)
        self.assertEqual(3 * GiB, qemu_img.info(
            *self.active(volume)).virtual_size)
        self.assertEqual([self.info(volume)['active'], volume.name],
                         self.assertChainSound(volume))
        self.assertEqual(GiB, os.stat(os.path.join(self.share,
                                                   volume.name)).st_size)
        self.assertImageReads(self.active(volume), {
            '0': 0x11, str(GiB): 0x00, str(3 * GiB - 65536): 0x00})

    def test_extend_with_snapshot_then_delete_it(self):
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.driver.extend_volume(volume, 2)
        image = self.active(volume)
        self.assertEqual(2 * GiB, qemu_img.info(*image).virtual_size)
        self.write(volume, 0x22, '%d' % (GiB + 65536))
        # the snapshot keeps its size
        self.assertEqual(GiB, qemu_img.info(
            *self.snapshot_image(snapshot)).virtual_size)
        self.driver.delete_snapshot(snapshot)
        image = self.active(volume)
        self.assertEqual(2 * GiB, qemu_img.info(*image).virtual_size)
        self.assertImageReads(image, {'0': 0x11, str(GiB + 65536): 0x22,
                                      str(GiB): 0x00})
        self.assertChainSound(volume)

    def test_extend_refuses_to_shrink(self):
        volume = self.create_volume(size=2)
        self.assertRaises(exception.InvalidInput, self.driver.extend_volume,
                          volume, 1)

    def test_clone_copies_what_the_volume_shows(self):
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.write(volume, 0x22, '64k')
        clone = objects.Volume(size=2)
        clone.update(self.driver.create_cloned_volume(clone, volume))
        self.assertEqual([clone.name], self.assertChainSound(clone))
        rc, out = self.compare(self.active(volume), self.active(clone))
        self.assertEqual(0, rc, out)
        self.assertImageReads(self.active(clone), {'0': 0x11, '64k': 0x22})
        self.assertEqual(2 * GiB, qemu_img.info(
            *self.active(clone)).virtual_size)
        # independent of the source
        self.driver.delete_volume(volume)
        self.assertImageReads(self.active(clone), {'0': 0x11, '64k': 0x22})

    def test_clone_of_deleted_volume_fails_cleanly(self):
        volume = self.create_volume()
        self.driver.delete_volume(volume)
        clone = objects.Volume()
        self.assertRaises(exception.VolumeNotFound,
                          self.driver.create_cloned_volume, clone, volume)
        self.assertEqual([], self.live_files())

    def test_clone_of_volume_with_missing_active_file(self):
        volume = self.create_volume()
        os.unlink(os.path.join(self.share, volume.name))
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.create_cloned_volume,
                              objects.Volume(), volume)
        self.assertNotIsInstance(e, exception.NotFound)
        self.assertIn('is damaged', str(e))
        self.assertIn(os.path.join(self.share, volume.name), str(e))

    def test_clone_of_volume_without_share(self):
        self.assertRaises(exception.VolumeNotFound,
                          self.driver.create_cloned_volume,
                          objects.Volume(), objects.Volume())

    def test_initialize_connection(self):
        volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        conn = self.driver.initialize_connection(volume, {'host': 'h'})
        self.assertEqual('remotefs', conn['driver_volume_type'])
        self.assertEqual({'export': self.share,
                          'name': self.info(volume)['active'],
                          'format': 'qcow2'}, conn['data'])

    def test_backing_file_outside_the_volume_is_refused(self):
        volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        active, _ = self.active(volume)
        os.unlink(active)
        qemu_img.create(active, 'qcow2', GiB, backing_file='/etc/hostname',
                        backing_fmt='raw')
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.create_cloned_volume,
                              objects.Volume(), volume)
        self.assertIn('/etc/hostname', str(e))
        self.assertIn('refusing', str(e))


class InfoFileTestCase(DriverTestCase):

    def leftovers(self):
        return [f for f in os.listdir(self.share) if '.tmp' in f]

    def test_info_file_generations_are_linked_whole(self):
        volume = self.create_volume()
        path = self.driver.volume_info_path(volume)
        calls = []
        real_link = os.link

        def link(src, dst):
            calls.append((os.path.dirname(src), dst))
            with open(src) as f:
                json.load(f)  # complete before it is linked
            return real_link(src, dst)
        with mock.patch.object(fenced_record.os, 'link', side_effect=link):
            self.driver.create_snapshot(objects.Snapshot(volume=volume))
        # The claim under the new lock's token, then the commit.
        self.assertEqual([(self.share, path + '.g2'),
                          (self.share, path + '.g3')], calls)
        self.assertEqual([], self.leftovers())
        self.assertEqual(self.info(volume),
                         json.loads(self.record(volume).read().text))

    def test_info_file_and_directory_are_synced(self):
        volume = self.create_volume()
        real_fsync = os.fsync
        synced = []

        def fsync(fd):
            path = os.readlink('/proc/self/fd/%d' % fd)
            if path.startswith(self.share):     # not the lock's token
                synced.append(path)
            return real_fsync(fd)
        with mock.patch.object(fenced_record.os, 'fsync', side_effect=fsync):
            self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertEqual(4, len(synced))
        for tmp, directory in (synced[:2], synced[2:]):
            self.assertIn('.info.tmp-', tmp)
            self.assertEqual(self.share, directory)

    def assertUnchangedAfterCrash(self, volume, operation, **patch):
        before = self.record(volume).read()
        files = sorted(os.listdir(self.share))
        with mock.patch.object(fenced_record.os, *patch.popitem()):
            self.assertRaises(OSError, operation)
        self.assertEqual(before, self.record(volume).read())
        self.assertEqual([], self.leftovers())
        self.assertEqual(files, sorted(os.listdir(self.share)))

    def test_crash_in_link_keeps_the_old_info_file(self):
        volume = self.create_volume()
        self.assertUnchangedAfterCrash(
            volume, lambda: self.driver.create_snapshot(
                objects.Snapshot(volume=volume)),
            link=mock.Mock(side_effect=OSError('crash')))

    def test_crash_while_writing_keeps_the_old_info_file(self):
        volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        real_fsync = os.fsync

        def fsync(fd):
            if os.readlink('/proc/self/fd/%d' % fd).startswith(self.share):
                raise OSError('disk full')
            return real_fsync(fd)           # the lock's token
        self.assertUnchangedAfterCrash(
            volume, lambda: self.driver.create_snapshot(
                objects.Snapshot(volume=volume)),
            fsync=mock.Mock(side_effect=fsync))

    def test_crash_in_link_during_revert(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.assertUnchangedAfterCrash(
            volume, lambda: self.driver.revert_to_snapshot(volume, snapshot),
            link=mock.Mock(side_effect=OSError('crash')))

    def assertSnapshotKept(self, volume, snapshot):
        """The snapshot's commit stands, and the volume is whole."""
        self.assertIn(snapshot.id, self.info(volume))
        self.assertChainSound(volume)
        self.assertTrue(os.path.exists(self.driver.local_path(volume)))
        self.driver.delete_snapshot(snapshot)
        self.assertNotIn(snapshot.id, self.info(volume))
        self.assertChainSound(volume)

    def test_a_commit_made_but_answered_eexist_stands(self):
        # An NFS server made the link, its reply was lost, and the
        # retransmitted LINK got EEXIST.
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        real_link = os.link

        def link(src, dst):
            real_link(src, dst)
            raise FileExistsError(errno.EEXIST, 'File exists')
        with mock.patch.object(fenced_record.os, 'link', side_effect=link):
            self.driver.create_snapshot(snapshot)
        self.assertSnapshotKept(volume, snapshot)

    def test_a_commit_whose_directory_sync_fails_stands(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        with mock.patch.object(record_files, 'fsync_dir',
                               side_effect=OSError(errno.EIO, 'EIO')):
            self.driver.create_snapshot(snapshot)
        self.assertSnapshotKept(volume, snapshot)

    def test_no_cleanup_removes_what_the_newest_generation_uses(self):
        # Whatever a step believes of its commit, the files that the
        # newest generation names stay.
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        real_write = fenced_record.FencedRecord.write

        def write_then_fail(record, *args, **kwargs):
            real_write(record, *args, **kwargs)
            raise fenced_record.CommitInDoubt('reply lost')
        with mock.patch.object(fenced_record.FencedRecord, 'write',
                               write_then_fail):
            self.assertRaises(fenced_record.CommitInDoubt,
                              self.driver.create_snapshot, snapshot)
        self.assertSnapshotKept(volume, snapshot)

    def test_a_snapshot_delete_on_a_damaged_volume_is_an_error(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        os.unlink(self.driver.local_path(volume))
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.delete_snapshot, snapshot)
        self.assertIn('is damaged', str(e))
        self.assertIn(snapshot.id, self.info(volume))

    def test_garbled_info_file_names_its_path(self):
        volume = self.create_volume()
        path = self.plant_info(volume, '{"active": ')
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.create_snapshot,
                              objects.Snapshot(volume=volume))
        self.assertIn(path, str(e))
        self.assertIn('not valid JSON', str(e))

    def test_damaged_generation_names_its_path(self):
        volume = self.create_volume()
        record = self.record(volume)
        path = record.path_of(record.read())
        with open(path, 'w') as f:
            f.write('{"format"')
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.extend_volume, volume, 2)
        self.assertIn(path, str(e))

    def test_info_file_naming_foreign_files_is_refused(self):
        volume = self.create_volume()
        for bad in ({'active': '../../etc/passwd', 'base_format': 'raw'},
                    {'active': volume.name, 'base_format': 'vmdk'},
                    {'active': volume.name, 'base_format': 'raw',
                     'snap': '/etc/passwd'},
                    ['not', 'an', 'object']):
            path = self.plant_info(volume, json.dumps(bad))
            e = self.assertRaises(exception.VolumeDriverException,
                                  self.driver.extend_volume, volume, 2)
            self.assertIn(path, str(e))

    def test_missing_info_file_names_its_path(self):
        volume = self.create_volume()
        path = self.driver.volume_info_path(volume)
        for name in os.listdir(self.share):
            if self.record(volume).is_own_file(name):
                os.unlink(os.path.join(self.share, name))
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.create_snapshot,
                              objects.Snapshot(volume=volume))
        self.assertIn(path, str(e))
        self.assertIn('missing', str(e))

    def test_an_info_file_from_before_generations_is_read_and_replaced(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        info = self.info(volume)
        record = self.record(volume)
        for name in os.listdir(self.share):
            if record.is_own_file(name):
                os.unlink(os.path.join(self.share, name))
        with open(record.path, 'w') as f:
            json.dump(info, f)
        self.driver.delete_snapshot(snapshot)
        self.assertFalse(os.path.exists(record.path))
        self.assertNotIn(snapshot.id, self.info(volume))
        self.assertChainSound(volume)


class LockTestCase(DriverTestCase):

    def test_volume_operations_take_the_volume_lock(self):
        volume = self.create_volume()
        names = self.spy_locks()
        self.driver.extend_volume(volume, 2)
        self.driver.initialize_connection(volume, {})
        self.driver.delete_volume(volume)
        self.assertEqual([self.lock_name(volume)] * 3, names)

    def test_create_takes_the_new_volume_lock(self):
        names = self.spy_locks()
        volume = self.create_volume()
        self.assertEqual([self.lock_name(volume)], names)

    def test_snapshot_operations_take_the_volume_lock(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        names = self.spy_locks()
        self.driver.create_snapshot(snapshot)
        self.driver.revert_to_snapshot(volume, snapshot)
        self.driver.delete_snapshot(snapshot)
        self.assertEqual([self.lock_name(volume)] * 3, names)

    def test_clone_takes_both_locks_in_sorted_order(self):
        source = self.create_volume()
        snapshot = objects.Snapshot(volume=source)
        self.driver.create_snapshot(snapshot)
        for _ in range(4):
            names = self.spy_locks()
            clone = objects.Volume()
            self.driver.create_cloned_volume(clone, source)
            expected = sorted([self.lock_name(source),
                               self.lock_name(clone)])
            self.assertEqual(expected, names)
            names = self.spy_locks()
            new = objects.Volume()
            self.driver.create_volume_from_snapshot(new, snapshot)
            self.assertEqual(sorted([self.lock_name(source),
                                     self.lock_name(new)]), names)

    def test_locks_are_held_while_the_chain_changes(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        seen = []
        real_create = qemu_img.create

        def create(*args, **kwargs):
            seen.append(self.probe(self.lock_name(volume)))
            return real_create(*args, **kwargs)
        with mock.patch.object(qemu_img, 'create', side_effect=create):
            self.driver.create_snapshot(snapshot)
        self.assertEqual([False], seen)
        # released afterwards
        self.assertTrue(self.probe(self.lock_name(volume)))

    def test_clone_holds_both_locks_during_the_copy(self):
        source = self.create_volume()
        clone = objects.Volume()
        seen = []
        real_convert = qemu_img.convert

        def convert(*args, **kwargs):
            seen.append((self.probe(self.lock_name(source)),
                         self.probe(self.lock_name(clone))))
            return real_convert(*args, **kwargs)
        with mock.patch.object(qemu_img, 'convert', side_effect=convert):
            self.driver.create_cloned_volume(clone, source)
        self.assertEqual([(False, False)], seen)


class SnapshotsDisabledTestCase(DriverTestCase):

    def test_snapshot_operations_refused(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.driver.snapshots = False
        for call in (lambda: self.driver.create_snapshot(
                         objects.Snapshot(volume=volume)),
                     lambda: self.driver.delete_snapshot(snapshot),
                     lambda: self.driver.revert_to_snapshot(volume, snapshot),
                     lambda: self.driver.create_volume_from_snapshot(
                         objects.Volume(), snapshot)):
            e = self.assertRaises(exception.VolumeDriverException, call)
            self.assertIn('snapshot_support', str(e))


class ShareTestCase(DriverTestCase):

    def make_driver(self):
        driver = DirDriver(configuration=self.conf)
        driver.share_list = [self.share, self.share2]
        return driver

    def test_most_free_share_is_chosen(self):
        with self.capacities(**{self.share: (100 * GiB, 10 * GiB),
                                self.share2: (100 * GiB, 20 * GiB)}):
            volume = self.create_volume()
        self.assertEqual(self.share2, volume.provider_location)
        self.assertTrue(os.path.exists(os.path.join(self.share2,
                                                    volume.name)))

    def test_reserved_percentage_is_kept_free(self):
        self.fixture.config(reserved_percentage=15)
        with self.capacities(**{self.share: (100 * GiB, 16 * GiB),
                                self.share2: (10 * GiB, 10 * GiB)}):
            volume = self.create_volume()
            self.assertEqual(self.share2, volume.provider_location)
            e = self.assertRaises(exception.VolumeDriverException,
                                  self.driver.create_volume,
                                  objects.Volume(size=10))
        self.assertIn('reserved_percentage = 15', str(e))
        self.assertIn(self.share, str(e))

    def test_no_share_mounted(self):
        self.driver.share_list = [os.path.join(self.tmp, 'missing')]
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.do_setup)
        self.assertIn('test_shares', str(e))
        self.assertRaises(exception.VolumeDriverException,
                          self.driver.create_volume, objects.Volume())

    def test_stats(self):
        with self.capacities(**{self.share: (100 * GiB, 10 * GiB),
                                self.share2: (50 * GiB, 20 * GiB)}):
            stats = self.driver.get_volume_stats(refresh=True)
        self.assertEqual(150, stats['total_capacity_gb'])
        self.assertEqual(30, stats['free_capacity_gb'])
        self.assertTrue(stats['snapshot_support'])
        self.assertTrue(stats['thin_provisioning_support'])
        self.assertFalse(stats['active_active'])  # the base does not claim


class ListResourceIdsTestCase(DriverTestCase):

    def make_driver(self):
        driver = super().make_driver()
        driver.share_list = [self.share, self.share2]
        return driver

    def test_lists_volumes_of_every_share_and_their_snapshots(self):
        with self.capacities(**{self.share: (100 * GiB, 50 * GiB),
                                self.share2: (100 * GiB, 10 * GiB)}):
            v1 = self.create_volume()
        with self.capacities(**{self.share: (100 * GiB, 10 * GiB),
                                self.share2: (100 * GiB, 50 * GiB)}):
            v2 = self.create_volume()
        self.assertNotEqual(v1.provider_location, v2.provider_location)
        s1 = objects.Snapshot(volume=v1)
        self.driver.create_snapshot(s1)
        s2 = objects.Snapshot(volume=v2)
        self.driver.create_snapshot(s2)
        deleted = objects.Snapshot(volume=v2)
        self.driver.create_snapshot(deleted)
        self.driver.delete_snapshot(deleted)
        gone = self.create_volume()
        self.driver.delete_volume(gone)
        # Stray files that only look like resources are ignored.
        open(os.path.join(self.share, 'volume-not-a-uuid'), 'w').close()

        ids = self.driver.list_resource_ids()

        self.assertEqual({v1.id, v2.id}, ids.volumes)
        self.assertEqual({s1.id, s2.id}, ids.snapshots)

    def test_volume_with_only_a_leftover_file_counts(self):
        volume_id = str(uuid.uuid4())
        open(os.path.join(self.share2, 'volume-%s.tmp' % volume_id),
             'w').close()
        self.assertEqual({volume_id}, self.driver.list_resource_ids().volumes)

    def test_unparseable_info_file_is_an_error_naming_it(self):
        volume = self.create_volume()
        path = self.plant_info(volume, '{"active": ')
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.list_resource_ids)
        self.assertIn(path, str(e))
        with open(path, 'w') as f:
            f.write('{"format"')
        e = self.assertRaises(exception.VolumeDriverException,
                              self.driver.list_resource_ids)
        self.assertIn(path, str(e))

    def test_a_deleted_volume_s_tombstone_is_no_volume(self):
        # Both on one share: the most free one is chosen for each.
        with self.capacities(**{self.share: (100 * GiB, 50 * GiB),
                                self.share2: (100 * GiB, 10 * GiB)}):
            volume = self.create_volume()
            other = self.create_volume()
        self.driver.delete_volume(volume)
        left = [name for name in os.listdir(self.share)
                if volume.id in name]
        self.assertEqual(1, len(left), left)  # the tombstone
        self.assertRegex(left[0], r'\.info\.g[0-9]+$')
        self.assertEqual({other.id},
                         self.driver.list_resource_ids().volumes)

    def test_each_share_is_listed_once_whatever_its_volumes(self):
        # Reading every info file of a share costs one listing of it, not
        # one per info file (clean_locks runs this from cron).
        with self.capacities(**{self.share: (100 * GiB, 50 * GiB),
                                self.share2: (100 * GiB, 10 * GiB)}):
            volumes = [self.create_volume() for _ in range(4)]
        self.driver.delete_volume(volumes.pop())
        for volume in volumes:
            self.driver.create_snapshot(objects.Snapshot(volume=volume))
        real = os.listdir
        with mock.patch('os.listdir', side_effect=real) as listdir:
            ids = self.driver.list_resource_ids()
        self.assertEqual({v.id for v in volumes}, ids.volumes)
        self.assertEqual(sorted([self.share, self.share2]),
                         sorted(c[0][0] for c in listdir.call_args_list))
