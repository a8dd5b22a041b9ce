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

"""A cluster an operator deployed, for ``cinder-aa-stress --cluster``.

:class:`DeployedCluster` gives the workload
(:mod:`cinder.stress.workload`) what the tool's own
:class:`~cinder.stress.cluster.Cluster` gives it, ``services`` (each with
a ``host`` and a ``client``) and ``share``, but starts nothing: its
services are the live members of one cluster in the volume services'
group at the lock backend (:mod:`cinder.membership`), reached at their
``host@backend`` address over the operator's bus.

:func:`live_members` refuses a cluster without a live member, or whose
members take their locks at different places (they would not exclude
each other: the run could only corrupt volumes). :func:`remove` deletes
the volumes a run made, through the cluster, detaching attached ones
first.
"""

from cinder import coordination
from cinder.coordination import groups
from cinder import exception
from cinder import local_service
from cinder import membership
from cinder import messaging
from cinder.stress import cluster as cluster_mod
from cinder.volume import rpcapi

#: Seconds a member may take to answer the probe of :meth:`probe`.
PROBE_TIMEOUT = 10
#: Seconds a detach or delete of :func:`remove` may take.
REMOVE_TIMEOUT = 60


class DeployedError(Exception):
    """The cluster cannot be validated; says why, names the cluster."""


def list_members(backend_url, timeout=10):
    """``{member id: capabilities}`` of the services' group at the backend.

    :raises DeployedError: the lock backend cannot be used or listed.
    """
    try:
        coordinator = cluster_mod.tool_coordinator(backend_url, timeout)
    except coordination.CoordinationError as e:
        raise DeployedError('the lock backend cannot be used: %s' % e) \
            from None
    try:
        return coordinator.group(membership.GROUP).members()
    except coordination.CoordinationError as e:
        raise DeployedError('cannot list the volume services at the lock '
                            'backend: %s' % e) from None
    finally:
        coordinator.stop()


def live_members(members, cluster, machine=None):
    """The live members of *cluster* among *members*, sorted by host.

    :param members: ``{member id: capabilities}``, as :func:`list_members`.
    :raises DeployedError: no live member; members that take their locks
        at different places, or serve different backends.
    """
    live = sorted((m for m in members.values()
                   if m.get('cluster') == cluster and
                   not groups.is_gone(m, machine)),
                  key=lambda m: (m.get('host') or '', m.get('backend') or ''))
    if not live:
        known = sorted({m.get('cluster') for m in members.values()
                        if m.get('cluster')})
        raise DeployedError(
            'cluster %s has no live member at the lock backend (clusters '
            'there: %s); start its cinder-volume services, or check '
            '--cluster and the lock backend URL' % (
                cluster, ', '.join(known) or 'none'))
    _refuse_mixed(cluster, live, 'lock_location',
                  'take their locks at different places, so their locks '
                  'do not exclude each other; give every member the same '
                  '[coordination] backend_url first')
    _refuse_mixed(cluster, live, 'backend',
                  'serve different backends; one run drives one backend')
    return live


def _refuse_mixed(cluster, live, key, why):
    values = sorted({str(m.get(key)) for m in live})
    if len(values) > 1:
        raise DeployedError('the members of cluster %s %s: %s' % (
            cluster, why, '; '.join(
                '%s: %s' % (m.get('host'), m.get(key)) for m in live)))


class Member(object):
    """One member of the cluster, as the workload uses a service."""

    def __init__(self, capabilities, transport_url):
        self.capabilities = capabilities
        self.host = capabilities['host']
        self.backend = capabilities['backend']
        #: Where requests to this member go: ``host@backend``.
        self.address = messaging.backend_address(self.host, self.backend)
        self.transport_url = transport_url

    def client(self, timeout=None):
        """A :class:`~cinder.volume.rpcapi.VolumeAPI` to this member."""
        return rpcapi.VolumeAPI(local_service.transport(self.transport_url),
                                self.address, timeout=timeout)


class DeployedCluster(object):
    """The live members of a deployed cluster; starts nothing.

    :param name: the members' ``[DEFAULT] cluster``.
    :param share: where this host sees the cluster's NFS share.
    :param backend_url: the lock backend URL the members use.
    :param transport_url: the members' message bus.
    """

    def __init__(self, name, share, backend_url, transport_url):
        self.name = name
        self.share = share
        self.backend_url = backend_url
        self.transport_url = transport_url
        self.services = []
        #: No fault is injected here: every member takes new requests.
        self.avoided = frozenset()
        #: Nothing is killed here; the verdict reads it like a Cluster's.
        self.killed = {}

    def start(self):
        """List the live members and probe each over the bus.

        :raises DeployedError: see :func:`live_members`; a member that
            does not answer.
        """
        live = live_members(list_members(self.backend_url), self.name)
        self.services = [Member(m, self.transport_url) for m in live]
        for member in self.services:
            self.probe(member)

    def probe(self, member):
        try:
            member.client(timeout=PROBE_TIMEOUT).call('get_volume_stats')
        except (exception.RequestOutcomeUnknown, messaging.RemoteError) as e:
            raise DeployedError(
                'member %s of cluster %s does not answer a stats request at '
                '%s on the bus %s: %s' % (
                    member.host, self.name, member.address,
                    self.describe_transport(), e)) from None

    def stop(self):
        local_service.close_transports()

    @property
    def address(self):
        """The cluster's address, ``cluster@backend``."""
        return messaging.backend_address(self.name,
                                         self.services[0].backend)

    def client(self, timeout=None):
        """A :class:`~cinder.volume.rpcapi.VolumeAPI` to the cluster."""
        return rpcapi.VolumeAPI(local_service.transport(self.transport_url),
                                self.address, timeout=timeout)

    def describe_backend(self):
        return coordination.mask_url(self.backend_url)

    def describe_transport(self):
        return messaging.display_url(self.transport_url)

    def placement(self):
        """``[{host, netns, address}]`` of the members, in order."""
        return [{'host': m.host, 'netns': None,
                 'address': m.capabilities.get('address')}
                for m in self.services]


def remove(cluster, volumes, timeout=REMOVE_TIMEOUT):
    """Delete *volumes* through *cluster*; detach attached ones first.

    :param volumes: :class:`~cinder.objects.Volume` objects, as the
        workload left them (their ``attachments`` current).
    :returns: (ids of the volumes deleted, one sentence per failure).
    """
    removed, failures = [], []
    for volume in volumes:
        client = cluster.client(timeout=timeout)
        try:
            for attachment_id in [a.id for a in volume.attachments]:
                client.call('detach_volume', volume=volume,
                            attachment_id=attachment_id)
            client.call('delete_volume', volume=volume)
        except (exception.RequestOutcomeUnknown, messaging.RemoteError) as e:
            failures.append('volume %s was not removed: %s' % (volume.id, e))
            continue
        removed.append(volume.id)
    return removed, failures
