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

"""Every private attribute of a library that the lock layer reads.

Tooz exposes no public way to do some of what this layer promises: tell
that a locked file is still the one at its path, bound the Redis client's
retries, check the ownership of an etcd lock, stop renewing a lock whose
release failed, listen to the ZooKeeper session and read the session
timeout that its server negotiated, take a Redis fencing token only while
the lock is held. Where nothing public serves, the attribute is reached
here, and nowhere else:

* :data:`INTERNALS` lists each one, with why it is needed and what tooz
  (or the library) could offer instead; the contributor guide's page
  *Library internals* lists the same, as candidates for upstreaming (a
  unit test keeps the two in step);
* ``check_<backend>()`` runs when the coordinator starts, on the driver
  in use and a lock it made, and fails with a
  :class:`~.exceptions.ConfigurationError` naming the library, its
  version and the attribute, so that a library upgrade that moves one is
  found at start, never in the middle of a critical section;
* the accessors below read them on the hot path, without checks: the
  check at start has vouched for them.
"""

import collections
import importlib.metadata

from cinder.coordination import exceptions

Internal = collections.namedtuple(
    'Internal', 'backend library owner attribute purpose upstream')

INTERNALS = (
    Internal('file', 'tooz', 'tooz.drivers.file.FileLock', '_lock',
             'the fasteners lock, whose open file is fstat()ed right after '
             'locking, to see that housekeeping did not unlink it',
             'a FileLock method telling whether the locked file is still '
             'linked at its path'),
    Internal('file', 'fasteners', 'fasteners.InterProcessLock', 'lockfile',
             'the open file of a held lock (its descriptor)',
             '(reached through tooz; see above)'),
    Internal('file', 'tooz', 'tooz.drivers.file.FileLock', '_barrier',
             'the barrier the locks of one path share in a process (its '
             'condition and owner): housekeeping opens a lock file only '
             'under it, and only while no thread of this process holds or '
             'is acquiring the lock, because closing any descriptor of a '
             'file drops the process\'s fcntl locks on it',
             'a FileDriver method that removes a lock file only while no '
             'lock of the process uses it'),
    Internal('redis', 'tooz', 'tooz.drivers.redis.RedisDriver', '_client',
             'the redis-py client, whose own retries are turned off so '
             'that a dead server is reported within backend_timeout',
             'a driver option for the client\'s retry policy'),
    Internal('redis', 'tooz', 'tooz.drivers.redis.RedisLock', '_lock',
             'the redis-py lock, whose token (its local.token) the script '
             'that takes a fencing token compares with the lock\'s key',
             'a RedisLock method giving the lock\'s token, or running a '
             'script only while the lock is held'),
    Internal('etcd', 'tooz', 'tooz.drivers.etcd3gw.Etcd3Lock', '_key_b64',
             'the lock\'s key, to check ownership and to delete the key of '
             'a lock whose release failed',
             'Etcd3Lock.is_still_owner(), which tooz does not implement'),
    Internal('etcd', 'tooz', 'tooz.drivers.etcd3gw.Etcd3Lock', '_uuid',
             'the lock\'s token, compared with the key\'s value',
             '(as above)'),
    Internal('etcd', 'tooz', 'tooz.drivers.etcd3gw.Etcd3Driver',
             '_acquired_locks',
             'the locks the heartbeat renews, from which a lock whose '
             'release failed is dropped',
             'a release that stops renewing the lease even when the '
             'server does not answer, as the Redis driver\'s does'),
    Internal('zookeeper', 'tooz', 'tooz.drivers.zookeeper.KazooDriver',
             '_coord',
             'the kazoo client: its session listener, its state and the '
             'reads of ownership checks and housekeeping',
             'a driver method to add a session listener, and '
             'ZooKeeperLock.is_still_owner() that tells "cannot tell" '
             'from "lost"'),
    Internal('zookeeper', 'kazoo', 'kazoo.client.KazooClient',
             '_connection',
             'the connection handler, whose reconnect delay (doubling up '
             'to an hour) is bounded by max_reconnect_backoff',
             'a KazooClient option for the connection retry\'s maximum '
             'delay that the handler honours'),
    Internal('zookeeper', 'kazoo',
             'kazoo.protocol.connection.ConnectionHandler', '_invoke',
             'the session handshake, wrapped to read the session timeout '
             'that the server negotiated (it clamps the one asked for '
             'between its minSessionTimeout and maxSessionTimeout), which '
             'is the lease of the locks for the self-fencing deadline',
             'a KazooClient property giving the negotiated session '
             'timeout'),
    Internal('zookeeper', 'tooz', 'tooz.drivers.zookeeper.ZooKeeperLock',
             '_lock',
             'the kazoo Lock recipe: its node, data and state, for the '
             'ownership check',
             '(as for _coord)'),
)


def _version(library):
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return '(not installed)'


def _reach(obj, internal):
    """``obj.<internal.attribute>``, or a clear error at start."""
    try:
        return getattr(obj, internal.attribute)
    except AttributeError:
        raise exceptions.ConfigurationError(
            '%s %s cannot be used with the %s lock backend: %s has no '
            'attribute %r, which cinder.coordination reads for %s. Install '
            'the version requirements.txt names.' % (
                internal.library, _version(internal.library),
                internal.backend, internal.owner, internal.attribute,
                internal.purpose)) from None


def _internal(backend, attribute):
    for internal in INTERNALS:
        if internal.backend == backend and internal.attribute == attribute:
            return internal
    raise KeyError((backend, attribute))


# Checks, run once at start.

def check_file(probe_lock):
    """:raises ConfigurationError: the file lock's internals moved."""
    process_lock = _reach(probe_lock, _internal('file', '_lock'))
    _reach(process_lock, _internal('file', 'lockfile'))
    barrier = _reach(probe_lock, _internal('file', '_barrier'))
    missing = [name for name in ('cond', 'owner')
               if not hasattr(barrier, name)]
    if missing:
        raise exceptions.ConfigurationError(
            'tooz %s cannot be used with the file lock backend: the barrier '
            'of its FileLock has no %s' % (_version('tooz'),
                                           ', '.join(missing)))


def check_redis(driver, probe_lock):
    """:raises ConfigurationError: the Redis driver's internals moved."""
    _reach(driver, _internal('redis', '_client'))
    redis_lock = _reach(probe_lock, _internal('redis', '_lock'))
    if not hasattr(getattr(redis_lock, 'local', None), 'token'):
        raise exceptions.ConfigurationError(
            'redis %s cannot be used with the redis lock backend: its Lock '
            'keeps no local.token, which cinder.coordination compares with '
            'the lock\'s key for fencing tokens' % _version('redis'))


def check_etcd(driver, probe_lock):
    """:raises ConfigurationError: the etcd driver's internals moved."""
    _reach(probe_lock, _internal('etcd', '_key_b64'))
    _reach(probe_lock, _internal('etcd', '_uuid'))
    _reach(driver, _internal('etcd', '_acquired_locks'))


def check_zookeeper(driver, probe_lock):
    """:raises ConfigurationError: the ZooKeeper driver's internals moved."""
    client = _reach(driver, _internal('zookeeper', '_coord'))
    connection = _reach(client, _internal('zookeeper', '_connection'))
    if not hasattr(connection, 'retry_sleeper'):
        raise exceptions.ConfigurationError(
            'kazoo %s cannot be used with the zookeeper lock backend: its '
            'connection handler has no retry_sleeper, whose delay '
            'cinder.coordination bounds' % _version('kazoo'))
    if not callable(_reach(connection, _internal('zookeeper', '_invoke'))):
        raise exceptions.ConfigurationError(
            'kazoo %s cannot be used with the zookeeper lock backend: the '
            '_invoke of its connection handler, which sends the session '
            'handshake, is no method' % _version('kazoo'))
    kazoo_lock = _reach(probe_lock, _internal('zookeeper', '_lock'))
    missing = [name for name in ('path', 'node', 'data', 'is_acquired')
               if not hasattr(kazoo_lock, name)]
    if missing:
        raise exceptions.ConfigurationError(
            'tooz %s cannot be used with the zookeeper lock backend: the '
            'kazoo lock of its ZooKeeperLock has no %s' % (
                _version('tooz'), ', '.join(missing)))


# Accessors, on the hot path: vouched for by the checks.

def locked_file(tooz_lock):
    """The open file of a held tooz file lock (None if not open)."""
    return tooz_lock._lock.lockfile


def file_barrier(tooz_lock):
    """The barrier (``cond``, ``owner``) of a tooz file lock's path."""
    return tooz_lock._barrier


def redis_client(driver):
    return driver._client


def redis_lock_token(tooz_lock):
    """The token of a tooz Redis lock (bytes), None when not held."""
    return tooz_lock._lock.local.token


def etcd_key_and_token(tooz_lock):
    return tooz_lock._key_b64, tooz_lock._uuid


def etcd_renewed_locks(driver):
    return driver._acquired_locks


def kazoo_client(driver):
    return driver._coord


def kazoo_retry_sleeper(client):
    return client._connection.retry_sleeper


def kazoo_lock(tooz_lock):
    return tooz_lock._lock


def watch_kazoo_handshakes(client, clock, answered):
    """Call ``answered(sent_at, timeout_ms)`` after each handshake.

    Of each session handshake of the kazoo *client* that the server
    answered: *sent_at* is the *clock* time at which it was sent,
    *timeout_ms* the session timeout of the answer (0 or less: the
    session expired). Called in kazoo's connection thread, before kazoo
    reports the connection (CONNECTED) to its listeners; whatever
    *answered* raises fails the connection attempt, which kazoo retries.
    """
    from kazoo.protocol import serialization

    connection = client._connection
    invoke = connection._invoke

    def invoke_and_watch(timeout, request, xid=None):
        sent_at = clock()
        answer = invoke(timeout, request, xid)
        if isinstance(request, serialization.Connect):
            answered(sent_at, answer[0].time_out)
        return answer

    connection._invoke = invoke_and_watch


def no_handshake_seen():
    """The error to raise when :func:`watch_kazoo_handshakes` saw none.

    Though the driver started: the installed kazoo sends its handshake
    some other way.
    """
    return exceptions.ConfigurationError(
        'kazoo %s cannot be used with the zookeeper lock backend: no '
        'session handshake went through the _invoke of its connection '
        'handler, where cinder.coordination reads the session timeout '
        'that the server negotiated' % _version('kazoo'))
