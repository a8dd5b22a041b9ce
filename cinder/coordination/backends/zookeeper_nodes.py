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

"""The lock nodes of the ZooKeeper backend: parents, guards, leftovers.

tooz keeps the lock called N under the node ``/<namespace>/locks/N``, and
kazoo's Lock recipe creates one ephemeral sequential child of it per
holder or waiter. Nothing removes the parent: it stays when the lock is
released, so housekeeping (``cinder-manage util clean_locks``, and the
removal of the locks of a deleted resource) removes idle ones, and an
acquire whose parent was removed meanwhile makes it again.
:class:`LockNodes` is a part of
:class:`~cinder.coordination.backends.zookeeper.ZooKeeperBackend`.
"""

import fnmatch
import logging
import re
import time
import urllib.parse

from kazoo import exceptions as kazoo_exceptions
from kazoo.protocol import paths as kazoo_paths

LOG = logging.getLogger('cinder.coordination')

#: tooz's namespace when the URL gives none (its ``namespace`` option).
TOOZ_NAMESPACE = 'tooz'
#: The name of the guard node that keeps a parent node from being
#: removed, before its sequence number. Not a lock contender to kazoo
#: (those contain ``__lock__``).
GUARD_PREFIX = 'guard-'
#: Tries at guarding a parent node that others keep creating and removing.
GUARD_ATTEMPTS = 5
#: A character that makes a pattern of remove_locks() match many names.
_GLOB_MAGIC = re.compile(r'[*?[]')


class LockNodes(object):
    """Parent nodes and their leftovers, for the ZooKeeper backend.

    A mixin: it uses the backend's ``url``, ``masked_url``, ``timeout``,
    ``client`` and ``unavailable()``.
    """

    # Parent nodes. tooz keeps the lock called N under the node
    # /<namespace>/locks/N, and kazoo's Lock recipe creates one ephemeral
    # sequential child of it per holder or waiter. Nothing removes the
    # parent: it stays when the lock is released.

    def namespace_root(self):
        """The node of tooz's namespace (the URL's ``namespace``)."""
        query = urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url).query)
        namespace = dict(query).get('namespace', TOOZ_NAMESPACE)
        return kazoo_paths.join('/', namespace)

    def locks_root(self):
        """The node under which tooz keeps one parent node per lock."""
        return kazoo_paths.join(self.namespace_root(), 'locks')

    def parent_node(self, name):
        """The parent node of the lock called *name* (str or bytes)."""
        if isinstance(name, bytes):
            name = name.decode('utf-8')
        return kazoo_paths.join(self.locks_root(), name)

    #: The clock of the deadline of _acquire_recreating_parent (tests
    #: replace it).
    parent_clock = staticmethod(time.monotonic)

    def _acquire_recreating_parent(self, tooz_lock, blocking):
        """Take *tooz_lock*; if its parent node vanished meanwhile, again.

        kazoo's Lock makes sure the parent node exists (once per Lock
        object), then creates its own node in it. A parent removed in
        between, or since this Lock object last made sure of it (idle
        parents are removed by ``cinder-manage util clean_locks`` and when
        a volume or snapshot is deleted), makes kazoo fail with
        NoNodeError; no node of this acquirer exists then. The parent is
        created again with a guard node in it (:meth:`_guard_parent`),
        which keeps any cleanup from removing it, the acquire is repeated
        within the time *blocking* gives, and the guard is deleted.

        :raises kazoo.exceptions.NoNodeError: the parent could not be
            guarded (see :meth:`_guard_parent`).
        """
        deadline = None
        if blocking is not True and blocking is not False:
            deadline = self.parent_clock() + float(blocking)
        try:
            return tooz_lock.acquire(blocking=blocking)
        except kazoo_exceptions.NoNodeError:
            pass
        parent = self.parent_node(tooz_lock.name)
        LOG.debug('Parent node %s of lock %s was removed while the lock was '
                  'being taken; creating it again', parent,
                  tooz_lock.name.decode())
        guard = self._guard_parent(parent)
        try:
            if deadline is not None:
                blocking = max(0.0, deadline - self.parent_clock())
            return tooz_lock.acquire(blocking=blocking)
        finally:
            try:
                self.client.delete(guard)
            except Exception:
                # Ephemeral: it goes with the session. Until then it only
                # keeps the parent from being removed.
                LOG.debug('Guard node %s not deleted', guard, exc_info=True)

    def _guard_parent(self, parent):
        """Make sure *parent* exists and stays: give it a child of ours.

        ZooKeeper refuses to delete a node that has a child, so the parent
        stays while the ephemeral guard node lives. The guard is created
        in the parent if it exists, else with it in one transaction: each
        step is atomic, and a step fails only when another member created
        or removed the parent since the previous one.

        :returns: the path of the guard node.
        :raises kazoo.exceptions.NoNodeError: the parent was removed and
            created again by others between each of ``GUARD_ATTEMPTS``
            pairs of steps.
        """
        client = self.client
        guard = kazoo_paths.join(parent, GUARD_PREFIX)
        for _ in range(GUARD_ATTEMPTS):
            try:
                return client.create(guard, ephemeral=True, sequence=True)
            except kazoo_exceptions.NoNodeError:
                pass
            transaction = client.transaction()
            transaction.create(parent)
            transaction.create(guard, ephemeral=True, sequence=True)
            made_parent, made_guard = transaction.commit()
            if not isinstance(made_guard, Exception):
                return made_guard
            if isinstance(made_parent, kazoo_exceptions.NoNodeError):
                # The root of the lock nodes is gone too.
                client.ensure_path(self.locks_root())
        raise kazoo_exceptions.NoNodeError(
            'parent node %s kept vanishing' % parent)

    # Leftovers: the idle parent nodes, for clean_locks and for the
    # removal of the locks of a deleted resource. Each call is bounded:
    # one that gets no answer within backend_timeout raises
    # BackendUnavailable.

    leftover_kind = 'lock node'

    def leftovers_place(self):
        return '%s on %s' % (self.locks_root(), self.masked_url)

    def _answer(self, what, async_result):
        """The result of a kazoo call, within ``backend_timeout``.

        kazoo's own answers (NoNodeError, NotEmptyError, NodeExistsError,
        BadVersionError) are raised as they are; no answer in time or a
        lost connection as BackendUnavailable.
        """
        try:
            return async_result.get(block=True, timeout=self.timeout)
        except (kazoo_exceptions.NoNodeError,
                kazoo_exceptions.NotEmptyError,
                kazoo_exceptions.NodeExistsError,
                kazoo_exceptions.BadVersionError):
            raise
        except Exception as e:
            raise self.translate(what, e) from None

    def list_lock_names(self, prefix):
        """Names of the locks under :meth:`locks_root`, held or not."""
        root = self.locks_root()
        try:
            children = self._answer(
                'Listing the lock nodes under %s' % root,
                self.client.get_children_async(root))
        except kazoo_exceptions.NoNodeError:
            return []
        return sorted(name for name in children if name.startswith(prefix))

    def has_leftover(self, name):
        path = self.parent_node(name)
        return self._answer('Reading lock node %s' % path,
                            self.client.exists_async(path)) is not None

    def remove_locks(self, pattern):
        """Delete the idle parent nodes of the locks matching *pattern*.

        A parent node with a child (a holder or a waiter) is never
        deleted: ZooKeeper refuses to delete a node that has children, in
        the same atomic step as the delete. An acquirer that made sure of
        the parent before the delete and creates its node after it
        creates the parent again (see :meth:`_acquire_recreating_parent`).
        The deletes are sent together and answered in order.

        :param pattern: a shell pattern of lock names (prefix included);
            without ``*``, ``?`` or ``[`` it is one name, and no listing
            is needed.
        :returns: how many parent nodes were deleted.
        :raises BackendUnavailable: ZooKeeper did not answer a call within
            ``backend_timeout`` seconds; the deletes already answered
            stand.
        """
        if _GLOB_MAGIC.search(pattern):
            names = [name for name in self.list_lock_names('')
                     if fnmatch.fnmatchcase(name, pattern)]
        else:
            names = [pattern]
        client = self.client
        paths_ = [self.parent_node(name) for name in names]
        pending = [(path, client.delete_async(path)) for path in paths_]
        removed = 0
        for path, result in pending:
            try:
                self._answer('Deleting lock node %s' % path, result)
            except kazoo_exceptions.NotEmptyError:
                LOG.debug('Not removing lock node %s: the lock is held, '
                          'waited for or being taken', path)
            except kazoo_exceptions.NoNodeError:
                pass
            else:
                removed += 1
        return removed
