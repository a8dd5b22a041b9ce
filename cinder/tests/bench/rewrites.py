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

"""What copy-on-write costs the RemoteFS driver's chain rewrites.

For each rewrite of :mod:`cinder.volume.drivers.chain_rewrites` (fold,
merge, grow) and each way (in place, copy-on-write), a fresh chain is
built with the real ``qemu-img`` in the work directory, on the volume
size given: a raw base holding data over its first half, a snapshot layer
over a quarter, for the merge one more layer over an eighth, and the
active layer over a sixteenth, each layer's data (a pattern of its own)
ending where the base's does. Then the rewrite runs, timed on the
monotonic clock, with the bytes its ``qemu-img`` processes dirtied (the
``ru_oublock`` of the children: a page written twice before it reached
the disk counts once). What is measured is the rewrite only:
not the claim, not the commit of the info file.
"""

import os
import resource
import shutil
import subprocess
import time

from cinder.image import qemu_img
from cinder.volume.drivers import chain_rewrites

MiB = 1024 * 1024
WAYS = (('in place', chain_rewrites.InPlace),
        ('copy-on-write', chain_rewrites.CopyOnWrite))
#: Operation -> (layers over the base, what to run on a Chain).
OPERATIONS = {
    'fold': (2, lambda way, chain, size: way.fold(chain, 1)),
    'merge': (3, lambda way, chain, size: way.merge(chain, 2)),
    'grow': (2, lambda way, chain, size: way.grow(chain, 2 * size)),
}


def _write(path, fmt, pattern, offset, length):
    subprocess.run(['qemu-io', '-f', fmt, '-c', 'write -P %d %d %d' % (
        pattern, offset, length), path], check=True,
        stdout=subprocess.DEVNULL)


def build(directory, size, layers):
    """A chain of *layers* qcow2 images over a raw base; its names."""
    os.makedirs(directory)
    half = size // 2
    names = ['base']
    qemu_img.create(os.path.join(directory, 'base'), 'raw', size)
    _write(os.path.join(directory, 'base'), 'raw', 0x10, 0, half)
    for n in range(1, layers + 1):
        name = 'layer%d' % n
        below = names[0]
        qemu_img.create(os.path.join(directory, name), 'qcow2', size,
                        backing_file=below,
                        backing_fmt='raw' if below == 'base' else 'qcow2')
        length = half >> n
        _write(os.path.join(directory, name), 'qcow2', 0x10 + n,
               half - length, length)
        names.insert(0, name)
    os.sync()
    return names


def measure(directory, size, operation, way_class):
    """(seconds, bytes written) of one rewrite on a fresh chain."""
    layers, run = OPERATIONS[operation]
    names = build(directory, size, layers)
    counter = iter(range(1000))
    chain = chain_rewrites.Chain(
        directory, names, lambda n: 'raw' if n == 'base' else 'qcow2',
        check_rewrite=lambda step: None,
        new_name=lambda: 'new%d' % next(counter))
    blocks = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    began = time.monotonic()
    run(way_class(), chain, size)
    os.sync()
    seconds = time.monotonic() - began
    written = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock -
               blocks) * 512
    shutil.rmtree(directory)
    return seconds, written


def run(work_dir, size_mib, progress=None):
    """``{'size_mib', 'rows': [{operation, way, seconds, written_mib}]}``."""
    rows = []
    for operation in OPERATIONS:
        for way, way_class in WAYS:
            if progress is not None:
                progress('rewrites: %s %s (%d MiB volume)' % (
                    operation, way, size_mib))
            seconds, written = measure(
                os.path.join(work_dir, 'rewrites'), size_mib * MiB,
                operation, way_class)
            rows.append({'operation': operation, 'way': way,
                         'seconds': round(seconds, 3),
                         'written_mib': round(written / MiB, 1)})
    return {'size_mib': size_mib, 'rows': rows}
