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

"""How the NFS driver's costs grow with the number of volumes on a share.

For each count of volumes, a fresh directory share is filled with that
many volumes as the driver leaves them, but made without ``qemu-img``
(sparse images are cheap, processes are not): a sparse raw base image of
1 GiB, the first generation of its info file (with the file's head) and
its lock file in the ``file://`` lock directory. Then, with the real NFS
driver on that share (a directory share, used without mounting) and a
``file://`` coordinator:

``snapshot``
    A snapshot of one volume taken and deleted again, timed together on
    the monotonic clock, repeated; median and maximum.
``record``
    The info file alone, without ``qemu-img``: a claim under a new
    fencing token and a commit of one volume's info file, timed together,
    repeated a hundred times; median.
``clean_locks``
    What ``cinder-manage util clean_locks`` does while services run: the
    driver lists the volumes and snapshots of the share, and the lock
    files of the others are removed (none here); in all and per volume.

The per-operation cost should not grow with the share: the ratio of the
largest count's median to the smallest's is reported.
"""

import json
import os
import shutil
import statistics
import time
import uuid

from oslo_config import cfg

from cinder import coordination
from cinder import lock_cleanup
from cinder import objects
from cinder.volume.drivers import nfs
from cinder.volume import fenced_record

GiB = 1024 ** 3
COUNTS = (100, 1000, 10000)


def fill(share, locks, count):
    """*count* volumes on *share*, each with a lock file; their ids."""
    ids = []
    for _ in range(count):
        volume_id = str(uuid.uuid4())
        name = 'volume-%s' % volume_id
        with open(os.path.join(share, name), 'wb') as f:
            f.truncate(GiB)
        fenced_record.FencedRecord(os.path.join(share, name + '.info')).create(
            1, json.dumps({'active': name, 'base_format': 'raw'}))
        open(os.path.join(locks, 'cinder-nfs-%s' % volume_id), 'w').close()
        ids.append(volume_id)
    return ids


def _driver(directory, share, locks):
    conf = cfg.ConfigOpts()
    conf([], project='cinder-bench')
    shares_file = os.path.join(directory, 'nfs_shares')
    with open(shares_file, 'w') as f:
        f.write('%s\n' % share)
    coordinator = coordination.Coordinator(conf=conf)
    driver = nfs.NfsDriver(configuration=conf)
    conf.set_override('backend_url', 'file://' + locks, group='coordination')
    conf.set_override('nfs_shares_config', shares_file)
    conf.set_override('nfs_snapshot_support', True)
    conf.set_override('state_path', directory)
    coordinator.start()
    driver.do_setup()
    driver.check_for_setup_error()
    return coordinator, driver


def measure(directory, count, repeats):
    """The row of one count of volumes."""
    share = os.path.join(directory, 'share')
    locks = os.path.join(directory, 'locks')
    os.makedirs(share)
    os.makedirs(locks)
    ids = fill(share, locks, count)
    coordinator, driver = _driver(directory, share, locks)
    saved = coordination.COORDINATOR
    coordination.COORDINATOR = coordinator
    try:
        volume = objects.Volume(id=ids[count // 2], size=1,
                                provider_location=share)
        times = []
        for _ in range(repeats):
            snapshot = objects.Snapshot(volume=volume)
            began = time.monotonic()
            driver.create_snapshot(snapshot)
            driver.delete_snapshot(snapshot)
            times.append(time.monotonic() - began)
        record_times = _time_record(share, ids[count // 3], 100)
        began = time.monotonic()
        existing = driver.list_resource_ids()
        lock_cleanup.clean_leftovers(coordinator, existing)
        clean = time.monotonic() - began
    finally:
        coordination.COORDINATOR = saved
        coordinator.stop()
        shutil.rmtree(directory)
    return {'volumes': count, 'snapshot_p50': round(statistics.median(
        times), 4), 'snapshot_max': round(max(times), 4),
        'record_p50': round(statistics.median(record_times), 6),
        'clean_seconds': round(clean, 3),
        'clean_per_volume': round(clean / count, 6)}


def _time_record(share, volume_id, repeats):
    """Seconds of each claim and commit of one volume's info file."""
    name = 'volume-%s' % volume_id
    record = fenced_record.FencedRecord(os.path.join(share, name + '.info'))
    text = json.dumps({'active': name, 'base_format': 'raw'})
    times = []
    for token in range(2, repeats + 2):
        began = time.monotonic()
        record.write(token, text, record.claim(token))
        times.append(time.monotonic() - began)
    return times


def run(work_dir, counts=COUNTS, repeats=10, progress=None):
    """``{'repeats', 'rows': [{volumes, ...}], 'ratio', 'record_ratio'}``.

    ``ratio``: the snapshot median of the largest count over the
    smallest's; ``record_ratio``: the same of the info file alone.
    """
    rows = []
    for count in counts:
        if progress is not None:
            progress('share: %d volumes' % count)
        rows.append(measure(os.path.join(work_dir, 'share-%d' % count),
                            count, repeats))
    first, last = rows[0], rows[-1]
    ratio = (round(last['snapshot_p50'] / first['snapshot_p50'], 2)
             if first['snapshot_p50'] else None)
    record_ratio = (round(last['record_p50'] / first['record_p50'], 2)
                    if first['record_p50'] else None)
    return {'repeats': repeats, 'rows': rows, 'ratio': ratio,
            'record_ratio': record_ratio}
