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
import random
import threading
import time

from cinder import exception
from cinder import messaging
from cinder.stress import operations
from cinder.stress import records
from cinder.stress import states

SLOTS = operations.SLOTS
SLOT_LENGTH = operations.SLOT_LENGTH
SLOT_OFFSETS = operations.SLOT_OFFSETS
#: Seconds a request may take before the tool stops waiting for its reply
#: (it is then reported as RequestOutcomeUnknown: it may have run). A
#: request a killed service had taken is lost (the bus delivers at most
#: once) and costs its worker this long.
REQUEST_TIMEOUT = 30

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

#: Pairs of requests that ``collide`` sends at once on one volume, to two
#: services: each pair races for the same files under the same lock.
COLLISIONS = (('create_snapshot', 'delete_snapshot'),
              ('delete_snapshot', 'delete_snapshot'),
              ('clone_volume', 'delete_volume'),
              ('volume_from_snapshot', 'delete_snapshot'),
              ('create_snapshot', 'create_snapshot'))


class Workload(operations.Operations):
    """Drive ``operations`` requests through ``cluster`` with ``workers``.

    :param volumes: how many volumes to create first; the workload keeps
        about that many alive, so requests keep meeting each other.
    """

    def __init__(self, cluster, seed=0, operations=300, volumes=4,
                 workers=6, duration=None, progress=None, done=None,
                 collide=False):
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
        self.model = records.Model()
        self.outcomes = []
        self._outcomes_lock = threading.Lock()
        self._issued = 0
        self._stop = threading.Event()
        self.in_flight = collections.defaultdict(set)   # host -> Outcomes
        #: Deletes that failed for another reason than a lost race: an
        #: operator retries them, and so does :meth:`recover`.
        self.to_retry = []
        #: Send :data:`COLLISIONS` pairs instead of single requests.
        self.collide = collide
        # The volume and service a request of a pair must use.
        self._forced = threading.local()

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
                    snapshot=operations.copy(snap.snapshot))
                if outcome.ok:
                    with self.model.lock:
                        snap.exists = False
            else:
                outcome, _ = self._call(
                    'retry_delete_volume', rng, [record.id], 'delete_volume',
                    {'volume': record.id},
                    volume=operations.copy(record.volume))
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
            if self.collide:
                self._next_ticket()     # a pair is two requests
                self._collide(rng)
                continue
            for _attempt in range(20):
                op = rng.choices(names, weights)[0]
                if op in _CREATES and self._crowded():
                    op = 'delete_volume'
                if getattr(self, '_' + op)(rng):
                    break
            else:
                self._create_volume(rng)

    def _collide(self, rng):
        """Send one pair of :data:`COLLISIONS` at the same moment.

        Both requests name one volume and go to two services (when there
        are two); each side picks what it works on, then waits for the
        other at a barrier right before sending, so that both run at the
        same time: only the services' locks can keep them apart.
        """
        with self.model.lock:
            live = self.model.live_volumes()
            record = rng.choice(live) if live else None
            has_snapshot = record is not None and any(
                s.exists for s in record.snapshots)
        if record is None or len(live) < self.target_volumes:
            self._create_volume(rng)
            return
        pairs = COLLISIONS if has_snapshot else (
            ('create_snapshot', 'create_snapshot'),)
        ops = rng.choice(pairs)
        count = len(self.cluster.services)
        first = rng.randrange(count)
        second = (first + 1 + rng.randrange(count - 1)) % count \
            if count > 1 else first
        barrier = threading.Barrier(2)
        seeds = [rng.random(), rng.random()]

        def side(op, index, seed):
            forced = self._forced
            forced.volume_id, forced.service = record.id, index
            forced.barrier = barrier
            try:
                getattr(self, '_' + op)(random.Random(seed))
            finally:
                forced.volume_id = forced.service = forced.barrier = None
                # A side that found nothing to send must not hold the
                # other one back; once both sent this changes nothing.
                barrier.abort()

        threads = [threading.Thread(target=side, args=(op, index, seed),
                                    name='stress-pair-%s' % op)
                   for op, index, seed in zip(ops, (first, second), seeds)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # Requests --------------------------------------------------------------

    def _service(self, rng):
        index = getattr(self._forced, 'service', None)
        if index is None:
            avoided = self.cluster.avoided
            if avoided and len(avoided) < len(self.cluster.services):
                index = rng.choice([i for i in range(len(
                    self.cluster.services)) if i not in avoided])
            else:
                index = rng.randrange(len(self.cluster.services))
        return index, self.cluster.services[index]

    def _call(self, op, rng, volume_ids, method, model_args, **args):
        """Send one request; return (outcome, result).

        *model_args* is what the replay needs (ids, sizes); *args* go to
        the service.
        """
        _index, service = self._service(rng)
        barrier = getattr(self._forced, 'barrier', None)
        if barrier is not None:
            try:
                barrier.wait(REQUEST_TIMEOUT)
            except threading.BrokenBarrierError:
                pass    # the other side of the pair sends nothing
        outcome = records.Outcome(op, service.host, volume_ids, model_args)
        with self._outcomes_lock:
            self.in_flight[service.host].add(outcome)
        result = None
        try:
            result = service.client(timeout=REQUEST_TIMEOUT).call(
                method, **args)
        except messaging.RemoteError as e:
            outcome.error_type, outcome.error = e.exc_type, e.remote_message
        except exception.RequestOutcomeUnknown as e:
            outcome.error_type, outcome.error = type(e).__name__, str(e)
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
        """A random one of *items* (records, or (record, snapshot) pairs).

        In a :meth:`_collide` pair, only those of the pair's volume.
        """
        volume_id = getattr(self._forced, 'volume_id', None)
        if volume_id is not None:
            items = [i for i in items
                     if (i[0] if isinstance(i, tuple) else i).id == volume_id]
        return rng.choice(items) if items else None
