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

"""Who serves what: the volume services' group at the lock backend.

Every ``cinder-volume`` joins the Tooz group :data:`GROUP` with a
:func:`record` of itself: host, cluster, backend, the address it reaches
the bus from, driver, where its locks live, pid and machine.
``cinder-manage service list`` and ``cluster list`` read the group.

Two checks keep a cluster sane:

* :meth:`Membership.join` refuses a ``host`` that a live member already
  serves for the same backend: two services with one name would share
  one queue and be indistinguishable in every log and record.
* Members of one cluster must take their locks at one place, or they do
  not exclude each other. A member on another lock backend is not in the
  same group at all (that is the problem), so this is checked over the
  bus: a service that joins a cluster announces where its locks live to
  every member (a fanout cast), and each member that takes its locks
  elsewhere logs an ERROR and tells the newcomer, which logs one too
  (:class:`ClusterEndpoint`).
"""

import os
import time

from oslo_log import log as logging
import oslo_messaging

from cinder.coordination import groups
from cinder import exception
from cinder import messaging

LOG = logging.getLogger(__name__)

#: The group of every volume service.
GROUP = 'cinder-volume'


def record(host, cluster, backend, address, driver, lock_backend,
           lock_location, machine=None, pid=None, clock=time.time):
    """The capabilities a service joins :data:`GROUP` with."""
    return {'host': host, 'cluster': cluster, 'backend': backend,
            'address': address, 'driver': driver,
            'lock_backend': lock_backend, 'lock_location': lock_location,
            'pid': pid if pid is not None else os.getpid(),
            'machine': machine if machine is not None
            else groups.machine_id(),
            'started': round(clock(), 3)}


def describe(member, member_id=None):
    """One member for a log line: host, cluster, address, process."""
    text = 'host %s (cluster %s, address %s, pid %s)' % (
        member.get('host'), member.get('cluster') or '-',
        member.get('address') or '?', member.get('pid'))
    return '%s, %s' % (member_id, text) if member_id else text


def _exposed(method):
    method.exposed = True
    return method


class Membership(object):
    """This service's membership of :data:`GROUP`.

    :param coordinator: a started :class:`cinder.coordination.Coordinator`.
    :param me: this service's :func:`record`.
    """

    def __init__(self, coordinator, me):
        self.me = me
        self.member_id = coordinator.member
        self._group = coordinator.group(GROUP)
        self._joined = False

    def taken_by(self, members):
        """The live member that already serves this host and backend."""
        for member_id, member in sorted(members.items()):
            if member_id == self.member_id:
                continue
            if (member.get('host') == self.me['host'] and
                    member.get('backend') == self.me['backend'] and
                    not groups.is_gone(member)):
                return member_id, member
        return None

    def join(self):
        """Join, unless a live member serves this host already.

        A member listed with this host whose process is known to be gone
        (it was killed, on this machine, and its session has not expired
        yet) does not count.

        :raises ServiceStartError: the host is taken; the message names
            ``[DEFAULT] host`` and the other member.
        :raises CoordinationError: the backend cannot list or join.
        """
        taken = self.taken_by(self._group.members())
        if taken is not None:
            raise exception.ServiceStartError(
                '[DEFAULT] host = %s is taken: member %s already serves '
                '%s@%s; give every service its own host, or stop that one '
                'first' % (self.me['host'], describe(taken[1], taken[0]),
                           self.me['host'], self.me['backend']))
        self._group.join(self.me)
        self._joined = True
        LOG.info('Joined group %s at the lock backend as member %s',
                 GROUP, self.member_id)

    def leave(self):
        if self._joined:
            self._joined = False
            self._group.leave()


class ClusterEndpoint(object):
    """The service's own RPC methods for its cluster's members.

    ``member_joined`` is fanned out to the cluster by a member that
    starts; ``lock_backend_mismatch`` goes back to it from a member whose
    locks live elsewhere. Both only log: what to fix is the operator's.

    :param me: this service's :func:`record`.
    :param reply: ``reply(address, method, **args)`` casts to a member.
    """

    target = oslo_messaging.Target(version=messaging.RPC_API_VERSION)

    def __init__(self, me, reply):
        self.me = me
        self._reply = reply

    @_exposed
    def member_joined(self, ctxt, member):
        if member.get('pid') == self.me['pid'] and (
                member.get('machine') == self.me['machine']):
            return
        if member.get('lock_location') == self.me['lock_location']:
            LOG.info('Member %s joined cluster %s, with the same lock '
                     'backend', describe(member), self.me['cluster'])
            return
        LOG.error(_mismatch(member, self.me))
        self._reply('%s@%s' % (member['host'], member['backend']),
                    'lock_backend_mismatch', member=self.me)

    @_exposed
    def lock_backend_mismatch(self, ctxt, member):
        LOG.error(_mismatch(member, self.me))


def _mismatch(other, me):
    return ('Member %s of cluster %s takes its locks at %s (%s), this '
            'service (host %s) at %s (%s): their locks do not exclude each '
            'other, and volumes of the cluster can be corrupted. Give every '
            'member of the cluster the same [coordination] backend_url.' % (
                describe(other), me['cluster'],
                other.get('lock_location'), other.get('lock_backend'),
                me['host'], me['lock_location'], me['lock_backend']))


def _row(member_id, member, machine):
    return {'host': member.get('host'), 'cluster': member.get('cluster'),
            'backend': member.get('backend'),
            'address': member.get('address'),
            'driver': member.get('driver'),
            'lock_backend': member.get('lock_backend'),
            'lock_location': member.get('lock_location'),
            'member': member_id,
            'state': 'gone' if groups.is_gone(member, machine) else 'up'}


def service_rows(members, machine=None):
    """``cinder-manage service list``: one dict per member, sorted.

    ``state`` is ``up`` while the backend lists the member, ``gone`` for
    one of this machine whose process no longer runs.
    """
    rows = [_row(m, c, machine) for m, c in members.items()]
    return sorted(rows, key=lambda r: (r['cluster'] or '', r['host'] or '',
                                       r['backend'] or '', r['member']))


def cluster_rows(members, machine=None):
    """``cinder-manage cluster list``: one dict per cluster and backend.

    ``lock_backends`` lists the distinct places its members take their
    locks at: more than one is a misconfigured cluster.
    """
    clusters = {}
    for row in service_rows(members, machine):
        if not row['cluster']:
            continue
        entry = clusters.setdefault((row['cluster'], row['backend']), {
            'cluster': row['cluster'], 'backend': row['backend'],
            'members': 0, 'up': 0, 'hosts': [], 'lock_backends': []})
        entry['members'] += 1
        entry['up'] += row['state'] == 'up'
        entry['hosts'].append(row['host'])
        if row['lock_location'] not in entry['lock_backends']:
            entry['lock_backends'].append(row['lock_location'])
    return [clusters[k] for k in sorted(clusters)]
