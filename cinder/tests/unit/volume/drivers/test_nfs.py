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

"""Tests of the NFS driver: shares file, mounting, options, locks.

The chain logic it inherits is tested in test_remotefs; here directory
shares stand in for NFS exports, and ``mount`` is faked.
"""

import collections
import hashlib
import os
from unittest import mock

import fixtures
from oslo_concurrency import processutils

from cinder import exception
from cinder.image import qemu_img
from cinder import objects
from cinder.tests.unit.volume.drivers import test_remotefs
from cinder.volume import driver as volume_driver
from cinder.volume.drivers import nfs
from cinder.volume import fenced_record

MiB = 1024 ** 2
GiB = 1024 ** 3
REAL_CREATE = qemu_img.create


class NfsTestCase(test_remotefs.DriverTestCase):

    lock_prefix = 'nfs'
    shares_text = None

    def make_driver(self):
        driver = nfs.NfsDriver(configuration=self.conf)
        driver.mount_retry_delay = 0
        driver.proc_mounts = os.path.join(self.tmp, 'mounts')
        with open(driver.proc_mounts, 'w') as f:
            f.write('proc /proc proc rw 0 0\n')
        self.shares_file = os.path.join(self.tmp, 'nfs_shares')
        with open(self.shares_file, 'w') as f:
            f.write(self.shares_text if self.shares_text is not None
                    else '%s\n' % self.share)
        self.fixture.config(nfs_shares_config=self.shares_file,
                            nfs_snapshot_support=True,
                            state_path=self.tmp)
        return driver

    def write_shares(self, text):
        with open(self.shares_file, 'w') as f:
            f.write(text)


class OptionsTestCase(NfsTestCase):

    def test_defaults(self):
        opts = {o.name: o for o in nfs.nfs_opts}
        self.assertEqual({'nfs_shares_config', 'nfs_mount_point_base',
                          'nfs_mount_options', 'nfs_mount_attempts',
                          'nfs_sparsed_volumes', 'nfs_qcow2_volumes',
                          'nfs_snapshot_support', 'nfs_copy_on_write'},
                         set(opts))
        self.assertEqual('/etc/cinder/nfs_shares',
                         opts['nfs_shares_config'].default)
        self.assertEqual('$state_path/mnt',
                         opts['nfs_mount_point_base'].default)
        self.assertIsNone(opts['nfs_mount_options'].default)
        self.assertEqual(3, opts['nfs_mount_attempts'].default)
        self.assertTrue(opts['nfs_sparsed_volumes'].default)
        self.assertFalse(opts['nfs_qcow2_volumes'].default)
        self.assertFalse(opts['nfs_snapshot_support'].default)
        self.assertTrue(opts['nfs_copy_on_write'].default)
        self.fixture.config(nfs_copy_on_write=False)
        self.assertFalse(self.driver._copy_on_write())
        self.assertEqual([('DEFAULT', nfs.nfs_opts)], nfs.list_opts())

    def test_driver_class(self):
        self.assertTrue(nfs.NfsDriver.SUPPORTS_ACTIVE_ACTIVE)
        self.assertIs(nfs.nfs_opts, nfs.NfsDriver.OPTS)
        self.assertEqual('nfs', nfs.NfsDriver.driver_prefix)
        self.assertIsInstance(self.driver, volume_driver.VolumeDriver)

    def test_loaded_by_class_path(self):
        driver = volume_driver.load_driver(
            'cinder.volume.drivers.nfs.NfsDriver', configuration=self.conf)
        self.assertIsInstance(driver, nfs.NfsDriver)

    def test_mount_point_base_follows_state_path(self):
        self.assertEqual(os.path.join(self.tmp, 'mnt'),
                         self.conf.nfs_mount_point_base)


class SharesConfigTestCase(NfsTestCase):

    def test_parsing(self):
        self.write_shares(
            '# a comment\n'
            '\n'
            '  host1:/export/a  \n'
            'host2.example.com:/b vers=4.1,noatime\n'
            '10.0.0.1:/c -o vers=3\n'
            '[fd00::1]:/d\n'
            '%s\n'
            'host1:/export/a other\n' % self.share)
        shares = self.driver._load_shares_config()
        self.assertEqual(collections.OrderedDict([
            ('host1:/export/a', None),
            ('host2.example.com:/b', 'vers=4.1,noatime'),
            ('10.0.0.1:/c', 'vers=3'),
            ('[fd00::1]:/d', None),
            (self.share, None)]), shares)

    def test_missing_file(self):
        os.unlink(self.shares_file)
        e = self.assertRaises(exception.ConfigurationError,
                              self.driver.do_setup)
        self.assertIn('nfs_shares_config', str(e))
        self.assertIn(self.shares_file, str(e))
        self.assertIn('does not exist', str(e))

    def test_empty_file(self):
        self.write_shares('# nothing yet\n\n')
        e = self.assertRaises(exception.ConfigurationError,
                              self.driver.do_setup)
        self.assertIn('nfs_shares_config = %s lists no share' %
                      self.shares_file, str(e))

    def test_empty_option(self):
        self.fixture.config(nfs_shares_config='')
        e = self.assertRaises(exception.ConfigurationError,
                              self.driver.do_setup)
        self.assertIn('nfs_shares_config', str(e))

    def test_bad_line(self):
        self.write_shares('host:/ok\nrelative/dir\n')
        e = self.assertRaises(exception.ConfigurationError,
                              self.driver.do_setup)
        self.assertIn('line 2', str(e))
        self.assertIn("'relative/dir'", str(e))
        self.assertIn(self.shares_file, str(e))

    def test_host_without_export_path(self):
        self.write_shares('host:export\n')
        self.assertRaises(exception.ConfigurationError,
                          self.driver._load_shares_config)


class MountTestCase(NfsTestCase):

    remote = 'nfs.example.com:/export/cinder'

    def mount_point(self):
        digest = hashlib.md5(self.remote.encode()).hexdigest()
        return os.path.join(self.tmp, 'mnt', digest)

    def execute(self, **kwargs):
        return mock.patch.object(nfs.processutils, 'execute', **kwargs)

    def test_mount_point_is_a_hash_of_the_share(self):
        self.assertEqual(self.mount_point(),
                         self.driver._get_mount_point_for_share(self.remote))
        self.assertEqual(self.share,
                         self.driver._get_mount_point_for_share(self.share))

    def test_mounts_with_share_options(self):
        self.write_shares('%s vers=4.1\n' % self.remote)
        with self.execute(return_value=('', '')) as execute:
            self.driver.do_setup()
        execute.assert_called_once_with(
            'mount', '-t', 'nfs', '-o', 'vers=4.1', self.remote,
            self.mount_point())
        self.assertTrue(os.path.isdir(self.mount_point()))
        self.assertEqual([self.remote], self.driver._mounted_shares)

    def test_mounts_with_default_options(self):
        self.fixture.config(nfs_mount_options='vers=3,hard')
        self.write_shares('%s\n' % self.remote)
        with self.execute(return_value=('', '')) as execute:
            self.driver.do_setup()
        execute.assert_called_once_with(
            'mount', '-t', 'nfs', '-o', 'vers=3,hard', self.remote,
            self.mount_point())

    def test_mounts_without_options(self):
        self.write_shares('%s\n' % self.remote)
        with self.execute(return_value=('', '')) as execute:
            self.driver.do_setup()
        execute.assert_called_once_with(
            'mount', '-t', 'nfs', self.remote, self.mount_point())

    def test_already_mounted_share_is_not_mounted_again(self):
        self.write_shares('%s\n' % self.remote)
        with open(self.driver.proc_mounts, 'a') as f:
            # /proc/mounts escapes spaces as \040
            f.write('%s %s nfs4 rw 0 0\n' % (
                self.remote, self.mount_point().replace(' ', '\\040')))
        with self.execute() as execute:
            self.driver.do_setup()
        execute.assert_not_called()
        self.assertEqual([self.remote], self.driver._mounted_shares)

    def mounted_with(self, options):
        self.write_shares('%s\n' % self.remote)
        with open(self.driver.proc_mounts, 'a') as f:
            f.write('%s %s nfs4 %s 0 0\n' % (
                self.remote, self.mount_point().replace(' ', '\\040'),
                options))
        log = self.useFixture(fixtures.FakeLogger(
            name='cinder.volume.drivers.nfs'))
        with self.execute() as execute:
            self.driver.do_setup()
        execute.assert_not_called()
        return [line for line in log.output.splitlines()
                if line.startswith('Share %s' % self.remote)]

    def test_options_that_weaken_fencing_are_warned_about(self):
        warnings = self.mounted_with('rw,vers=4.2,soft,nocto')
        self.assertEqual(3, len(warnings), warnings)
        for option in ('lookupcache=positive', 'mount with hard',
                       'remove nocto'):
            self.assertTrue(any(option in w for w in warnings), warnings)

    def test_options_the_driver_needs_are_not_warned_about(self):
        self.assertEqual([], self.mounted_with(
            'rw,vers=4.2,hard,lookupcache=pos'))

    def test_mount_option_problems(self):
        self.assertEqual(1, len(nfs.mount_option_problems(['rw'])))
        for good in ('lookupcache=none', 'lookupcache=positive'):
            self.assertEqual([], nfs.mount_option_problems(['hard', good]))

    def test_already_mounted_error_is_success(self):
        self.write_shares('%s\n' % self.remote)
        error = processutils.ProcessExecutionError(
            exit_code=32, stderr='mount.nfs: %s is already mounted' %
            self.remote)
        with self.execute(side_effect=error) as execute:
            self.driver.do_setup()
        self.assertEqual(1, execute.call_count)
        self.assertEqual([self.remote], self.driver._mounted_shares)

    def test_mount_is_retried_then_given_up(self):
        self.fixture.config(nfs_mount_attempts=2)
        self.write_shares('%s\n%s\n' % (self.remote, self.share))
        error = processutils.ProcessExecutionError(
            exit_code=32, stderr='access denied by server')
        with self.execute(side_effect=error) as execute:
            self.driver.do_setup()
            self.assertEqual(2, execute.call_count)
            # the other share is used
            self.assertEqual([self.share], self.driver._mounted_shares)
            e = self.assertRaises(exception.VolumeBackendAPIException,
                                  self.driver._mount_share, self.remote,
                                  None)
        self.assertIn('access denied by server', str(e))
        self.assertIn('nfs_mount_attempts', str(e))

    def test_mount_succeeds_on_second_attempt(self):
        self.write_shares('%s\n' % self.remote)
        error = processutils.ProcessExecutionError(exit_code=32,
                                                   stderr='timed out')
        with self.execute(side_effect=[error, ('', '')]) as execute:
            self.driver.do_setup()
        self.assertEqual(2, execute.call_count)
        self.assertEqual([self.remote], self.driver._mounted_shares)

    def test_no_share_can_be_mounted(self):
        self.write_shares('%s\n%s\n' % (self.remote,
                                        os.path.join(self.tmp, 'nodir')))
        with self.execute(side_effect=OSError('mount not found')):
            e = self.assertRaises(exception.VolumeDriverException,
                                  self.driver.do_setup)
        self.assertIn('nfs_shares_config', str(e))
        self.assertIn('mount not found', str(e))
        self.assertIn('nodir', str(e))

    def test_directory_share_is_not_mounted(self):
        with self.execute() as execute:
            self.driver.do_setup()
        execute.assert_not_called()
        self.assertEqual([self.share], self.driver._mounted_shares)

    def test_connection_info_carries_mount_options(self):
        self.write_shares('%s vers=4.1\n' % self.remote)
        with self.execute(return_value=('', '')):
            self.driver.do_setup()
        volume = objects.Volume(provider_location=self.remote)
        with open(os.path.join(self.mount_point(), volume.name), 'w'):
            pass
        record = fenced_record.FencedRecord(
            self.driver.volume_info_path(volume))
        record.create(1, nfs.remotefs.VolumeInfo(volume.name, 'raw').to_json())
        conn = self.driver.initialize_connection(volume, {'host': 'h'})
        self.assertEqual({'driver_volume_type': 'nfs', 'data': {
            'export': self.remote, 'name': volume.name, 'format': 'raw',
            'options': 'vers=4.1'}}, conn)


class NfsVolumeTestCase(NfsTestCase):

    shares_text = None

    def test_setup_checks_qemu_img(self):
        with mock.patch.object(qemu_img, 'QEMU_IMG', 'no-such-qemu-img'):
            e = self.assertRaises(exception.VolumeDriverException,
                                  self.driver.check_for_setup_error)
        self.assertIn('qemu-img', str(e))

    def test_create_raw_sparse_volume(self):
        volume = self.create_volume()
        self.assertEqual(self.share, volume.provider_location)
        path = os.path.join(self.share, volume.name)
        self.assertEqual('raw', qemu_img.info(path, 'raw').format)
        self.assertLess(os.stat(path).st_blocks * 512, GiB)

    def test_create_qcow2_volume(self):
        self.fixture.config(nfs_qcow2_volumes=True)
        volume = self.create_volume()
        path = self.driver.local_path(volume)
        self.assertEqual('qcow2', qemu_img.info(path, 'qcow2').format)
        conn = self.driver.initialize_connection(volume, {})
        self.assertEqual('qcow2', conn['data']['format'])

    @staticmethod
    def fake_create(path, fmt, size, preallocation=None):
        # a small stand-in: the real thing would allocate the whole size
        REAL_CREATE(path, fmt, 1024 * 1024)

    def test_non_sparse_volumes_are_preallocated(self):
        self.fixture.config(nfs_sparsed_volumes=False)
        with mock.patch.object(qemu_img, 'create') as create:
            self.create_volume(size=2)
        create.assert_called_once_with(mock.ANY, 'raw', 2 * GiB,
                                       preallocation='falloc')
        volume = objects.Volume(size=1)
        with mock.patch.object(qemu_img, 'create',
                               side_effect=self.fake_create):
            volume.update(self.driver.create_volume(volume))
        # Copy-on-write: the space added is preallocated in the new
        # overlay, made at the base's size; the base is not resized.
        with mock.patch.object(qemu_img, 'resize') as resize:
            self.driver.extend_volume(volume, 3)
        overlay = self.driver.local_path(volume)
        self.assertNotEqual(volume.name, os.path.basename(overlay))
        resize.assert_called_once_with(overlay, 3 * GiB, 'qcow2',
                                       preallocation='falloc')
        self.assertEqual(MiB, qemu_img.info(overlay, 'qcow2').virtual_size)
        # In place: the base is resized.
        self.fixture.config(nfs_copy_on_write=False)
        other = objects.Volume(size=1)
        with mock.patch.object(qemu_img, 'create',
                               side_effect=self.fake_create):
            other.update(self.driver.create_volume(other))
        with mock.patch.object(qemu_img, 'resize') as resize:
            self.driver.extend_volume(other, 3)
        resize.assert_called_once_with(
            os.path.join(self.share, other.name), 3 * GiB, 'raw',
            preallocation='falloc')
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertFalse(stats['thin_provisioning_support'])
        self.assertTrue(stats['thick_provisioning_support'])

    def test_initialize_connection(self):
        volume = self.create_volume()
        conn = self.driver.initialize_connection(volume, {'host': 'h'})
        self.assertEqual({'driver_volume_type': 'nfs', 'data': {
            'export': self.share, 'name': volume.name, 'format': 'raw'}},
            conn)
        self.driver.terminate_connection(volume, {'host': 'h'})

    def test_snapshots_and_clone_take_nfs_locks(self):
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        snapshot = objects.Snapshot(volume=volume)
        names = self.spy_locks()
        self.driver.create_snapshot(snapshot)
        new = objects.Volume()
        new.update(self.driver.create_volume_from_snapshot(new, snapshot))
        clone = objects.Volume()
        clone.update(self.driver.create_cloned_volume(clone, volume))
        self.driver.delete_snapshot(snapshot)
        self.assertEqual(
            ['nfs-%s' % volume.id] +
            sorted(['nfs-%s' % volume.id, 'nfs-%s' % new.id]) +
            sorted(['nfs-%s' % volume.id, 'nfs-%s' % clone.id]) +
            ['nfs-%s' % volume.id], names)
        self.assertImageReads(self.active(new), {'0': 0x11})
        self.assertImageReads(self.active(clone), {'0': 0x11})

    def test_stats(self):
        st = mock.Mock(f_frsize=4096, f_blocks=100 * GiB // 4096,
                       f_bavail=40 * GiB // 4096)
        with mock.patch.object(nfs.remotefs.os, 'statvfs',
                               return_value=st) as statvfs:
            stats = self.driver.get_volume_stats(refresh=True)
        statvfs.assert_called_once_with(self.share)
        self.assertEqual(100, stats['total_capacity_gb'])
        self.assertEqual(40, stats['free_capacity_gb'])
        self.assertTrue(stats['active_active'])
        self.assertEqual('nfs', stats['storage_protocol'])
        self.assertTrue(stats['snapshot_support'])
        self.assertEqual(0, stats['reserved_percentage'])
        # cached until refreshed
        self.assertEqual(stats, self.driver.get_volume_stats())


class ShareSelectionTestCase(NfsTestCase):

    @property
    def shares_text(self):
        return '%s\n%s\n' % (self.share, self.share2)

    def statvfs(self, **free_gib):
        def statvfs(path):
            return mock.Mock(f_frsize=1024, f_blocks=100 * GiB // 1024,
                             f_bavail=free_gib[os.path.basename(path)] *
                             GiB // 1024)
        return mock.patch.object(nfs.remotefs.os, 'statvfs',
                                 side_effect=statvfs)

    def test_share_with_most_free_space(self):
        with self.statvfs(share1=50, share2=60):
            self.assertEqual(self.share2, self.create_volume().
                             provider_location)
        with self.statvfs(share1=61, share2=60):
            self.assertEqual(self.share, self.create_volume().
                             provider_location)

    def test_volume_must_fit_with_reserve(self):
        self.fixture.config(reserved_percentage=10)
        with self.statvfs(share1=14, share2=12):
            self.assertEqual(self.share, self.create_volume(size=4).
                             provider_location)
            e = self.assertRaises(exception.VolumeDriverException,
                                  self.create_volume, size=5)
        self.assertIn('No share has room', str(e))
        self.assertIn(self.share2, str(e))


class SnapshotSupportTestCase(NfsTestCase):

    def test_snapshots_disabled_by_default(self):
        self.fixture.config(nfs_snapshot_support=False)
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        for call in (lambda: self.driver.create_snapshot(snapshot),
                     lambda: self.driver.delete_snapshot(snapshot),
                     lambda: self.driver.revert_to_snapshot(volume,
                                                            snapshot),
                     lambda: self.driver.create_volume_from_snapshot(
                         objects.Volume(), snapshot)):
            e = self.assertRaises(exception.VolumeDriverException, call)
            self.assertIn('nfs_snapshot_support = True', str(e))
        self.assertEqual([volume.name, volume.name + '.info.g1',
                          volume.name + '.info.head'],
                         sorted(os.listdir(self.share)))
        self.assertFalse(self.driver.get_volume_stats(
            refresh=True)['snapshot_support'])
        # clones do not need snapshots
        clone = objects.Volume()
        self.driver.create_cloned_volume(clone, volume)
