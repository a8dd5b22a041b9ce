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

import threading

from cinder.coordination import exceptions

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
    critical section ran partly unprotected.
    """

    # One is made per acquire: slots make that and each access cheaper.
    __slots__ = ('name', 'by', 'asked_at', 'holder', '_coordinator',
                 '_tooz_lock', '_held_since', '_lost')

    def __init__(self, coordinator, name, tooz_lock):
        self.name = name
        self._coordinator = coordinator
        self._tooz_lock = tooz_lock
        self._held_since = None
        self._lost = None
        #: The function the lock is taken for, named in the DEBUG lines
        #: (``Acquiring lock "X" by "f"``); set by :func:`synchronized`.
        self.by = None
        #: Coordinator clock time at which the last acquire began: the
        #: lease of a lease backend runs from no earlier than that.
        self.asked_at = None
        #: The :class:`threading.Thread` that acquired it, while held.
        self.holder = None

    def __repr__(self):
        return '<Lock %s>' % self.name

    @property
    def held(self):
        """True from a successful acquire to its release (even if lost)."""
        return self._held_since is not None

    @property
    def lost(self):
        """Why the lock was lost while held, or None."""
        return self._lost

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
        self._coordinator._release(self)

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
        self._coordinator._check(self)
        if step is not None:
            self._coordinator._stepped(self, step)

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
        lock) when every lock is confirmed; nothing else uses it.
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
        for lock in locks:
            lock._coordinator._stepped(lock, step)
