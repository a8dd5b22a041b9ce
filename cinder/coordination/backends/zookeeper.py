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

"""``zookeeper://``: ephemeral nodes of a kazoo session."""

import logging
import socket
import time
import urllib.parse

from kazoo import exceptions as kazoo_exceptions
from kazoo.protocol import paths as kazoo_paths
from kazoo.protocol import states as kazoo_states

from cinder.coordination.backends import base
from cinder.coordination.backends import zookeeper_nodes
from cinder.coordination.backends import zookeeper_session
from cinder.coordination.backends import zookeeper_tokens
from cinder.coordination import bounded
from cinder.coordination import internals

LOG = logging.getLogger('cinder.coordination')


class ZooKeeperBackend(zookeeper_tokens.TokenOffset,
                       zookeeper_nodes.LockNodes, base.Backend):
    """``zookeeper://``: ephemeral sequential nodes of a kazoo session.

    kazoo keeps the session alive, so no Tooz heartbeat runs; a listener
    marks held locks lost when the session expires. While the connection is
    down kazoo blocks non-blocking and blocking acquires without bound,
    so acquire and release run in a helper thread and give up once the
    connection has been down for ``backend_timeout`` seconds *during the
    call*: a call made just after a long outage still gives kazoo that
    long to reconnect, instead of failing at once while the server is
    back. kazoo's own reconnect delay, which doubles up to an hour, is
    bounded by ``initial_reconnect_backoff`` and ``max_reconnect_backoff``.

    Each lock remembers the session it was taken in: the number of
    sessions lost (kazoo's LOST state) so far, counted by the listener. A
    release reports the lock lost if a session was lost since: a session
    that expired while the process was frozen took the lock node with it,
    and kazoo's release does not say so (it ignores a node already gone,
    after it has noticed the expiry and opened a new session). This costs
    no request; a node deleted by hand while the session lives is found by
    the next ownership check, not by the release.

    The session timeout is the one the server negotiated in the last
    handshake, not the one the URL asks for: the server clamps it. The
    :class:`~.zookeeper_session.SessionWatch` reads it, and tells the
    coordinator's fence of each renewal of the session: each handshake
    answered, and a read of its own every third of the session timeout
    (kazoo's pings renew the session too, but say nothing of when they
    were answered). Held locks are declared lost ``[coordination]
    fencing_margin`` before the session can expire on the server, counted
    from when the last renewal was sent, as for a lease backend: a
    partition, a silent server or a frozen process all stop the renewals.

    An ownership check tells a lost lock (its node is gone, or its session
    expired) from one it cannot tell about yet (the read got no answer
    within ``backend_timeout``, or met a dropped connection): only the
    first is a loss for good; the second fails that one check.
    """

    schemes = ('zookeeper', 'kazoo')
    needs_heartbeat = False

    def __init__(self, url, timeout):
        super().__init__(url, timeout)
        self._down_since = None
        #: Sessions lost so far: the session a lock was acquired in.
        self._sessions_lost = 0
        #: id() of each held tooz lock -> _sessions_lost at its acquire.
        self._acquired_in = {}
        #: The negotiated session timeout, once the driver is made.
        self.session = None
        #: The node of the token offset, once started.
        self.offset_path = None

    def before_start(self, options):
        # kazoo retries a lost connection with a delay that doubles up to
        # an hour, so after a long outage it could take that long to come
        # back. Bound it like every other reconnect of this module. The
        # connection handler holds its own copy of the retry policy, made
        # when the client was created; it is read when the client starts.
        internals.check_zookeeper(self.driver, self.probe_lock())
        sleeper = internals.kazoo_retry_sleeper(self.client)
        sleeper.delay = max(options.initial_reconnect_backoff, 0.01)
        sleeper.max_delay = max(options.max_reconnect_backoff, sleeper.delay)
        self.session = zookeeper_session.SessionWatch(
            self.client, self.requested_lease(), self.masked_url,
            self.clock)
        internals.watch_kazoo_handshakes(self.client, self.clock,
                                         self.session.answered)

    def after_start(self, coordinator):
        """Check the negotiated session timeout; watch the session.

        :raises ConfigurationError: no handshake was seen: the installed
            kazoo no longer sends it where
            :func:`~cinder.coordination.internals.watch_kazoo_handshakes`
            looks.
        """
        self._check_negotiated()
        self.offset_path = kazoo_paths.join(
            self.namespace_root(),
            coordinator.prefix + zookeeper_tokens.OFFSET_NAME)

        def listener(state):
            # Runs in kazoo's thread: record and log, never block.
            if state == 'CONNECTED':
                self._down_since = None
                # The handshake of this connection reached the server,
                # which may have negotiated another session timeout.
                coordinator.session_renewed(*self.session.last_handshake())
                LOG.info('Connection to lock backend %s is back',
                         self.masked_url)
            else:
                if self._down_since is None:
                    self._down_since = time.monotonic()
                if state == 'LOST':
                    self._sessions_lost += 1
                    coordinator._on_session_lost(
                        'the ZooKeeper session expired')
                else:
                    LOG.warning('Connection to lock backend %s lost; locks '
                                'held are in doubt until it is back',
                                self.masked_url)
        self.client.add_listener(listener)
        self.session.start(coordinator.session_renewed)

    def before_stop(self):
        if self.session is not None:
            self.session.stop(timeout=self.timeout)

    @property
    def client(self):
        """The kazoo client of the driver."""
        return internals.kazoo_client(self.driver)

    def _check_negotiated(self):
        negotiated = self.session.timeout
        if negotiated is None:
            raise internals.no_handshake_seen()
        requested = self.requested_lease()
        if negotiated != requested:
            LOG.warning('The ZooKeeper server of %s negotiated a session '
                        'timeout of %g s, not the %s s requested: its '
                        'minSessionTimeout and maxSessionTimeout bound it. '
                        'Locks are declared lost on that count.',
                        self.masked_url, negotiated,
                        base.seconds(requested))

    def lease(self):
        """The session timeout in force: the negotiated one, once known."""
        negotiated = self.session.timeout if self.session else None
        return negotiated if negotiated is not None else (
            self.requested_lease())

    def requested_lease(self):
        """The session timeout asked for (Tooz: the URL's ``timeout``)."""
        return getattr(self.driver, 'timeout', None)

    def renewals_reported(self):
        return True

    def silence_before_doubt(self):
        # The watch renews the session every third of its timeout: a
        # deadline that came before the next renewal would declare every
        # lock held longer than that lost.
        lease = self.lease()
        return (lease / zookeeper_session.READS_PER_SESSION if lease
                else None)

    def margin_words(self, left):
        return ('what is left of the %s s session timeout that the server '
                'of %s negotiated (%s s requested) between two of the reads '
                'that renew it' % (
                    base.seconds(self.lease()), self.masked_url,
                    base.seconds(self.requested_lease())))

    def _connection_down_too_long(self, call_start):
        down_since = self._down_since
        return (down_since is not None and
                time.monotonic() - max(down_since, call_start) >
                self.timeout)

    def _guarded(self, what, call, undo=None):
        """Run *call* unless the connection stays down too long."""
        call_start = time.monotonic()
        return bounded.run_bounded(
            what, self, call, undo=undo,
            expired=lambda: self._connection_down_too_long(call_start),
            reason='no connection for more than %s s ([coordination] '
                   'backend_timeout)' % self.timeout)

    def acquire(self, tooz_lock, blocking):
        """Acquire in a helper thread; see :meth:`_guarded`.

        :raises BackendUnavailable: the connection stayed down too long,
            or the session expired during the call (the lock, which kazoo
            may have taken again in the new session, is released).
        """
        what = 'acquiring lock %s' % tooz_lock.name.decode()
        key = id(tooz_lock)

        def acquire_in_one_session():
            session = self._sessions_lost
            if not self._acquire_recreating_parent(tooz_lock, blocking):
                return False
            if session != self._sessions_lost:
                bounded.quietly(tooz_lock.release)
                raise self.unavailable(what, 'the ZooKeeper session '
                                       'expired during the call')
            self._acquired_in[key] = session
            return True

        def undo():
            self._acquired_in.pop(key, None)
            tooz_lock.release()

        return self._guarded(what, acquire_in_one_session, undo=undo)

    def release(self, tooz_lock):
        """Release in a helper thread; see :meth:`_guarded`.

        :returns: False if the lock's session was lost since the acquire:
            the lock was lost (its node went with the session).
        :raises BackendUnavailable: the release got no answer; the lock
            keeps the session it was acquired in, so that a retry
            (:meth:`release_orphan`) can tell whether its node went with
            a lost session, and fails again while it cannot.
        """
        key = id(tooz_lock)
        session = self._acquired_in.pop(key, None)

        def release_in_its_session():
            try:
                released = tooz_lock.release()
            except Exception:
                if session is not None and session != self._sessions_lost:
                    return False   # the node went with its session
                raise
            return released and session == self._sessions_lost

        try:
            return self._guarded(
                'releasing lock %s' % tooz_lock.name.decode(),
                release_in_its_session)
        except Exception:
            if session is not None:
                self._acquired_in[key] = session
            raise

    def is_still_owner(self, tooz_lock):
        """Whether the lock's node is still there, and ours.

        One read, bounded by ``backend_timeout``: while the connection is
        down kazoo holds the read until it is back, so a check made during
        a short outage waits for the reconnection, as acquire and release
        do, instead of waiting without bound.

        :returns: False if the lock is lost: a session was lost since it
            was acquired (known without a request), or its node is gone,
            holds another member's data, or its session has expired.
        :raises BackendUnavailable: it cannot be told yet: the read got no
            answer within ``backend_timeout`` (the connection is down) or
            met a dropped connection. The lock may well still be ours.
        """
        return self._own_node(tooz_lock)[0]

    def _own_node(self, tooz_lock, with_offset=False):
        """(whether the lock's node is ours, its ZnodeStat, the offset)."""
        client = self.client
        kazoo_lock = internals.kazoo_lock(tooz_lock)
        if (self._acquired_in.get(id(tooz_lock)) != self._sessions_lost or
                client.state == kazoo_states.KazooState.LOST or
                not kazoo_lock.is_acquired):
            return False, None, None
        path = kazoo_paths.join(kazoo_lock.path, kazoo_lock.node)
        deadline = time.monotonic() + self.timeout
        node = client.get_async(path)
        offset = client.get_async(self.offset_path) if with_offset else None
        try:
            data, stat = node.get(timeout=self.timeout)
            if offset is not None:
                offset = self._offset(offset, deadline)
        except (kazoo_exceptions.NoNodeError,
                kazoo_exceptions.SessionExpiredError):
            return False, None, None
        except (kazoo_exceptions.ConnectionLoss,
                kazoo_exceptions.ConnectionDropped,
                kazoo_exceptions.OperationTimeoutError,
                client.handler.timeout_exception) as e:
            raise self.unavailable(
                'Checking lock %s' % tooz_lock.name.decode(),
                'cannot tell whether it is still held: %s (the connection '
                'is %s; [coordination] backend_timeout is %s s)' % (
                    type(e).__name__, client.state.lower(), self.timeout))
        return data == kazoo_lock.data, stat, offset

    def probe(self):
        """Open a TCP connection to each server of the URL, in turn.

        kazoo retries a refused connection or an unknown host name until
        its start times out, logging each attempt, so the start alone
        only ever says "timed out". The first server that accepts ends
        the probe (kazoo does the rest, a silent server is its start's
        timeout); if none does, the error of each is raised. The hosts
        are those Tooz gives kazoo: the URL's, then its ``hosts``
        options. A driver other than Tooz's own is not probed.
        """
        from kazoo import hosts as kazoo_hosts
        from tooz.drivers import zookeeper as tooz_zookeeper
        if not isinstance(self.driver, tooz_zookeeper.KazooDriver):
            return
        parts = urllib.parse.urlsplit(self.url)
        hosts = [parts.netloc.rpartition('@')[2]] + urllib.parse.parse_qs(
            parts.query).get('hosts', [])
        addresses, _ = kazoo_hosts.collect_hosts(
            ','.join(h for h in hosts if h) or 'localhost:2181')
        errors = []
        for host, port in addresses:
            try:
                socket.create_connection((host, port),
                                         timeout=self.timeout).close()
                return
            except OSError as e:
                errors.append((host, port, e))
        if len(errors) == 1:
            raise errors[0][2]
        raise ConnectionError('no server of the URL took a connection: %s'
                              % '; '.join('%s:%s: %s' % error
                                          for error in errors)
                              ) from errors[0][2]

    def classify_one(self, error):
        from kazoo.handlers import threading as kazoo_threading
        if isinstance(error, (kazoo_exceptions.AuthFailedError,
                              kazoo_exceptions.NoAuthError)):
            return base.AUTH_FAILED
        if isinstance(error, kazoo_threading.KazooTimeoutError):
            return base.TIMED_OUT
        return super().classify_one(error)
