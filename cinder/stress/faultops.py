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

"""The fault-injecting file system's process: a FUSE pass-through.

:func:`serve` mounts a backing directory with libfuse 3 (through
``mfusepy``) and applies every call to it, except that the armed rules
of :mod:`cinder.stress.faultrules` make calls fail, answer from a stale
snapshot or write short. The kernel caches nothing: entry, negative and
attribute timeouts are 0 and every file is opened for direct I/O, so
each lookup, read and write reaches this process as it would reach an
NFS server through a client that does not cache. Start it with
``python -m cinder.stress.faultfs`` (:mod:`cinder.stress.faultfs`).
"""

import ctypes
import errno
import os
import sys
import threading
import time

import mfusepy

from cinder.stress import faultrules

#: Mount source and type suffix: the mount shows as ``fuse.<FSNAME>``.
FSNAME = 'cinder-faultfs'
#: utimens markers that libfuse passes for "now" and "leave as is".
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                            ctypes.c_int64)


def _fallocate(fd, mode, offset, length):
    if _libc.fallocate(fd, mode, offset, length) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


class FaultOperations(mfusepy.Operations):
    """Every call applied to *backing*, unless a rule of *rules* fires.

    Errors of the backing directory are the call's errors.

    :param ready: called once libfuse has mounted and initialised.
    """

    use_ns = True

    def __init__(self, backing, rules, ready=None):
        self.backing = os.path.realpath(backing)
        self.rules = rules
        self.ready = ready
        self._open = {}
        self._open_lock = threading.Lock()

    # -- paths, rules ---------------------------------------------------

    @staticmethod
    def rel(path):
        """The path relative to the mount that rules match (root: ``.``)."""
        if path is None:
            return None
        rel = path.lstrip('/')
        return rel or '.'

    def real(self, path):
        if path is None:
            raise OSError(errno.ENOENT, 'removed while open')
        return os.path.join(self.backing, path.lstrip('/'))

    def _rel_of(self, path, fh):
        if path is None and fh is not None:
            with self._open_lock:
                return self._open.get(fh)
        return self.rel(path)

    def fire(self, op, *paths):
        return self.rules.take(op, paths)

    @staticmethod
    def finish(rule, action, undo=None):
        """Run *action* as rule *rule* (or None) says; return its result."""
        if rule is not None and rule.mode == 'before':
            raise OSError(rule.errno, os.strerror(rule.errno))
        result = action()
        if rule is not None and rule.mode == 'after':
            if undo is not None:
                undo(result)
            raise OSError(rule.errno, os.strerror(rule.errno))
        return result

    def _remember(self, fd, path):
        with self._open_lock:
            self._open[fd] = self.rel(path)
        return fd

    def _owned(self, path):
        """Give a new file the caller's owner, as a server would."""
        uid, gid, _pid = mfusepy.fuse_get_context()
        if os.geteuid() == 0 and (uid, gid) != (0, 0):
            os.lchown(self.real(path), uid, gid)

    # -- lifecycle --------------------------------------------------------

    def init_with_config(self, conn_info, config):
        # Nothing cached by the kernel: every call reaches us.
        config.entry_timeout = 0.0
        config.negative_timeout = 0.0
        config.attr_timeout = 0.0
        config.ac_attr_timeout_set = 0
        config.kernel_cache = 0
        config.auto_cache = 0
        config.direct_io = 1
        # Unlink an open file for real (no .fuse_hidden files) and keep
        # the backing inode numbers. Calls on a removed open file come
        # without a path (libfuse's ESTALE path lookup is forgiven for
        # calls with a file handle): the path it was opened by stands in.
        config.hard_remove = 1
        config.use_ino = 1
        if self.ready is not None:
            self.ready()

    # -- attributes and directories ----------------------------------------

    def getattr(self, path, fh=None):
        rule = self.fire('getattr', self._rel_of(path, fh))
        if rule is not None and rule.mode == 'stale':
            return rule.stale_attrs(self._rel_of(path, fh))
        if fh is not None:
            return self.finish(rule, lambda: faultrules.attrs_of(
                os.fstat(fh)))
        return self.finish(rule, lambda: faultrules.attrs_of(
            os.lstat(self.real(path))))

    def readdir(self, path, fh):
        rel = self.rel(path)
        rule = self.fire('readdir', rel)
        if rule is not None and rule.mode == 'stale':
            return rule.stale_listing(rel)
        return self.finish(rule, lambda: faultrules.listing(
            self.backing, rel))

    def fsyncdir(self, path, datasync, fh):
        def sync():
            fd = os.open(self.real(path), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return self.finish(self.fire('fsyncdir', self.rel(path)), sync)

    def mkdir(self, path, mode):
        self.finish(self.fire('mkdir', self.rel(path)),
                    lambda: os.mkdir(self.real(path), mode))
        self._owned(path)

    def rmdir(self, path):
        self.finish(self.fire('rmdir', self.rel(path)),
                    lambda: os.rmdir(self.real(path)))

    def statfs(self, path):
        st = os.statvfs(self.real(path))
        return {key: getattr(st, key) for key in (
            'f_bsize', 'f_frsize', 'f_blocks', 'f_bfree', 'f_bavail',
            'f_files', 'f_ffree', 'f_favail', 'f_flag', 'f_namemax')}

    # -- names ----------------------------------------------------------------

    def link(self, target, source):
        """Hard link *target* (the new name) to *source*."""
        self.finish(self.fire('link', self.rel(source), self.rel(target)),
                    lambda: os.link(self.real(source), self.real(target)))

    def unlink(self, path):
        self.finish(self.fire('unlink', self.rel(path)),
                    lambda: os.unlink(self.real(path)))

    def rename(self, old, new):
        self.finish(self.fire('rename', self.rel(old), self.rel(new)),
                    lambda: os.rename(self.real(old), self.real(new)))

    def symlink(self, target, source):
        """Make *target* a symbolic link holding *source*."""
        self.finish(self.fire('symlink', self.rel(target)),
                    lambda: os.symlink(source, self.real(target)))
        self._owned(target)

    def readlink(self, path):
        return os.readlink(self.real(path))

    # -- attributes set -----------------------------------------------------

    def chmod(self, path, mode):
        self.finish(self.fire('setattr', self.rel(path)),
                    lambda: os.chmod(self.real(path), mode))

    def chown(self, path, uid, gid):
        self.finish(self.fire('setattr', self.rel(path)),
                    lambda: os.lchown(self.real(path), uid, gid))

    def utimens(self, path, times=None):
        real = self.real(path)

        def touch():
            if times is None:
                os.utime(real, follow_symlinks=False)
                return
            now = time.time_ns()
            st = os.lstat(real)
            old = (st.st_atime_ns, st.st_mtime_ns)
            new = tuple(now if value == UTIME_NOW else
                        was if value == UTIME_OMIT else value
                        for value, was in zip(times, old))
            os.utime(real, ns=new, follow_symlinks=False)
        self.finish(self.fire('setattr', self.rel(path)), touch)

    def truncate(self, path, length, fh=None):
        rule = self.fire('truncate', self._rel_of(path, fh))
        if fh is not None:
            return self.finish(rule, lambda: os.ftruncate(fh, length))
        return self.finish(rule, lambda: os.truncate(self.real(path),
                                                     length))

    # -- files --------------------------------------------------------------

    @staticmethod
    def _backing_flags(flags):
        # The data comes through Python buffers of any alignment.
        return flags & ~getattr(os, 'O_DIRECT', 0)

    def open(self, path, flags):
        fd = self.finish(
            self.fire('open', self.rel(path)),
            lambda: os.open(self.real(path), self._backing_flags(flags)),
            undo=os.close)
        return self._remember(fd, path)

    def create(self, path, mode, flags):
        flags = self._backing_flags(flags) | os.O_CREAT
        fd = self.finish(
            self.fire('create', self.rel(path)),
            lambda: os.open(self.real(path), flags, mode), undo=os.close)
        self._owned(path)
        return self._remember(fd, path)

    def read(self, path, size, offset, fh):
        return self.finish(self.fire('read', self._rel_of(path, fh)),
                           lambda: os.pread(fh, size, offset))

    def write(self, path, data, offset, fh):
        rule = self.fire('write', self._rel_of(path, fh))
        if rule is not None and rule.mode == 'short':
            size = len(data) // 2 if rule.size is None else rule.size
            return os.pwrite(fh, data[:min(size, len(data))], offset)
        return self.finish(rule, lambda: os.pwrite(fh, data, offset))

    def flush(self, path, fh):
        self.finish(self.fire('flush', self._rel_of(path, fh)),
                    lambda: None)

    def fsync(self, path, datasync, fh):
        sync = os.fdatasync if datasync else os.fsync
        self.finish(self.fire('fsync', self._rel_of(path, fh)),
                    lambda: sync(fh))

    def fallocate(self, path, mode, offset, size, fh):
        self.finish(self.fire('fallocate', self._rel_of(path, fh)),
                    lambda: _fallocate(fh, mode, offset, size))

    def lseek(self, path, offset, whence, fh):
        """Seek *fh* as the backing file does: SEEK_DATA, SEEK_HOLE too.

        Without it the kernel answers that a file is data throughout, and
        ``qemu-img`` reads every hole of a sparse image through the mount.
        """
        return os.lseek(fh, offset, whence)

    def release(self, path, fh):
        with self._open_lock:
            self._open.pop(fh, None)
        os.close(fh)


class FaultFUSE(mfusepy.FUSE):
    """mfusepy's FUSE, refusing rename flags as an NFS client does.

    It also passes libfuse 3's ``lseek`` on, which mfusepy declares but
    does not call.
    """

    def lseek(self, path, offset, whence, fip):
        return self.operations.lseek(
            None if path is None else path.decode(self.encoding,
                                                  self.errors),
            offset, whence, fip.contents.fh)

    def rename_fuse_3(self, old, new, flags):
        # mfusepy drops the flags (RENAME_NOREPLACE, RENAME_EXCHANGE);
        # applying them as a plain rename would replace what must stay.
        if flags:
            return -errno.EINVAL
        return super().rename_fuse_3(old, new, flags)


def _refusal(backing, mountpoint):
    """Why the arguments cannot be served, or None."""
    if mfusepy.fuse_version_major != 3:
        return ('needs libfuse 3, mfusepy loaded %s.%s (set '
                'FUSE_LIBRARY_NAME=fuse3)' % (mfusepy.fuse_version_major,
                                              mfusepy.fuse_version_minor))
    for name, path in (('BACKING', backing), ('MOUNTPOINT', mountpoint)):
        if not os.path.isdir(path):
            return '%s %s is not a directory' % (name, path)
    return None


def _mount_options(debug):
    options = {'foreground': True, 'debug': debug, 'fsname': FSNAME,
               'subtype': FSNAME, 'default_permissions': True}
    if os.geteuid() == 0:
        # As an NFS share is, the mount is there for every user.
        options['allow_other'] = True
    return options


def serve(backing, mountpoint, control, debug=False):
    """Mount *backing* on *mountpoint* until unmounted or signalled.

    Prints ``ready`` on stdout once the mount answers. Returns the exit
    status: 0 after an unmount; 1 when libfuse failed to mount, or its
    loop ended by a signal (SIGTERM, SIGINT, SIGHUP: it unmounts) or an
    error; 2 for a bad argument. Each failure is told on stderr.
    """
    refusal = _refusal(backing, mountpoint)
    if refusal:
        sys.stderr.write('faultfs: %s\n' % refusal)
        return 2
    backing = os.path.realpath(backing)
    rules = faultrules.RuleSet(
        snapshot=lambda op, pattern: faultrules.snapshot_tree(
            backing, op, pattern))
    try:
        server = faultrules.ControlServer(control, rules)
    except (faultrules.RuleError, OSError) as e:
        sys.stderr.write('faultfs: --control %s: %s\n' % (control, e))
        return 2
    server.start()
    served = []

    def ready():
        served.append(True)
        sys.stdout.write('ready\n')
        sys.stdout.flush()

    try:
        FaultFUSE(FaultOperations(backing, rules, ready),
                  os.path.realpath(mountpoint), **_mount_options(debug))
    except RuntimeError as e:
        # libfuse's own message is on stderr already.
        what = 'serving' if served else 'mounting'
        sys.stderr.write('faultfs: %s %s on %s ended with libfuse status '
                         '%s (a signal or an error)\n'
                         % (what, backing, mountpoint, e))
        return 1
    finally:
        server.shutdown()
        server.server_close()
        try:
            os.unlink(control)
        except OSError:
            pass
    return 0
