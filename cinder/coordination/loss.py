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
refreshed, then each held lock checked), the self-fencing deadline
(:class:`~cinder.coordination.fence.Fence`) that passed while no beat got
through, the ZooKeeper session listener's news, and the marking, ERROR
log and ``lost`` hook event of each lost lock. It uses the coordinator's
``_backend``, ``_held``, ``_held_lock``, ``_hooks``, ``_fence`` and
``_clock``.
"""

import logging

from cinder.coordination import hooks as hooks_mod

LOG = logging.getLogger('cinder.coordination')


class LossDetection(object):
    """Marks held locks lost, and logs each once."""

    def _mark_lost(self, lock, reason):
        with self._held_lock:
            if lock._lost is not None or lock._held_since is None:
                return
            lock._lost = reason
            held = self._clock() - lock._held_since
        self._log_lost(lock.name, held, reason)
        if self._hooks:
            hooks_mod.notify(self._hooks, 'lost', lock, reason)

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

    def _held_locks(self):
        with self._held_lock:
            return list(self._held)

    def _renewed(self, sent_at):
        """A heartbeat sent at *sent_at* renewed every lock then held."""
        fence = self._fence
        if fence is not None:
            fence.renewed(sent_at)

    def _in_doubt(self, since):
        """The backend may have heard nothing from us since *since*."""
        fence = self._fence
        if fence is not None:
            fence.in_doubt(since)

    def _resumed(self):
        """The session backend is connected again, its session alive."""
        fence = self._fence
        if fence is not None:
            fence.resumed()

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
