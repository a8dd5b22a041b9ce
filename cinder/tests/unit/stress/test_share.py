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

"""Unit tests of cinder.stress.share.

Images are real, made with qemu-img and qemu-io in temporary directories.
"""

import json
import os
import struct
import subprocess
from unittest import mock

import fixtures
from oslotest import base

from cinder.stress import qemu
from cinder.stress import share
from cinder.volume import fenced_record

MiB = 1024 ** 2
GiB = 1024 ** 3


def _run(*cmd, cwd=None):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, cwd=cwd)


class _ImageTestCase(base.BaseTestCase):

    def setUp(self):
        super(_ImageTestCase, self).setUp()
        self.share = self.useFixture(fixtures.TempDir()).path

    def path(self, name):
        return os.path.join(self.share, name)

    def create(self, name, fmt, size=4 * MiB, backing=None,
               backing_fmt=None):
        cmd = ['qemu-img', 'create', '-f', fmt]
        if backing is not None:
            cmd += ['-b', backing, '-F', backing_fmt]
        _run(*(cmd + [self.path(name), str(size)]))

    def write(self, name, fmt, byte, offset, length=MiB):
        _run('qemu-io', '-f', fmt, '-c',
             'write -P 0x%02x %d %d' % (byte, offset, length),
             self.path(name))


class AuditTestCase(_ImageTestCase):

    volume_id = '0d3b5a2c-1111-4e2f-9a7b-123456789abc'

    def setUp(self):
        super(AuditTestCase, self).setUp()
        self.name = 'volume-%s' % self.volume_id

    def make_volume(self, base_format='raw', snapshots=('snap-1', 'snap-2')):
        """A volume with one overlay per snapshot; returns its info."""
        self.create(self.name, base_format)
        self.write(self.name, base_format, 0x11, 0)
        info = {'base_format': base_format}
        below, below_fmt = self.name, base_format
        for number, snapshot_id in enumerate(snapshots):
            overlay = '%s.%016x' % (self.name, number + 1)
            self.create(overlay, 'qcow2', backing=below,
                        backing_fmt=below_fmt)
            info[snapshot_id] = below
            below, below_fmt = overlay, 'qcow2'
        info['active'] = below
        self.write_info(info)
        return info

    def write_info(self, info):
        with open(self.path(self.name + '.info'), 'w') as f:
            json.dump(info, f)

    def audit(self, **kwargs):
        return share.audit_volume(self.share, self.volume_id, **kwargs)

    def kinds(self, violations):
        return sorted(v.kind for v in violations)

    def test_good_chain(self):
        info = self.make_volume()
        # Another volume's files are not strays.
        self.create('volume-%s0' % self.volume_id, 'raw')
        self.create(self.name + 'x', 'raw')
        self.assertEqual([], self.audit(
            expected_snapshots=['snap-1', 'snap-2']))
        self.assertEqual([], self.audit())
        self.assertEqual((self.path(info['active']), 'qcow2'),
                         share.active_image(self.share, self.volume_id))
        self.assertEqual((self.path(self.name), 'raw'),
                         share.snapshot_image(self.share, self.volume_id,
                                              'snap-1'))
        self.assertEqual((self.path(info['snap-2']), 'qcow2'),
                         share.snapshot_image(self.share, self.volume_id,
                                              'snap-2'))
        self.assertIsNone(share.snapshot_image(self.share, self.volume_id,
                                               'snap-3'))

    def test_temporary_info_file_is_reported(self):
        self.make_volume()
        with open(self.path(self.name + '.info.tmp-0123abcd'), 'w') as f:
            f.write('{}')
        self.assertEqual(['stray-temp-file'], self.kinds(self.audit()))

    def test_info_naming_a_missing_image(self):
        info = self.make_volume()
        info['snap-1'] = self.name + '.00000000deadbeef'
        with open(self.path(self.name + '.info'), 'w') as f:
            json.dump(info, f)
        self.assertEqual(['missing-image'], self.kinds(self.audit()))

    def test_examine_reads_the_size_and_the_chain(self):
        info = self.make_volume()
        found = share.examine_volume(self.share, self.volume_id)
        self.assertEqual(4 * MiB, found.size)
        self.assertEqual(info['active'], found.chain[0])
        self.assertEqual(self.name, found.chain[-1])
        self.assertTrue(found.usable)

    def test_generations_of_the_info_file_are_its_own(self):
        info = self.make_volume()
        os.unlink(self.path(self.name + '.info'))
        record = fenced_record.FencedRecord(self.path(self.name + '.info'))
        generation = record.create(1, json.dumps(info))
        record.write(2, json.dumps(info), record.claim(2))
        self.assertEqual([], self.audit(
            expected_snapshots=['snap-1', 'snap-2']))
        del info['snap-2']
        record.write(2, json.dumps(info), record.read())
        self.assertEqual(['snapshot-missing'], self.kinds(self.audit(
            expected_snapshots=['snap-1', 'snap-2'])))
        self.assertNotEqual(generation, record.read())

    def test_a_deleted_volume_s_tombstone_is_not_left_over(self):
        self.make_volume(snapshots=())
        record = fenced_record.FencedRecord(self.path(self.name + '.info'))
        tombstone = record.path_of(record.remove(1, record.claim(1)))
        self.assertEqual(['leftover-files'],
                         self.kinds(self.audit(exists=False)))
        for name in os.listdir(self.share):
            if self.path(name) != tombstone:
                os.unlink(self.path(name))
        self.assertEqual([], self.audit(exists=False))
        self.assertEqual(({}, []), share.list_share(self.share))
        self.assertEqual(1, len(os.listdir(self.share)))

    def test_list_share(self):
        self.make_volume()
        self.create('stray', 'raw')
        volumes, others = share.list_share(self.share)
        self.assertEqual([self.volume_id], list(volumes))
        self.assertIn(self.name + '.info', volumes[self.volume_id])
        self.assertEqual(['stray'], others)

    def test_good_chain_on_a_qcow2_base_without_snapshots(self):
        self.make_volume(base_format='qcow2', snapshots=())
        self.assertEqual([], self.audit(expected_snapshots=set()))
        self.assertEqual((self.path(self.name), 'qcow2'),
                         share.active_image(self.share, self.volume_id))

    def test_stray_file(self):
        self.make_volume()
        stray = '%s.%016x' % (self.name, 99)
        self.create(stray, 'qcow2')
        violations = self.audit()
        self.assertEqual(['stray-file'], self.kinds(violations))
        self.assertIn(stray, violations[0].detail)

    def test_snapshot_missing_and_unexpected(self):
        self.make_volume()
        violations = self.audit(expected_snapshots=['snap-1', 'snap-9'])
        self.assertEqual(['snapshot-missing', 'snapshot-unexpected'],
                         self.kinds(violations))
        by_kind = dict(violations)
        self.assertIn('snap-9', by_kind['snapshot-missing'])
        self.assertIn('snap-2', by_kind['snapshot-unexpected'])

    def test_snapshot_off_chain(self):
        info = self.make_volume(snapshots=('snap-1',))
        orphan = '%s.%016x' % (self.name, 77)
        self.create(orphan, 'qcow2')
        info['snap-2'] = orphan
        self.write_info(info)
        self.assertEqual(['snapshot-off-chain', 'stray-file'],
                         self.kinds(self.audit()))

    def test_corrupted_qcow2(self):
        info = self.make_volume()
        active = self.path(info['active'])
        self.write(info['active'], 'qcow2', 0x22, MiB)
        # Zero the first refcount block: every used cluster then has
        # refcount 0, which qemu-img check reports as corruption.
        with open(active, 'r+b') as f:
            f.seek(48)
            (table,) = struct.unpack('>Q', f.read(8))
            f.seek(table)
            (block,) = struct.unpack('>Q', f.read(8))
            f.seek(block)
            f.write(b'\0' * 512)
        violations = self.audit()
        self.assertEqual(['qemu-img-check'], self.kinds(violations))
        self.assertIn(info['active'], violations[0].detail)
        self.assertIn('exit 2', violations[0].detail)

    def test_garbled_header(self):
        info = self.make_volume()
        with open(self.path(info['snap-2']), 'r+b') as f:
            f.write(b'\0' * 16)
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))

    def test_broken_backing_link(self):
        info = self.make_volume()
        os.unlink(self.path(info['snap-2']))
        violations = self.audit(expected_snapshots=['snap-1', 'snap-2'])
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn(info['snap-2'], violations[0].detail)

    def test_backing_file_named_by_path(self):
        self.make_volume(snapshots=())
        overlay = '%s.%016x' % (self.name, 5)
        self.create(overlay, 'qcow2', backing=self.path(self.name),
                    backing_fmt='raw')
        self.write_info({'base_format': 'raw', 'active': overlay,
                         'snap-1': self.name})
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('bare file name', violations[0].detail)

    def test_backing_file_in_another_directory(self):
        os.mkdir(self.path('elsewhere'))
        below = os.path.join('elsewhere', '%s.%016x' % (self.name, 1))
        self.create(below, 'qcow2')
        overlay = '%s.%016x' % (self.name, 2)
        self.create(overlay, 'qcow2', backing=self.path(below),
                    backing_fmt='qcow2')
        self.write_info({'base_format': 'raw', 'active': overlay})
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('not a file of the volume on the share',
                      violations[0].detail)

    def test_backing_file_of_another_volume(self):
        self.create('volume-other', 'qcow2')
        overlay = self.name
        self.create(overlay, 'qcow2', backing='volume-other',
                    backing_fmt='qcow2')
        self.write_info({'base_format': 'qcow2', 'active': overlay})
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('volume-other, not a file of the volume',
                      violations[0].detail)

    def test_backing_format_not_recorded(self):
        info = self.make_volume(base_format='qcow2', snapshots=('snap-1',))
        # Rename the backing format header extension to an unknown one:
        # qemu then probes the backing file's format.
        with open(self.path(info['active']), 'r+b') as f:
            header = f.read(4096)
            f.seek(header.index(b'\xe2\x79\x2a\xca'))
            f.write(b'\x12\x34\x56\x78')
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('records backing format None', violations[0].detail)

    def test_backing_loop(self):
        info = self.make_volume(base_format='qcow2', snapshots=('snap-1',))
        _run('qemu-img', 'rebase', '-u', '-f', 'qcow2', '-b',
             info['active'], '-F', 'qcow2', self.path(self.name))
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('loop', violations[0].detail)

    def test_wrong_base_format_in_info(self):
        self.make_volume(snapshots=())
        self.write_info({'base_format': 'qcow2', 'active': self.name})
        self.assertEqual(['chain-broken'], self.kinds(self.audit()))

    def test_info_unreadable(self):
        self.make_volume()
        with open(self.path(self.name + '.info'), 'w') as f:
            f.write('{"active": ')
        self.assertEqual(['info-unreadable'], self.kinds(self.audit()))
        self.assertIsNone(share.active_image(self.share, self.volume_id))
        os.unlink(self.path(self.name + '.info'))
        self.assertEqual(['info-unreadable'], self.kinds(self.audit()))
        self.assertIsNone(share.snapshot_image(self.share, self.volume_id,
                                               'snap-1'))

    def test_info_without_base_format_is_unreadable(self):
        self.make_volume(snapshots=())
        self.write_info({'active': self.name})
        self.assertEqual(['info-unreadable'], self.kinds(self.audit()))

    def test_deleted_volume_leaves_no_files(self):
        self.create('volume-%s0' % self.volume_id, 'raw')
        self.assertEqual([], self.audit(exists=False))
        with open(self.path(self.name + '.info.tmp-0123abcd'), 'w') as f:
            f.write('{}')
        violations = self.audit(exists=False)
        self.assertEqual(['leftover-files'], self.kinds(violations))
        self.assertIn('.info.tmp-0123abcd', violations[0].detail)

    def test_deleted_volume_with_its_chain_left(self):
        self.make_volume()
        violations = self.audit(exists=False)
        self.assertEqual(['leftover-files'], self.kinds(violations))
        self.assertIn(self.name + '.info', violations[0].detail)


class ReadBytesTestCase(_ImageTestCase):

    def test_slots_whole_and_mixed_by_one_byte(self):
        self.create('raw', 'raw')
        self.write('raw', 'raw', 0x5a, 0, 64 * 1024)
        self.write('raw', 'raw', 0x5a, MiB, 64 * 1024)
        self.write('raw', 'raw', 0x77, MiB + 1000, 1)
        self.assertEqual(
            [0x5a, (0x5a, 0x77), 0],
            qemu.read_slots(self.path('raw'), 'raw', [0, MiB, 2 * MiB],
                            64 * 1024))

    def test_raw(self):
        self.create('raw', 'raw')
        self.write('raw', 'raw', 0x5a, MiB)
        self.write('raw', 'raw', 0xa5, 3 * MiB)
        self.assertEqual(
            [0, 0x5a, 0xa5, None, 0x5a, 0],
            qemu.read_bytes(self.path('raw'), 'raw',
                            [0, MiB, 3 * MiB + 5, 4 * MiB, MiB + MiB - 1,
                             2 * MiB]))

    def test_qcow2_with_backing(self):
        self.create('base', 'raw')
        self.write('base', 'raw', 0x11, 0)
        self.write('base', 'raw', 0x33, 2 * MiB)
        self.create('top', 'qcow2', backing='base', backing_fmt='raw')
        self.write('top', 'qcow2', 0x22, MiB)
        self.write('top', 'qcow2', 0x44, 2 * MiB)
        offsets = [0, MiB, 2 * MiB, 3 * MiB]
        self.assertEqual([0x11, 0x22, 0x44, 0],
                         qemu.read_bytes(self.path('top'), 'qcow2',
                                         offsets))
        self.assertEqual([0x11, 0, 0x33, 0],
                         qemu.read_bytes(self.path('base'), 'raw',
                                         offsets))

    def test_offsets_beyond_4_gib(self):
        self.create('big', 'qcow2', size=8 * GiB)
        self.write('big', 'qcow2', 0xc3, 5 * GiB)
        self.assertEqual([0xc3, 0, 0xc3],
                         qemu.read_bytes(self.path('big'), 'qcow2',
                                         [5 * GiB, 6 * GiB,
                                          5 * GiB + MiB - 1]))

    def test_unreadable_image(self):
        self.assertEqual([None, None],
                         qemu.read_bytes(self.path('missing'), 'raw',
                                         [0, MiB]))
        self.assertEqual([], qemu.read_bytes(self.path('missing'), 'raw',
                                             []))


class CheckExitCodeTestCase(base.BaseTestCase):

    def test_leaked_clusters_are_their_own_kind(self):
        with mock.patch.object(qemu, 'run',
                               return_value=(3, 'leaked clusters', '')):
            self.assertEqual('qemu-img-leaks',
                             share._check_image('/x')[0])
        with mock.patch.object(qemu, 'run',
                               return_value=(2, '', 'corrupt')):
            self.assertEqual('qemu-img-check',
                             share._check_image('/x')[0])
        with mock.patch.object(qemu, 'run', return_value=(0, '', '')):
            self.assertEqual((None, None), share._check_image('/x'))
