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

"""The process's connection to the lock backend: :class:`Coordinator`."""

import logging
import os
import socket
import threading
import time
import uuid

from oslo_config import cfg
import tenacity
from tooz import coordination as tooz_coordination

from cinder.common import config
from cinder.coordination import backends
from cinder.coordination import bounded
from cinder.coordination import exceptions
from cinder.coordination import fence as fence_mod
from cinder.coordination import groups
from cinder.coordination import heartbeat
from cinder.coordination import hooks as hooks_mod
from cinder.coordination import lock as lock_mod
from cinder.coordination import loss
from cinder.coordination import options
from cinder.coordination import orphans

LOG = logging.getLogger('cinder.coordination')

CONF = cfg.CONF


class Coordinator(loss.LossDetection):
    """The process's connection to the lock backend.

    :param member_id: this member's id at the backend (ASCII); by default
        ``<host>-<pid>-<random>``, where ``<host>`` is ``[DEFAULT] host``
        (the service's name, so that the members of two services of one
        machine can be told apart), in ASCII.
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
        self.conf.register_opts(options.coordination_opts,
                                group='coordination')
        self._clock = clock
        self._rng = rng
        self._state_lock = threading.RLock()
        self._backend = None
        self._heartbeat = None
        self._held = set()
        self._held_lock = threading.Lock()
        #: Lock hooks (cinder.coordination.hooks), while started.
        self._hooks = ()
        self._reaper = None
        self._member = None
        self._fence = None

    # Lifecycle.

    @property
    def started(self):
        return self._backend is not None

    @property
    def member(self):
        """The member id at the backend, once started."""
        return self._member

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
            backoff = heartbeat.Backoff(opts.initial_reconnect_backoff,
                                        opts.max_reconnect_backoff,
                                        self._rng)
            backend = backends.make_backend(opts.backend_url,
                                            opts.backend_timeout)
            backend.clock = self._clock
            member_id = self.member_id or _default_member_id(self.conf)
            hooks = hooks_mod.load(self.conf, member_id, self._clock)
            try:
                self._start_driver(backend, member_id.encode('ascii'))
            except Exception:
                hooks_mod.notify(hooks, 'close')
                raise
            self._hooks = tuple(hooks)
            self._reaper = orphans.Reaper(backend.release_orphan, backoff,
                                          self._clock)
            self._backend = backend
            self._member = member_id
            self._held = set()
            lease = backend.lease()
            if (backend.needs_heartbeat and lease and
                    opts.heartbeat * 3 > lease):
                LOG.warning('[coordination] heartbeat (%s s) should be a '
                            'third of the lock lease (%s s) or less',
                            opts.heartbeat, lease)
            self._fence = self._make_fence(backend, lease, opts)
            if backend.needs_heartbeat:
                self._heartbeat = heartbeat.Heartbeat(
                    self, opts.heartbeat, backoff)
                self._heartbeat.start()
            LOG.info('Coordinator started: lock backend %s, member %s, '
                     'locks exclude %s, heartbeat %s, %s',
                     backend.masked_url, member_id,
                     'services on all hosts' if backend.distributed
                     else 'services on this host only',
                     'every %s s' % opts.heartbeat
                     if backend.needs_heartbeat else 'not needed',
                     'locks declared lost %s s before their %s s lease can '
                     'end' % (opts.fencing_margin, lease)
                     if self._fence is not None else 'no lease to fence')

    def _make_fence(self, backend, lease, opts):
        """The started :class:`~.fence.Fence` of a lease backend, or None.

        :raises ConfigurationError: ``fencing_margin`` is not smaller than
            the lease (the coordinator is stopped first).
        """
        silence = backend.silence_before_doubt()
        if not lease or silence is None:
            return None
        left = round(lease - silence, 3)
        if opts.fencing_margin >= left:
            error = exceptions.ConfigurationError(
                '[coordination] fencing_margin (%s s) must be smaller than '
                '%g s, %s' % (opts.fencing_margin, left,
                              backend.margin_words(left)))
            bounded.quietly(self.stop)
            raise error
        if backend.needs_heartbeat and (
                opts.fencing_margin + opts.heartbeat >= lease):
            LOG.warning('[coordination] fencing_margin (%s s) and '
                        'heartbeat (%s s) add up to the lock lease (%s s) '
                        'or more: locks held longer than %s s are declared '
                        'lost before their next renewal',
                        opts.fencing_margin, opts.heartbeat, lease,
                        round(left - opts.fencing_margin, 3))
        fence = fence_mod.Fence(
            self._held_locks, self._mark_lost, lease, opts.fencing_margin,
            renewals_reported=backend.renewals_reported(),
            clock=self._clock)
        fence.start()
        return fence

    def session_renewed(self, sent_at, lease):
        """The server of the backend's session heard from it.

        For a backend whose client keeps a session (ZooKeeper): the
        server answered a request sent at *sent_at* (clock time), and
        ends the session *lease* seconds after it last hears from it,
        the session timeout negotiated for the connection, which may
        change at each reconnection. The self-fencing deadline counts
        with that lease from then on. Never fails.

        Locks already past their deadline are declared lost first: a
        renewal sent after it does not save them, so a process that
        wakes from a freeze past its deadline loses them, whichever of
        its threads runs first.
        """
        fence = self._fence
        if fence is not None:
            fence.check()
            fence.session_renewed(sent_at, lease)

    def _start_driver(self, backend, member_id):
        try:
            driver = tooz_coordination.get_coordinator(
                backend.tooz_url(), member_id)
        except Exception as e:
            raise exceptions.ConfigurationError(
                '[coordination] backend_url %s: %s' % (
                    backend.masked_url, backend.scrub(e))) from None
        backend.driver = driver
        backend.before_start(self.conf.coordination)
        try:
            backend.preflight()
            bounded.run_bounded(
                'Starting the coordinator', backend,
                lambda: driver.start(start_heart=False) or True,
                undo=driver.stop)
        except Exception as e:
            raise backend.translate('Starting the coordinator', e) from None
        try:
            backend.after_start(self)
        except Exception:
            bounded.quietly(driver.stop)
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
            backend.before_stop()
            if self._fence is not None:
                self._fence.stop(timeout=backend.timeout)
                self._fence = None
            self._on_session_lost('the coordinator was stopped')
            hooks, self._hooks = self._hooks, ()
            hooks_mod.notify(hooks, 'close')
            self._reaper.stop(timeout=backend.timeout)
            self._backend = None
            error = None
            try:
                bounded.run_bounded('Stopping the coordinator', backend,
                                    backend.driver.stop)
            except Exception as e:
                error = backend.translate('Stopping the coordinator', e)
            if error is not None:
                # Outside the except block: oslo.log would append the raw
                # error being handled to the line.
                LOG.warning('%s', error)
            LOG.info('Coordinator stopped (lock backend %s)',
                     backend.masked_url)

    def add_hook(self, hook):
        """Tell *hook* (a :class:`~.hooks.LockHook`) of every section.

        Until the coordinator stops, which closes it.

        :raises CoordinationError: the coordinator is not started.
        """
        with self._state_lock:
            if self._backend is None:
                raise exceptions.CoordinationError(
                    'the coordinator is not started')
            self._hooks += (hook,)

    # Groups.

    def group(self, name):
        """The :class:`~cinder.coordination.groups.Group` ``name``."""
        return groups.Group(self, name)

    # Locks.

    def get_lock(self, name):
        """Return the :class:`Lock` called *name* (prefix added)."""
        backend = self._backend
        if backend is None:
            raise exceptions.CoordinationError(
                'the coordinator is not started; cinder-volume starts it, '
                'other programs must call start() first')
        if not isinstance(name, str) or not name or '\0' in name:
            raise exceptions.LockNameError('invalid lock name %r' % (name,))
        full_name = self.prefix + name
        return lock_mod.Lock(self, full_name,
                             _driver_lock(backend, full_name))

    def remove_lock(self, glob_name):
        """Delete what the locks matching *glob_name* left behind.

        Lock files of the file backend, parent nodes on ZooKeeper; the
        other backends leave nothing that lasts. Locks in use are left
        alone. Returns how many were removed.

        :raises BackendUnavailable: ZooKeeper did not answer within
            ``backend_timeout``; what was removed until then stays removed.
        :raises OSError: the lock directory cannot be read or changed.
        """
        backend = self._backend
        if backend is None:
            raise exceptions.CoordinationError(
                'the coordinator is not started')
        removed = backend.remove_locks(self.prefix + glob_name)
        LOG.debug('Removed %d %s(s) matching %s', removed,
                  backend.leftover_kind or 'leftover', glob_name)
        return removed

    def advance_tokens(self, past):
        """Make every fencing token given from now on greater than *past*.

        The backend's count is only ever raised (see
        :meth:`~.backends.base.Backend.advance_tokens`), for ``cinder-manage
        coordination advance-tokens``.

        :returns: a :class:`~.backends.base.Advanced`: where, before,
            after.
        :raises BackendUnavailable: the backend did not answer.
        :raises CoordinationError: the coordinator is not started, the
            backend gives no fencing tokens, or it failed otherwise.
        """
        backend = self._backend
        if backend is None:
            raise exceptions.CoordinationError(
                'the coordinator is not started')
        what = 'Advancing the fencing tokens past %d' % past
        try:
            advanced = backend.advance_tokens(past)
        except Exception as e:
            raise backend.translate(what, e) from None
        LOG.info('%s: %s went from %d to %d', what, advanced.place,
                 advanced.before, advanced.after)
        return advanced

    def _acquire(self, lock, blocking):
        backend = self._backend
        if backend is None:
            raise exceptions.CoordinationError(
                'the coordinator was stopped; lock %s cannot be acquired' %
                lock.name)
        # The shape of oslo.concurrency's lines, which operators search.
        debug = LOG.isEnabledFor(logging.DEBUG)
        if debug:
            LOG.debug('Acquiring lock "%s"%s', lock.name, _by(lock))
        start = self._clock()
        lock.asked_at = start
        lock.renewed_at = None
        try:
            try:
                got = backend.acquire(lock._tooz_lock, blocking)
            except Exception as e:
                if _is_acquire_timeout(e):
                    got = False
                else:
                    raise backend.translate(
                        'Acquiring lock %s' % lock.name, e) from None
            if not got:
                raise exceptions.LockAcquireFailed(
                    'lock %s is held by another holder (blocking=%r)' % (
                        lock.name, blocking))
        except Exception:
            if debug:
                LOG.debug('Lock "%s" "unacquired"%s :: held N/A',
                          lock.name, _by(lock))
            raise
        now = self._clock()
        if now - start > self.conf.coordination.heartbeat:
            self._confirm_lease(lock)
        lock.holder = threading.current_thread()
        with self._held_lock:
            lock._held_since = now
            lock._lost = None
            self._held.add(lock)
        fence = self._fence
        if fence is not None:
            fence.poke()
        try:
            lock_mod.held_by_thread.locks.append(lock)
        except AttributeError:
            lock_mod.held_by_thread.locks = [lock]
        if self._hooks:
            hooks_mod.notify(self._hooks, 'entered', lock, now - start)
        if debug:
            LOG.debug('Lock "%s" acquired%s :: waited %.3fs', lock.name,
                      _by(lock), now - start)

    def _release(self, lock):
        hooks = self._hooks
        if hooks:
            hooks_mod.notify(hooks, 'leaving', lock)
        backend = self._backend
        held = self._clock() - lock._held_since
        with self._held_lock:
            self._held.discard(lock)
        try:
            lock_mod.held_by_thread.locks.remove(lock)
        except (AttributeError, ValueError):
            pass  # released by another thread than its acquirer
        lock._held_since = None
        lock.holder = None
        lost = lock._lost
        if backend is None:
            lost = lost or 'the coordinator was stopped while it was held'
        elif lost is not None:
            # Still tell the driver, so it stops refreshing the lease.
            try:
                backend.release(lock._tooz_lock)
            except Exception as e:
                LOG.debug('Releasing lost lock %s: %s', lock.name,
                          backend.translate('Releasing', e))
                backend.forget(lock._tooz_lock)
        else:
            try:
                released = backend.release(lock._tooz_lock)
            except Exception as e:
                error = backend.translate('Releasing lock %s' % lock.name, e)
                # The retries release what this driver lock holds when
                # they run: the next grant of this Lock takes a new one.
                grant = lock.hand_over(_driver_lock(backend, lock.name))
                if hooks:
                    hooks_mod.notify(hooks, 'released', lock, None)
                raise orphans.give_up(
                    lock.name, grant, backend, error, self._reaper,
                    self._clock, self.conf.coordination.heartbeat) from None
            if not released:
                lost = 'the backend no longer had it at release'
                self._log_lost(lock.name, held, lost)
        if hooks:
            hooks_mod.notify(hooks, 'released', lock, lost)
        debug = LOG.isEnabledFor(logging.DEBUG)
        if lost is not None:
            if debug:
                LOG.debug('Lock "%s" "lost"%s :: held %.3fs', lock.name,
                          _by(lock), held)
            raise exceptions.LockLost(
                'lock %s was lost while held for %.3fs: %s' % (
                    lock.name, held, lost))
        if debug:
            LOG.debug('Lock "%s" "released"%s :: held %.3fs', lock.name,
                      _by(lock), held)

    def _check_deadlines(self):
        """Declare lost, now, every held lock past its fencing deadline."""
        fence = self._fence
        if fence is not None:
            fence.check()

    def _stepped(self, locks, step):
        """Tell the hooks that *step* follows under *locks*.

        Hook by hook: a hook that waits there (a validation tool's hold)
        does so once the hooks before it were told of every lock.
        """
        for hook in self._hooks:
            for lock in locks:
                hooks_mod.notify((hook,), 'checked', lock, step)

    def ensure_locks_held(self, step=None):
        """Check every lock this coordinator holds (any thread)."""
        with self._held_lock:
            held = list(self._held)
        lock_mod.ensure_locks_held(held, step)


def _driver_lock(backend, full_name):
    """A new lock object of the started driver for *full_name*.

    Each call makes a new object, on every Tooz driver (those of the file
    driver for one path share the barrier of the path).

    :raises LockNameError: the driver refuses the name.
    """
    try:
        return backend.driver.get_lock(full_name.encode('utf-8'))
    except ValueError as e:
        raise exceptions.LockNameError('invalid lock name %r: %s' % (
            full_name, e)) from None


def _default_member_id(conf):
    """``<[DEFAULT] host>-<pid>-<random>``, in ASCII."""
    host = conf.host or socket.gethostname()
    # ZooKeeper wants ASCII; keep what reads well in a log.
    host = ''.join(c if c.isascii() and (c.isalnum() or c in '-_.@')
                   else '_' for c in host)
    return '%s-%d-%s' % (host, os.getpid(), uuid.uuid4().hex[:8])


def _by(lock):
    """The `` by "<function>"`` of a log line, if the lock has one."""
    return ' by "%s"' % lock.by if lock.by else ''


def _is_acquire_timeout(exc):
    """Whether *exc* is a driver's way of saying "not acquired in time"."""
    if isinstance(exc, tenacity.RetryError):
        return True
    cls = type(exc)
    return cls.__name__ == 'LockTimeout' and cls.__module__.startswith(
        'kazoo')
