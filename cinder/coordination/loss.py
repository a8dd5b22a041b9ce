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

"""How a coordinator finds out that a lock it holds was lost.

:class:`LossDetection` is a part (mixin) of
:class:`~cinder.coordination.Coordinator`: the heartbeat's beat (leases
refreshed, then each held lock checked), the lease that ran out while no
beat got through, the ZooKeeper session listener's news, and the marking
and ERROR log of each lost lock. It uses the coordinator's ``_backend``,
``_held``, ``_held_lock`` and ``_clock``.
"""

import logging

LOG = logging.getLogger('cinder.coordination')


class LossDetection(object):
    """Marks held locks lost, and logs each once."""

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
