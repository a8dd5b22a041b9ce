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
* :func:`synchronized_remove` deletes what the locks of deleted resources
  left behind (lock files, ZooKeeper parent nodes).

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

Layout
======

The package holds one concept per module: :mod:`~.options`,
:mod:`~.exceptions`, :mod:`~.urls` (secrets in the backend URL),
:mod:`~.lock` (a lock and the locks each thread holds),
:mod:`~.coordinator`, :mod:`~.decorator`, :mod:`~.heartbeat`,
:mod:`~.loss` (how a lost lock is found out), :mod:`~.orphans` (locks
whose release failed), :mod:`~.bounded` (calls a dead server cannot
hang), :mod:`~.hooks` (code told of every critical section, for
validation tools), :mod:`~.internals` (the private attributes of
libraries it reads) and :mod:`~.backends`, one module per Tooz driver
family. Import the names
below from ``cinder.coordination`` itself; the modules are not an API.
"""

from cinder.coordination.coordinator import Coordinator
from cinder.coordination.decorator import synchronized
from cinder.coordination.decorator import synchronized_remove
from cinder.coordination.exceptions import BackendUnavailable
from cinder.coordination.exceptions import ConfigurationError
from cinder.coordination.exceptions import CoordinationError
from cinder.coordination.exceptions import FencedOff
from cinder.coordination.exceptions import FencingTokensWentBack
from cinder.coordination.exceptions import LockAcquireFailed
from cinder.coordination.exceptions import LockLost
from cinder.coordination.exceptions import LockNameError
from cinder.coordination.exceptions import LockNotHeld
from cinder.coordination.heartbeat import Backoff
from cinder.coordination.lock import ensure_locks_held
from cinder.coordination.lock import held_lock
from cinder.coordination.lock import Lock
from cinder.coordination.options import coordination_opts
from cinder.coordination.options import list_opts
from cinder.coordination.urls import mask_url

__all__ = [
    'BackendUnavailable', 'Backoff', 'COORDINATOR', 'ConfigurationError',
    'CoordinationError', 'Coordinator', 'FencedOff',
    'FencingTokensWentBack', 'Lock',
    'LockAcquireFailed',
    'LockLost', 'LockNameError', 'LockNotHeld', 'coordination_opts',
    'ensure_locks_held', 'held_lock', 'list_opts', 'mask_url', 'synchronized',
    'synchronized_remove',
]

#: The process's coordinator: the one the manager's and drivers' locks use.
COORDINATOR = Coordinator(prefix='cinder-')
