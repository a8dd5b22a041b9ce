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

"""The grow window: extending a volume whose chain is its base alone.

In place (``nfs_copy_on_write = False``) the RemoteFS driver checks its
lock and its fenced record, then runs ``qemu-img info`` and ``qemu-img
resize`` on the base, the image the volume uses: a holder frozen right
after its check goes on growing that image, after another holder entered,
for as long as those two take. That time is the *window* measured here.
Copy-on-write makes a new qcow2 overlay of the new size over the base
(:meth:`cinder.volume.drivers.chain_rewrites.CopyOnWrite.grow`): no image
the volume uses is written, and the time measured is only what it costs.

Each grow runs on a fresh sparse base (raw or qcow2) of the size given,
through :mod:`~cinder.volume.drivers.chain_rewrites` with the real
``qemu-img``, timed on the monotonic clock until the files are synced,
the median of three runs (one in the last mode below), for each size
added and each preallocation: ``sparse``
(``nfs_sparsed_volumes = True``), ``falloc`` (``False``), and ``falloc``
where ``fallocate(2)`` fails, as on an NFS mount older than NFS 4.2:
there the C library's ``posix_fallocate``, which ``qemu-img`` calls,
writes every block of the space added. That last mode runs in a process
of its own, where a seccomp filter makes ``fallocate(2)`` fail with
``EOPNOTSUPP``; where no such filter can be set (another machine kind, no
seccomp), it is reported as not measured.
"""

import concurrent.futures
import ctypes
import errno
import multiprocessing
import os
import platform
import shutil
import statistics
import struct
import tempfile
import time

from cinder.image import qemu_img
from cinder.volume.drivers import chain_rewrites

MiB = 1024 * 1024
GiB = 1024 * MiB
FORMATS = ('raw', 'qcow2')
WAYS = (('in place', chain_rewrites.InPlace),
        ('copy-on-write', chain_rewrites.CopyOnWrite))
NO_FALLOCATE = 'falloc, no fallocate(2)'
#: Grows measured in each mode but the slow one; the median is reported.
REPEATS = 3
#: Mode -> the preallocation the driver passes.
MODES = (('sparse', None), ('falloc', 'falloc'), (NO_FALLOCATE, 'falloc'))

#: ``platform.machine()`` -> (``AUDIT_ARCH_*``, number of fallocate).
FALLOCATE_SYSCALL = {'x86_64': (0xc000003e, 285),
                     'aarch64': (0xc00000b7, 47)}
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_ALLOW = 0x7fff0000

#: Whether this process denies fallocate(2) (see :func:`deny_fallocate`).
_denied = False


class _SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]


def deny_fallocate():
    """Make ``fallocate(2)`` fail here and in every child from now on.

    It fails with ``EOPNOTSUPP``, as on a file system without it. It
    cannot be undone: call it in a process of its own.

    :returns: True if ``fallocate(2)`` now fails; False on a machine
        kind whose system call numbers are not known here, or where the
        kernel refuses the filter.
    """
    global _denied
    numbers = FALLOCATE_SYSCALL.get(platform.machine())
    if numbers is None:
        return False
    arch, number = numbers
    program = [
        (0x20, 0, 0, 4),                # load the audit architecture
        (0x15, 0, 3, arch),             # another one: allow
        (0x20, 0, 0, 0),                # load the system call number
        (0x15, 0, 1, number),           # fallocate: fail
        (0x06, 0, 0, _SECCOMP_RET_ERRNO | errno.EOPNOTSUPP),
        (0x06, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    code = ctypes.create_string_buffer(
        b''.join(struct.pack('HBBI', *op) for op in program))
    fprog = _SockFprog(len(program), ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)
    _denied = (
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 and
        libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER,
                   ctypes.byref(fprog), 0, 0) == 0 and
        fallocate_fails(tempfile.gettempdir()))
    return _denied


def fallocate_fails(directory):
    """Whether ``fallocate(2)`` fails with EOPNOTSUPP in *directory*."""
    libc = ctypes.CDLL(None, use_errno=True)
    with tempfile.TemporaryFile(dir=directory) as f:
        result = libc.fallocate(f.fileno(), 0, ctypes.c_int64(0),
                                ctypes.c_int64(4096))
        return result != 0 and ctypes.get_errno() == errno.EOPNOTSUPP


def _sync(directory):
    for name in os.listdir(directory):
        fd = os.open(os.path.join(directory, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def measure(directory, fmt, base_size, size, preallocation, way_class,
            denied=False):
    """Seconds of one grow of a fresh base alone to *size* bytes.

    :param denied: measure only in a process where :func:`deny_fallocate`
        set its filter; None elsewhere.
    """
    if denied and not _denied:
        return None
    os.makedirs(directory)
    try:
        qemu_img.create(os.path.join(directory, 'base'), fmt, base_size)
        _sync(directory)
        chain = chain_rewrites.Chain(
            directory, ['base'], lambda n: fmt if n == 'base' else 'qcow2',
            check_rewrite=lambda step: None, new_name=lambda: 'grown')
        began = time.monotonic()
        way_class().grow(chain, size, preallocation=preallocation)
        _sync(directory)
        return time.monotonic() - began
    finally:
        shutil.rmtree(directory)


def run(work_dir, base_mib, added_gib, progress=None):
    """``{'base_mib', 'rows': [{format, added_gib, mode, way, seconds}]}``.

    ``seconds`` is None for a mode that could not be measured.
    """
    directory = os.path.join(work_dir, 'grow')
    rows = []
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context('spawn'),
            initializer=deny_fallocate) as denying:
        for fmt in FORMATS:
            for added in added_gib:
                for mode, preallocation in MODES:
                    for way, way_class in WAYS:
                        if progress is not None:
                            progress('grow: %s base of %d MiB, +%d GiB, %s, '
                                     '%s' % (fmt, base_mib, added, mode, way))
                        args = (directory, fmt, base_mib * MiB,
                                base_mib * MiB + added * GiB, preallocation,
                                way_class)
                        if mode == NO_FALLOCATE:
                            seconds = denying.submit(
                                measure, *args, denied=True).result()
                        else:
                            seconds = statistics.median(
                                measure(*args) for _ in range(REPEATS))
                        rows.append({
                            'format': fmt, 'added_gib': added, 'mode': mode,
                            'way': way, 'seconds': None if seconds is None
                            else round(seconds, 4)})
    return {'base_mib': base_mib, 'rows': rows}
