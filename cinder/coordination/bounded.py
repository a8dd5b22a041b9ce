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

"""Calls to the backend that a dead server must not be able to hang."""

import logging
import threading
import time

LOG = logging.getLogger('cinder.coordination')


class _Call(object):
    """One bounded call, shared by its caller and its helper thread.

    Who owns the outcome is decided once: the helper when the call
    returns, or the caller when its deadline passes, whichever first
    takes :attr:`_claim`, a lock taken without waiting and never given
    back (a test-and-set). If the helper wins, the caller gets the value
    or the error; if the caller wins, it raises BackendUnavailable and the
    helper undoes what the call did. There is no moment at which both
    sides think they own it.
    """

    def __init__(self, call, undo):
        self._call = call
        self._undo = undo
        self._claim = threading.Lock()
        self.done = threading.Event()
        self.value = None
        self.error = None

    def run(self):
        """In the helper thread: make the call, then hand it over."""
        try:
            self.value = self._call()
        except Exception as e:
            self.error = e
        if self._claim.acquire(blocking=False):
            self.done.set()
        elif self.value and self._undo is not None:
            quietly(self._undo)

    def give_up(self):
        """In the caller: True if the caller now owns the outcome.

        False means that the call has already returned: its outcome is in
        :attr:`value` and :attr:`error` and stands.
        """
        return self._claim.acquire(blocking=False)


def run_bounded(what, backend, call, undo=None, expired=None,
                reason=None):
    """Run *call* in a helper thread so a dead backend cannot hang us.

    The caller gives up with BackendUnavailable once *expired()* is true
    (by default: after ``backend_timeout`` seconds); the call goes on in
    its daemon thread and, if it then returns a true value (a lock was
    taken), *undo* runs there. Giving up and the call returning are
    decided atomically (see :class:`_Call`): either the caller gets the
    value, or *undo* runs, never both and never neither.

    :returns: what *call* returned.
    :raises BackendUnavailable: *expired()* became true first.
    :raises Exception: what *call* raised.
    """
    if expired is None:
        deadline = time.monotonic() + backend.timeout

        def expired():
            return time.monotonic() >= deadline
        reason = 'no answer within %s s ([coordination] backend_timeout)' % (
            backend.timeout)
    bounded = _Call(call, undo)
    threading.Thread(target=bounded.run, daemon=True,
                     name='cinder-coordination-call').start()
    poll = min(0.5, backend.timeout / 4.0)
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
