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

"""The requests a service is running, for its bounded stop.

A request is in flight from :meth:`InFlight.begin` to :meth:`InFlight.end`.
Once :meth:`InFlight.close` has run, :meth:`~InFlight.begin` refuses: a
request that had not begun when a stop's bound passed never begins.
"""

import threading
import time


class Request(object):
    """One running request.

    :ivar summary: what it is, for logs (method and record ids).
    :ivar started: ``time.monotonic()`` when it began.
    :ivar thread: the :class:`threading.Thread` running it.
    """

    def __init__(self, summary, clock=time.monotonic):
        self.summary = summary
        self.started = clock()
        self.thread = threading.current_thread()

    def describe(self, now=None):
        now = time.monotonic() if now is None else now
        return '%s (running %.1f s)' % (self.summary, now - self.started)


class InFlight(object):
    """The running requests; refuses new ones once closed."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._changed = threading.Condition()
        self._running = set()
        self._closed = False

    def begin(self, summary):
        """A new :class:`Request` in flight; None once closed."""
        with self._changed:
            if self._closed:
                return None
            request = Request(summary, self._clock)
            self._running.add(request)
            return request

    def end(self, request):
        with self._changed:
            self._running.discard(request)
            self._changed.notify_all()

    def requests(self):
        """The requests in flight, oldest first."""
        with self._changed:
            return sorted(self._running, key=lambda r: r.started)

    def wait(self, timeout=None):
        """Wait up to ``timeout`` s for none in flight; True if so."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._running,
                                          timeout=timeout)

    def close(self):
        """Refuse every request that has not begun, from now on."""
        with self._changed:
            self._closed = True

    @property
    def closed(self):
        return self._closed
