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

"""The requests of cinder-aa-stress's workload, one method each.

:class:`Operations` is mixed into :class:`cinder.stress.workload.Workload`,
which provides ``model``, ``cluster``, ``_call``, ``_enter``, ``_leave``,
``_pick`` and ``_retry_later``. Each operation picks what it works on,
takes the access modes of :mod:`cinder.stress.records` on the volumes it
touches, sends one request and records what came of it; it returns False
when nothing fits right now.
"""

import subprocess
import time

from cinder import objects
from cinder.stress import records
from cinder.stress import share

SLOTS = 8
MiB = 1024 * 1024
SLOT_SPACING = 128 * MiB
SLOT_LENGTH = 64 * 1024
SLOT_OFFSETS = tuple(i * SLOT_SPACING for i in range(SLOTS))


def write_pattern(path, fmt, offset, length, pattern):
    """Write ``length`` bytes of ``pattern`` at ``offset``, as a guest."""
    result = subprocess.run(
        ['qemu-io', '-f', fmt, '-c',
         'write -P %d %d %d' % (pattern, offset, length), path],
        capture_output=True, text=True)
    if result.returncode or 'error' in result.stdout.lower():
        raise OSError('qemu-io write to %s failed: %s' % (
            path, (result.stderr or result.stdout).strip()))


def copy(obj):
    """A copy of a versioned object, as the API would send."""
    return type(obj).from_dict(obj.to_dict())


class Operations(object):
    """The workload's requests (see the module docstring)."""

    def _create_volume(self, rng, initial=False):
        volume = objects.Volume(size=1)
        outcome, _ = self._call('create_volume', rng, [volume.id],
                                'create_volume',
                                {'volume': volume.id, 'size': volume.size},
                                volume=volume)
        if outcome.ok:
            record = records.VolumeRecord(volume)
            with self.model.lock:
                self.model.volumes[volume.id] = record
            if initial:
                self._write_data(rng, record=record)
        return True

    def _clone_volume(self, rng):
        with self.model.lock:
            source = self._pick(rng, self.model.live_volumes())
            if source is None or not self.model.try_enter(
                    [(source, records.READ)]):
                return False
            source_copy = copy(source.volume)
        try:
            volume = objects.Volume(size=source_copy.size)
            outcome, _ = self._call('clone_volume', rng,
                                    [volume.id, source.id], 'create_volume',
                                    {'volume': volume.id, 'size': volume.size,
                                     'source': source.id},
                                    volume=volume,
                                    source_volume=source_copy)
        finally:
            self._leave([(source, records.READ)])
        if outcome.ok:
            with self.model.lock:
                self.model.volumes[volume.id] = records.VolumeRecord(volume)
        return True

    def _enter_live_snapshot(self, rng):
        """Pick a live snapshot and enter its volume (mode OTHER).

        Returns ``(volume record, snapshot record, copy of the snapshot)``
        or None when there is none or its volume is busy.
        """
        with self.model.lock:
            pair = self._pick(rng, self.model.live_snapshots())
            if pair is None:
                return None
            parent, snap = pair
            if not self.model.try_enter([(parent, records.OTHER)]):
                return None
            return parent, snap, copy(snap.snapshot)

    def _volume_from_snapshot(self, rng):
        entered = self._enter_live_snapshot(rng)
        if entered is None:
            return False
        parent, snap, snapshot_copy = entered
        try:
            volume = objects.Volume(size=snapshot_copy.volume_size)
            outcome, _ = self._call('volume_from_snapshot', rng,
                                    [volume.id, parent.id], 'create_volume',
                                    {'volume': volume.id, 'size': volume.size,
                                     'source': parent.id,
                                     'snapshot': snap.id},
                                    volume=volume, snapshot=snapshot_copy)
        finally:
            self._leave([(parent, records.OTHER)])
        if outcome.ok:
            with self.model.lock:
                self.model.volumes[volume.id] = records.VolumeRecord(volume)
        return True

    def _delete_volume(self, rng):
        with self.model.lock:
            live = self.model.live_volumes()
            if len(live) <= 1:
                return False
            record = self._pick(rng, [v for v in live
                                      if v.attachment is None])
            if record is None or not self.model.try_enter(
                    [(record, records.OTHER)]):
                return False
            volume = copy(record.volume)
        try:
            outcome, _ = self._call('delete_volume', rng, [record.id],
                                    'delete_volume', {'volume': record.id},
                                    volume=volume)
        finally:
            self._leave([(record, records.OTHER)])
        if outcome.ok:
            with self.model.lock:
                record.exists = False
                for snap in record.snapshots:
                    snap.exists = False
        self._retry_later(outcome, 'delete_volume', record)
        return True

    def _create_snapshot(self, rng):
        with self.model.lock:
            record = self._pick(rng, self.model.live_volumes())
            if record is None or not self.model.try_enter(
                    [(record, records.READ)]):
                return False
            snapshot = objects.Snapshot(volume=copy(record.volume))
        try:
            outcome, _ = self._call('create_snapshot', rng, [record.id],
                                    'create_snapshot',
                                    {'volume': record.id,
                                     'snapshot': snapshot.id},
                                    snapshot=snapshot)
        finally:
            self._leave([(record, records.READ)])
        if outcome.ok:
            with self.model.lock:
                record.snapshots.append(records.SnapshotRecord(snapshot))
        return True

    def _delete_snapshot(self, rng):
        entered = self._enter_live_snapshot(rng)
        if entered is None:
            return False
        parent, snap, snapshot = entered
        try:
            outcome, _ = self._call('delete_snapshot', rng,
                                    [parent.id], 'delete_snapshot',
                                    {'volume': parent.id,
                                     'snapshot': snap.id},
                                    snapshot=snapshot)
        finally:
            self._leave([(parent, records.OTHER)])
        if outcome.ok:
            with self.model.lock:
                snap.exists = False
        self._retry_later(outcome, 'delete_snapshot', parent, snap)
        return True

    def _extend_volume(self, rng):
        with self.model.lock:
            record = self._pick(rng, self.model.live_volumes())
            if record is None or record.volume.size >= 3 or \
                    not self.model.try_enter([(record, records.REWRITE)]):
                return False
            volume = copy(record.volume)
        try:
            outcome, _ = self._call('extend_volume', rng, [record.id],
                                    'extend_volume',
                                    {'volume': record.id,
                                     'size': volume.size + 1},
                                    volume=volume,
                                    new_size=volume.size + 1)
        finally:
            self._leave([(record, records.REWRITE)])
        if outcome.ok:
            with self.model.lock:
                record.volume.size = max(record.volume.size, volume.size)
        return True

    def _revert_to_snapshot(self, rng):
        with self.model.lock:
            candidates = [v for v in self.model.live_volumes()
                          if any(s.exists for s in v.snapshots)]
            record = self._pick(rng, candidates)
            if record is None or not self.model.try_enter(
                    [(record, records.REWRITE)]):
                return False
            snap = [s for s in record.snapshots if s.exists][-1]
            volume, snapshot = copy(record.volume), copy(snap.snapshot)
        try:
            self._call('revert_to_snapshot', rng, [record.id],
                       'revert_to_snapshot',
                       {'volume': record.id, 'snapshot': snap.id},
                       volume=volume, snapshot=snapshot)
        finally:
            self._leave([(record, records.REWRITE)])
        return True

    def _attach_volume(self, rng):
        with self.model.lock:
            record = self._pick(rng, [v for v in self.model.live_volumes()
                                      if v.attachment is None])
            if record is None or not self.model.try_enter(
                    [(record, records.OTHER)]):
                return False
            volume = copy(record.volume)
            record.attachment = 'pending'
        attachment = None
        try:
            connector = {'host': 'compute-%d' % rng.randrange(3)}
            outcome, attachment = self._call(
                'attach_volume', rng, [record.id], 'attach_volume',
                {'volume': record.id}, volume=volume, connector=connector)
        finally:
            with self.model.lock:
                record.attachment = attachment if outcome.ok else None
                record.volume.attachments = list(volume.attachments)
                record.volume.status = volume.status
                self.model.leave([(record, records.OTHER)])
        return True

    def _detach_volume(self, rng):
        with self.model.lock:
            record = self._pick(rng, [
                v for v in self.model.live_volumes()
                if isinstance(v.attachment, objects.Attachment)])
            if record is None or not self.model.try_enter(
                    [(record, records.OTHER)]):
                return False
            volume = copy(record.volume)
            attachment, record.attachment = record.attachment, 'pending'
        try:
            outcome, _ = self._call('detach_volume', rng, [record.id],
                                    'detach_volume', {'volume': record.id},
                                    volume=volume,
                                    attachment_id=attachment.id)
        finally:
            with self.model.lock:
                record.attachment = None if outcome.ok else attachment
                record.volume.attachments = list(volume.attachments)
                record.volume.status = volume.status
                self.model.leave([(record, records.OTHER)])
        return True

    def _write_data(self, rng, record=None):
        with self.model.lock:
            if record is None:
                record = self._pick(rng, self.model.live_volumes())
            if record is None or not self.model.try_enter(
                    [(record, records.WRITE)]):
                return False
        try:
            slot = rng.randrange(SLOTS)
            pattern = rng.randrange(1, 256)
            outcome = records.Outcome('write_data', 'tool', [record.id],
                                      {'volume': record.id, 'slot': slot,
                                       'pattern': pattern})
            image = share.active_image(self.cluster.share, record.id)
            try:
                if image is None:
                    raise OSError('volume %s has no active image' %
                                  record.id)
                write_pattern(image[0], image[1], SLOT_OFFSETS[slot],
                              SLOT_LENGTH, pattern)
            except Exception as e:
                outcome.error_type, outcome.error = type(e).__name__, str(e)
            outcome.end = time.monotonic()
            with self._outcomes_lock:
                self.outcomes.append(outcome)
        finally:
            self._leave([(record, records.WRITE)])
        return True
