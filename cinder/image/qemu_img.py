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

"""A thin wrapper over the ``qemu-img`` command.

Each function runs one ``qemu-img`` subcommand with
:func:`cinder.common.processes.execute` (``processutils.execute``, with the
child registered so that a stopping service can kill it) and turns a
failure into a :class:`cinder.exception.VolumeDriverException` whose
message holds the command line, the exit code and what ``qemu-img`` wrote
on stderr, or, for a run the stopping service killed, why it was killed.

Formats
=======

Every function takes the format of the image it reads or writes (``fmt``,
``src_fmt``, ``backing_fmt``). Callers that know the format must pass it:
without it ``qemu-img`` guesses the format from the image's first bytes,
and a raw volume whose guest wrote a qcow2 header would then be opened as
qcow2, backing file included. Omitting it is meant for tools and tests.

Relative backing file names are resolved by ``qemu-img`` relative to the
directory of the image that names them, not to the working directory;
the RemoteFS drivers rely on that so that a chain stays valid wherever
its share is mounted.
"""

import json
import os

from oslo_concurrency import processutils
from oslo_log import log as logging

from cinder.common import processes
from cinder import exception

LOG = logging.getLogger(__name__)

QEMU_IMG = 'qemu-img'

#: Limits for ``qemu-img info``, which parses image headers: a crafted
#: image must not make it eat the host's memory or CPU.
INFO_LIMITS = processutils.ProcessLimits(address_space=1024 ** 3,
                                         cpu_time=30)

#: Exit code of ``qemu-img check`` for a format without consistency
#: checks (raw).
_CHECK_UNSUPPORTED = 63


def _env():
    # Messages in English, whatever the service's locale; the rest of the
    # environment (PATH) as it is.
    env = dict(os.environ)
    env['LC_ALL'] = 'C'
    return env


class ImageInfo(object):
    """What ``qemu-img info`` reports about one image.

    :ivar format: the image format (``raw``, ``qcow2`` ...).
    :ivar virtual_size: size of the disk the image presents, in bytes.
    :ivar actual_size: bytes the image file takes on disk, or None.
    :ivar backing_file: the backing file name as stored in the image (often
        relative to the image's directory), or None.
    :ivar backing_format: the backing file's format stored in the image
        (``backing-filename-format``), or None.
    :ivar full_backing_file: the backing file path as ``qemu-img`` resolved
        it, or None.
    :ivar data: the whole JSON document.
    """

    def __init__(self, data):
        self.data = data
        self.format = data.get('format')
        self.virtual_size = data.get('virtual-size')
        self.actual_size = data.get('actual-size')
        self.backing_file = data.get('backing-filename')
        self.backing_format = data.get('backing-filename-format')
        self.full_backing_file = data.get('full-backing-filename')

    def __getitem__(self, key):
        return self.data[key]

    def get(self, key, default=None):
        return self.data.get(key, default)

    def __repr__(self):
        return ('<ImageInfo format=%s virtual_size=%s backing_file=%s '
                'backing_format=%s>' % (self.format, self.virtual_size,
                                        self.backing_file,
                                        self.backing_format))


def _run(subcommand, *args, check_exit_code=0, prlimit=None):
    """Run ``qemu-img <subcommand> <args>``; return (stdout, exit code)."""
    cmd = (QEMU_IMG, subcommand) + tuple(str(a) for a in args)
    codes = [check_exit_code] if isinstance(check_exit_code, int) \
        else list(check_exit_code)
    try:
        out, _err = processes.execute(*cmd, env_variables=_env(),
                                      check_exit_code=codes,
                                      prlimit=prlimit)
    except processes.ChildKilled as e:
        raise exception.VolumeDriverException(
            '%s was killed: %s' % (' '.join(cmd), e.reason)) from None
    except processutils.ProcessExecutionError as e:
        raise exception.VolumeDriverException(
            '%s failed with exit code %s: %s' % (
                ' '.join(cmd), e.exit_code,
                (e.stderr or e.stdout or e.description or '').strip()))
    except OSError as e:
        raise exception.VolumeDriverException(
            'Cannot run %s (is qemu-img installed and on PATH?): %s' % (
                ' '.join(cmd), e))
    return out


def _format_args(fmt, flag='-f'):
    return [flag, fmt] if fmt else []


def _backing_args(subcommand, path, flag, backing, backing_fmt):
    """``[flag, backing, '-F', backing_fmt]``; [] without *backing*.

    :raises InvalidInput: *backing* without *backing_fmt*: a format left
        to qemu-img to guess could be read from a guest's data.
    """
    if not backing:
        return []
    if not backing_fmt:
        raise exception.InvalidInput(
            'qemu_img.%s(%s): backing_fmt is required with backing file '
            '%s' % (subcommand, path, backing))
    return [flag, backing, '-F', backing_fmt]


def version():
    """The ``qemu-img --version`` first line; raises when not installed."""
    cmd = (QEMU_IMG, '--version')
    try:
        out, _err = processes.execute(*cmd, env_variables=_env())
    except (processutils.ProcessExecutionError, OSError) as e:
        raise exception.VolumeDriverException(
            'Cannot run %s (is qemu-img installed and on PATH?): %s' % (
                ' '.join(cmd), getattr(e, 'stderr', None) or e))
    return out.strip().splitlines()[0] if out.strip() else ''


def info(path, fmt=None):
    """Describe the image at *path*; returns an :class:`ImageInfo`.

    Runs ``qemu-img info --output=json --force-share``, so it works on an
    image another process has open, under :data:`INFO_LIMITS`.
    """
    args = ['--output=json', '--force-share'] + _format_args(fmt) + [path]
    out = _run('info', *args, prlimit=INFO_LIMITS)
    try:
        data = json.loads(out)
    except ValueError as e:
        raise exception.VolumeDriverException(
            'qemu-img info %s printed no valid JSON (%s): %r' % (
                path, e, out[:200]))
    if not isinstance(data, dict):
        raise exception.VolumeDriverException(
            'qemu-img info %s printed %r, not a JSON object' % (
                path, out[:200]))
    return ImageInfo(data)


def create(path, fmt, size_bytes, backing_file=None, backing_fmt=None,
           preallocation=None):
    """Create an image of *size_bytes* at *path* in format *fmt*.

    :param size_bytes: None for the size of *backing_file*.
    :param backing_file: makes the new image an overlay of this file; a
        relative name is relative to the directory of *path*.
    :param backing_fmt: the backing file's format; required with
        *backing_file*.
    :param preallocation: ``off``, ``metadata``, ``falloc`` or ``full``
        (format permitting); None leaves the format's default (sparse).
    """
    args = ['-f', fmt] + _backing_args('create', path, '-b', backing_file,
                                       backing_fmt)
    if preallocation:
        args += ['-o', 'preallocation=%s' % preallocation]
    args.append(path)
    if size_bytes is not None:
        args.append(int(size_bytes))
    _run('create', *args)


def commit(path, fmt=None):
    """Write the data of the overlay *path* into its backing file.

    The overlay is left as it was (``-d``): callers delete it afterwards,
    so emptying it would be wasted work. A backing file smaller than the
    overlay is grown to the overlay's size.
    """
    _run('commit', *(_format_args(fmt) + ['-d', path]))


def rebase(path, backing, backing_fmt=None, unsafe=False, fmt=None):
    """Make *backing* the backing file of the image *path*.

    In the default (safe) mode the data the image shows is unchanged:
    wherever the old and the new backing chain differ and *path* has no
    data of its own, the old chain's data is copied into *path*. An empty
    *backing* makes *path* a standalone image. ``unsafe=True`` only
    rewrites the header; use it only when both chains hold the same data.
    """
    args = _format_args(fmt)
    if unsafe:
        args.append('-u')
    args += _backing_args('rebase', path, '-b', backing, backing_fmt) or [
        '-b', '']
    args.append(path)
    _run('rebase', *args)


def convert(src, dst, out_fmt, src_fmt=None, preallocation=None,
            backing_file=None, backing_fmt=None):
    """Copy the disk that *src* (with its backing chain) shows to *dst*.

    *dst* is a new standalone image in *out_fmt*; zeroes are left sparse.

    :param backing_file: make *dst* an overlay of this file instead, and
        copy only what *src*'s own image holds: the caller promises that
        *backing_file* shows what *src*'s backing file shows. A relative
        name is relative to the directory of *dst*.
    :param backing_fmt: the backing file's format; required with
        *backing_file*.
    """
    args = _format_args(src_fmt) + ['-O', out_fmt]
    if preallocation:
        args += ['-o', 'preallocation=%s' % preallocation]
    args += _backing_args('convert', dst, '-B', backing_file, backing_fmt)
    args += [src, dst]
    _run('convert', *args)


def resize(path, size_bytes, fmt=None, preallocation=None):
    """Grow the image at *path* to *size_bytes* (never shrinks).

    :param preallocation: how to allocate the added space (``falloc``,
        ``full`` ...); None leaves it sparse.
    """
    current = info(path, fmt).virtual_size
    if current is not None and int(size_bytes) < current:
        raise exception.InvalidInput(
            'qemu_img.resize(%s): %d bytes is smaller than the image '
            '(%d bytes); shrinking is not supported' % (
                path, size_bytes, current))
    args = _format_args(fmt)
    if preallocation:
        args.append('--preallocation=%s' % preallocation)
    _run('resize', *(args + [path, int(size_bytes)]))


def check(path, fmt=None):
    """Check the consistency of the image at *path*.

    :returns: the parsed ``qemu-img check --output=json`` document. Leaked
        clusters (waste, not damage) are reported in ``leaks`` and do not
        raise. For a format without checks (raw) the document is
        ``{"filename": path, "format": fmt, "check-errors": 0,
        "supported": False}``.
    :raises VolumeDriverException: the image is corrupt, or could not be
        checked.
    """
    args = ['--output=json'] + _format_args(fmt) + [path]
    out = _run('check', *args, check_exit_code=[0, 2, 3, _CHECK_UNSUPPORTED])
    if not out.strip():
        # Exit code 63 prints nothing on stdout.
        return {'filename': path, 'format': fmt, 'check-errors': 0,
                'supported': False}
    try:
        data = json.loads(out)
    except ValueError as e:
        raise exception.VolumeDriverException(
            'qemu-img check %s printed no valid JSON (%s): %r' % (
                path, e, out[:200]))
    if data.get('corruptions') or data.get('check-errors'):
        raise exception.VolumeDriverException(
            'qemu-img check %s found a damaged image: %d corruption(s), '
            '%d check error(s)' % (path, data.get('corruptions', 0),
                                   data.get('check-errors', 0)))
    if data.get('leaks'):
        LOG.warning('qemu-img check %s: %d leaked cluster(s)', path,
                    data['leaks'])
    data.setdefault('supported', True)
    return data
