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


class SessionWatch(object):
    """The session timeout that the ZooKeeper server negotiated.

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

    :param requested: the session timeout asked for, in seconds.
    :param masked_url: the backend URL for log lines, secrets masked.

    Failure behaviour: none; it records what kazoo was told.
    """

    def __init__(self, requested, masked_url):
        self.requested = requested
        self._masked_url = masked_url
        self._lock = threading.Lock()
        self._timeout = None
        self._sent_at = None

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
