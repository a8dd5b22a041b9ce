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

"""A named lock and the registry of the locks each thread holds."""

import logging
import threading

from cinder.coordination import exceptions

LOG = logging.getLogger('cinder.coordination')
#: The command that puts a backend's fencing tokens past the storage's.
ADVANCE_COMMAND = 'cinder-manage coordination advance-tokens'

held_by_thread = threading.local()


def thread_locks():
    try:
        return held_by_thread.locks
    except AttributeError:
        held_by_thread.locks = []
        return held_by_thread.locks


class Lock(object):
    """One named lock of a :class:`Coordinator`.

    Exclusive and not reentrant. :meth:`acquire` returns True or raises:
    :class:`LockAcquireFailed` when a non-blocking or timed attempt misses,
    :class:`BackendUnavailable` when the backend does not answer. Releasing
    a lock that is not held raises :class:`LockNotHeld`; releasing a lock
    that was lost while held raises :class:`LockLost`, because the
    critical section ran partly unprotected. :meth:`token` gives each grant
    a fencing token, greater than the token of every earlier grant of the
    name.
    """

    # One is made per acquire: slots make that and each access cheaper.
    __slots__ = ('name', 'by', 'asked_at', 'renewed_at', 'holder',
                 '_coordinator', '_tooz_lock', '_held_since', '_lost',
                 '_token')

    def __init__(self, coordinator, name, tooz_lock):
        self.name = name
        self._coordinator = coordinator
        self._tooz_lock = tooz_lock
        self._held_since = None
        self._lost = None
        self._token = None
        #: The function the lock is taken for, named in the DEBUG lines
        #: (``Acquiring lock "X" by "f"``); set by :func:`synchronized`.
        self.by = None
        #: Coordinator clock time at which the last acquire began: the
        #: lease of a lease backend runs from no earlier than that.
        self.asked_at = None
        #: Coordinator clock time from which the lease runs at least, as
        #: confirmed by the backend since that acquire (set by the
        #: coordinator's :class:`~.fence.Fence`), or None.
        self.renewed_at = None
        #: The :class:`threading.Thread` that acquired it, while held.
        self.holder = None

    def __repr__(self):
        return '<Lock %s>' % self.name

    @property
    def held(self):
        """True from a successful acquire to its release (even if lost)."""
        return self._held_since is not None

    @property
    def token_source(self):
        """Where :meth:`token` counts, or None once stopped.

        The location of the lock backend (no secrets): tokens of one
        source compare, tokens of two sources (another backend, or
        services that lock at different places) do not.
        """
        backend = self._coordinator.backend
        return None if backend is None else backend.location()

    @property
    def lost(self):
        """Why the lock was lost while held, or None."""
        return self._lost

    def hand_over(self, fresh):
        """Give away the driver's lock of the last grant; use *fresh* next.

        For a grant whose release failed: its driver lock goes to the
        background retry (:mod:`.orphans`), which may release it at any
        time later. Tooz's lock objects release whatever grant they hold
        when asked (etcd: the key if it holds the object's token, the same
        for each of its grants; ZooKeeper: the node the object created
        last), so no later grant of this Lock may be made with it.

        :param fresh: a new lock object of the driver, for the same name.
        :returns: the driver's lock of the last grant.
        """
        given, self._tooz_lock = self._tooz_lock, fresh
        return given

    def acquire(self, blocking=True):
        """Take the lock.

        :param blocking: True waits as long as another member holds the
            lock; False tries once; a number of seconds waits at most that
            long.
        :returns: True
        :raises LockAcquireFailed: the lock was not taken.
        """
        if self._held_since is not None:
            raise exceptions.CoordinationError(
                'lock %s is already held by this Lock object; locks are '
                'not reentrant' % self.name)
        if blocking is not True and not isinstance(blocking, bool):
            try:
                blocking = float(blocking)
            except (TypeError, ValueError):
                blocking = -1.0
            if not blocking >= 0:
                raise ValueError('blocking must be True, False or a number '
                                 'of seconds >= 0, not %r' % (blocking,))
        self._coordinator._acquire(self, blocking)
        return True

    def release(self):
        """Give the lock back.

        :raises LockNotHeld: the lock is not held.
        :raises LockLost: the lock was lost while held.
        """
        if self._held_since is None:
            raise exceptions.LockNotHeld('lock %s is not held' %
                                         self.name)
        try:
            self._coordinator._release(self)
        finally:
            self._token = None

    def check(self, step=None):
        """Ask the backend whether this lock is still ours.

        A lock past its fencing deadline (see :mod:`.fence`) is declared
        lost first, without asking: the server may still have it, but
        may free it before the caller's step is done.

        :param step: what the caller is about to do if it is (see
            :func:`ensure_locks_held`), told to the lock hooks once it is.
        :raises LockLost: it was lost, or ownership cannot be confirmed.
        :raises LockNotHeld: it was never acquired or was released.
        """
        if self._held_since is None:
            raise exceptions.LockNotHeld('lock %s is not held' %
                                         self.name)
        self._confirm('is_still_owner')
        if step is not None:
            self._coordinator._stepped([self], step)

    def token(self):
        """The fencing token of this grant of the lock: a positive int.

        It is greater than the token of every earlier grant of this name,
        by any member, on every backend this module is tested with (what
        makes it so, and when it would not be, is in the admin guide's
        *Coordination* page). Pass it along with the writes the lock
        protects, to a store that refuses a token lower than one it has
        seen: a holder that lost its lock without noticing is then refused.

        The first call of a grant asks the backend once, in the same round
        trip as an ownership check (:meth:`check`); later calls of the
        grant return the same token without I/O (or raise LockLost, once
        the loss of the lock is known). A new acquire gets a new token.

        :raises LockNotHeld: the lock is not held.
        :raises LockLost: it was lost, or the backend did not answer (the
            ownership cannot be confirmed; a later call tries again).
        :raises CoordinationError: the backend gives no fencing tokens
            (one of the Tooz drivers this module is not tested with).
        """
        if self._held_since is None:
            raise exceptions.LockNotHeld('lock %s is not held' %
                                         self.name)
        token = self._token
        if token is None or self._lost is not None:
            # A loss already known is raised without I/O.
            backend = self._coordinator.backend
            if backend is not None and not backend.fencing_tokens:
                raise exceptions.CoordinationError(
                    'lock %s has no fencing token: the lock backend %s '
                    'gives none' % (self.name, backend.masked_url))
            token = self._token = self._confirm('fencing_token')
        return token

    def refused(self, error):
        """What a store's refusal of this grant's token means.

        For a store that compares fencing tokens and refused this grant's
        with :class:`FencedOff`: the lock is checked (:meth:`check`, one
        round trip). If it is still ours, no grant of its name was made
        since this one, so no newer holder can have written the newer
        token: the backend gave it before, and now gives lower ones (it
        lost its counter, or was rebuilt or restored).

        :param error: the :class:`FencedOff`; its ``path``, ``newer`` and
            ``token`` attributes, where set, are named.
        :returns: the error to raise: *error* itself when the lock was
            lost or its ownership cannot be confirmed; else a
            :class:`FencingTokensWentBack` naming the record, both
            tokens, the backend (password masked), the likely causes and
            the command that puts the tokens past the storage's, logged
            once here at ERROR.
        """
        try:
            self.check()
        except exceptions.LockLost:
            return error
        backend = self._coordinator.backend
        newer = getattr(error, 'newer', None)
        where = getattr(error, 'path', None)
        token = getattr(error, 'token', self._token)
        if newer is None or where is None:
            found = 'the store refused it: %s' % error
        else:
            found = '%s holds fencing token %d, greater than token %d' % (
                where, newer, token)
        message = backend.scrub(
            'Fencing tokens of lock backend %s went back: %s of lock %s, '
            'which this service still holds (checked after the refusal), '
            'so no later holder can have written it: the backend now '
            'gives lower tokens than it gave before. Likely cause: %s. '
            'Nothing was written; every change and delete of such a '
            'record fails this way until "%s" is run once (services may '
            'keep running; see "When fencing tokens go back" in the '
            'admin guide)' % (
                backend.masked_url, found, self.name,
                backend.tokens_went_back_causes(), ADVANCE_COMMAND))
        LOG.error('%s', message)
        went_back = exceptions.FencingTokensWentBack(message)
        went_back.path, went_back.newer, went_back.token = (where, newer,
                                                            token)
        went_back.backend = backend.masked_url
        return went_back

    def _confirm(self, ask):
        """Ask the backend's *ask* whether this held lock is still ours.

        :returns: the backend's answer: anything but None or False.
        :raises LockLost: the answer was None or False (the lock is marked
            lost), the lock was lost before, or the backend did not answer
            (any error is converted by the backend's ``translate``).
        """
        coordinator = self._coordinator
        answer = None
        if self._lost is None:
            # Not only the fence's thread: a process that resumes from a
            # freeze past the deadline must fail here, before the server
            # (which may still say "yours") is asked.
            coordinator._check_deadlines()
        if self._lost is None:
            backend = coordinator.backend
            if backend is None:
                coordinator._mark_lost(self, 'the coordinator was stopped')
            else:
                try:
                    answer = getattr(backend, ask)(self._tooz_lock)
                except Exception as e:
                    raise exceptions.LockLost(
                        'ownership of lock %s cannot be confirmed: %s' % (
                            self.name, backend.translate('Checking', e))
                    ) from None
                if answer is None or answer is False:
                    coordinator._mark_lost(self, 'another member may hold '
                                                 'it')
        if self._lost is not None:
            raise exceptions.LockLost('lock %s was lost after %.3fs: %s' % (
                self.name, coordinator._clock() - self._held_since,
                self._lost))
        return answer

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.release()


def ensure_locks_held(locks=None, step=None):
    """Fail unless this thread still owns each lock it holds.

    Call it right before a destructive or committing step of a critical
    section. It asks the backend (one round trip per distributed lock; no
    I/O for file locks), so a lock taken by another member since the last
    heartbeat is seen too.

    :param locks: the :class:`Lock` objects to check; by default every lock
        the calling thread acquired through this module and holds.
    :param step: optional words for the step that follows, such as
        ``"rewrite volume-1.info"``: a verb (``create``, ``rewrite``,
        ``commit``, ``delete``) and what it changes. Lock hooks are told
        (:meth:`~cinder.coordination.hooks.LockHook.checked`, once per
        lock) when every lock is confirmed, one hook after the other:
        each of every lock before the next hook; nothing else uses it.
    :raises LockLost: a lock was lost or its ownership cannot be confirmed;
        hooks are not told of the step then.
    """
    if locks is None:
        mine = thread_locks()
        mine[:] = [lock for lock in mine if lock.held]
        locks = mine
    locks = list(locks)
    for lock in locks:
        lock.check()
    if step is not None:
        # Only once every lock is confirmed: the step runs only then.
        coordinators = []
        for lock in locks:
            if lock._coordinator not in coordinators:
                coordinators.append(lock._coordinator)
        for coordinator in coordinators:
            coordinator._stepped([lock for lock in locks
                                  if lock._coordinator is coordinator], step)


def held_lock(name):
    """The :class:`Lock` called *name* that this thread holds.

    :param name: the name given to :meth:`Coordinator.get_lock` (or
        rendered by :func:`synchronized`), without the coordinator's
        prefix.
    :raises LockNotHeld: this thread holds no lock of that name.
    """
    for lock in thread_locks():
        if lock.held and lock.name == lock._coordinator.prefix + name:
            return lock
    raise exceptions.LockNotHeld('this thread holds no lock %s' % name)
