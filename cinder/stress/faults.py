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

"""Faults that cinder-aa-stress injects while its workload runs."""

import itertools
import os
import random
import threading
import time

from cinder import exception
from cinder import messaging
from cinder import objects
from cinder.stress import ledger
from cinder.stress import nfsreplay
from cinder.volume import fenced_record

#: Seconds a healed service has to answer a request again.
RECOVERY_TIMEOUT = 90
#: Seconds each probe of a healed service may take: a lock acquire
#: waits up to the services' [coordination] backend_timeout (10 s).
PROBE_TIMEOUT = 15
#: Seconds a ``stale-holder`` fault waits for its service to reach a
#: commit, and then for another holder to commit the same record.
STALE_WAIT = 60
#: Seconds past the lease a frozen holder stays frozen at least.
LEASE_SLACK = 1

#: Fault kind -> way of :meth:`~cinder.stress.cluster.Cluster.partition`.
PARTITION_KINDS = {'partition': 'both', 'partition-one-way': 'one-way',
                   'partition-lock-server': 'lock-server'}
#: Every kind of fault, in the order of their turns.
KINDS = ('kill', 'pause', 'stale-holder', 'lock-server-restart') + tuple(
    PARTITION_KINDS) + ('nfs-replay',)
#: Kinds that need the services' share through the fault-injecting file
#: system (:attr:`cinder.stress.cluster.Cluster.fs`).
SHARE_KINDS = frozenset(['nfs-replay'])


class FaultError(ValueError):
    """A fault kind that was asked for cannot be injected in this run."""


class Fault(object):
    """One fault: its kind, host, time span and what was done.

    ``recovered``: for every kind but ``kill`` (whose restart waits for
    the new service), the clock time at which the services the fault
    reached (one, or every one after a lock server restart) all served a
    request that takes locks again, or None; until then their failures
    are the fault's (see :func:`cinder.stress.states.replay`, which
    judges which requests a fault hit).

    ``excuses``: whether a request that failed during it may have failed
    because of it; False for a fault whose failures the services must
    settle by themselves (``nfs-replay``): a request that failed then is
    judged as if there had been no fault.
    """

    __slots__ = ('kind', 'host', 'target', 'start', 'end', 'note',
                 'recovered', 'excuses')

    def __init__(self, kind, host):
        self.kind = kind
        self.host = host          # requests it may hit; None: all
        self.target = host        # the service it was injected into
        self.start = time.monotonic()
        self.end = None
        self.note = ''
        self.recovered = None
        self.excuses = True


class FaultInjector(object):
    """Every ``interval`` seconds, one fault, in turn of the kinds possible.

    ``kill``: kill -9 a service (and its qemu-img) and start it again.
    ``pause``: SIGSTOP a service for its lease and 3 s more, SIGCONT, and
    wait until it answers a request again (only with a lease-based
    backend).
    ``stale-holder``: hold a service right after the lock check of its
    next commit (the ``step-hold`` hook of :mod:`cinder.stress.holds`),
    SIGSTOP it, and SIGCONT it only once its lease is over and another
    service committed the same record (meanwhile the workload sends new
    requests to the other services only): its commit must then be
    fenced off (only with a lease-based backend).
    ``lock-server-restart``: restart the lock server (only when the tool
    started it), and wait until every service answers a request again.
    ``partition``, ``partition-one-way``, ``partition-lock-server``: cut
    a service's host off from the broker and the lock server (both ways;
    only what it receives; only the lock server) for its lease and 3 s
    more, heal, and wait until it answers a request again, without a
    restart (only with ``--hosts netns`` and a lease-based lock server).
    ``nfs-replay``: arm one NFS failure on the services' share, in turn
    from the seed (:mod:`cinder.stress.nfsreplay`), for the next matching
    call of any service, wait until it fired, and disarm it; it excuses
    no failed request (only when the cluster's services use the share
    through the fault-injecting file system).

    :param kinds: the kinds to inject, in turn; None: every kind this
        cluster allows.
    :raises FaultError: a kind of *kinds* is unknown or impossible here.
    """

    def __init__(self, cluster, seed=0, interval=8.0, kinds=None):
        self.cluster = cluster
        self.rng = random.Random('faults-%s' % seed)
        self.seed = seed
        self.replays = 0
        self.interval = interval
        self.faults = []
        self._stop = threading.Event()
        self._round = threading.Event()
        self._thread = None
        impossible = self.impossible(cluster)
        if kinds is None:
            self.kinds = [k for k in KINDS if k not in impossible]
            return
        for kind in kinds:
            if kind not in KINDS:
                raise FaultError('no fault called %r (known: %s)' % (
                    kind, ', '.join(KINDS)))
            if kind in impossible:
                raise FaultError('%s needs %s' % (kind, impossible[kind]))
        self.kinds = list(kinds)

    @staticmethod
    def impossible(cluster):
        """Kind -> what it lacks, for every kind *cluster* cannot take."""
        lacking = {}
        lease = 'a lock backend whose locks are leases (not file://)'
        if not cluster.lease:
            lacking.update(dict.fromkeys(('pause', 'stale-holder'), lease))
        if cluster.server is None:
            lacking['lock-server-restart'] = (
                'a lock server started by the tool (--lock-server)')
        if cluster.network is None or cluster.server is None or \
                not cluster.lease:
            lacking.update(dict.fromkeys(
                PARTITION_KINDS, 'hosts apart (--hosts netns) and a lock '
                'server started by the tool (--lock-server)'))
        if cluster.fs is None:
            lacking.update(dict.fromkeys(
                SHARE_KINDS, 'the share through the fault-injecting file '
                'system (a FUSE mount the tool makes when the kind is '
                'asked for)'))
        return lacking

    def start(self):
        self._thread = threading.Thread(target=self._run, name='faults',
                                        daemon=True)
        self._thread.start()

    def round_done(self):
        """True once every kind of fault was injected at least once."""
        return self._round.is_set()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(120)

    def _run(self):
        turn = 0
        while not self._stop.wait(self.interval *
                                  self.rng.uniform(0.75, 1.25)):
            kind = self.kinds[turn % len(self.kinds)]
            turn += 1
            index = self.rng.randrange(len(self.cluster.services))
            host = self.cluster.services[index].host
            # A pause reaches every service: once the frozen one's lease
            # is over, others take its locks and may find its qemu-img
            # still holding an image (qemu's own image locking refuses).
            fault = Fault(kind, host if kind == 'kill' else None)
            fault.target = (None if kind == 'lock-server-restart' or
                            kind in SHARE_KINDS else host)
            try:
                if kind == 'kill':
                    pid = self.cluster.kill_and_restart(index)
                    fault.note = 'killed pid %d, restarted' % pid
                elif kind == 'pause':
                    seconds = self.cluster.lease + 3
                    self.cluster.pause(index, seconds, self._stop)
                    fault.note = 'paused %d s (lease %d s)' % (
                        seconds, self.cluster.lease)
                    self._recover(fault, [index], 'the thaw')
                elif kind == 'stale-holder':
                    self._stale_holder(fault, index)
                elif kind in PARTITION_KINDS:
                    self._partition(fault, index)
                elif kind == 'nfs-replay':
                    self._nfs_replay(fault)
                else:
                    self.cluster.restart_lock_server()
                    fault.note = 'restarted %s' % (
                        self.cluster.lock_server_kind)
                    self._recover(fault, range(len(self.cluster.services)),
                                  'the restart')
            except Exception as e:
                fault.note = 'failed to inject: %s' % e
            if fault.end is None:
                fault.end = time.monotonic()
            self.faults.append(fault)
            if turn >= len(self.kinds):
                self._round.set()

    def _partition(self, fault, index):
        seconds = self.cluster.lease + 3
        fault.start, fault.end = self.cluster.partition(
            index, seconds, PARTITION_KINDS[fault.kind], self._stop)
        fault.note = 'cut %d s (lease %d s), healed' % (
            seconds, self.cluster.lease)
        self._recover(fault, [index], 'the heal')

    def _nfs_replay(self, fault):
        """Arm the next NFS failure on the share, until it fired.

        Whichever service makes the matching call gets it: the fault has
        no host, and excuses nothing.
        """
        fault.excuses = False
        chosen = nfsreplay.variant(self.seed, self.replays)
        self.replays += 1
        result = nfsreplay.inject(self.cluster.fs, chosen, self._stop)
        fault.start, fault.end = result.start, result.end
        fault.note = result.describe()

    def _recover(self, fault, indices, what):
        """Wait until each service of *indices* answers again; note when.

        Sets ``fault.end`` (now, unless set: the fault itself is over)
        and ``fault.recovered``: when the last of them served a request
        that takes locks, or None if one did not within
        :data:`RECOVERY_TIMEOUT` seconds.
        """
        if fault.end is None:
            fault.end = time.monotonic()
        answers = [self._wait_for_answer(index) for index in indices]
        if None in answers:
            fault.note += '; no answer within %d s after %s' % (
                RECOVERY_TIMEOUT, what)
        else:
            fault.recovered = max(answers)
            fault.note += '; answered again %.1f s after %s' % (
                fault.recovered - fault.end, what)

    def _stale_holder(self, fault, index):
        """Freeze service *index* between a commit's check and the commit.

        It is let go once its lease is over and another service committed
        the same record, or :data:`STALE_WAIT` seconds after the lease.
        """
        holds = self.cluster.holds(index)
        deadline = time.monotonic() + STALE_WAIT
        for attempt in itertools.count():
            name = 'stale-%d-%d' % (len(self.faults), attempt)
            holds.arm('commit', name)
            held = holds.wait_until_held(
                name, max(0, deadline - time.monotonic()), self._stop)
            if held is None and holds.disarm('commit'):
                fault.note = ('the run ended before a commit'
                              if self._stop.is_set() else
                              'no commit within %d s' % STALE_WAIT)
                return
            # Taken right before it was disarmed: it is being held now.
            held = held or holds.wait_until_held(name, STALE_WAIT)
            if held is None:
                holds.release(name)   # whenever it gets there
                fault.note = 'a step took the hold but was never held'
                return
            if self._record_exists(held['step']):
                break
            # The first commit of a new volume: nobody else can have
            # a request for it yet. Let it go and wait for another.
            holds.release(name)
        fault.start = time.monotonic()
        offset = ledger.size(self.cluster.ledger)
        # New requests go to the others, which soon need its volume.
        self.cluster.avoided.add(index)
        try:
            self.cluster.services[index].pause()
            other = self._wait_for_commit(held, offset, fault.start)
        finally:
            self.cluster.services[index].resume()
            holds.release(name)
            thawed = time.monotonic()
            try:
                # What it does while it wakes up (a ZooKeeper session
                # found expired ...) is still the fault's doing.
                fault.recovered = self._wait_for_answer(index)
            finally:
                self.cluster.avoided.discard(index)
        fault.end = fault.recovered or time.monotonic()
        fault.note = 'held pid %d at "%s", frozen %.1f s (lease %d s); %s' % (
            held['pid'], held['step'], thawed - fault.start,
            self.cluster.lease,
            'pid %d committed it meanwhile' % other if other else
            'the run ended before another service committed it'
            if self._stop.is_set() else
            'nobody else committed it within %d s' % STALE_WAIT)

    def _record_exists(self, step):
        """Does the record of *step* (``commit <name>``) exist yet?"""
        record = fenced_record.FencedRecord(
            os.path.join(self.cluster.share, step.split(' ', 1)[1]))
        return any(record.is_generation(entry)
                   for entry in os.listdir(self.cluster.share))

    def _wait_for_commit(self, held, offset, frozen):
        """The pid of another holder's commit of *held*'s record, or None.

        Waits at least for the frozen holder's lease to pass.
        """
        lease_over = frozen + self.cluster.lease + LEASE_SLACK
        deadline = lease_over + STALE_WAIT
        other = None
        while not self._stop.is_set():
            entries, offset = ledger.read_from(self.cluster.ledger, offset)
            for entry in entries:
                if (other is None and entry.get('event') == 'step' and
                        entry.get('step') == held['step'] and
                        entry.get('pid') != held['pid']):
                    other = entry['pid']
            now = time.monotonic()
            if (other and now >= lease_over) or now >= deadline:
                break
            self._stop.wait(0.1)
        return other

    def _wait_for_answer(self, index):
        """Clock time the service served a request that takes locks, or None.

        Answering the bus is not enough: a service that woke up or was
        healed may still be finding out that its lock backend session
        expired, and fails requests until it has a new one. The probe
        deletes a volume that never existed (a new id each time, on no
        share): the service takes the volume's locks and finds nothing to
        delete, so it changes nothing, and a probe that failed is followed
        by another; each is bounded, one at a time.
        """
        service = self.cluster.services[index]
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                service.client(timeout=PROBE_TIMEOUT).call(
                    'delete_volume', volume=objects.Volume(size=1))
            except (exception.RequestOutcomeUnknown,
                    messaging.RemoteError):
                continue
            return time.monotonic()
        return None
