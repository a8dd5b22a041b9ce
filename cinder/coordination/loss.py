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
refreshed, then each held lock checked and credited to the fence with
its own renewal), the self-fencing deadline
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

    def _confirm_lease(self, lock):
        """Credit *lock*, just acquired after a wait, with its lease.

        Its deadline counts from the start of its acquire, which may lie
        long before the server granted the lease: the first beat could
        come after it. The backend's ``confirm_lease`` (one request on
        Redis, two on etcd) dates the lease instead. Failure behaviour:
        an error is logged and nothing is credited; a lock that is no
        longer ours is credited nothing either (the next check or beat
        finds it lost).
        """
        backend = self._backend
        fence = self._fence
        if backend is None or fence is None or not backend.needs_heartbeat:
            return
        sent_at = self._clock()
        try:
            owner, left = backend.confirm_lease(lock._tooz_lock)
        except Exception as e:
            LOG.warning('Lock "%s": %s', lock.name, backend.translate(
                'Confirming its lease after the acquire', e))
            return
        if owner:
            fence.renewed(lock, sent_at, left)

    def _beat(self):
        """One heartbeat: renew the leases, then check each held lock.

        Each lock is credited to the fence with its own renewal, as the
        backend confirms it (``renewal_check`` of the backend): Tooz's
        Redis driver logs a failed renewal of one lock and goes on. Only
        the locks held before the driver's renewals began are checked: a
        lock acquired meanwhile may have been missed by them; the next
        beat checks it.

        :raises BackendUnavailable: the backend did not answer; the
            locks checked so far keep their credit, the others get none.
        """
        backend = self._backend
        if backend is None:
            return
        fence = self._fence
        sent_at = self._clock()
        held = self._held_locks()
        try:
            backend.driver.heartbeat()
        except Exception as e:
            raise backend.translate('Heartbeat', e) from None
        for lock in held:
            if lock._lost is not None:
                continue
            checked_at = self._clock()
            try:
                owner, left = backend.renewal_check(lock._tooz_lock)
            except Exception as e:
                raise backend.translate('Heartbeat', e) from None
            if not owner:
                self._mark_lost(lock, 'another member may hold it')
            elif fence is not None:
                if left is None:
                    fence.renewed(lock, sent_at)
                else:
                    fence.renewed(lock, checked_at, left)
