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

"""``redis://``: leases refreshed by the heartbeat."""

import logging
import threading
import urllib.parse

from oslo_utils import strutils

from cinder.coordination.backends import base
from cinder.coordination import internals

LOG = logging.getLogger('cinder.coordination')

#: Takes the next fencing token, only while the lock is held.
#: KEYS: the lock's key, the counter. ARGV: the lock's token, the
#: highest fencing token this process was given. Returns {0, 0} if the
#: key does not hold the lock's token, else {the new token, 1 if the
#: counter was behind ARGV[2] (so set to it first), else 0}.
_NEXT_TOKEN = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
    return {0, 0}
end
local behind = 0
if tonumber(redis.call('get', KEYS[2]) or '0') < tonumber(ARGV[2]) then
    redis.call('set', KEYS[2], ARGV[2])
    behind = 1
end
return {redis.call('incr', KEYS[2]), behind}
"""
#: Raises the counter to ARGV[1] if it is lower. KEYS: the counter.
#: Returns its value before.
_ADVANCE = """
local current = tonumber(redis.call('get', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then
    redis.call('set', KEYS[1], ARGV[1])
end
return current
"""
#: Whether a lock is still held and what its lease has left, in one step.
#: KEYS: the lock's key. ARGV: the lock's token. Returns {0, 0} if the
#: key does not hold the lock's token, else {1, its PTTL in ms (-1 when
#: it has no expiry)}.
_LEASE_LEFT = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
    return {0, 0}
end
return {1, redis.call('pttl', KEYS[1])}
"""
#: The counter's key, after tooz's namespace and the coordinator's prefix.
#: Lock keys end with ``_lock``: none can be the counter.
TOKEN_KEY = 'fencing-tokens'


class RedisBackend(base.Backend):
    """``redis://``: SET NX PX leases refreshed by the heartbeat.

    redis-py retries a refused connection with backoff and tooz retries
    that 15 times (about a minute in all), so the client is given socket
    timeouts from ``backend_timeout`` and a single try of its own.
    """

    schemes = ('redis', 'rediss')
    #: Query options of the URL that the probe's connection takes too.
    _PROBE_OPTIONS = {'db': int, 'socket_timeout': float,
                      'socket_connect_timeout': float, 'ssl_certfile': str,
                      'ssl_keyfile': str, 'ssl_ca_certs': str}

    def tooz_url(self):
        return self._with_query_defaults(
            socket_timeout=self.timeout, socket_connect_timeout=self.timeout)

    def __init__(self, url, timeout):
        super().__init__(url, timeout)
        self._token_key = None
        self._next_token = None
        self._lease_left = None
        #: The highest fencing token given to this process.
        self._highest_token = 0
        self._highest_lock = threading.Lock()

    def after_start(self, coordinator):
        from redis import backoff
        from redis import retry
        internals.check_redis(self.driver, self.probe_lock())
        client = internals.redis_client(self.driver)
        client.set_retry(retry.Retry(backoff.NoBackoff(), 0))
        self._token_key = b'%s_%s%s' % (
            self.driver.namespace, coordinator.prefix.encode('utf-8'),
            TOKEN_KEY.encode('ascii'))
        self._next_token = client.register_script(_NEXT_TOKEN)
        self._lease_left = client.register_script(_LEASE_LEFT)

    fencing_tokens = True

    def fencing_token(self, tooz_lock):
        """The next value of one counter key, taken only if the lock is ours.

        One script, which Redis runs atomically: if the lock's key still
        holds this lock's token, it increments the counter and returns it.
        The counter is one key for every lock name (tooz's namespace and
        the coordinator's prefix, then ``fencing-tokens``), never given an
        expiry: a counter per name, in the lock's key or beside it, would
        go with the key at each release or expiry and start again at 1.
        Grants of a name never overlap on the server, and each takes its
        token while it holds the key, so a later grant of any name gets a
        greater token.

        The counter is only as durable as the Redis data: a Redis without
        persistence that restarts (or a failover to a replica that had not
        yet received the last increments) starts it again from 0. This
        process then sets it back to the highest token it was given
        before it increments it, and logs a WARNING; a process that never
        saw those tokens cannot, so its tokens can repeat older ones. Run
        Redis with ``appendonly yes`` and ``appendfsync always`` where
        tokens must hold across restarts; :meth:`advance_tokens` puts a
        counter that went back past the tokens on the storage.

        :returns: the token, or None if the lock's key no longer holds
            this lock's token.
        """
        token = internals.redis_lock_token(tooz_lock)
        if not token:
            return None
        highest = self._highest_token
        new, behind = self._next_token(keys=[tooz_lock.name, self._token_key],
                                       args=[token, highest])
        if not new:
            return None
        if behind:
            LOG.warning('The fencing token counter %s of lock backend %s '
                        'was behind the highest token this service was '
                        'given (%d): Redis lost its data (a restart '
                        'without persistence?). It was set back to it; '
                        'tokens given to other services since may repeat '
                        'older ones.', self._token_key.decode('utf-8',
                                                              'replace'),
                        self.masked_url, highest)
        with self._highest_lock:
            self._highest_token = max(self._highest_token, new)
        return new

    def tokens_went_back_causes(self):
        return ('Redis lost the counter key %s: a restart without '
                'persistence, a crash with appendfsync everysec (the last '
                'second of writes), a failover to a replica that had not '
                'received the last increments, an eviction under an '
                'allkeys-* maxmemory-policy, or a FLUSHDB' % (
                    self._token_key.decode('utf-8', 'replace')))

    def advance_tokens(self, past):
        """Raise the counter key to *past*, if it is lower.

        One script, which Redis runs atomically with the increments of
        :meth:`fencing_token`: the next token is greater than *past*.
        """
        client = internals.redis_client(self.driver)
        before = client.register_script(_ADVANCE)(keys=[self._token_key],
                                                  args=[past])
        return base.Advanced('counter key %s' % self._token_key.decode(
            'utf-8', 'replace'), before, max(before, past))

    def renewal_check(self, tooz_lock):
        """Ownership and the PTTL of the lock's key, in one script.

        Tooz's heartbeat renews each lock with its own request and only
        logs one that fails (a timeout, a lost connection): the heartbeat
        as a whole succeeds and the key keeps the expiry of the renewal
        before. The script, which Redis runs atomically, returns whether
        the key still holds this lock's token and, if so, its remaining
        time to live: the key is freed no earlier than that after the
        script was sent, whichever renewal reached the server last. It
        replaces Tooz's ownership check (a GET), in as many round trips.

        :returns: ``(owner, left)``; *left* is infinite for a key
            without expiry (it is not freed by time).
        """
        token = internals.redis_lock_token(tooz_lock)
        if not token:
            return False, None
        owner, pttl = self._lease_left(keys=[tooz_lock.name], args=[token])
        if not owner:
            return False, None
        return True, (pttl / 1000.0 if pttl >= 0 else float('inf'))

    def confirm_lease(self, tooz_lock):
        # The acquire's SET set the lease: reading it is enough.
        return self.renewal_check(tooz_lock)

    def lease(self):
        return getattr(self.driver, 'lock_timeout', None)

    def forget(self, tooz_lock):
        # Tooz's release stops tracking the lock even when the server did
        # not answer (so the heartbeat no longer renews it), but redis-py
        # dropped the lock's token first: the release cannot be tried
        # again, the lease runs out instead.
        return False

    def nothing_to_clean(self):
        # Measured on Redis 7: after a release and a stop no key is left;
        # a killed holder leaves its lock key and its member key, both
        # with an expiry.
        return ('a release deletes the lock\'s key; the lock key of a '
                'holder that died expires %s s after its last heartbeat '
                '(lock_timeout) and its member key after %s s '
                '(membership_timeout)' % (
                    base.seconds(self.lease()),
                    base.seconds(getattr(self.driver, 'membership_timeout',
                                         None))))

    def probe(self):
        """One connection as Tooz's would make it, without retries.

        Tooz retries a failed connection 15 times and redis-py each try
        with backoff, a wrong password included (its AuthenticationError
        is a ConnectionError), so the start alone only ever says "timed
        out". The probe connects once with the URL's host, port or socket
        path, user name and password (as written: Tooz does not decode
        them), database and TLS options, and sends PING. A URL naming
        Sentinels is not probed, nor a driver other than Tooz's own.
        """
        import redis
        from redis import backoff
        from redis import retry
        from tooz.drivers import redis as tooz_redis
        if not isinstance(self.driver, tooz_redis.RedisDriver):
            return
        parts = urllib.parse.urlsplit(self.url)
        options = {k: v[-1] for k, v in urllib.parse.parse_qs(
            parts.query).items()}
        if 'sentinel' in options:
            return
        kwargs = {'username': parts.username or None,
                  'password': parts.password or None,
                  'socket_timeout': self.timeout,
                  'socket_connect_timeout': self.timeout,
                  'retry': retry.Retry(backoff.NoBackoff(), 0)}
        kwargs.update((k, convert(options[k]))
                      for k, convert in self._PROBE_OPTIONS.items()
                      if k in options)
        if parts.hostname:
            kwargs.update(host=parts.hostname, port=parts.port or 6379)
            if strutils.bool_from_string(options.get('ssl', False)):
                cls = redis.SSLConnection
            else:
                cls = redis.Connection
                for k in ('ssl_certfile', 'ssl_keyfile', 'ssl_ca_certs'):
                    kwargs.pop(k, None)
        else:
            cls = redis.UnixDomainSocketConnection
            kwargs['path'] = parts.path
        connection = cls(**kwargs)
        try:
            connection.connect()
            connection.send_command('PING')
            connection.read_response()
        finally:
            connection.disconnect()

    def classify_one(self, error):
        from redis import exceptions as redis_exceptions
        if isinstance(error, redis_exceptions.AuthenticationError):
            return base.AUTH_FAILED
        if isinstance(error, redis_exceptions.ResponseError) and str(
                error).startswith(('NOAUTH', 'WRONGPASS')):
            return base.AUTH_FAILED
        if isinstance(error, redis_exceptions.TimeoutError):
            return base.TIMED_OUT
        return super().classify_one(error)
