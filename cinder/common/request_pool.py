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

"""A fixed pool of request threads, and the requests in flight on it.

A request is counted in flight from the moment it is submitted, while it
waits in the queue for a free thread and while it runs, until it has
finished or been refused. :meth:`RequestPool.drain` is the bounded wait
of a stop: when the bound passes, the requests still queued are refused
(they never start afterwards), and those still running are the caller's
to deal with.

The threads are daemon threads, not those of
``concurrent.futures.ThreadPoolExecutor`` or futurist's executors: both
join their threads when the interpreter exits, so one request stuck after
a bounded stop (on a hung NFS mount, or waiting for a lock another service
holds) would keep the process from ever exiting.
"""

import queue
import threading
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class Request(object):
    """One submitted request: queued, then running.

    :ivar item: what was submitted (for the server, a connection).
    :ivar accepted: ``time.monotonic()`` when it was submitted.
    :ivar started: when a thread took it; None while queued.
    :ivar thread: that :class:`threading.Thread`; None while queued.
    :ivar summary: what the request is, for logs; its runner sets it.
    """

    def __init__(self, item):
        self.item = item
        self.accepted = time.monotonic()
        self.started = None
        self.thread = None
        self.summary = 'a request not read yet'

    def describe(self, now=None):
        now = time.monotonic() if now is None else now
        if self.started is None:
            return '%s (queued %.1f s)' % (self.summary, now - self.accepted)
        return '%s (running %.1f s)' % (self.summary, now - self.started)


class RequestPool(object):
    """``size`` threads that run submitted requests, oldest first.

    :param size: how many requests run at once.
    :param run: called with a :class:`Request` in a pool thread; its
        exceptions are logged.
    :param refuse: called with a :class:`Request` that will never run
        (a stop gave up while it was queued), to answer it; in the
        stopping thread or a pool thread.
    :param name: the threads are called ``<name>-<n>``.
    :raises ValueError: ``size`` is not a positive integer.
    """

    def __init__(self, size, run, refuse, name='request-worker'):
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError('workers must be a positive integer, not %r' %
                             (size,))
        self.size = size
        self._run = run
        self._refuse = refuse
        self._name = name
        self._queue = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._in_flight = set()
        self._refusing = False
        self._closed = False

    def start(self):
        for number in range(self.size):
            threading.Thread(target=self._work, daemon=True,
                             name='%s-%d' % (self._name, number)).start()

    def submit(self, item):
        """Queue ``item``; it is in flight from now on.

        After :meth:`drain` nothing runs any more: the request is refused
        at once.
        """
        request = Request(item)
        with self._changed:
            self._in_flight.add(request)
            closed = self._closed
        if closed:
            self._refuse_one(request)
        else:
            self._queue.put(request)
        return request

    def requests(self):
        """The requests in flight, queued or running, oldest first."""
        with self._changed:
            return sorted(self._in_flight, key=lambda r: r.accepted)

    def wait(self, timeout=None):
        """Wait up to ``timeout`` s for no request in flight; True if so."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._in_flight,
                                          timeout=timeout)

    def drain(self, timeout=None):
        """Wait up to ``timeout`` s for the requests; refuse queued ones then.

        Queued requests may still start and finish within the bound.
        After it, the ones no thread has taken are refused, now or when a
        thread takes them. The pool's threads end once idle; it takes no
        more requests.

        :returns: ``(done, refused)``: True when none is left in flight,
            and how many queued requests were refused.
        """
        with self._changed:
            done = self._changed.wait_for(lambda: not self._in_flight,
                                          timeout=timeout)
            self._refusing = not done
            self._closed = True
        refused = 0
        while not done:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            self._refuse_one(request)
            refused += 1
        for _ in range(self.size):
            self._queue.put(None)
        return done, refused

    def _work(self):
        while True:
            request = self._queue.get()
            if request is None:
                return
            with self._changed:
                refuse = self._refusing
                if not refuse:
                    request.started = time.monotonic()
                    request.thread = threading.current_thread()
            if refuse:
                self._refuse_one(request)
                continue
            try:
                self._run(request)
            except Exception:
                LOG.exception('Request %s failed', request.describe())
            finally:
                self._done(request)

    def _refuse_one(self, request):
        try:
            self._refuse(request)
        except Exception:
            LOG.exception('Cannot refuse %s', request.describe())
        finally:
            self._done(request)

    def _done(self, request):
        with self._changed:
            self._in_flight.discard(request)
            self._changed.notify_all()
