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

"""What a ZooKeeper client knows of its session: :class:`SessionWatch`."""

import logging
import threading

LOG = logging.getLogger('cinder.coordination')

#: Reads that renew the session per session timeout: as many as kazoo's
#: pings, which renew it too but tell no one when they were answered.
READS_PER_SESSION = 3


class SessionWatch(object):
    """The negotiated session timeout, and when the server last heard us.

    A client asks for a session timeout (Tooz: the URL's ``timeout``, 10 s
    by default); the server clamps it between its ``minSessionTimeout``
    and ``maxSessionTimeout`` (by default 2 and 20 ticks: 4 and 40 s
    with a 2 s ``tickTime``) and answers the one it took. The server ends
    the session, and deletes its lock nodes, that long after it last
    heard from the client: the negotiated timeout is the lease of the
    locks, the requested one only a wish. kazoo makes a handshake for
    each connection, the first of a session and every reconnection, to
    the same server or to another of the ensemble, which may negotiate
    another timeout: the last one answered is in force.

    Once started, the watch also sends a read of its own (``exists`` of
    the root node) every :data:`READS_PER_SESSION`-th of the session
    timeout, and reports each one answered on the connection it was sent
    on as a renewal: ``renewed(sent_at, timeout)``. The server cannot
    have heard the read before it was sent, so it cannot end the session
    before ``sent_at + timeout``; a session that ended meanwhile answers
    no read (the server closed its connection). A process that was
    frozen reads no answer before it wakes up, and then only to a read
    sent before the freeze, or after it: it is never credited with the
    time of its wake-up unless the server answered after it.

    :param client: the kazoo client.
    :param requested: the session timeout asked for, in seconds.
    :param masked_url: the backend URL for log lines, secrets masked.
    :param clock: the coordinator's monotonic clock.

    Failure behaviour: a read that fails, or gets no answer within the
    session timeout, renews nothing (logged at DEBUG); the next one is
    sent when it is due. The watch never raises.
    """

    def __init__(self, client, requested, masked_url, clock):
        self.requested = requested
        self._client = client
        self._masked_url = masked_url
        self._clock = clock
        self._lock = threading.Lock()
        self._timeout = None
        self._sent_at = None
        #: Handshakes answered so far: the connection a read was sent on.
        self._handshakes = 0
        self._renewed = None
        self._stopped = threading.Event()
        self._thread = None

    def answered(self, sent_at, timeout_ms):
        """The server answered a handshake sent at *sent_at* (clock time).

        Called in kazoo's connection thread (see
        :func:`~cinder.coordination.internals.watch_kazoo_handshakes`),
        before kazoo reports the connection. A timeout of 0 or less
        means that the session expired, which kazoo reports next:
        nothing is recorded.
        """
        if timeout_ms <= 0:
            return
        timeout = timeout_ms / 1000.0
        with self._lock:
            before, self._timeout = self._timeout, timeout
            self._sent_at = sent_at
            self._handshakes += 1
        if before is not None and timeout != before:
            LOG.warning('The ZooKeeper server of %s negotiated a session '
                        'timeout of %g s at the reconnection (%g s '
                        'before): locks are declared lost on that count '
                        'from now on', self._masked_url, timeout, before)

    @property
    def timeout(self):
        """The session timeout in force (seconds); None before any."""
        with self._lock:
            return self._timeout

    def last_handshake(self):
        """(clock time the last answered handshake was sent, its timeout).

        ``(None, None)`` before the first one.
        """
        with self._lock:
            return self._sent_at, self._timeout

    def interval(self):
        """Seconds between two reads; None before the first handshake."""
        timeout = self.timeout
        return timeout / READS_PER_SESSION if timeout else None

    # The reads.

    def start(self, renewed):
        """Send the reads from a thread of their own.

        :param renewed: ``renewed(sent_at, timeout)``, called with each
            read answered on the connection it was sent on, in the
            watch's thread.
        """
        self._renewed = renewed
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name='cinder-coordination-zookeeper-session')
        self._thread.start()

    def stop(self, timeout=None):
        """Stop the reads; a read waiting for its answer is abandoned."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def read(self):
        """Send one read and wait for its answer; report a renewal.

        :returns: whether the read renewed the session: it was answered,
            on the connection it was sent on.
        """
        with self._lock:
            handshakes, timeout = self._handshakes, self._timeout
        if timeout is None or self._renewed is None:
            return False
        sent_at = self._clock()
        try:
            self._client.exists_async('/').get(timeout=timeout)
        except Exception as e:
            LOG.debug('The read that renews the ZooKeeper session of %s got '
                      'no answer: %s', self._masked_url, type(e).__name__)
            return False
        with self._lock:
            if handshakes != self._handshakes:
                # Answered after a reconnection, which may have negotiated
                # another timeout: its handshake renewed the session.
                return False
        self._renewed(sent_at, timeout)
        return True

    def _run(self):
        # Due on the coordinator's clock, which tests inject: one that
        # stands still gets no read.
        due = self._clock() + self.interval()
        while not self._stopped.wait(
                max(0.0, min(due - self._clock(), self.interval()))):
            if self._clock() < due:
                continue
            due = self._clock() + self.interval()
            try:
                self.read()
            except Exception:
                LOG.exception('Renewing the ZooKeeper session of %s failed',
                              self._masked_url)
