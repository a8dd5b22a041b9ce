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

"""Reading the images of a cinder-aa-stress share with qemu-img and qemu-io.

:func:`run` runs one command with a bound; :func:`read_bytes` and
:func:`read_slots` read the data patterns the workload wrote, through an
image's backing chain.
"""

import os
import re
import subprocess

#: Seconds one qemu-img or qemu-io run may take before it counts as failed.
QEMU_TIMEOUT = 600

#: One line of ``qemu-io``'s ``read -v`` hex dump: offset, first byte.
_DUMP_LINE = re.compile(r'^([0-9a-fA-F]+):\s+([0-9a-fA-F]{2})(?:\s|$)')

#: What ``qemu-io read -P`` prints when the data differs from the pattern.
_PATTERN_FAILED = re.compile(r'^Pattern verification failed at offset (\d+)')


def run(cmd):
    """Run *cmd*; return (exit code, stdout, stderr), or raise OSError."""
    env = dict(os.environ)
    env['LC_ALL'] = 'C'
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env,
                              timeout=QEMU_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return None, '', 'timed out after %d s' % QEMU_TIMEOUT
    return (done.returncode, done.stdout.decode('utf-8', 'replace'),
            done.stderr.decode('utf-8', 'replace'))


def read_slots(path, fmt, offsets, length):
    """What each data slot of the image at *path* holds.

    A slot is *length* bytes at each of *offsets*. Every byte of it is
    compared with its first byte (``qemu-io read -P``), so one changed
    byte anywhere in a slot is seen. Returns one entry per slot: the byte
    value when the whole slot holds it, a sorted tuple of the distinct
    values it holds when it holds several, None when it cannot be read.
    """
    offsets = [int(offset) for offset in offsets]
    firsts = read_bytes(path, fmt, offsets)
    cmd = ['qemu-io', '-r', '-U', '-f', fmt]
    for offset, first in zip(offsets, firsts):
        if first is not None:
            cmd += ['-c', 'read -P %d %d %d' % (first, offset, length)]
    cmd.append(path)
    mixed = set()
    if len(cmd) > 6:
        try:
            _code, out, _err = run(cmd)
        except OSError:
            return [None] * len(offsets)
        for line in out.splitlines():
            match = _PATTERN_FAILED.match(line)
            if match:
                mixed.add(int(match.group(1)))
    found = []
    for offset, first in zip(offsets, firsts):
        if offset in mixed:
            found.append(_distinct_bytes(path, fmt, offset, length))
        else:
            found.append(first)
    return found


def _distinct_bytes(path, fmt, offset, length):
    """The sorted tuple of distinct byte values in a range, or None."""
    try:
        _code, out, _err = run(['qemu-io', '-r', '-U', '-f', fmt, '-c',
                                'read -v %d %d' % (offset, length), path])
    except OSError:
        return None
    values = set()
    for line in out.splitlines():
        if not _DUMP_LINE.match(line):
            continue
        # "<offset>:  b0 b1 ... b15  <ascii>": the bytes are the 2-digit
        # fields between the offset and the text column.
        fields = line.split(':', 1)[1][:3 * 16 + 2].split()
        values.update(int(v, 16) for v in fields if len(v) == 2)
    return tuple(sorted(values)) or None


def read_bytes(path, fmt, offsets):
    """The byte at each of *offsets* of the image at *path*, or None.

    The image is read as *fmt* through its backing chain, by one
    ``qemu-io`` run. An offset that cannot be read (past the end, I/O
    error, the image cannot be opened) gives None.
    """
    offsets = [int(offset) for offset in offsets]
    if not offsets:
        return []
    cmd = ['qemu-io', '-r', '-U', '-f', fmt]
    for offset in sorted(set(offsets)):
        cmd += ['-c', 'read -v %d 1' % offset]
    cmd.append(path)
    try:
        _code, out, _err = run(cmd)
    except OSError:
        return [None] * len(offsets)
    found = {}
    for line in out.splitlines():
        match = _DUMP_LINE.match(line)
        if match:
            found[int(match.group(1), 16)] = int(match.group(2), 16)
    return [found.get(offset) for offset in offsets]
