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

"""The conflicting workload of cinder-aa-stress, and what it expects.

The tool plays the API and the scheduler: it owns the records (a
:class:`Model` of volumes and snapshots), hands each request to a service
chosen at random, and records every request and its outcome; what each
volume and snapshot may hold afterwards is replayed from those
(:mod:`cinder.stress.states`).

Content is tracked in eight slots of each volume (one byte repeated over
64 KiB at every 128 MiB); 0 is "never written". The tool writes slots
itself, through the image a host would attach, like a guest would.

Conflicts
=========

Requests for the same volumes run at the same time on different services
on purpose: a clone while its source is deleted, snapshots taken and
deleted on one volume from several services, volumes created from a
snapshot being deleted, extends, reverts, attaches. Only the service
locks keep those apart. The tool itself only keeps apart what would make
*its own expectations* ambiguous, as the API's status checks would:

* a data write excludes every request on that volume (a guest writes
  while nothing rewrites its chain);
* a revert or an extend excludes requests that read the volume (clone,
  snapshot), so that what each of them copies, content and size, is
  known.

A request that loses a race fails with a stated reason (the volume was
already deleted, the snapshot is no longer the newest ...): that is a
clean failure, not a violation.
"""

import collections
import itertools
import random
import subprocess
import threading
import time

from cinder import objects
from cinder import rpc
from cinder.stress import share
from cinder.stress import states

MiB = 1024 * 1024
SLOTS = 8
SLOT_SPACING = 128 * MiB
SLOT_LENGTH = 64 * 1024
SLOT_OFFSETS = tuple(i * SLOT_SPACING for i in range(SLOTS))
REQUEST_TIMEOUT = 300

#: Failures that only mean a request lost a race against another one.
CONFLICT_ERRORS = states.CONFLICT_ERRORS

#: Operations and their weights in the default mix.
OPERATIONS = collections.OrderedDict([
    ('create_volume', 3), ('clone_volume', 4), ('volume_from_snapshot', 3),
    ('delete_volume', 3), ('create_snapshot', 6), ('delete_snapshot', 5),
    ('extend_volume', 2), ('revert_to_snapshot', 3), ('attach_volume', 2),
    ('detach_volume', 2), ('write_data', 6),
])

_CREATES = frozenset(['create_volume', 'clone_volume',
                      'volume_from_snapshot'])

# Access modes the tool takes on a volume around a request (see above).
WRITE, REWRITE, READ, OTHER = 'write', 'rewrite', 'read', 'other'
_CONFLICTS = {WRITE: {WRITE, REWRITE, READ, OTHER},
              REWRITE: {WRITE, REWRITE, READ},
              READ: {WRITE, REWRITE},
              OTHER: {WRITE}}


class VolumeRecord(object):
    """A volume as the workload knows it, to choose requests.

    What it may hold is not kept here but replayed from the requests
    (:mod:`cinder.stress.states`).
    """

    def __init__(self, volume):
        self.volume = volume
        self.snapshots = []          # SnapshotRecords, oldest first
        self.exists = True
        self.attachment = None
        self.modes = collections.Counter()

    @property
    def id(self):
        return self.volume.id


class SnapshotRecord(object):
    def __init__(self, snapshot):
        self.snapshot = snapshot
        self.exists = True

    @property
    def id(self):
        return self.snapshot.id


class Outcome(object):
    """What happened to one request."""

    __slots__ = ('n', 'op', 'host', 'start', 'end', 'error_type', 'error',
                 'fault', 'volume_ids', 'args')

    _numbers = itertools.count(1)

    def __init__(self, op, host, volume_ids, args=None):
        self.n = next(self._numbers)
        self.op = op
        self.host = host
        self.volume_ids = volume_ids
        #: What the replay of :mod:`cinder.stress.states` needs to know.
        self.args = args or {}
        self.start = time.monotonic()
        self.end = None
        self.error_type = None
        self.error = None
        self.fault = None

    @property
    def ok(self):
        return self.error_type is None

    def to_dict(self):
        """The request as the saved model holds it."""
        return {'n': self.n, 'op': self.op, 'host': self.host,
                'volumes': list(self.volume_ids), 'args': dict(self.args),
                'start': self.start, 'end': self.end, 'ok': self.ok,
                'error_type': self.error_type, 'error': self.error}


class Model(object):
    """The tool's records, guarded by one lock."""

    def __init__(self):
        self.lock = threading.Condition()
        self.volumes = collections.OrderedDict()

    def live_volumes(self):
        return [v for v in self.volumes.values() if v.exists]

    def live_snapshots(self):
        return [(v, s) for v in self.volumes.values() for s in v.snapshots
                if v.exists and s.exists]

    def try_enter(self, records_modes):
        """Take the access modes, or return False if one conflicts."""
        for record, mode in records_modes:
            busy = {m for m, n in record.modes.items() if n}
            if busy & _CONFLICTS[mode]:
                return False
        for record, mode in records_modes:
            record.modes[mode] += 1
        return True

    def leave(self, records_modes):
        for record, mode in records_modes:
            record.modes[mode] -= 1
        self.lock.notify_all()


def write_pattern(path, fmt, offset, length, pattern):
    """Write ``length`` bytes of ``pattern`` at ``offset``, as a guest."""
    result = subprocess.run(
        ['qemu-io', '-f', fmt, '-c',
         'write -P %d %d %d' % (pattern, offset, length), path],
        capture_output=True, text=True)
    if result.returncode or 'error' in result.stdout.lower():
        raise OSError('qemu-io write to %s failed: %s' % (
            path, (result.stderr or result.stdout).strip()))


def _copy(obj):
    return type(obj).from_dict(obj.to_dict())


class Workload(object):
    """Drive ``operations`` requests through ``cluster`` with ``workers``.

    :param volumes: how many volumes to create first; the workload keeps
        about that many alive, so requests keep meeting each other.
    """

    def __init__(self, cluster, seed=0, operations=300, volumes=4,
                 workers=6, duration=None, progress=None, done=None):
        self.cluster = cluster
        self.seed = seed
        self.operations = operations
        self.target_volumes = volumes
        self.workers = workers
        self.duration = duration
        self.progress = progress
        #: Callable: once ``operations`` are sent, keep sending until it
        #: returns True (the fault injector's full round, for example).
        self.done = done
        self.model = Model()
        self.outcomes = []
        self._outcomes_lock = threading.Lock()
        self._issued = 0
        self._stop = threading.Event()
        self.in_flight = collections.defaultdict(set)   # host -> Outcomes
        #: Deletes that failed for another reason than a lost race: an
        #: operator retries them, and so does :meth:`recover`.
        self.to_retry = []

    # Running -------------------------------------------------------------

    def run(self):
        rng = random.Random(self.seed)
        for _ in range(self.target_volumes):
            self._create_volume(rng, initial=True)
        deadline = (time.monotonic() + self.duration if self.duration
                    else None)
        threads = [threading.Thread(
            target=self._worker, name='stress-worker-%d' % i,
            args=(random.Random('%s-%d' % (self.seed, i)), deadline))
            for i in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self):
        self._stop.set()

    def recover(self):
        """Retry the deletes that failed, as an operator would.

        A delete interrupted by a fault may leave its resource half
        deleted (``error_deleting``); deleting it again must finish the
        job. A retry that fails is reported like any failed request.
        """
        rng = random.Random('recover-%s' % self.seed)
        for kind, record, snap in self.to_retry:
            if kind == 'delete_snapshot':
                outcome, _ = self._call(
                    'retry_delete_snapshot', rng, [record.id],
                    'delete_snapshot',
                    {'volume': record.id, 'snapshot': snap.id},
                    snapshot=_copy(snap.snapshot))
                if outcome.ok:
                    with self.model.lock:
                        snap.exists = False
            else:
                outcome, _ = self._call(
                    'retry_delete_volume', rng, [record.id], 'delete_volume',
                    {'volume': record.id}, volume=_copy(record.volume))
                if outcome.ok:
                    with self.model.lock:
                        record.exists = False
                        for snapshot in record.snapshots:
                            snapshot.exists = False

    def _retry_later(self, outcome, kind, record, snap=None):
        if not outcome.ok and outcome.error_type not in CONFLICT_ERRORS:
            with self.model.lock:
                self.to_retry.append((kind, record, snap))

    def _crowded(self):
        """Keep about ``volumes`` volumes, so requests keep meeting."""
        with self.model.lock:
            return len(self.model.live_volumes()) >= 2 * self.target_volumes

    def _next_ticket(self):
        with self._outcomes_lock:
            if self._issued >= self.operations and (
                    self.done is None or self.done()):
                return False
            self._issued += 1
            return True

    def _worker(self, rng, deadline):
        names = list(OPERATIONS)
        weights = [OPERATIONS[n] for n in names]
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() > deadline:
                return
            if not self._next_ticket():
                return
            for _attempt in range(20):
                op = rng.choices(names, weights)[0]
                if op in _CREATES and self._crowded():
                    op = 'delete_volume'
                if getattr(self, '_' + op)(rng):
                    break
            else:
                self._create_volume(rng)

    # Requests --------------------------------------------------------------

    def _service(self, rng):
        index = rng.randrange(len(self.cluster.services))
        return index, self.cluster.services[index]

    def _call(self, op, rng, volume_ids, method, model_args, **args):
        """Send one request; return (outcome, result).

        *model_args* is what the replay needs (ids, sizes); *args* go to
        the service.
        """
        _index, service = self._service(rng)
        outcome = Outcome(op, service.host, volume_ids, model_args)
        with self._outcomes_lock:
            self.in_flight[service.host].add(outcome)
        result = None
        try:
            result = service.client(timeout=REQUEST_TIMEOUT).call(
                method, **args)
        except rpc.RemoteError as e:
            outcome.error_type, outcome.error = e.exc_type, e.remote_message
        except OSError as e:
            outcome.error_type, outcome.error = 'ServiceUnreachable', str(e)
        outcome.end = time.monotonic()
        with self._outcomes_lock:
            self.in_flight[service.host].discard(outcome)
            self.outcomes.append(outcome)
        if self.progress is not None:
            self.progress(len(self.outcomes), self.operations)
        return outcome, result

    def _enter(self, records_modes):
        with self.model.lock:
            return self.model.try_enter(records_modes)

    def _leave(self, records_modes):
        with self.model.lock:
            self.model.leave(records_modes)

    def _pick(self, rng, items):
        return rng.choice(items) if items else None

    # Operations: each returns False when nothing fits right now. ---------

    def _create_volume(self, rng, initial=False):
        volume = objects.Volume(size=1)
        outcome, _ = self._call('create_volume', rng, [volume.id],
                                'create_volume',
                                {'volume': volume.id, 'size': volume.size},
                                volume=volume)
        if outcome.ok:
            record = VolumeRecord(volume)
            with self.model.lock:
                self.model.volumes[volume.id] = record
            if initial:
                self._write_data(rng, record=record)
        return True

    def _clone_volume(self, rng):
        with self.model.lock:
            source = self._pick(rng, self.model.live_volumes())
            if source is None or not self.model.try_enter(
                    [(source, READ)]):
                return False
            source_copy = _copy(source.volume)
        try:
            volume = objects.Volume(size=source_copy.size)
            outcome, _ = self._call('clone_volume', rng,
                                    [volume.id, source.id], 'create_volume',
                                    {'volume': volume.id, 'size': volume.size,
                                     'source': source.id},
                                    volume=volume,
                                    source_volume=source_copy)
        finally:
            self._leave([(source, READ)])
        if outcome.ok:
            with self.model.lock:
                self.model.volumes[volume.id] = VolumeRecord(volume)
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
            if not self.model.try_enter([(parent, OTHER)]):
                return None
            return parent, snap, _copy(snap.snapshot)

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
            self._leave([(parent, OTHER)])
        if outcome.ok:
            with self.model.lock:
                self.model.volumes[volume.id] = VolumeRecord(volume)
        return True

    def _delete_volume(self, rng):
        with self.model.lock:
            live = self.model.live_volumes()
            if len(live) <= 1:
                return False
            record = self._pick(rng, [v for v in live
                                      if v.attachment is None])
            if record is None or not self.model.try_enter(
                    [(record, OTHER)]):
                return False
            volume = _copy(record.volume)
        try:
            outcome, _ = self._call('delete_volume', rng, [record.id],
                                    'delete_volume', {'volume': record.id},
                                    volume=volume)
        finally:
            self._leave([(record, OTHER)])
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
                    [(record, READ)]):
                return False
            snapshot = objects.Snapshot(volume=_copy(record.volume))
        try:
            outcome, _ = self._call('create_snapshot', rng, [record.id],
                                    'create_snapshot',
                                    {'volume': record.id,
                                     'snapshot': snapshot.id},
                                    snapshot=snapshot)
        finally:
            self._leave([(record, READ)])
        if outcome.ok:
            with self.model.lock:
                record.snapshots.append(SnapshotRecord(snapshot))
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
            self._leave([(parent, OTHER)])
        if outcome.ok:
            with self.model.lock:
                snap.exists = False
        self._retry_later(outcome, 'delete_snapshot', parent, snap)
        return True

    def _extend_volume(self, rng):
        with self.model.lock:
            record = self._pick(rng, self.model.live_volumes())
            if record is None or record.volume.size >= 3 or \
                    not self.model.try_enter([(record, REWRITE)]):
                return False
            volume = _copy(record.volume)
        try:
            outcome, _ = self._call('extend_volume', rng, [record.id],
                                    'extend_volume',
                                    {'volume': record.id,
                                     'size': volume.size + 1},
                                    volume=volume,
                                    new_size=volume.size + 1)
        finally:
            self._leave([(record, REWRITE)])
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
                    [(record, REWRITE)]):
                return False
            snap = [s for s in record.snapshots if s.exists][-1]
            volume, snapshot = _copy(record.volume), _copy(snap.snapshot)
        try:
            self._call('revert_to_snapshot', rng, [record.id],
                       'revert_to_snapshot',
                       {'volume': record.id, 'snapshot': snap.id},
                       volume=volume, snapshot=snapshot)
        finally:
            self._leave([(record, REWRITE)])
        return True

    def _attach_volume(self, rng):
        with self.model.lock:
            record = self._pick(rng, [v for v in self.model.live_volumes()
                                      if v.attachment is None])
            if record is None or not self.model.try_enter(
                    [(record, OTHER)]):
                return False
            volume = _copy(record.volume)
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
                self.model.leave([(record, OTHER)])
        return True

    def _detach_volume(self, rng):
        with self.model.lock:
            record = self._pick(rng, [
                v for v in self.model.live_volumes()
                if isinstance(v.attachment, objects.Attachment)])
            if record is None or not self.model.try_enter(
                    [(record, OTHER)]):
                return False
            volume = _copy(record.volume)
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
                self.model.leave([(record, OTHER)])
        return True

    def _write_data(self, rng, record=None):
        with self.model.lock:
            if record is None:
                record = self._pick(rng, self.model.live_volumes())
            if record is None or not self.model.try_enter(
                    [(record, WRITE)]):
                return False
        try:
            slot = rng.randrange(SLOTS)
            pattern = rng.randrange(1, 256)
            outcome = Outcome('write_data', 'tool', [record.id],
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
            self._leave([(record, WRITE)])
        return True
