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

"""The fencing tokens of the ZooKeeper backend: a czxid plus an offset.

A token is the czxid of the holder's lock node, which ZooKeeper numbers
with the transactions of the whole ensemble, plus an *offset* kept in
the node ``/<namespace>/<prefix>fencing-token-offset`` (0 while it is
absent). Transaction ids cannot be set: when they went back (the
ensemble was rebuilt or restored), ``cinder-manage coordination
advance-tokens`` raises the offset past the tokens on the storage
(:meth:`TokenOffset.advance_tokens`). :class:`TokenOffset` is a part of
:class:`~cinder.coordination.backends.zookeeper.ZooKeeperBackend`.
"""

import time

from kazoo import exceptions as kazoo_exceptions

from cinder.coordination.backends import base
from cinder.coordination import exceptions

#: The node of the offset added to every fencing token, after tooz's
#: namespace and the coordinator's prefix; not under ``locks``, so that
#: lock housekeeping never sees it.
OFFSET_NAME = 'fencing-token-offset'
#: Tries at raising an offset that other runs keep changing.
ADVANCE_ATTEMPTS = 10


class TokenOffset(object):
    """Fencing tokens, for the ZooKeeper backend.

    A mixin: it uses the backend's ``client``, ``timeout``,
    ``offset_path`` (set when it starts), ``_own_node()`` and
    ``_answer()``.
    """

    fencing_tokens = True

    def fencing_token(self, tooz_lock):
        """The czxid of this holder's lock node plus the token offset.

        The same read as :meth:`is_still_owner`, with the same failures,
        and the read of the offset node (:data:`OFFSET_NAME`), sent right
        behind it on the same connection: the two are answered in one
        round trip. Each grant is a node created for it, and the czxid is
        the id of the transaction that created it: ZooKeeper numbers the
        transactions of the whole ensemble with one counter (the leader's
        epoch in the high 32 bits, a count within it below), kept with
        the data on disk, so a later grant of any name has a greater one.
        The node's sequence number would not do: it counts the children
        of the lock's parent node, which housekeeping deletes, and
        restarts at 0 when the parent is created again. The czxid would
        not be greater if the ensemble were rebuilt from empty data
        directories or restored from older snapshots: then ``cinder-manage
        coordination advance-tokens`` raises the offset (absent, it is 0),
        which a transaction id cannot be. A later grant reads an offset
        no lower than an earlier one did: it reads it after its own node
        was created and after the earlier holder's node was deleted, on a
        server that has applied both, and the offset only grows.

        :returns: the token, or None if the lock is lost.
        :raises CoordinationError: the offset node holds no number.
        """
        owned, stat, offset = self._own_node(tooz_lock, with_offset=True)
        return stat.czxid + offset if owned else None

    def _offset(self, async_result, deadline):
        """The offset a read of its node answered, by *deadline*; or 0."""
        try:
            data, _ = async_result.get(
                timeout=max(0.0, deadline - time.monotonic()))
        except kazoo_exceptions.NoNodeError:
            return 0
        return base.offset_value(data, self.offset_path)

    def tokens_went_back_causes(self):
        return ('the ZooKeeper ensemble was rebuilt from empty data '
                'directories, or restored from older snapshots')

    def advance_tokens(self, past):
        """Raise the token offset to *past*, if it is lower.

        A compare-and-set on the node's version (or its creation, if it
        is absent), tried again if another run changed it meanwhile: the
        offset never goes down. Every later token, a czxid (at least 1)
        plus the offset, is greater than *past*.

        :raises BackendUnavailable: ZooKeeper did not answer within
            ``backend_timeout``.
        :raises CoordinationError: other runs kept changing the node.
        """
        client, path = self.client, self.offset_path
        what = 'Advancing the fencing tokens at %s' % path
        place = 'offset node %s' % path
        value = b'%d' % past
        for _ in range(ADVANCE_ATTEMPTS):
            try:
                data, stat = self._answer(what, client.get_async(path))
            except kazoo_exceptions.NoNodeError:
                try:
                    self._answer(what, client.create_async(path, value,
                                                           makepath=True))
                except kazoo_exceptions.NodeExistsError:
                    continue
                return base.Advanced(place, 0, past)
            before = base.offset_value(data, path)
            if before >= past:
                return base.Advanced(place, before, before)
            try:
                self._answer(what, client.set_async(path, value,
                                                    version=stat.version))
            except (kazoo_exceptions.BadVersionError,
                    kazoo_exceptions.NoNodeError):
                continue
            return base.Advanced(place, before, past)
        raise exceptions.CoordinationError(
            '%s failed: the node changed at each of %d tries' % (
                what, ADVANCE_ATTEMPTS))
