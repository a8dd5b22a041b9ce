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

"""What a volume service does when a lock it holds is declared lost.

A critical section checks its locks before each destructive step
(:func:`cinder.coordination.ensure_locks_held`), so a step not begun when
the loss is declared never runs. A step already running in a child
process (``qemu-img convert``, ``qemu-img commit``) would go on writing
after another service may have taken the lock: :class:`KillChildren`
kills the children of the holding thread at once, and those it starts
until it leaves the section. The call that ran a killed child raises
:class:`~cinder.common.processes.ChildKilled`, naming the lock.
"""

import logging
import threading

from cinder.common import processes
from cinder.coordination import hooks

LOG = logging.getLogger(__name__)


class KillChildren(hooks.LockHook):
    """A lock hook: kill the child processes of a lost lock's holder.

    :param registry: the :class:`~cinder.common.processes.Registry` of
        the children (the process's own by default).

    Failure behaviour: a child that cannot be signalled is logged by the
    registry; the holder's next lock check fails in any case.
    """

    def __init__(self, registry=None):
        self._registry = registry or processes.REGISTRY
        self._guard = threading.Lock()
        #: Thread -> number of lost locks it still holds.
        self._lost_held = {}

    def lost(self, lock, reason):
        thread = lock.holder
        if thread is None:
            return
        with self._guard:
            self._lost_held[thread] = self._lost_held.get(thread, 0) + 1
        why = 'lock %s was lost: %s' % (lock.name, reason)
        killed = self._registry.kill([thread], why)
        if killed:
            LOG.warning('Killed %d child process(es) of %s, whose lock %s '
                        'was lost: %s', len(killed), thread.name, lock.name,
                        '; '.join(child.describe() for child in killed))

    def released(self, lock, lost):
        if lost is None:
            return
        thread = threading.current_thread()
        with self._guard:
            count = self._lost_held.get(thread)
            if count is None:
                return
            if count > 1:
                self._lost_held[thread] = count - 1
                return
            del self._lost_held[thread]
        # Out of every section whose lock it lost: its next children
        # belong to another request.
        self._registry.pardon(thread)
