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

"""Tests of cinder.image.qemu_img against the real qemu-img and qemu-io."""

import json
import os
import struct
import subprocess
from unittest import mock

import fixtures
from oslo_concurrency import processutils
from oslotest import base

from cinder.common import processes
from cinder import exception
from cinder.image import qemu_img
from cinder.tests import processes_fixture

MiB = 1024 * 1024


def qemu_io(path, fmt, command):
    """Run one qemu-io command; returns (exit code, output)."""
    proc = subprocess.run(['qemu-io', '-f', fmt, '-c', command, path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    return proc.returncode, proc.stdout


class QemuImgTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, fmt, pattern, offset, length='64k'):
        rc, out = qemu_io(self.path(name), fmt, 'write -P 0x%02x %s %s' % (
            pattern, offset, length))
        self.assertEqual(0, rc, out)

    def assertReads(self, name, fmt, pattern, offset, length='64k'):
        rc, out = qemu_io(self.path(name), fmt, 'read -P 0x%02x %s %s' % (
            pattern, offset, length))
        self.assertEqual(0, rc, '%s at %s of %s: %s' % (
            hex(pattern), offset, name, out))

    def make_chain(self):
        """base (raw) <- mid (qcow2) <- top (qcow2), with distinct data."""
        qemu_img.create(self.path('base'), 'raw', MiB)
        self.write('base', 'raw', 0x11, '0')
        self.write('base', 'raw', 0x11, '128k')
        qemu_img.create(self.path('mid'), 'qcow2', MiB, backing_file='base',
                        backing_fmt='raw')
        self.write('mid', 'qcow2', 0x22, '64k')
        qemu_img.create(self.path('top'), 'qcow2', MiB, backing_file='mid',
                        backing_fmt='qcow2')
        self.write('top', 'qcow2', 0x33, '128k')

    # info / create -------------------------------------------------------

    def test_create_raw_and_info(self):
        qemu_img.create(self.path('a'), 'raw', 2 * MiB)
        info = qemu_img.info(self.path('a'), 'raw')
        self.assertEqual('raw', info.format)
        self.assertEqual(2 * MiB, info.virtual_size)
        self.assertIsNone(info.backing_file)
        self.assertIsNone(info.backing_format)
        self.assertEqual('raw', info['format'])

    def test_create_overlay_records_relative_backing(self):
        qemu_img.create(self.path('base'), 'raw', MiB)
        qemu_img.create(self.path('over'), 'qcow2', 2 * MiB,
                        backing_file='base', backing_fmt='raw')
        info = qemu_img.info(self.path('over'))
        self.assertEqual('qcow2', info.format)
        self.assertEqual(2 * MiB, info.virtual_size)
        self.assertEqual('base', info.backing_file)
        self.assertEqual('raw', info.backing_format)
        self.assertEqual('raw', info.get('backing-filename-format'))
        self.assertEqual(self.path('base'), info.full_backing_file)

    def test_create_with_backing_needs_its_format(self):
        self.assertRaises(exception.InvalidInput, qemu_img.create,
                          self.path('x'), 'qcow2', MiB, backing_file='base')
        self.assertFalse(os.path.exists(self.path('x')))

    def test_create_preallocated(self):
        qemu_img.create(self.path('full'), 'raw', MiB,
                        preallocation='falloc')
        self.assertGreaterEqual(os.stat(self.path('full')).st_blocks * 512,
                                MiB)

    def test_info_of_missing_file_reports_stderr(self):
        e = self.assertRaises(exception.VolumeDriverException,
                              qemu_img.info, self.path('missing'))
        self.assertIn(self.path('missing'), str(e))
        self.assertIn('No such file', str(e))
        self.assertIn('exit code 1', str(e))

    def test_info_forces_share_is_limited_and_honours_format(self):
        with mock.patch.object(processutils, 'execute',
                               return_value=('{"format": "raw"}', '')) as ex:
            info = qemu_img.info('/some/path', 'raw')
        self.assertEqual('raw', info.format)
        args = ex.call_args[0]
        self.assertEqual(('qemu-img', 'info', '--output=json',
                          '--force-share', '-f', 'raw', '/some/path'), args)
        self.assertIs(qemu_img.INFO_LIMITS, ex.call_args[1]['prlimit'])
        self.assertEqual('C', ex.call_args[1]['env_variables']['LC_ALL'])

    def test_a_run_killed_by_the_stopping_service_says_so(self):
        # The stopping service kills the children of the requests still
        # running; from then on, any qemu-img their threads start is
        # killed at once.
        children = self.useFixture(processes_fixture.ChildProcessesFixture())
        children.doom('cinder-volume is stopping')
        e = self.assertRaises(exception.VolumeDriverException,
                              qemu_img.create, self.path('a'), 'raw', MiB)
        self.assertIn('qemu-img create -f raw %s' % self.path('a'), str(e))
        self.assertIn('was killed: cinder-volume is stopping', str(e))

    def test_info_rejects_garbled_output(self):
        with mock.patch.object(processutils, 'execute',
                               return_value=('not json', '')):
            e = self.assertRaises(exception.VolumeDriverException,
                                  qemu_img.info, '/p')
        self.assertIn('/p', str(e))

    def test_format_is_not_guessed_when_given(self):
        # A raw file holding a qcow2 header stays raw when the caller says
        # so, so its "backing file" is never looked at.
        qemu_img.create(self.path('inner'), 'qcow2', MiB,
                        backing_file='/etc/hostname', backing_fmt='raw')
        os.rename(self.path('inner'), self.path('raw-disk'))
        self.assertEqual('qcow2', qemu_img.info(self.path('raw-disk')).format)
        info = qemu_img.info(self.path('raw-disk'), 'raw')
        self.assertEqual('raw', info.format)
        self.assertIsNone(info.backing_file)

    def test_missing_binary(self):
        self.useFixture(fixtures.MockPatchObject(
            qemu_img, 'QEMU_IMG', 'qemu-img-not-installed'))
        e = self.assertRaises(exception.VolumeDriverException,
                              qemu_img.create, self.path('a'), 'raw', MiB)
        self.assertIn('is qemu-img installed', str(e))
        # info runs under prlimit's wrapper, which reports the same.
        e = self.assertRaises(exception.VolumeDriverException,
                              qemu_img.info, self.path('a'))
        self.assertIn('qemu-img-not-installed', str(e))
        self.assertIn('No such file', str(e))
        self.assertRaises(exception.VolumeDriverException, qemu_img.version)

    def test_version(self):
        self.assertIn('qemu-img', qemu_img.version())

    # commit / rebase -----------------------------------------------------

    def test_commit_writes_overlay_into_backing_and_keeps_overlay(self):
        self.make_chain()
        qemu_img.commit(self.path('top'), 'qcow2')
        self.assertReads('mid', 'qcow2', 0x33, '128k')
        self.assertReads('mid', 'qcow2', 0x22, '64k')
        self.assertReads('mid', 'qcow2', 0x11, '0')
        # the base is untouched
        self.assertReads('base', 'raw', 0x11, '128k')
        # the overlay still holds its data (-d)
        self.assertReads('top', 'qcow2', 0x33, '128k')

    def test_commit_grows_smaller_backing(self):
        self.make_chain()
        qemu_img.resize(self.path('top'), 2 * MiB, 'qcow2')
        self.write('top', 'qcow2', 0x44, '1536k')
        qemu_img.commit(self.path('top'), 'qcow2')
        self.assertEqual(2 * MiB, qemu_img.info(self.path('mid'),
                                                'qcow2').virtual_size)
        self.assertReads('mid', 'qcow2', 0x44, '1536k')

    def test_safe_rebase_keeps_what_the_image_shows(self):
        self.make_chain()
        qemu_img.rebase(self.path('top'), 'base', 'raw', fmt='qcow2')
        info = qemu_img.info(self.path('top'), 'qcow2')
        self.assertEqual('base', info.backing_file)
        self.assertEqual('raw', info.backing_format)
        self.assertReads('top', 'qcow2', 0x11, '0')
        self.assertReads('top', 'qcow2', 0x22, '64k')
        self.assertReads('top', 'qcow2', 0x33, '128k')
        qemu_img.check(self.path('top'), 'qcow2')

    def test_rebase_onto_nothing_makes_a_standalone_image(self):
        self.make_chain()
        qemu_img.rebase(self.path('top'), '', fmt='qcow2')
        os.unlink(self.path('mid'))
        os.unlink(self.path('base'))
        self.assertIsNone(qemu_img.info(self.path('top'),
                                        'qcow2').backing_file)
        self.assertReads('top', 'qcow2', 0x11, '0')
        self.assertReads('top', 'qcow2', 0x22, '64k')
        self.assertReads('top', 'qcow2', 0x33, '128k')

    def test_unsafe_rebase_only_rewrites_the_header(self):
        self.make_chain()
        qemu_img.rebase(self.path('top'), 'base', 'raw', unsafe=True,
                        fmt='qcow2')
        self.assertEqual('base', qemu_img.info(self.path('top'),
                                               'qcow2').backing_file)
        # mid's data is no longer seen
        self.assertReads('top', 'qcow2', 0x00, '64k')

    def test_rebase_with_backing_needs_its_format(self):
        self.assertRaises(exception.InvalidInput, qemu_img.rebase,
                          self.path('top'), 'base')

    # convert / resize / check --------------------------------------------

    def test_convert_flattens_the_chain(self):
        self.make_chain()
        qemu_img.convert(self.path('top'), self.path('copy'), 'raw',
                         src_fmt='qcow2')
        info = qemu_img.info(self.path('copy'), 'raw')
        self.assertEqual(MiB, info.virtual_size)
        self.assertIsNone(info.backing_file)
        proc = subprocess.run(['qemu-img', 'compare', '-f', 'qcow2', '-F',
                               'raw', self.path('top'), self.path('copy')],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(0, proc.returncode, proc.stdout)

    def test_convert_onto_a_backing_file_copies_only_the_top(self):
        # base <- mid <- top: a copy of mid's content ("mid2") backs a
        # copy of top's own data only.
        self.make_chain()
        qemu_img.convert(self.path('mid'), self.path('mid2'), 'qcow2',
                         src_fmt='qcow2', backing_file='base',
                         backing_fmt='raw')
        qemu_img.convert(self.path('top'), self.path('top2'), 'qcow2',
                         src_fmt='qcow2', backing_file='mid2',
                         backing_fmt='qcow2')
        info = qemu_img.info(self.path('top2'), 'qcow2')
        self.assertEqual('mid2', info.backing_file)   # relative to top2
        proc = subprocess.run(['qemu-img', 'compare', '-f', 'qcow2', '-F',
                               'qcow2', self.path('top'), self.path('top2')],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(0, proc.returncode, proc.stdout)
        # Only top's own data: nothing of mid's.
        out = subprocess.run(['qemu-img', 'map', '--output=json', '-f',
                              'qcow2', self.path('top2')],
                             stdout=subprocess.PIPE, check=True).stdout
        own = [e for e in json.loads(out) if e['depth'] == 0 and e['data']]
        self.assertEqual(sum(e['length'] for e in own), 64 * 1024)
        self.assertRaises(exception.InvalidInput, qemu_img.convert,
                          self.path('top'), self.path('x'), 'qcow2',
                          backing_file='mid2')

    def test_convert_error_names_command_and_stderr(self):
        e = self.assertRaises(exception.VolumeDriverException,
                              qemu_img.convert, self.path('nope'),
                              self.path('copy'), 'raw', src_fmt='raw')
        self.assertIn('qemu-img convert', str(e))
        self.assertIn('nope', str(e))

    def test_resize_grows_and_refuses_to_shrink(self):
        qemu_img.create(self.path('a'), 'qcow2', MiB)
        qemu_img.resize(self.path('a'), 3 * MiB, 'qcow2')
        self.assertEqual(3 * MiB, qemu_img.info(self.path('a'),
                                                'qcow2').virtual_size)
        self.assertRaises(exception.InvalidInput, qemu_img.resize,
                          self.path('a'), MiB, 'qcow2')
        self.assertEqual(3 * MiB, qemu_img.info(self.path('a'),
                                                'qcow2').virtual_size)

    def test_a_smaller_size_is_refused_before_qemu_img_resize_runs(self):
        qemu_img.create(self.path('a'), 'raw', 3 * MiB)
        with mock.patch.object(processes, 'execute',
                               wraps=processes.execute) as execute:
            e = self.assertRaises(exception.InvalidInput, qemu_img.resize,
                                  self.path('a'), MiB, 'raw')
        self.assertIn('shrinking is not supported', str(e))
        self.assertEqual(['info'], [c[0][1] for c in execute.call_args_list])
        self.assertEqual(3 * MiB, os.stat(self.path('a')).st_size)

    def test_an_image_grown_after_the_size_check_is_not_shrunk(self):
        # A stale holder read the size, then another holder grew the
        # image: qemu-img itself refuses to shrink, asked without --shrink.
        for fmt in ('raw', 'qcow2'):
            path = self.path('a.' + fmt)
            qemu_img.create(path, fmt, MiB)
            stale = qemu_img.info(path, fmt)
            qemu_img.resize(path, 3 * MiB, fmt)
            with mock.patch.object(qemu_img, 'info', return_value=stale), \
                    mock.patch.object(processes, 'execute',
                                      wraps=processes.execute) as execute:
                self.assertRaises(exception.VolumeDriverException,
                                  qemu_img.resize, path, 2 * MiB, fmt)
            self.assertEqual(['resize'],
                             [c[0][1] for c in execute.call_args_list])
            self.assertNotIn('--shrink', execute.call_args[0])
            self.assertEqual(3 * MiB, qemu_img.info(path, fmt).virtual_size)

    def test_resize_preallocates_the_new_space(self):
        qemu_img.create(self.path('a'), 'raw', MiB)
        qemu_img.resize(self.path('a'), 4 * MiB, 'raw',
                        preallocation='falloc')
        self.assertGreaterEqual(os.stat(self.path('a')).st_blocks * 512,
                                3 * MiB)

    def test_check_clean_image(self):
        self.make_chain()
        result = qemu_img.check(self.path('top'), 'qcow2')
        self.assertEqual(0, result['check-errors'])
        self.assertEqual('qcow2', result['format'])
        self.assertTrue(result['supported'])

    def test_check_raw_is_not_supported_but_fine(self):
        qemu_img.create(self.path('a'), 'raw', MiB)
        result = qemu_img.check(self.path('a'), 'raw')
        self.assertFalse(result['supported'])

    def test_check_raises_on_corruption(self):
        qemu_img.create(self.path('c'), 'qcow2', MiB)
        self.write('c', 'qcow2', 0x11, '0')
        # Zero the first refcount block: clusters in use now have
        # refcount 0.
        with open(self.path('c'), 'r+b') as f:
            header = f.read(104)
            table = struct.unpack('>Q', header[48:56])[0]
            f.seek(table)
            block = struct.unpack('>Q', f.read(8))[0]
            f.seek(block)
            f.write(b'\0' * 64)
        e = self.assertRaises(exception.VolumeDriverException,
                              qemu_img.check, self.path('c'), 'qcow2')
        self.assertIn('corruption', str(e))
        self.assertIn(self.path('c'), str(e))

    def test_check_of_missing_file_raises(self):
        self.assertRaises(exception.VolumeDriverException, qemu_img.check,
                          self.path('missing'), 'qcow2')
