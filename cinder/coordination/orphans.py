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

"""Locks whose release failed: given up by their holder, freed later.

When the backend does not answer a release, the holder's critical
section is over and the lock is no longer its own: it must not stay taken
for every other service until this one restarts. The backend stops
renewing it at once (:meth:`~.backends.base.Backend.forget`), so a lease
runs out by itself, and a :class:`Reaper` keeps trying the release in the
background, so the lock is free as soon as the backend answers again.
"""

import logging
import threading

from cinder.coordination import exceptions

LOG = logging.getLogger('cinder.coordination')


class Orphan(object):
    """A lock whose release failed.

    :param tooz_lock: the driver's lock object of the grant whose release
        failed. No later grant uses it (:meth:`.Lock.hand_over`), so a
        retry releases that grant or nothing: never a later grant of the
        same Lock, nor one of another Lock of the name.
    :param give_up_at: the clock time after which the backend surely no
        longer has the lock (its lease ran out), or None to try until the
        coordinator stops (ZooKeeper: the node lives as long as the
        session).
    """

    def __init__(self, name, tooz_lock, give_up_at):
        self.name = name
        self.tooz_lock = tooz_lock
        self.give_up_at = give_up_at


class Reaper(object):
    """A native thread that releases orphans, with backoff between tries.

    It runs only while orphans are pending. A try that fails is retried
    after :class:`~.heartbeat.Backoff`'s next delay; an orphan is dropped
    once released, or once its ``give_up_at`` has passed. :meth:`stop`
    interrupts the wait at once; orphans still pending then are left to
    their lease or to the end of the session.

    :param release: ``release(tooz_lock)``, raising while the backend does
        not answer.
    """

    def __init__(self, release, backoff, clock):
        self._release = release
        self._backoff = backoff
        self._clock = clock
        self._guard = threading.Lock()
        self._pending = []
        self._thread = None
        self._stopped = threading.Event()
        self._idle = threading.Event()
        self._idle.set()

    @property
    def pending(self):
        """Names of the orphans not released yet."""
        with self._guard:
            return [orphan.name for orphan in self._pending]

    def wait_idle(self, timeout=None):
        """Wait until no orphan is pending; True if none is."""
        return self._idle.wait(timeout)

    def add(self, orphan):
        with self._guard:
            if self._stopped.is_set():
                return
            self._pending.append(orphan)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, daemon=True,
                    name='cinder-coordination-reaper')
                self._thread.start()

    def stop(self, timeout=None):
        with self._guard:
            self._stopped.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self):
        attempt = 0
        while True:
            attempt += 1
            if self._stopped.wait(self._backoff.delay(attempt)):
                return
            with self._guard:
                orphans = list(self._pending)
            done = [orphan for orphan in orphans if self._try(orphan)]
            with self._guard:
                self._pending = [orphan for orphan in self._pending
                                 if orphan not in done]
                if not self._pending:
                    self._thread = None
                    self._idle.set()
                    return

    def _try(self, orphan):
        """Try once; True when there is nothing more to do for *orphan*."""
        try:
            self._release(orphan.tooz_lock)
        except Exception as e:
            if (orphan.give_up_at is not None and
                    self._clock() >= orphan.give_up_at):
                LOG.warning('Lock "%s" whose release failed could still '
                            'not be released (%s); its lease has ended by '
                            'now, so the backend no longer has it',
                            orphan.name, type(e).__name__)
                return True
            LOG.debug('Releasing lock "%s" again failed: %s', orphan.name,
                      type(e).__name__)
            return False
        LOG.info('Lock "%s", whose release had failed, is released',
                 orphan.name)
        return True


def give_up(name, grant, backend, error, reaper, clock, heartbeat):
    """The error to raise for a failed release, once the lock is given up.

    The critical section ran under the lock; what is left is a lock
    that the backend may still have. It must not stay taken until
    this service restarts: the backend stops renewing it, and the
    release is tried again in the background where it can be.

    :param name: the lock's name.
    :param grant: the driver's lock object of the grant whose release
        failed, which no later grant uses (:meth:`.Lock.hand_over`).
    """
    retry = backend.forget(grant)
    lease = backend.lease() if backend.needs_heartbeat else None
    give_up_at = None
    if lease:
        fate = ('it is no longer renewed, so the backend frees it when '
                'its %s s lease ends' % lease)
        if retry:
            fate += (', or sooner if the release, retried in the '
                     'background, gets through')
        give_up_at = clock() + lease + heartbeat
    else:
        fate = ('the release is retried in the background; other '
                'services wait for the lock until it gets through')
    if retry:
        reaper.add(Orphan(name, grant, give_up_at))
    message = backend.scrub(
        '%s. This service no longer holds lock %s: %s' % (
            error, name, fate))
    LOG.error('%s', message)
    return exceptions.BackendUnavailable(message)
