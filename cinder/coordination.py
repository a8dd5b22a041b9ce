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

"""Distributed locks for the volume service, on top of Tooz.

Every lock that guards a volume, a snapshot or a backend resource is taken
through this module, so that several ``cinder-volume`` services on
different hosts can drive one storage backend (Active/Active).

The API
=======

* :data:`COORDINATOR`, the process's :class:`Coordinator`. The volume
  service calls :meth:`Coordinator.start` before its manager starts and
  :meth:`Coordinator.stop` after it stops; both are idempotent.
* :func:`synchronized`, a decorator whose lock names are ``str.format``
  templates over the decorated function's arguments::

      @coordination.synchronized('{volume.id}-delete_volume')
      def delete_volume(self, context, volume): ...

* :meth:`Coordinator.get_lock` returns a :class:`Lock` for code that needs
  the lock object itself; :func:`ensure_locks_held` is the cheap check a
  critical section makes before a destructive or committing step.
* :func:`synchronized_remove` deletes the lock files of deleted resources
  (file backend only).

What each backend guarantees
============================

``file://DIR`` (the default, ``file://$state_path``)
    ``fcntl`` locks on files in ``DIR``. They exclude threads and processes
    **on one host only**: two services on two hosts never see each other's
    locks, whatever ``DIR`` is mounted from. A lock is held until released
    or until its process dies; it cannot be lost otherwise, so no heartbeat
    runs.

``redis://`` and ``etcd3+http://`` (leases)
    A lock is a key with a lease (``lock_timeout``, 30 s by default). The
    heartbeat thread refreshes the leases of held locks every
    ``[coordination] heartbeat`` seconds. If the holder stops refreshing
    (paused process, lost network) or the server forgets the key (a Redis
    restart without persistence), another member can take the lock while
    the first still runs its critical section.

``zookeeper://`` (sessions)
    A lock is an ephemeral node of the client's session; kazoo keeps the
    session alive itself, so no heartbeat thread runs. If the session
    expires (the client was cut off for longer than the session timeout)
    the node is gone and another member can take the lock.

When a lock is lost
===================

Loss is detected, never silent. The heartbeat (and, on ZooKeeper, the
session listener) checks the locks this process holds, marks each lost
lock and logs it at ERROR with its name and how long it had been held.
:func:`ensure_locks_held` then raises :class:`LockLost` synchronously (it
asks the backend, so a loss is seen even between heartbeats), and so does
releasing the lost lock. Code must call it before each step that would do
damage if another member were inside the same critical section, such as
deleting a file of a snapshot chain or committing metadata.

When the lock server is down
============================

Starting the coordinator, acquiring, releasing and heartbeats fail with
:class:`BackendUnavailable`, whose message names ``[coordination]
backend_url`` (password masked), after at most about ``[coordination]
backend_timeout`` seconds. The heartbeat keeps retrying with jittered
exponential backoff between ``initial_reconnect_backoff`` and
``max_reconnect_backoff`` and logs each attempt; :meth:`Coordinator.stop`
interrupts it.
"""

import errno
import fcntl
import functools
import glob
import importlib.metadata
import inspect
import json
import logging
import os
import random
import socket
import string
import threading
import time
import urllib.parse
import uuid

from oslo_config import cfg
import tenacity
import tooz
from tooz import coordination as tooz_coordination

from cinder.common import config

LOG = logging.getLogger(__name__)

coordination_opts = [
    cfg.StrOpt('backend_url',
               default='file://$state_path',
               secret=True,
               help='Tooz URL of the lock backend shared by every '
                    'cinder-volume service of a backend. The default, '
                    'file://$state_path, keeps lock files on this host: '
                    'it is right for one service per backend and wrong '
                    'for Active/Active, where all services must use one '
                    'ZooKeeper (zookeeper://host:2181), Redis '
                    '(redis://:password@host:6379) or etcd '
                    '(etcd3+http://host:2379) deployment. Options of the '
                    'Tooz driver go in the query string, for example '
                    'redis://host:6379?lock_timeout=30.'),
    cfg.FloatOpt('heartbeat',
                 default=1.0,
                 min=0.01,
                 help='Seconds between heartbeats for backends whose locks '
                      'are leases (Redis, etcd, memcached). Each heartbeat '
                      'refreshes the leases of the locks this service holds '
                      'and checks that it still owns them. Keep it well '
                      'below the lease (lock_timeout, 30 s by default). No '
                      'heartbeat runs for the file and ZooKeeper '
                      'backends.'),
    cfg.FloatOpt('initial_reconnect_backoff',
                 default=0.1,
                 min=0.0,
                 help='Seconds to wait before the first retry after the '
                      'lock backend stopped answering. Each further retry '
                      'waits about twice as long, with random jitter, up '
                      'to max_reconnect_backoff.'),
    cfg.FloatOpt('max_reconnect_backoff',
                 default=60.0,
                 min=0.0,
                 help='Longest wait, in seconds, between two retries to '
                      'reach the lock backend. Must not be smaller than '
                      'initial_reconnect_backoff.'),
    cfg.FloatOpt('backend_timeout',
                 default=10.0,
                 min=0.1,
                 help='Seconds a call to the lock backend may take before '
                      'it fails with an error naming backend_url: starting '
                      'the coordinator, each request of an acquire, a '
                      'release, a heartbeat. Waiting for another holder to '
                      'release a lock is not limited by it. Without it a '
                      'stopped Redis takes about a minute to report, and an '
                      'unreachable ZooKeeper blocks forever.'),
    cfg.StrOpt('ledger_file',
               advanced=True,
               help='For validation tools such as cinder-aa-stress, not '
                    'for production: append one JSON line to this file '
                    'when this service enters and when it leaves each '
                    'critical section (lock name, member, process, thread, '
                    'monotonic time, whether the lock was lost), so that '
                    'overlapping sections of several services on one host '
                    'can be found afterwards. Costs one write per acquire '
                    'and per release.'),
]

CONF = cfg.CONF
CONF.register_opts(coordination_opts, group='coordination')


def list_opts():
    """Options of this module, for oslo-config-generator."""
    return [('coordination', coordination_opts)]


# Errors: everything the backends raise is converted at one boundary,
# _Backend.translate(), into one of these.

class CoordinationError(tooz.ToozError):
    """Base class of the errors raised by this module."""


class BackendUnavailable(CoordinationError):
    """The lock backend could not be reached or did not answer in time."""


class LockAcquireFailed(CoordinationError,
                        tooz_coordination.LockAcquireFailed):
    """A non-blocking or timed acquire did not get the lock.

    Raised instead of returning ``False`` on every backend, so code never
    runs without the lock it asked for.
    """


class LockLost(CoordinationError):
    """A lock this process held was taken away or cannot be confirmed."""


class LockNotHeld(CoordinationError):
    """A lock was released (or checked) by someone who does not hold it."""


class LockNameError(CoordinationError, ValueError):
    """A lock name or lock name template is invalid."""


class ConfigurationError(CoordinationError, ValueError):
    """A ``[coordination]`` option has a value that cannot work."""


# Secrets in the backend URL.

_SECRET_QUERY_KEYS = ('password', 'passwd', 'secret', 'token', 'key')


def mask_url(url):
    """Return *url* with its password and secret query values masked.

    ``redis://:pw@host?sentinel_password=x`` becomes
    ``redis://:***@host?sentinel_password=***``. Unparseable input is
    masked whole rather than risked.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostinfo = netloc.rpartition('@')
            user = userinfo.split(':', 1)[0]
            netloc = '%s:***@%s' % (user, hostinfo)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        masked_query = '&'.join(
            '%s=%s' % (k, '***' if _is_secret_key(k) else v)
            for k, v in query)
        return urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path, masked_query, parts.fragment))
    except ValueError:
        return '***'


def _is_secret_key(key):
    key = key.lower()
    return any(word in key for word in _SECRET_QUERY_KEYS)


def _secrets_of(url):
    """The secret fragments of *url*, longest first."""
    try:
        parts = urllib.parse.urlsplit(url)
        found = [parts.password] if parts.password else []
        found += [v for k, v in urllib.parse.parse_qsl(parts.query)
                  if _is_secret_key(k) and v]
    except ValueError:
        return [url]
    # Quoted forms too: a driver may echo the URL as it was written.
    found += [urllib.parse.quote(s, safe='') for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


# Backends: what this module needs to know about each Tooz driver family.

class _Backend(object):
    """A Tooz driver family and its semantics.

    Subclasses state whether locks exclude other hosts, whether they are
    leases that a heartbeat must refresh, how to check ownership and how
    to keep a dead server from hanging the caller.
    """

    schemes = ()
    #: Locks exclude services on other hosts.
    distributed = True
    #: Held locks are leases that the heartbeat must refresh.
    needs_heartbeat = True

    def __init__(self, url, timeout):
        self.url = url
        self.masked_url = mask_url(url)
        self.timeout = timeout
        self.driver = None
        self._secrets = _secrets_of(url)

    # URL and driver.
    def tooz_url(self):
        """The URL given to Tooz, with this module's defaults added."""
        return self.url

    def _with_query_defaults(self, **defaults):
        parts = urllib.parse.urlsplit(self.url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        present = {k for k, _ in query}
        query += [(k, str(v)) for k, v in defaults.items()
                  if k not in present]
        return urllib.parse.urlunsplit(
            parts._replace(query=urllib.parse.urlencode(query)))

    def before_start(self, options):
        """Called with ``[coordination]`` once the driver is created."""

    def after_start(self, coordinator):
        """Called once the driver is started."""

    def lease(self):
        """Seconds a held lock lives without a heartbeat, or None."""
        return None

    # Locks.
    def acquire(self, tooz_lock, blocking):
        return tooz_lock.acquire(blocking=blocking)

    def release(self, tooz_lock):
        return tooz_lock.release()

    def is_still_owner(self, tooz_lock):
        try:
            return tooz_lock.is_still_owner()
        except tooz.NotImplemented:
            return True

    def remove_locks(self, pattern):
        """Delete leftovers of locks matching *pattern*; returns a count."""
        return 0

    # Errors.
    def scrub(self, text):
        """*text* without any secret of the backend URL."""
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, '***')
        return text

    def unavailable(self, what, cause=None):
        detail = ': %s' % self.scrub(cause) if cause is not None else ''
        return BackendUnavailable(
            '%s failed: the lock backend %s ([coordination] backend_url) '
            'did not answer%s' % (what, self.masked_url, detail))

    def translate(self, what, exc):
        """Convert an exception of a driver or client into ours."""
        if isinstance(exc, CoordinationError):
            return exc
        if isinstance(exc, (tooz.ToozError, OSError, TimeoutError)):
            return self.unavailable(what, '%s: %s' % (
                type(exc).__name__, exc))
        name = type(exc).__module__.split('.')[0]
        if name in ('kazoo', 'redis', 'etcd3gw', 'requests', 'pymemcache'):
            return self.unavailable(what, '%s: %s' % (
                type(exc).__name__, exc))
        return exc


class _FileBackend(_Backend):
    """``file://DIR``: fcntl locks, one host only, never lost."""

    schemes = ('file',)
    distributed = False
    needs_heartbeat = False

    #: Paths of the lock files this process holds or is acquiring,
    #: through any coordinator, with how many holders each. fcntl cannot
    #: tell us about our own process's locks, and merely closing a
    #: descriptor of a held lock file drops the lock, so remove_locks()
    #: must not even open these.
    _held_paths = {}
    _held_paths_lock = threading.Lock()

    @property
    def directory(self):
        return urllib.parse.urlsplit(self.url).path

    def acquire(self, tooz_lock, blocking):
        # Counted before the file is touched: remove_locks() in another
        # thread of this process must not open it meanwhile, because
        # closing any descriptor of a file drops the fcntl locks this
        # process holds on it. Tooz names the lock by its absolute,
        # normalized path (os.path.abspath), as remove_locks() does.
        path = tooz_lock.name
        held = self._held_paths
        with self._held_paths_lock:
            held[path] = held.get(path, 0) + 1
        deadline = None
        if blocking is not True and blocking is not False:
            deadline = time.monotonic() + float(blocking)
        got = False
        try:
            got = tooz_lock.acquire(blocking=blocking)
            if got and not self._still_linked(tooz_lock):
                got = self._relock(tooz_lock, blocking, deadline)
        finally:
            if not got:
                self._forget_path(path)
        return got

    def _relock(self, tooz_lock, blocking, deadline):
        """Lock again until the locked file is the one at the path."""
        while True:
            # remove_locks() in another process unlinked the file while
            # this one waited on it: the lock is on a file nobody else
            # will open again. Let go and lock the file now at the path.
            LOG.debug('Lock file %s was removed while waiting for it; '
                      'locking it again', tooz_lock.name)
            tooz_lock.release()
            if deadline is not None:
                blocking = max(0.0, deadline - time.monotonic())
            if not tooz_lock.acquire(blocking=blocking):
                return False
            if self._still_linked(tooz_lock):
                return True

    def _forget_path(self, path):
        held = self._held_paths
        with self._held_paths_lock:
            count = held.get(path, 0) - 1
            if count > 0:
                held[path] = count
            else:
                held.pop(path, None)

    @staticmethod
    def _still_linked(tooz_lock):
        """Is the locked file still linked, so the one at the lock's path?

        remove_locks() only ever unlinks lock files, so a locked file
        whose link count fell to zero is one that a new holder will not
        open again. One fstat() of the open descriptor tells, without a
        look-up of the path.
        """
        try:
            fd = tooz_lock._lock.lockfile.fileno()
        except (AttributeError, ValueError):
            # Not tooz's fasteners-based lock, or no open file: cannot
            # tell.
            return True
        return os.fstat(fd).st_nlink > 0

    def release(self, tooz_lock):
        released = tooz_lock.release()
        self._forget_path(tooz_lock.name)
        return released

    def is_still_owner(self, tooz_lock):
        return bool(tooz_lock.acquired)

    def remove_locks(self, pattern):
        removed = 0
        for path in glob.glob(os.path.join(self.directory, pattern)):
            with self._held_paths_lock:
                if os.path.abspath(path) in self._held_paths:
                    LOG.debug('Not removing lock file %s: this process '
                              'holds it', path)
                    continue
                if _remove_idle_lock_file(path):
                    removed += 1
        return removed


def _remove_idle_lock_file(path):
    """Unlink *path* if no process holds the lock it backs.

    The file is locked (without waiting) while it is unlinked, so a holder
    in another process never loses its lock to the removal; the caller
    skips the files this process holds. A process that opened the file
    before the unlink and locks it afterwards would hold a lock on a
    removed file that nobody else sees; :meth:`_FileBackend.acquire`
    notices (the inode at the path differs) and locks the new file.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EISDIR):
            return False
        raise
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            LOG.debug('Not removing lock file %s: it is in use', path)
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)


class _RedisBackend(_Backend):
    """``redis://``: SET NX PX leases refreshed by the heartbeat.

    redis-py retries a refused connection with backoff and tooz retries
    that 15 times (about a minute in all), so the client is given socket
    timeouts from ``backend_timeout`` and a single try of its own.
    """

    schemes = ('redis', 'rediss')

    def tooz_url(self):
        return self._with_query_defaults(
            socket_timeout=self.timeout, socket_connect_timeout=self.timeout)

    def after_start(self, coordinator):
        from redis import backoff
        from redis import retry
        client = getattr(self.driver, '_client', None)
        if client is not None and hasattr(client, 'set_retry'):
            client.set_retry(retry.Retry(backoff.NoBackoff(), 0))

    def lease(self):
        return getattr(self.driver, 'lock_timeout', None)


class _Etcd3Backend(_Backend):
    """``etcd3+http://``: put-if-absent keys bound to leases.

    Tooz's etcd lock has no ownership check, so one is made here with a
    read-only transaction comparing the key's value with the lock's token.
    """

    schemes = ('etcd3+http', 'etcd3+https')

    def tooz_url(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)
        if 'timeout' in query:
            return self.url
        # tooz uses 'timeout' both as the HTTP timeout and as the default
        # lease; only the first is ours to choose.
        return self._with_query_defaults(timeout=int(max(1, self.timeout)),
                                         lock_timeout=30)

    def lease(self):
        return getattr(self.driver, 'lock_timeout', None)

    def is_still_owner(self, tooz_lock):
        if not tooz_lock.acquired:
            return False
        result = self.driver.client.transaction({
            'compare': [{'key': tooz_lock._key_b64, 'result': 'EQUAL',
                         'target': 'VALUE', 'value': tooz_lock._uuid}],
            'success': [], 'failure': []})
        return bool(result.get('succeeded', False))


class _ZooKeeperBackend(_Backend):
    """``zookeeper://``: ephemeral sequential nodes of a kazoo session.

    kazoo keeps the session alive, so no heartbeat runs; a listener marks
    held locks lost when the session expires. While the connection is
    down kazoo blocks non-blocking and blocking acquires without bound,
    so acquire and release run in a helper thread and give up once the
    connection has been down for ``backend_timeout`` seconds *during the
    call*: a call made just after a long outage still gives kazoo that
    long to reconnect, instead of failing at once while the server is
    back. kazoo's own reconnect delay, which doubles up to an hour, is
    bounded by ``initial_reconnect_backoff`` and ``max_reconnect_backoff``.
    A release first reads the lock node: a session that expired while the
    process was frozen is then reported as a lost lock, even if the
    session listener has not run yet.
    """

    schemes = ('zookeeper', 'kazoo')
    needs_heartbeat = False

    def __init__(self, url, timeout):
        super().__init__(url, timeout)
        self._down_since = None

    def before_start(self, options):
        # kazoo retries a lost connection with a delay that doubles up to
        # an hour, so after a long outage it could take that long to come
        # back. Bound it like every other reconnect of this module. The
        # connection handler holds its own copy of the retry policy, made
        # when the client was created; it is read when the client starts.
        sleeper = self.driver._coord._connection.retry_sleeper
        sleeper.delay = max(options.initial_reconnect_backoff, 0.01)
        sleeper.max_delay = max(options.max_reconnect_backoff, sleeper.delay)

    def after_start(self, coordinator):
        def listener(state):
            # Runs in kazoo's thread: record and log, never block.
            if state == 'CONNECTED':
                self._down_since = None
                LOG.info('Connection to lock backend %s is back',
                         self.masked_url)
            else:
                if self._down_since is None:
                    self._down_since = time.monotonic()
                if state == 'LOST':
                    coordinator._on_session_lost(
                        'the ZooKeeper session expired')
                else:
                    LOG.warning('Connection to lock backend %s lost; locks '
                                'held are in doubt until it is back',
                                self.masked_url)
        self.driver._coord.add_listener(listener)

    def lease(self):
        return getattr(self.driver, 'timeout', None)

    def _connection_down_too_long(self, call_start):
        down_since = self._down_since
        return (down_since is not None and
                time.monotonic() - max(down_since, call_start) >
                self.timeout)

    def _guarded(self, what, call, undo=None):
        """Run *call* unless the connection stays down too long."""
        call_start = time.monotonic()
        return _run_bounded(
            what, self, call, undo=undo,
            expired=lambda: self._connection_down_too_long(call_start),
            reason='no connection for more than %s s ([coordination] '
                   'backend_timeout)' % self.timeout)

    def acquire(self, tooz_lock, blocking):
        return self._guarded('acquiring lock %s' % tooz_lock.name.decode(),
                             lambda: tooz_lock.acquire(blocking=blocking),
                             undo=tooz_lock.release)

    def release(self, tooz_lock):
        def release_if_still_owner():
            # A session that expired while this process was frozen took
            # the lock node with it, and kazoo's release does not notice:
            # ask first (one read), so that the loss is reported.
            try:
                owner = tooz_lock.is_still_owner()
            except Exception:
                owner = False
            if owner:
                return tooz_lock.release()
            try:
                tooz_lock.release()
            except Exception:
                LOG.debug('Releasing lost lock %s', tooz_lock.name,
                          exc_info=True)
            return False

        return self._guarded('releasing lock %s' % tooz_lock.name.decode(),
                             release_if_still_owner)


class _OtherBackend(_Backend):
    """Any other Tooz driver (memcached, mysql, ...): taken as it is."""

    def after_start(self, coordinator):
        self.needs_heartbeat = bool(self.driver.requires_beating)
        LOG.warning('Lock backend %s is not one this service is tested '
                    'with; lock loss may go undetected. ZooKeeper, Redis '
                    'and etcd are.', self.masked_url)

    def lease(self):
        return getattr(self.driver, 'lock_timeout', None)


_BACKENDS = (_FileBackend, _RedisBackend, _Etcd3Backend, _ZooKeeperBackend)


def _installed_tooz_backends():
    return sorted(ep.name for ep in importlib.metadata.entry_points(
        group=tooz_coordination.TOOZ_BACKENDS_NAMESPACE))


def _make_backend(url, timeout):
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        scheme = ''
    installed = _installed_tooz_backends()
    if scheme not in installed:
        raise ConfigurationError(
            '[coordination] backend_url %s: unknown lock backend %r; the '
            'installed Tooz backends are: %s' % (
                mask_url(url), scheme, ', '.join(installed)))
    for cls in _BACKENDS:
        if scheme in cls.schemes:
            return cls(url, timeout)
    return _OtherBackend(url, timeout)


# Backoff for retries of the heartbeat.

class Backoff(tenacity.wait.wait_base):
    """Exponential backoff with jitter, for tenacity.

    Attempt *n* waits a random time between half and all of
    ``initial * 2 ** (n - 1)``, never less than *initial* nor more than
    *maximum*. *rng* is injectable for tests.
    """

    def __init__(self, initial, maximum, rng=None):
        if maximum < initial:
            raise ConfigurationError(
                '[coordination] max_reconnect_backoff (%s) must not be '
                'smaller than initial_reconnect_backoff (%s)' % (
                    maximum, initial))
        self.initial = initial
        self.maximum = maximum
        self.rng = rng or random.Random()

    def delay(self, attempt):
        ceiling = min(self.maximum, self.initial * 2 ** (attempt - 1))
        low = min(max(self.initial, ceiling / 2.0), ceiling)
        return self.rng.uniform(low, ceiling)

    def __call__(self, retry_state):
        return self.delay(retry_state.attempt_number)


class _Heartbeat(object):
    """A native thread that keeps leases alive and checks ownership.

    Each beat refreshes the leases of held locks (Tooz's driver heartbeat)
    and asks the backend whether each held lock is still ours. A failed
    beat is retried with :class:`Backoff` until it succeeds or the
    coordinator stops; :meth:`stop` interrupts the wait at once.
    """

    def __init__(self, coordinator, interval, backoff):
        self._coordinator = coordinator
        self._interval = interval
        self._backoff = backoff
        self._stopped = threading.Event()
        self._thread = None
        self._failures = 0
        self._last_ok = None

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='cinder-coordination-heartbeat')
        self._thread.start()

    def stop(self, timeout=None):
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def _on_failure(self, retry_state):
        self._failures = retry_state.attempt_number
        LOG.warning('Heartbeat to the lock backend failed (attempt %d): %s; '
                    'reconnecting in %.2f s', retry_state.attempt_number,
                    retry_state.outcome.exception(),
                    retry_state.upcoming_sleep)
        self._coordinator._check_lease(self._last_ok)

    def _run(self):
        retrying = tenacity.Retrying(
            wait=self._backoff,
            sleep=self._stopped.wait,
            stop=lambda retry_state: self._stopped.is_set(),
            retry=tenacity.retry_if_exception_type(BackendUnavailable),
            before_sleep=self._on_failure,
            reraise=True)
        self._last_ok = self._coordinator._clock()
        while not self._stopped.wait(self._interval):
            self._failures = 0
            try:
                retrying(self._beat_unless_stopped)
            except BackendUnavailable:
                return  # stopped while retrying
            except Exception:
                LOG.exception('Unexpected error in the lock heartbeat')
                continue
            if self._failures:
                LOG.info('Heartbeat reached the lock backend again after '
                         '%d failed attempt(s)', self._failures)

    def _beat_unless_stopped(self):
        if not self._stopped.is_set():
            self._coordinator._beat()
            self._last_ok = self._coordinator._clock()


# Locks.

_held_by_thread = threading.local()


def _thread_locks():
    try:
        return _held_by_thread.locks
    except AttributeError:
        _held_by_thread.locks = []
        return _held_by_thread.locks


class Lock(object):
    """One named lock of a :class:`Coordinator`.

    Exclusive and not reentrant. :meth:`acquire` returns True or raises:
    :class:`LockAcquireFailed` when a non-blocking or timed attempt misses,
    :class:`BackendUnavailable` when the backend does not answer. Releasing
    a lock that is not held raises :class:`LockNotHeld`; releasing a lock
    that was lost while held raises :class:`LockLost`, because the
    critical section ran partly unprotected.
    """

    def __init__(self, coordinator, name, tooz_lock):
        self.name = name
        self._coordinator = coordinator
        self._tooz_lock = tooz_lock
        self._held_since = None
        self._lost = None
        self._in_ledger = False

    def __repr__(self):
        return '<Lock %s>' % self.name

    @property
    def held(self):
        """True from a successful acquire to its release (even if lost)."""
        return self._held_since is not None

    @property
    def lost(self):
        """Why the lock was lost while held, or None."""
        return self._lost

    def acquire(self, blocking=True):
        """Take the lock.

        :param blocking: True waits as long as another member holds the
            lock; False tries once; a number of seconds waits at most that
            long.
        :returns: True
        :raises LockAcquireFailed: the lock was not taken.
        """
        if self._held_since is not None:
            raise CoordinationError('lock %s is already held by this Lock '
                                    'object; locks are not reentrant'
                                    % self.name)
        if blocking is not True and not isinstance(blocking, bool):
            try:
                blocking = float(blocking)
            except (TypeError, ValueError):
                blocking = -1.0
            if not blocking >= 0:
                raise ValueError('blocking must be True, False or a number '
                                 'of seconds >= 0, not %r' % (blocking,))
        self._coordinator._acquire(self, blocking)
        return True

    def release(self):
        """Give the lock back.

        :raises LockNotHeld: the lock is not held.
        :raises LockLost: the lock was lost while held.
        """
        if self._held_since is None:
            raise LockNotHeld('lock %s is not held' % self.name)
        self._coordinator._release(self)

    def check(self):
        """Ask the backend whether this lock is still ours.

        :raises LockLost: it was lost, or ownership cannot be confirmed.
        :raises LockNotHeld: it was never acquired or was released.
        """
        if self._held_since is None:
            raise LockNotHeld('lock %s is not held' % self.name)
        self._coordinator._check(self)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.release()


def ensure_locks_held(locks=None):
    """Fail unless this thread still owns each lock it holds.

    Call it right before a destructive or committing step of a critical
    section. It asks the backend (one round trip per distributed lock; no
    I/O for file locks), so a lock taken by another member since the last
    heartbeat is seen too.

    :param locks: the :class:`Lock` objects to check; by default every lock
        the calling thread acquired through this module and holds.
    :raises LockLost: a lock was lost or its ownership cannot be confirmed.
    """
    if locks is None:
        mine = _thread_locks()
        mine[:] = [lock for lock in mine if lock.held]
        locks = mine
    for lock in list(locks):
        lock.check()


class _Ledger(object):
    """Append-only record of critical sections, for validation tools.

    Each line is a JSON object: ``t`` (``time.monotonic()``, comparable
    between processes of one host), ``event`` (``enter`` right after an
    acquire, ``exit`` right before the release, both inside the critical
    section), ``lock``, ``member``, ``pid``, ``thread``, on ``enter``
    ``waited`` (seconds the acquire took) and, on ``exit``,
    ``lost`` (the reason the lock was lost, or null). A loss found after
    the ``exit`` line was written (by the release itself, or by the
    heartbeat just before it) adds a third line, ``lost``: the section
    before it was not protected to its end. One ``os.write`` of
    one line on a file opened with ``O_APPEND``, so lines of several
    processes never interleave.
    """

    def __init__(self, path, member_id, clock=time.monotonic):
        self.path = path
        self.member_id = member_id
        self._clock = clock
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                           0o600)

    def record(self, event, lock_name, lost=None, waited=None):
        entry = {'t': self._clock(), 'event': event, 'lock': lock_name,
                 'member': self.member_id, 'pid': os.getpid(),
                 'thread': threading.get_ident()}
        if event == 'enter':
            entry['waited'] = waited
        else:
            entry['lost'] = lost
        os.write(self._fd, (json.dumps(entry) + '\n').encode('utf-8'))

    def close(self):
        os.close(self._fd)


class Coordinator(object):
    """The process's connection to the lock backend.

    :param member_id: this member's id at the backend (ASCII); by default
        ``<hostname>-<pid>-<random>``.
    :param prefix: prepended to every lock name.
    :param conf: the oslo.config object holding ``[coordination]``.
    :param clock: a monotonic clock, for tests.
    :param rng: a random.Random for the backoff jitter, for tests.
    """

    def __init__(self, member_id=None, prefix='cinder-', conf=None,
                 clock=time.monotonic, rng=None):
        self.member_id = member_id
        self.prefix = prefix
        self.conf = conf if conf is not None else CONF
        self.conf.register_opts(config.global_opts)
        self.conf.register_opts(coordination_opts, group='coordination')
        self._clock = clock
        self._rng = rng
        self._state_lock = threading.RLock()
        self._backend = None
        self._heartbeat = None
        self._held = set()
        self._held_lock = threading.Lock()
        self._ledger = None

    # Lifecycle.

    @property
    def started(self):
        return self._backend is not None

    @property
    def backend(self):
        """The started backend (its URL, semantics), or None."""
        return self._backend

    def start(self):
        """Connect to the backend; do nothing if already started.

        :raises ConfigurationError: an option is invalid.
        :raises BackendUnavailable: the backend did not answer within
            ``[coordination] backend_timeout`` seconds.
        """
        with self._state_lock:
            if self._backend is not None:
                return
            opts = self.conf.coordination
            backoff = Backoff(opts.initial_reconnect_backoff,
                              opts.max_reconnect_backoff, self._rng)
            backend = _make_backend(opts.backend_url, opts.backend_timeout)
            member_id = self.member_id or '%s-%d-%s' % (
                socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8])
            ledger = None
            if opts.ledger_file:
                try:
                    ledger = _Ledger(opts.ledger_file, member_id,
                                     self._clock)
                except OSError as e:
                    raise ConfigurationError(
                        '[coordination] ledger_file = %s cannot be opened: '
                        '%s' % (opts.ledger_file, e)) from None
            try:
                self._start_driver(backend, member_id.encode('ascii'))
            except Exception:
                if ledger is not None:
                    ledger.close()
                raise
            self._ledger = ledger
            self._backend = backend
            self._held = set()
            lease = backend.lease()
            if (backend.needs_heartbeat and lease and
                    opts.heartbeat * 3 > lease):
                LOG.warning('[coordination] heartbeat (%s s) should be a '
                            'third of the lock lease (%s s) or less',
                            opts.heartbeat, lease)
            if backend.needs_heartbeat:
                self._heartbeat = _Heartbeat(self, opts.heartbeat, backoff)
                self._heartbeat.start()
            LOG.info('Coordinator started: lock backend %s, member %s, '
                     'locks exclude %s, heartbeat %s',
                     backend.masked_url, member_id,
                     'services on all hosts' if backend.distributed
                     else 'services on this host only',
                     'every %s s' % opts.heartbeat
                     if backend.needs_heartbeat else 'not needed')

    def _start_driver(self, backend, member_id):
        try:
            driver = tooz_coordination.get_coordinator(
                backend.tooz_url(), member_id)
        except Exception as e:
            raise ConfigurationError(
                '[coordination] backend_url %s: %s' % (
                    backend.masked_url, backend.scrub(e))) from None
        backend.driver = driver
        backend.before_start(self.conf.coordination)
        try:
            _run_bounded('Starting the coordinator', backend,
                         lambda: driver.start(start_heart=False) or True,
                         undo=driver.stop)
        except Exception as e:
            raise backend.translate('Starting the coordinator', e) from None
        try:
            backend.after_start(self)
        except Exception:
            _quietly(driver.stop)
            raise

    def stop(self):
        """Disconnect; do nothing if not started.

        Locks still held are released by the driver and marked lost, so
        their holders fail instead of carrying on unprotected.
        """
        with self._state_lock:
            backend = self._backend
            if backend is None:
                return
            if self._heartbeat is not None:
                self._heartbeat.stop(timeout=backend.timeout)
                self._heartbeat = None
            self._on_session_lost('the coordinator was stopped')
            ledger, self._ledger = self._ledger, None
            if ledger is not None:
                with self._held_lock:
                    held = list(self._held)
                for lock in held:
                    self._ledger_exit(lock, ledger)
                ledger.close()
            self._backend = None
            try:
                _run_bounded('Stopping the coordinator', backend,
                             backend.driver.stop)
            except Exception as e:
                LOG.warning('%s', backend.translate(
                    'Stopping the coordinator', e))
            LOG.info('Coordinator stopped (lock backend %s)',
                     backend.masked_url)

    # Locks.

    def get_lock(self, name):
        """Return the :class:`Lock` called *name* (prefix added)."""
        backend = self._backend
        if backend is None:
            raise CoordinationError(
                'the coordinator is not started; cinder-volume starts it, '
                'other programs must call start() first')
        if not isinstance(name, str) or not name or '\0' in name:
            raise LockNameError('invalid lock name %r' % (name,))
        full_name = self.prefix + name
        try:
            tooz_lock = backend.driver.get_lock(full_name.encode('utf-8'))
        except ValueError as e:
            raise LockNameError('invalid lock name %r: %s' % (
                full_name, e)) from None
        return Lock(self, full_name, tooz_lock)

    def remove_lock(self, glob_name):
        """Delete lock files matching *glob_name* (file backend only).

        Locks in use are left alone. Returns how many were removed.
        """
        backend = self._backend
        if backend is None:
            raise CoordinationError('the coordinator is not started')
        removed = backend.remove_locks(self.prefix + glob_name)
        LOG.debug('Removed %d lock file(s) matching %s', removed, glob_name)
        return removed

    def _acquire(self, lock, blocking):
        backend = self._backend
        if backend is None:
            raise CoordinationError('the coordinator was stopped; lock %s '
                                    'cannot be acquired' % lock.name)
        debug = LOG.isEnabledFor(logging.DEBUG)
        if debug:
            LOG.debug('Acquiring lock "%s"', lock.name)
        start = self._clock()
        try:
            got = backend.acquire(lock._tooz_lock, blocking)
        except Exception as e:
            if _is_acquire_timeout(e):
                got = False
            else:
                raise backend.translate(
                    'Acquiring lock %s' % lock.name, e) from None
        if not got:
            raise LockAcquireFailed(
                'lock %s is held by another holder (blocking=%r)' % (
                    lock.name, blocking))
        now = self._clock()
        lock._held_since = now
        lock._lost = None
        with self._held_lock:
            self._held.add(lock)
        try:
            _held_by_thread.locks.append(lock)
        except AttributeError:
            _held_by_thread.locks = [lock]
        ledger = self._ledger
        if ledger is not None:
            lock._in_ledger = True
            self._ledger_record(ledger, 'enter', lock.name,
                                waited=now - start)
        if debug:
            LOG.debug('Acquired lock "%s" :: waited %.3fs', lock.name,
                      now - start)

    def _ledger_record(self, ledger, event, name, lost=None, waited=None):
        try:
            ledger.record(event, name, lost, waited)
        except OSError as e:
            LOG.warning('Cannot append to [coordination] ledger_file %s: %s',
                        ledger.path, e)

    def _ledger_exit(self, lock, ledger):
        if lock._in_ledger:
            lock._in_ledger = False
            self._ledger_record(ledger, 'exit', lock.name, lock._lost)

    def _release(self, lock):
        ledger = self._ledger
        recorded_clean = False
        if ledger is not None:
            # Still inside the critical section: the next holder's "enter"
            # is always later than this "exit".
            recorded_clean = lock._in_ledger and lock._lost is None
            self._ledger_exit(lock, ledger)
        backend = self._backend
        held = self._clock() - lock._held_since
        with self._held_lock:
            self._held.discard(lock)
        try:
            _held_by_thread.locks.remove(lock)
        except (AttributeError, ValueError):
            pass  # released by another thread than its acquirer
        lock._held_since = None
        lost = lock._lost
        if backend is None:
            lost = lost or 'the coordinator was stopped while it was held'
        elif lost is not None:
            # Still tell the driver, so it stops refreshing the lease.
            try:
                backend.release(lock._tooz_lock)
            except Exception:
                LOG.debug('Releasing lost lock %s', lock.name, exc_info=True)
        else:
            try:
                released = backend.release(lock._tooz_lock)
            except Exception as e:
                raise backend.translate(
                    'Releasing lock %s' % lock.name, e) from None
            if not released:
                lost = 'the backend no longer had it at release'
                self._log_lost(lock.name, held, lost)
        if lost is not None and recorded_clean:
            # Found out after the "exit" line (at release, or by the
            # heartbeat in between): the section was not protected.
            self._ledger_record(ledger, 'lost', lock.name, lost)
        if lost is not None:
            raise LockLost('lock %s was lost while held for %.3fs: %s' % (
                lock.name, held, lost))
        LOG.debug('Released lock "%s" :: held %.3fs', lock.name, held)

    def _check(self, lock):
        if lock._lost is None:
            backend = self._backend
            if backend is None:
                self._mark_lost(lock, 'the coordinator was stopped')
            else:
                try:
                    owner = backend.is_still_owner(lock._tooz_lock)
                except Exception as e:
                    raise LockLost(
                        'ownership of lock %s cannot be confirmed: %s' % (
                            lock.name, backend.translate('Checking', e)))
                if not owner:
                    self._mark_lost(lock, 'another member may hold it')
        if lock._lost is not None:
            raise LockLost('lock %s was lost after %.3fs: %s' % (
                lock.name, self._clock() - lock._held_since, lock._lost))

    def ensure_locks_held(self):
        """Check every lock this coordinator holds (any thread)."""
        with self._held_lock:
            held = list(self._held)
        ensure_locks_held(held)

    # Loss detection.

    def _mark_lost(self, lock, reason):
        if lock._lost is None and lock._held_since is not None:
            lock._lost = reason
            self._log_lost(lock.name, self._clock() - lock._held_since,
                           reason)

    @staticmethod
    def _log_lost(name, held, reason):
        LOG.error('Lock "%s" was LOST after being held for %.3fs: %s. '
                  'Another service may be running the same critical '
                  'section.', name, held, reason)

    def _on_session_lost(self, reason):
        with self._held_lock:
            held = list(self._held)
        for lock in held:
            self._mark_lost(lock, reason)

    def _check_lease(self, last_ok):
        """Mark held locks lost once the last good beat is a lease ago."""
        backend = self._backend
        lease = backend.lease() if backend is not None else None
        if lease and last_ok is not None:
            silent = self._clock() - last_ok
            if silent > lease:
                self._on_session_lost(
                    'no heartbeat reached the backend for %.1fs, longer '
                    'than the %s s lock lease' % (silent, lease))

    def _beat(self):
        """One heartbeat: refresh leases, then check each held lock."""
        backend = self._backend
        if backend is None:
            return
        try:
            backend.driver.heartbeat()
        except Exception as e:
            raise backend.translate('Heartbeat', e) from None
        with self._held_lock:
            held = list(self._held)
        for lock in held:
            if lock._lost is not None:
                continue
            try:
                owner = backend.is_still_owner(lock._tooz_lock)
            except Exception as e:
                raise backend.translate('Heartbeat', e) from None
            if not owner:
                self._mark_lost(lock, 'another member may hold it')


def _is_acquire_timeout(exc):
    """Whether *exc* is a driver's way of saying "not acquired in time"."""
    if isinstance(exc, tenacity.RetryError):
        return True
    cls = type(exc)
    return cls.__name__ == 'LockTimeout' and cls.__module__.startswith(
        'kazoo')


def _run_bounded(what, backend, call, undo=None, expired=None,
                 reason=None):
    """Run *call* in a helper thread so a dead backend cannot hang us.

    The caller gives up with BackendUnavailable once *expired()* is true
    (by default: after ``backend_timeout`` seconds); the call goes on in
    its daemon thread and, if it then succeeds, *undo* runs.
    """
    outcome = {}
    done = threading.Event()
    abandoned = threading.Event()

    def run():
        try:
            outcome['value'] = call()
            outcome['ok'] = True
        except Exception as e:
            outcome['error'] = e
        done.set()
        if abandoned.is_set() and outcome.get('value') and undo is not None:
            _quietly(undo)

    if expired is None:
        deadline = time.monotonic() + backend.timeout

        def expired():
            return time.monotonic() >= deadline
        reason = 'no answer within %s s ([coordination] backend_timeout)' % (
            backend.timeout)
    threading.Thread(target=run, daemon=True,
                     name='cinder-coordination-call').start()
    poll = min(0.5, backend.timeout / 4.0)
    while not done.wait(poll):
        if expired():
            abandoned.set()
            if not done.is_set():
                raise backend.unavailable(what, reason)
            break
    if 'error' in outcome:
        raise outcome['error']
    return outcome.get('value')


def _quietly(fn):
    try:
        fn()
    except Exception:
        LOG.debug('Ignored error from %s', fn, exc_info=True)


COORDINATOR = Coordinator(prefix='cinder-')


# The decorator.

class _Template(object):
    """A lock name template checked against the function it decorates."""

    _formatter = string.Formatter()

    def __init__(self, template, func, params, var_keyword):
        self.template = template
        self.func = func
        try:
            parsed = list(self._formatter.parse(template))
        except ValueError as e:
            raise LockNameError('lock name template %r of %s: %s' % (
                template, _qualname(func), e)) from None
        fields = [f for _, f, _, _ in parsed if f is not None]
        #: A field inside a format spec ("{size:{width}}") names an
        #: argument too; only a full bind of the call provides it.
        self.nested = any('{' in (spec or '') for _, _, spec, _ in parsed)
        roots = set()
        for field in fields:
            root = field.split('.', 1)[0].split('[', 1)[0]
            if not root or root.isdigit():
                raise LockNameError(
                    'lock name template %r of %s: positional field {%s}; '
                    'name an argument instead' % (
                        template, _qualname(func), field))
            roots.add(root)
        unknown = roots - set(params) - {'f_name'}
        if unknown and not var_keyword:
            raise LockNameError(
                'lock name template %r names %s, which %s does not take '
                '(its arguments: %s)' % (
                    template, ', '.join(sorted(unknown)), _qualname(func),
                    ', '.join(params) or 'none'))
        self.roots = roots
        self.static = not roots

    def render(self, values):
        if self.static:
            return self.template
        try:
            # What string.Formatter().vformat() does, in C.
            return self.template.format_map(values)
        except (KeyError, AttributeError, IndexError, TypeError) as e:
            raise LockNameError(
                'lock name template %r of %s cannot be rendered for this '
                'call: %s: %s' % (self.template, _qualname(self.func),
                                  type(e).__name__, e)) from None


class _Arguments(object):
    """The values a decorated function's lock names are rendered from.

    ``inspect.Signature.bind()`` costs more than a local lock cycle, so
    for the common signature (positional-or-keyword parameters only, no
    field in a format spec) the arguments the templates name are picked
    from the call directly. Any call that this shortcut cannot prove
    well-formed (too many arguments, an unknown or repeated keyword, a
    required argument missing) goes through ``bind()``, which raises the
    same ``TypeError`` as before, before any lock is taken.
    """

    def __init__(self, func, signature, var_keyword, templates):
        self._func = func
        self._signature = signature
        self._var_keyword = var_keyword
        parameters = list(signature.parameters.values())
        self._fast = (not any(t.nested for t in templates) and all(
            p.kind == p.POSITIONAL_OR_KEYWORD for p in parameters))
        if not self._fast:
            return
        self._names = [p.name for p in parameters]
        self._positions = {p.name: i for i, p in enumerate(parameters)}
        self._required = sum(1 for p in parameters if p.default is p.empty)
        roots = set().union(*(t.roots for t in templates)) - {'f_name'}
        self._roots = [(name, self._positions[name],
                        signature.parameters[name].default)
                       for name in sorted(roots)]

    def values(self, args, kwargs):
        if self._fast:
            count = len(args)
            ok = count <= len(self._names)
            if ok and kwargs:
                positions = self._positions
                for name in kwargs:
                    position = positions.get(name)
                    if position is None or position < count:
                        ok = False
                        break
            if ok and count < self._required:
                ok = all(name in kwargs
                         for name in self._names[count:self._required])
            if ok:
                values = {'f_name': self._func.__name__}
                for name, position, default in self._roots:
                    if position < count:
                        values[name] = args[position]
                    else:
                        values[name] = kwargs.get(name, default)
                return values
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        if self._var_keyword:
            values = dict(values)
            values.update(values.pop(self._var_keyword, {}))
        values['f_name'] = self._func.__name__
        return values


def _qualname(func):
    return '%s.%s()' % (func.__module__, func.__qualname__)


def synchronized(*lock_names, blocking=True, coordinator=None):
    """Run the decorated function holding every lock in *lock_names*.

    Each name is a ``str.format`` template over the function's arguments
    (defaults included) with attribute and item access, plus ``{f_name}``
    for the function's name::

        @synchronized('{self.driver_prefix}-{volume.id}')
        @synchronized('{snapshot.volume.id}', '{snapshot.id}-delete')

    The rendered names are de-duplicated, acquired in sorted order (so two
    callers never deadlock on the same pair) and released in reverse.

    :param blocking: as for :meth:`Lock.acquire`; when it is not True a
        miss raises :class:`LockAcquireFailed` and the function does not
        run.
    :param coordinator: defaults to :data:`COORDINATOR` at call time.
    :raises LockNameError: at decoration, a template names an argument the
        function does not have; at call, a template cannot be rendered.
    """
    if not lock_names:
        raise LockNameError('synchronized() needs at least one lock name')

    def decorator(func):
        signature = inspect.signature(func)
        params = [n for n, p in signature.parameters.items()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        var_keyword = next((n for n, p in signature.parameters.items()
                            if p.kind == p.VAR_KEYWORD), None)
        templates = [_Template(t, func, params, var_keyword)
                     for t in lock_names]
        static_names = None
        if all(t.static for t in templates):
            static_names = sorted({t.template for t in templates})
        arguments = _Arguments(func, signature, var_keyword, templates)
        single = templates[0] if len(templates) == 1 else None

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if static_names is not None:
                names = static_names
            elif single is not None:
                names = (single.render(arguments.values(args, kwargs)),)
            else:
                values = arguments.values(args, kwargs)
                names = sorted({t.render(values) for t in templates})
            coord = coordinator if coordinator is not None else COORDINATOR
            if len(names) == 1:
                lock = coord.get_lock(names[0])
                lock.acquire(blocking)
                try:
                    return func(*args, **kwargs)
                finally:
                    lock.release()
            locks = [coord.get_lock(name) for name in names]
            acquired = []
            try:
                for lock in locks:
                    lock.acquire(blocking)
                    acquired.append(lock)
                return func(*args, **kwargs)
            finally:
                _release_all(reversed(acquired))

        return wrapper

    return decorator


def _release_all(locks):
    """Release *locks* in order; every one is tried, the first error wins."""
    error = None
    for lock in locks:
        try:
            lock.release()
        except Exception as e:
            error = error or e
    if error is not None:
        raise error


def synchronized_remove(glob_name, coordinator=None):
    """Delete the lock files matching *glob_name* (file backend only).

    For locks of resources that no longer exist, for example
    ``synchronized_remove(volume.id + '-*')`` after a volume is deleted.
    """
    coord = coordinator if coordinator is not None else COORDINATOR
    return coord.remove_lock(glob_name)
