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

"""The self-fencing deadline: :class:`Fence`.

A lock of a lease backend is freed by the server a lease after the last
renewal *reached* it; a ZooKeeper lock, a session timeout after the
server last heard from the session. This process cannot know when its
renewals arrive, only when it *sent* the last one that succeeded: no
renewal can reach the server before it was sent, so the server cannot
free the lock before ``sent + lease``. The fence declares every lock
lost at ``sent + lease - margin`` unless a later renewal succeeded by
then, on this process's monotonic clock, so that the holder stops before
another member can take the lock, not after it has.

For one lock, "the last renewal sent" is the later of the start of its
acquire (which set its lease) and the last renewal *of that lock* that
the backend confirmed (:meth:`Fence.renewed`): a heartbeat that reached
the server does not vouch for a lock whose own renewal failed on the
way (Tooz's Redis driver logs such a failure and goes on). Where the
backend reads what the lock's lease has left on the server (Redis), the
renewal is credited as of ``sent + left - lease``: the server frees the
key no earlier than ``sent + left``, so a renewal that never arrived
shows as less time left. A session backend (ZooKeeper) reports each
request its server answered, which renewed the session and every lock
of it (:meth:`Fence.session_renewed`). A backend that reports no
renewals gets no deadline.
"""

import logging
import threading
import time

LOG = logging.getLogger('cinder.coordination')


class Fence(object):
    """Declares held locks lost before the server can free them.

    :param held: callable returning the locks held now, each with an
        ``asked_at`` (clock time its acquire began) and a
        ``renewed_at``, which :meth:`renewed` sets (None until then).
    :param expire: callable ``expire(lock, reason)`` that declares
        *lock* lost; called from the fence's own thread (or from
        :meth:`check`), never with the fence's lock held.
    :param lease: seconds the server keeps a lock without renewal.
    :param margin: seconds before the earliest possible end of the lease
        at which locks are declared lost.
    :param renewals_reported: True for backends that report their
        renewals (lease backends, ZooKeeper): a deadline applies from
        each lock's acquire on. False: no deadline applies.
    :param clock: the monotonic clock of the coordinator.

    Failure behaviour: the fence never talks to the backend and cannot
    fail on its account; what ``expire`` raises is logged and the other
    locks are still expired.
    """

    def __init__(self, held, expire, lease, margin,
                 renewals_reported=True, clock=time.monotonic):
        self._held = held
        self._expire = expire
        self.lease = float(lease)
        self.margin = float(margin)
        self._clock = clock
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = None
        #: Clock time of the last request the server of a session
        #: backend answered (:meth:`session_renewed`); None until then.
        self._session_renewed_at = None
        self._open = renewals_reported
        #: Bumped by every change, so that the thread never waits past
        #: a deadline it has not seen.
        self._changes = 0

    # What the coordinator and the backend tell it.

    def renewed(self, lock, sent_at, left=None):
        """The backend confirmed a renewal of the held *lock*.

        :param sent_at: clock time before the renewal was sent, or, with
            *left*, before the request that read *left* was sent.
        :param left: seconds the lease of *lock* had left on the server
            when it answered, or None: the renewal then counts from
            *sent_at*, as if the server had granted the full lease then.
            A *left* longer than the lease counts as the lease.

        Sets ``lock.renewed_at``, unless a later renewal was credited.
        The renewal counts from *sent_at* at the latest: a renewal of a
        grant that ended before *sent_at* counts for nothing in the next
        grant, whose acquire began later.
        """
        if left is not None:
            sent_at += min(float(left), self.lease) - self.lease
        with self._cond:
            if lock.renewed_at is None or sent_at > lock.renewed_at:
                lock.renewed_at = sent_at
            self._changed()

    def session_renewed(self, sent_at, lease=None):
        """The server of the backend's session heard from it.

        For a session backend (ZooKeeper): the server answered a request
        sent at *sent_at* (clock time), which renewed the session and
        every lock it holds.

        :param lease: the session timeout negotiated for the connection,
            if the server may have changed it (at a reconnection); it
            counts only if this renewal is the latest.
        """
        with self._cond:
            if (self._session_renewed_at is None or
                    sent_at > self._session_renewed_at):
                self._session_renewed_at = sent_at
                if lease is not None:
                    self.lease = float(lease)
            self._changed()

    def poke(self):
        """A lock was acquired: its deadline may be the next one."""
        with self._cond:
            self._changed()

    def _changed(self):
        self._changes += 1
        self._cond.notify_all()

    # The deadline.

    def deadline(self, lock):
        """Clock time at which *lock* is declared lost, or None."""
        with self._cond:
            return self._deadline(lock)

    def _deadline(self, lock):
        if not self._open:
            return None
        return self._counted_from(lock)[0] + self.lease - self.margin

    def _counted_from(self, lock):
        """(clock time *lock*'s deadline counts from, what happened then)"""
        start, what = lock.asked_at, 'the lock was asked for'
        renewed = lock.renewed_at
        if renewed is not None and renewed > start:
            start, what = renewed, ('the last renewal of the lock that the '
                                    'backend confirmed dates from')
        session = self._session_renewed_at
        if session is not None and session > start:
            start, what = session, ('the last renewal that reached the '
                                    'backend was sent')
        return start, what

    def check(self):
        """Declare lost every held lock past its deadline, now.

        :returns: the clock time of the next deadline, or None.
        """
        now = self._clock()
        due = []
        upcoming = None
        with self._cond:
            for lock in self._held():
                if lock.lost is not None:
                    continue
                deadline = self._deadline(lock)
                if deadline is None:
                    continue
                if deadline <= now:
                    due.append((lock, deadline, self._counted_from(lock)))
                elif upcoming is None or deadline < upcoming:
                    upcoming = deadline
        for lock, deadline, (start, what) in due:
            ago = now - start
            reason = ('fenced: %s %.1fs ago and no renewal got through '
                      'since; the %s s lease may end %s s from now' % (
                          what, ago, _num(self.lease),
                          _num(round(deadline + self.margin - now, 3))))
            try:
                self._expire(lock, reason)
            except Exception:
                LOG.exception('Declaring lock %s lost failed', lock.name)
        return upcoming

    # The thread.

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='cinder-coordination-fence')
        self._thread.start()

    def stop(self, timeout=None):
        with self._cond:
            self._stopped = True
            self._changed()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        while True:
            with self._cond:
                seen = self._changes
            upcoming = self.check()
            with self._cond:
                if self._stopped:
                    return
                if self._changes != seen:
                    continue
                if upcoming is None:
                    self._cond.wait()
                else:
                    self._cond.wait(max(0.0, upcoming - self._clock()))


def _num(value):
    """*value* without a trailing ``.0``."""
    return ('%g' % value) if isinstance(value, float) else str(value)
