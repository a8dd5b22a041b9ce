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

"""The fault-injecting file system on a real FUSE mount.

Every check is a plain ``os`` call through the mount, and a look at the
backing directory behind it. Each test mounts its own file system
(about 0.2 s to mount and unmount).
"""

import ctypes
import errno
import os
import shutil
import subprocess
import time

import fixtures
from oslotest import base

from cinder.stress import faultfs
from cinder.stress import lockservers


#: qcow2's default cluster size.
CLUSTER = 65536
#: The uid and gid of "nobody", another user.
NOBODY = 65534


def _runs(data):
    """*data* as (offset, byte, length) runs of one byte value."""
    runs = []
    start = 0
    for offset in range(1, len(data) + 1):
        if offset == len(data) or data[offset] != data[start]:
            runs.append((start, data[start], offset - start))
            start = offset
    return runs


def require(test, also=()):
    """Skip *test* when FUSE cannot be mounted; fail it in CI."""
    lacking = faultfs.missing() + list(also)
    if lacking:
        message = 'the fault-injecting file system needs %s' % (
            ', '.join(lacking))
        if lockservers.env_flag(lockservers.REQUIRE_ENV):
            test.fail(message)
        test.skipTest(message)


def _renameat2(old, new, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, os.fsencode(old), at_fdcwd,
                      os.fsencode(new), flags) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), old)


class FaultFSTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        require(self)
        self.root = self.useFixture(fixtures.TempDir()).path
        self.backing = os.path.join(self.root, 'backing')
        self.mnt = os.path.join(self.root, 'mnt')
        os.mkdir(self.backing)
        os.mkdir(self.mnt)
        self.fs = faultfs.FaultFS.start(self.backing, self.mnt)
        self.addCleanup(self.fs.stop)

    def m(self, *names):
        return os.path.join(self.mnt, *names)

    def b(self, *names):
        return os.path.join(self.backing, *names)

    def put(self, name, data=b'data'):
        """Write *name* in the backing directory, behind the mount."""
        with open(self.b(name), 'wb') as f:
            f.write(data)

    def content(self, name):
        with open(self.b(name), 'rb') as f:
            return f.read()

    def assertFails(self, code, call, *args):
        error = self.assertRaises(OSError, call, *args)
        self.assertEqual(code, error.errno, error)


class PassThroughTest(FaultFSTestCase):

    def test_python_file_io_is_applied_to_the_backing_directory(self):
        with open(self.m('a'), 'w') as f:
            f.write('hello')
        with open(self.m('a'), 'a') as f:
            f.write(' world')
        self.assertEqual(b'hello world', self.content('a'))
        with open(self.m('a'), 'r+b') as f:
            f.seek(6)
            f.write(b'W')
            f.truncate(8)
            f.flush()
            os.fsync(f.fileno())
        self.assertEqual(b'hello Wo', self.content('a'))
        os.truncate(self.m('a'), 5)
        os.mkdir(self.m('d'))
        os.rename(self.m('a'), self.m('d', 'a'))
        os.link(self.m('d', 'a'), self.m('d', 'b'))
        os.symlink('a', self.m('d', 'c'))
        os.chmod(self.m('d', 'b'), 0o600)
        before = time.time_ns()
        os.utime(self.m('d', 'b'))
        self.assertGreaterEqual(os.stat(self.b('d', 'b')).st_mtime_ns,
                                before)
        os.utime(self.m('d', 'b'), ns=(10 ** 9, 2 * 10 ** 9))
        self.assertEqual(['a', 'b', 'c'], sorted(os.listdir(self.m('d'))))
        self.assertEqual(['a', 'b', 'c'], sorted(os.listdir(self.b('d'))))
        st = os.stat(self.b('d', 'a'))
        self.assertEqual((2, 0o600, 2 * 10 ** 9, 5), (
            st.st_nlink, st.st_mode & 0o777, st.st_mtime_ns, st.st_size))
        self.assertEqual(st.st_ino, os.stat(self.m('d', 'b')).st_ino)
        self.assertEqual('a', os.readlink(self.b('d', 'c')))
        with open(self.m('d', 'c'), 'rb') as f:
            self.assertEqual(b'hello', f.read())
        fd = os.open(self.m('d', 'a'), os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, 1 << 20)
        finally:
            os.close(fd)
        self.assertEqual(1 << 20, os.stat(self.b('d', 'a')).st_size)
        for name in 'abc':
            os.unlink(self.m('d', name))
        os.rmdir(self.m('d'))
        self.assertEqual([], os.listdir(self.backing))

    def test_the_kernel_caches_nothing(self):
        # No negative entry: a name missing a moment ago is there now.
        self.assertFalse(os.path.exists(self.m('late')))
        self.put('late', b'one')
        self.assertEqual(3, os.stat(self.m('late')).st_size)
        self.assertEqual(['late'], os.listdir(self.m()))
        # No entry: the name now stands for another inode.
        self.put('new', b'one')
        os.replace(self.b('new'), self.b('late'))
        self.assertEqual(os.stat(self.b('late')).st_ino,
                         os.stat(self.m('late')).st_ino)
        with open(self.m('late'), 'rb') as f:
            # No attributes: an open file's size changed behind it.
            with open(self.b('late'), 'ab') as behind:
                behind.write(b'two')
            self.assertEqual(6, os.fstat(f.fileno()).st_size)
            self.assertEqual(b'onetwo', f.read())
            # No data: other bytes, same size and mtime, read afresh.
            st = os.stat(self.b('late'))
            with open(self.b('late'), 'r+b') as behind:
                behind.write(b'ONE')
            os.utime(self.b('late'), ns=(st.st_atime_ns, st.st_mtime_ns))
            f.seek(0)
            self.assertEqual(b'ONEtwo', f.read())
        # No entry: the file became a directory.
        self.assertTrue(os.path.isfile(self.m('late')))
        os.unlink(self.b('late'))
        os.mkdir(self.b('late'))
        self.assertTrue(os.path.isdir(self.m('late')))
        os.rmdir(self.b('late'))
        self.assertFalse(os.path.exists(self.m('late')))
        self.assertEqual([], os.listdir(self.m()))

    def test_an_open_file_unlinked_stays_usable_and_leaves_nothing(self):
        rule = self.fs.arm('unlink', 'gone', 'after', errno='ENOENT')
        with open(self.m('gone'), 'w+b') as f:
            self.assertFails(errno.ENOENT, os.unlink, self.m('gone'))
            f.write(b'still here')
            f.flush()
            f.seek(0)
            self.assertEqual(b'still here', f.read())
            # No silly rename: the file has no name to stat it by.
            self.assertRaises(OSError, os.fstat, f.fileno())
        self.assertEqual(1, self.fs.fired(rule))
        self.assertEqual([], os.listdir(self.backing))

    def test_what_another_user_makes_is_theirs(self):
        # Let user 65534 reach the mount, and write in one directory.
        for path in (os.path.dirname(self.root), self.root):
            os.chmod(path, 0o711)
        os.mkdir(self.b('shared'))
        os.chmod(self.b('shared'), 0o777)
        subprocess.run(['sh', '-c', 'mkdir "$1" && echo x > "$2"', 'sh',
                        self.m('shared', 'dir'), self.m('shared', 'file')],
                       user=NOBODY, group=NOBODY, check=True, timeout=60)
        self.assertEqual([(NOBODY, NOBODY)] * 2, [
            (st.st_uid, st.st_gid) for st in (
                os.stat(self.b('shared', 'dir')),
                os.stat(self.b('shared', 'file')))])
        denied = subprocess.run(['sh', '-c', 'echo x > "$1"', 'sh',
                                 self.m('denied')], user=NOBODY,
                                group=NOBODY, stderr=subprocess.PIPE,
                                timeout=60)
        self.assertIn(b'Permission denied', denied.stderr)
        self.assertFalse(os.path.exists(self.b('denied')))

    def test_rename_flags_are_refused_as_by_nfs(self):
        self.put('a', b'a')
        rename_noreplace = 1
        self.assertFails(errno.EINVAL, _renameat2, self.m('a'), self.m('b'),
                         rename_noreplace)
        self.assertEqual(['a'], os.listdir(self.backing))

    def test_holes_are_seen_through_the_mount(self):
        # qemu-img finds the data of a sparse image by SEEK_DATA and
        # SEEK_HOLE; answered "all data", it reads every hole through the
        # mount (a 1 GiB raw volume: seconds instead of milliseconds).
        mib = 1 << 20
        with open(self.b('sparse'), 'wb') as f:
            f.truncate(8 * mib)
            f.seek(4 * mib)
            f.write(b'x' * CLUSTER)

        def seeks(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                found = [os.lseek(fd, 0, os.SEEK_DATA),
                         os.lseek(fd, 4 * mib, os.SEEK_HOLE)]
                error = self.assertRaises(OSError, os.lseek, fd, 5 * mib,
                                          os.SEEK_DATA)
                return found + [error.errno]
            finally:
                os.close(fd)
        self.assertEqual([4 * mib, 4 * mib + CLUSTER, errno.ENXIO],
                         seeks(self.b('sparse')))
        self.assertEqual(seeks(self.b('sparse')), seeks(self.m('sparse')))

    def test_qemu_img_works_through_the_mount(self):
        qemu_img = shutil.which('qemu-img')
        qemu_io = shutil.which('qemu-io')
        require(self, also=[] if qemu_img and qemu_io else [
            'qemu-img and qemu-io (Debian qemu-utils)'])

        def run(*args):
            done = subprocess.run(list(args), cwd=self.mnt,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=60)
            self.assertEqual(0, done.returncode, done.stdout)
            return done.stdout

        run(qemu_img, 'create', '-f', 'raw', 'base.raw', '1M')
        with open(self.m('base.raw'), 'r+b') as f:
            f.seek(CLUSTER)
            f.write(b'A' * CLUSTER)
        run(qemu_img, 'convert', '-f', 'raw', '-O', 'qcow2', 'base.raw',
            'base.qcow2')
        run(qemu_img, 'create', '-f', 'qcow2', '-b', 'base.qcow2', '-F',
            'qcow2', 'top.qcow2')
        run(qemu_io, '-f', 'qcow2', '-c',
            'write -P 0x42 %d %d' % (2 * CLUSTER, CLUSTER), 'top.qcow2')
        run(qemu_img, 'resize', 'top.qcow2', '2M')
        run(qemu_img, 'commit', 'top.qcow2')
        # A safe rebase writes into top what base.raw lacks: the B's.
        run(qemu_img, 'rebase', '-b', 'base.raw', '-F', 'raw', 'top.qcow2')
        self.assertIn(b'backing file: base.raw',
                      run(qemu_img, 'info', 'top.qcow2'))
        # -t none: O_DIRECT, as the NFS driver converts where it can.
        run(qemu_img, 'convert', '-t', 'none', '-f', 'qcow2', '-O', 'raw',
            'top.qcow2', 'out.raw')
        with open(self.b('out.raw'), 'rb') as f:
            data = f.read()
        self.assertEqual(
            [(0, 0, CLUSTER), (CLUSTER, 0x41, CLUSTER),
             (2 * CLUSTER, 0x42, CLUSTER), (3 * CLUSTER, 0, (2 << 20) -
                                            3 * CLUSTER)],
            _runs(data))
        run(qemu_img, 'create', '-f', 'raw', '-o', 'preallocation=falloc',
            'falloc.raw', '1M')
        self.assertGreaterEqual(os.stat(self.b('falloc.raw')).st_blocks,
                                (1 << 20) // 512)


class LifecycleTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        require(self)
        root = self.useFixture(fixtures.TempDir()).path
        self.backing = os.path.join(root, 'backing')
        self.mnt = os.path.join(root, 'mnt')
        os.mkdir(self.backing)
        os.mkdir(self.mnt)

    def assertGone(self, fs):
        self.assertNotIn(os.path.realpath(self.mnt), faultfs.mounts())
        self.assertIsNotNone(fs.process.poll())
        self.assertRaises(ProcessLookupError, os.kill, fs.pid, 0)
        self.assertFalse(os.path.exists(fs.workdir))

    def test_the_mount_and_process_end_with_the_block(self):
        with faultfs.FaultFS.mount(self.backing, self.mnt) as fs:
            self.assertIn(os.path.realpath(self.mnt), faultfs.mounts())
            self.assertIsNone(fs.process.poll())
        self.assertGone(fs)
        self.assertEqual(0, fs.process.returncode)

    def test_a_new_session_keeps_a_ctrl_c_of_the_caller_away(self):
        # A Ctrl-C goes to the terminal's foreground process group: in a
        # session of its own, the mount outlives it until stopped.
        fs = faultfs.FaultFS.start(self.backing, self.mnt, new_session=True)
        self.addCleanup(fs.stop)
        self.assertEqual(fs.pid, os.getsid(fs.pid))
        self.assertNotEqual(os.getpgrp(), os.getpgid(fs.pid))
        fs.stop()
        self.assertGone(fs)

    def test_they_end_when_the_block_raises_with_a_file_open(self):
        def body():
            with faultfs.FaultFS.mount(self.backing, self.mnt) as fs:
                body.fs = fs
                body.f = open(os.path.join(self.mnt, 'busy'), 'wb')
                raise KeyError('the test failed')
        self.assertRaises(KeyError, body)
        self.assertGone(body.fs)
        # Detached lazily, and its server gone: the file is cut off.
        error = self.assertRaises(OSError, body.f.close)
        self.assertEqual(errno.ENOTCONN, error.errno)

    def test_a_failed_start_says_why_and_leaves_nothing(self):
        missing = os.path.join(self.mnt, 'nowhere')
        error = self.assertRaises(faultfs.FaultFSError,
                                  faultfs.FaultFS.start, self.backing,
                                  missing)
        self.assertIn('MOUNTPOINT %s is not a directory' % missing,
                      str(error))
        self.assertEqual([], [path for path in faultfs.mounts()
                              if path.startswith(self.mnt)])


def _close_after(path, flags):
    os.close(os.open(path, flags, 0o644))


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _on_fd(call, *args):
    def run(path):
        fd = os.open(path, os.O_RDWR)
        try:
            return call(fd, *args)
        finally:
            os.close(fd)
    return run


class FaultTest(FaultFSTestCase):
    """``before`` and ``after`` on each operation, checked behind it."""

    def setUp(self):
        super().setUp()
        self.put('f', b'0123456789')
        os.mkdir(self.b('d'))

    def fault(self, op, pattern, mode, code, call, *args):
        """Arm one rule, make the call, see it fail once with *code*."""
        rule = self.fs.arm(op, pattern, mode, errno=code)
        self.assertFails(code, call, *args)
        self.assertEqual(1, self.fs.fired(rule))
        self.fs.disarm(rule)

    def test_before_fails_and_applies_nothing(self):
        cases = [
            ('getattr', 'f', os.stat, self.m('f')),
            ('readdir', 'd', os.listdir, self.m('d')),
            ('open', 'f', _close_after, self.m('f'), os.O_RDWR),
            ('read', 'f', _on_fd(os.read, 4), self.m('f')),
            ('write', 'f', _on_fd(os.write, b'xx'), self.m('f')),
            ('truncate', 'f', os.truncate, self.m('f'), 1),
            ('truncate', 'f', _on_fd(os.ftruncate, 2), self.m('f')),
            ('fallocate', 'f', _on_fd(os.posix_fallocate, 0, 99),
             self.m('f')),
            ('fsync', 'f', _on_fd(os.fsync), self.m('f')),
            ('flush', 'f', _close_after, self.m('f'), os.O_RDONLY),
            ('fsyncdir', 'd', _fsync_dir, self.m('d')),
            ('setattr', 'f', os.chmod, self.m('f'), 0o600),
            ('create', 'n', _close_after, self.m('n'),
             os.O_CREAT | os.O_WRONLY),
            ('mkdir', 'n', os.mkdir, self.m('n')),
            ('symlink', 'n', os.symlink, 'f', self.m('n')),
            ('link', 'n', os.link, self.m('f'), self.m('n')),
            ('rename', 'n', os.rename, self.m('f'), self.m('n')),
            ('unlink', 'f', os.unlink, self.m('f')),
            ('rmdir', 'd', os.rmdir, self.m('d')),
        ]
        before = os.stat(self.b('f'))
        for op, pattern, call, *args in cases:
            self.fault(op, pattern, 'before', errno.EIO, call, *args)
        self.assertEqual(b'0123456789', self.content('f'))
        after = os.stat(self.b('f'))
        self.assertEqual((before.st_mode, before.st_nlink),
                         (after.st_mode, after.st_nlink))
        self.assertEqual(['d', 'f'], sorted(os.listdir(self.backing)))

    def test_after_applies_then_fails(self):
        self.fault('write', 'f', 'after', errno.EIO,
                   _on_fd(os.write, b'ab'), self.m('f'))
        self.assertEqual(b'ab23456789', self.content('f'))
        self.fault('truncate', 'f', 'after', errno.EIO, os.truncate,
                   self.m('f'), 4)
        self.assertEqual(b'ab23', self.content('f'))
        self.fault('fallocate', 'f', 'after', errno.EIO,
                   _on_fd(os.posix_fallocate, 0, 8), self.m('f'))
        self.assertEqual(8, os.stat(self.b('f')).st_size)
        self.fault('open', 'f', 'after', errno.EIO, _close_after,
                   self.m('f'), os.O_WRONLY | os.O_TRUNC)
        self.assertEqual(b'', self.content('f'))
        self.fault('setattr', 'f', 'after', errno.EIO, os.chmod,
                   self.m('f'), 0o600)
        self.assertEqual(0o600, os.stat(self.b('f')).st_mode & 0o777)
        self.fault('fsync', 'f', 'after', errno.EIO, _on_fd(os.fsync),
                   self.m('f'))
        self.fault('fsyncdir', 'd', 'after', errno.EIO, _fsync_dir,
                   self.m('d'))
        self.fault('create', 'd/new', 'after', errno.EEXIST, _close_after,
                   self.m('d', 'new'), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        self.fault('mkdir', 'd/sub', 'after', errno.EEXIST, os.mkdir,
                   self.m('d', 'sub'))
        self.fault('symlink', 'd/sym', 'after', errno.EEXIST, os.symlink,
                   'new', self.m('d', 'sym'))
        self.assertEqual(['new', 'sub', 'sym'],
                         sorted(os.listdir(self.b('d'))))
        self.fault('rmdir', 'd/sub', 'after', errno.ENOENT, os.rmdir,
                   self.m('d', 'sub'))
        self.fault('unlink', 'd/sym', 'after', errno.EIO, os.unlink,
                   self.m('d', 'sym'))
        self.fault('rename', 'd/new', 'after', errno.EIO, os.rename,
                   self.m('d', 'new'), self.m('d', 'moved'))
        self.assertEqual(['moved'], os.listdir(self.b('d')))

    def test_a_link_done_then_eexist_as_after_a_lost_reply(self):
        self.put('src', b'the source')
        rule = self.fs.arm('link', 'dst', 'after', errno='EEXIST')
        self.assertRaises(FileExistsError, os.link, self.m('src'),
                          self.m('dst'))
        self.assertEqual(b'the source', self.content('dst'))
        self.assertEqual(os.stat(self.b('src')).st_ino,
                         os.stat(self.b('dst')).st_ino)
        self.assertEqual(1, self.fs.fired(rule))

    def test_a_short_write_applies_part(self):
        rule = self.fs.arm('write', 'f', 'short', size=3)
        fd = os.open(self.m('f'), os.O_WRONLY)
        try:
            self.assertEqual(3, os.write(fd, b'abcdef'))
            self.assertEqual(4, os.write(fd, b'wxyz'))
        finally:
            os.close(fd)
        self.assertEqual(b'abcwxyz789', self.content('f'))
        half = self.fs.arm('write', 'f', 'short')
        fd = os.open(self.m('f'), os.O_WRONLY)
        try:
            self.assertEqual(2, os.write(fd, b'ABCD'))
        finally:
            os.close(fd)
        self.assertEqual(b'ABcwxyz789', self.content('f'))
        self.assertEqual([1, 1], [self.fs.fired(rule), self.fs.fired(half)])


class StaleTest(FaultFSTestCase):
    """Answers from a snapshot taken when the rule was armed."""

    def setUp(self):
        super().setUp()
        os.mkdir(self.b('d'))
        self.put('d/old', b'old')

    def test_a_stale_listing_misses_a_later_file(self):
        rule = self.fs.arm('readdir', 'd', 'stale', count=2)
        self.put('d/new')
        os.unlink(self.b('d', 'old'))
        self.assertEqual(['old'], os.listdir(self.m('d')))
        self.assertEqual(['old'], os.listdir(self.m('d')))
        self.assertEqual(['new'], os.listdir(self.b('d')))
        self.assertEqual(2, self.fs.fired(rule))
        self.assertEqual(['new'], os.listdir(self.m('d')))
        self.assertEqual(2, self.fs.fired(rule))

    def test_a_stale_negative_lookup_says_enoent_for_a_file_there(self):
        rule = self.fs.arm('lookup', 'd/new*', 'stale', count=None)
        self.put('d/new.img', b'new')
        self.assertTrue(os.path.exists(self.b('d', 'new.img')))
        self.assertFails(errno.ENOENT, os.stat, self.m('d', 'new.img'))
        self.assertFails(errno.ENOENT, open, self.m('d', 'new.img'))
        self.assertEqual(3, os.stat(self.m('d', 'old')).st_size)
        self.assertGreater(self.fs.fired(rule), 0)
        self.fs.disarm(rule)
        self.assertEqual(3, os.stat(self.m('d', 'new.img')).st_size)

    def test_a_stale_positive_lookup_shows_the_old_file(self):
        old = os.stat(self.b('d', 'old'))
        rule = self.fs.arm('getattr', 'd/old', 'stale', count=None)
        self.put('d/old', b'much longer now')
        self.assertEqual(3, os.stat(self.m('d', 'old')).st_size)
        os.unlink(self.b('d', 'old'))
        st = os.stat(self.m('d', 'old'))
        self.assertEqual((old.st_ino, old.st_size, old.st_mtime_ns),
                         (st.st_ino, st.st_size, st.st_mtime_ns))
        self.assertGreater(self.fs.fired(rule), 0)
        self.assertEqual(1, self.fs.clear())
        self.assertFails(errno.ENOENT, os.stat, self.m('d', 'old'))


class RulesTest(FaultFSTestCase):
    """Counts, patterns and the control interface, through the mount."""

    def test_a_rule_fires_count_times_on_its_pattern_only(self):
        self.put('vol-1')
        self.put('other')
        rule = self.fs.arm('unlink', 'vol-*', 'before', count=2)
        self.assertFails(errno.EIO, os.unlink, self.m('vol-1'))
        os.unlink(self.m('other'))
        self.assertFails(errno.EIO, os.unlink, self.m('vol-1'))
        os.unlink(self.m('vol-1'))
        self.assertEqual([], os.listdir(self.backing))
        [described] = self.fs.rules()
        self.assertEqual((rule, 'unlink', 'vol-*', 'before', errno.EIO, 0, 2),
                         tuple(described[key] for key in (
                             'rule', 'op', 'pattern', 'mode', 'errno',
                             'count', 'fired')))
        self.assertEqual(1, self.fs.clear())
        self.assertEqual([], self.fs.rules())

    def test_a_bad_rule_is_refused_naming_the_argument(self):
        for args, named in (
                (('unlnk', 'x', 'before'), "op 'unlnk'"),
                (('unlink', 'x', 'stale'), 'mode stale applies to'),
                (('unlink', 'x', 'before', 'ENOPE'), "errno 'ENOPE'"),
                (('unlink', 'x', 'before', None, 0), 'count 0')):
            error = self.assertRaises(faultfs.FaultFSError, self.fs.arm,
                                      *args)
            self.assertIn(named, str(error))
        self.assertEqual([], self.fs.rules())
