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

"""Calls to the backend that a dead server must not be able to hang.

Such a call runs in a helper thread of a :class:`CallPool` while its
caller waits, at most until its bound. A helper thread is reused from
call to call, so the cost of a bounded call is a hand-over between two
threads, not a thread start. The pool has no fixed size: it has a thread
for each caller that is waiting for a call (a blocking acquire may wait
as long as another service holds the lock, and must not keep the holder's
release waiting for a thread), plus the calls whose callers gave up, which
go on until the server answers. Those are bounded: see
:data:`MAX_ABANDONED`.
"""

import logging
import queue
import threading
import time

LOG = logging.getLogger('cinder.coordination')

#: How many calls given up by their caller may still wait for the server at
#: once, each holding a helper thread. While that many do, a new call waits
#: for one of them to return, within its own bound, and fails with
#: BackendUnavailable if none does; it never queues past its bound and,
#: once its caller has given up, never runs.
MAX_ABANDONED = 8

#: Seconds an idle helper thread waits for its next call before it exits.
IDLE_SECONDS = 60.0


class _Call(object):
    """One bounded call, shared by its caller and its helper thread.

    Two decisions are made once each, by whichever side first takes the
    lock of that decision (a lock taken without waiting and never given
    back: a test-and-set). :attr:`_start`: the helper starts the call, or
    the caller gives up before it started, and the call never runs.
    :attr:`_claim`, once the call has run: the helper hands its outcome to
    the caller, or the caller has given up and the helper undoes what the
    call did. There is no moment at which both sides think they own it.
    """

    def __init__(self, call, undo, pool):
        self._call = call
        self._undo = undo
        self._pool = pool
        self._start = threading.Lock()
        self._claim = threading.Lock()
        self.done = threading.Event()
        self.value = None
        self.error = None

    def run(self):
        """In the helper thread: make the call, then hand it over."""
        if not self._start.acquire(blocking=False):
            return   # the caller gave up before the call started
        try:
            self.value = self._call()
        except Exception as e:
            self.error = e
        if self._claim.acquire(blocking=False):
            self.done.set()
            return
        try:
            if self.value and self._undo is not None:
                quietly(self._undo)
        finally:
            self._pool._abandoned_returned()

    def give_up(self):
        """In the caller: True if the caller now owns the outcome.

        False means that the call has already returned: its outcome is in
        :attr:`value` and :attr:`error` and stands.
        """
        if self._start.acquire(blocking=False):
            return True   # it will never run
        if self._claim.acquire(blocking=False):
            self._pool._abandoned_left()
            return True
        return False


class _Helper(threading.Thread):
    """A daemon thread that runs the calls a :class:`CallPool` hands it.

    Daemon, so that a call stuck on a dead server never keeps the process
    from exiting (the thread pools of concurrent.futures and futurist join
    their threads at exit).
    """

    def __init__(self, pool):
        super().__init__(daemon=True, name='cinder-coordination-call')
        self._pool = pool
        self.calls = queue.SimpleQueue()

    def run(self):
        while True:
            try:
                call = self.calls.get(timeout=self._pool.idle_seconds)
            except queue.Empty:
                if self._pool._retire(self):
                    return
                continue   # handed a call just as it timed out
            call.run()
            del call
            self._pool._idle_again(self)


class CallPool(object):
    """Helper threads for bounded calls; see the module's docstring.

    :param max_abandoned: calls given up by their callers that may still
        be running at once (:data:`MAX_ABANDONED`).
    :param idle_seconds: how long an idle thread is kept.
    """

    def __init__(self, max_abandoned=MAX_ABANDONED,
                 idle_seconds=IDLE_SECONDS):
        self.max_abandoned = max_abandoned
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._idle = []
        self._threads = 0
        self._abandoned = 0

    @property
    def threads(self):
        """Helper threads alive (idle or running a call)."""
        return self._threads

    @property
    def abandoned(self):
        """Calls given up by their callers and still running."""
        return self._abandoned

    def wait_for_slot(self, expired, bound, poll):
        """Wait until fewer than *max_abandoned* calls are left behind.

        :returns: False if *expired()* became true or *bound* seconds
            passed first.
        """
        deadline = time.monotonic() + bound
        with self._lock:
            while self._abandoned >= self.max_abandoned:
                if expired() or time.monotonic() >= deadline:
                    return False
                self._slot_freed.wait(poll)
        return True

    def submit(self, call):
        """Hand *call* (a :class:`_Call`) to an idle thread or a new one."""
        with self._lock:
            helper = self._idle.pop() if self._idle else None
            if helper is None:
                self._threads += 1
        if helper is None:
            helper = _Helper(self)
            try:
                helper.start()
            except Exception:
                with self._lock:
                    self._threads -= 1
                raise
        helper.calls.put(call)

    def _idle_again(self, helper):
        with self._lock:
            self._idle.append(helper)

    def _retire(self, helper):
        with self._lock:
            if helper not in self._idle:
                return False
            self._idle.remove(helper)
            self._threads -= 1
            return True

    def _abandoned_left(self):
        with self._lock:
            self._abandoned += 1

    def _abandoned_returned(self):
        with self._lock:
            self._abandoned -= 1
            self._slot_freed.notify_all()


#: The pool of the process's bounded calls.
POOL = CallPool()


def run_bounded(what, backend, call, undo=None, expired=None,
                reason=None, pool=None):
    """Run *call* in a helper thread so a dead backend cannot hang us.

    The caller gives up with BackendUnavailable once *expired()* is true
    (by default: after ``backend_timeout`` seconds); the call goes on in
    its helper thread and, if it then returns a true value (a lock was
    taken), *undo* runs there. Giving up and the call returning are
    decided atomically (see :class:`_Call`): either the caller gets the
    value, or *undo* runs, never both and never neither.

    If :data:`MAX_ABANDONED` calls given up earlier are still running,
    the call first waits for one of them to return, within the same bound
    (and at most ``backend_timeout`` seconds), and fails without running
    if none does.

    :param pool: the :class:`CallPool`; by default the process's.
    :returns: what *call* returned.
    :raises BackendUnavailable: *expired()* became true first.
    :raises Exception: what *call* raised.
    """
    pool = pool if pool is not None else POOL
    if expired is None:
        deadline = time.monotonic() + backend.timeout

        def expired():
            return time.monotonic() >= deadline
        reason = 'no answer within %s s ([coordination] backend_timeout)' % (
            backend.timeout)
    poll = min(0.5, backend.timeout / 4.0)
    if not pool.wait_for_slot(expired, backend.timeout, poll):
        raise backend.unavailable(what, (
            '%s; %d earlier calls to the lock backend have not returned '
            'after their callers gave up, so this one was not sent' % (
                reason, pool.max_abandoned)))
    bounded = _Call(call, undo, pool)
    pool.submit(bounded)
    while not bounded.done.wait(poll):
        if expired():
            if bounded.give_up():
                raise backend.unavailable(what, reason)
            break
    if bounded.error is not None:
        raise bounded.error
    return bounded.value


def quietly(fn):
    try:
        fn()
    except Exception:
        LOG.debug('Ignored error from %s', fn, exc_info=True)
