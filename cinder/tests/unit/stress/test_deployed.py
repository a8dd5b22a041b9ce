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

"""Unit tests of cinder.stress.deployed: members, probes, removal."""

import random
from unittest import mock

from oslotest import base

from cinder import exception
from cinder import membership
from cinder import messaging
from cinder import objects
from cinder.stress import deployed
from cinder.stress import workload

MACHINE = 'this-machine'


def member(host, cluster='prod', backend='nfs', location='redis://r:6379',
           machine='elsewhere', pid=1):
    return membership.record(host, cluster, backend, '10.0.0.1', 'nfs',
                             'redis://r:6379', location, machine=machine,
                             pid=pid, clock=lambda: 0)


class LiveMembersTestCase(base.BaseTestCase):

    def live(self, members, cluster='prod'):
        return deployed.live_members(dict(enumerate(members)), cluster,
                                     machine=MACHINE)

    def test_only_the_live_members_of_the_cluster(self):
        gone = member('c', machine=MACHINE, pid=2 ** 22 + 12345)
        found = self.live([member('b'), member('x', cluster='test'),
                           member('a'), member('y', cluster=None), gone])
        self.assertEqual(['a', 'b'], [m['host'] for m in found])

    def test_a_cluster_without_a_live_member_is_refused(self):
        error = self.assertRaises(
            deployed.DeployedError, self.live,
            [member('x', cluster='test'), member('y', cluster='dev')])
        self.assertEqual('cluster prod has no live member at the lock '
                         'backend (clusters there: dev, test); start its '
                         'cinder-volume services, or check --cluster and '
                         'the lock backend URL', str(error))
        self.assertRaises(deployed.DeployedError, self.live, [])

    def test_members_locking_at_different_places_are_refused(self):
        error = self.assertRaises(
            deployed.DeployedError, self.live,
            [member('a'), member('b', location='file://b/var/lib/locks'),
             member('c', cluster='other', location='zookeeper://z:2181')])
        self.assertIn('the members of cluster prod take their locks at '
                      'different places', str(error))
        self.assertIn('a: redis://r:6379; b: file://b/var/lib/locks',
                      str(error))

    def test_members_serving_different_backends_are_refused(self):
        error = self.assertRaises(
            deployed.DeployedError, self.live,
            [member('a'), member('b', backend='nfs2')])
        self.assertIn('serve different backends', str(error))


class DeployedClusterTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.listed = {1: member('b'), 2: member('a'),
                       3: member('z', cluster='other')}
        self.list_members = self.patch(
            'cinder.stress.deployed.list_members', return_value=self.listed)
        self.client = mock.Mock()
        self.rpc = self.patch('cinder.volume.rpcapi.VolumeAPI',
                              return_value=self.client)
        self.patch('cinder.local_service.transport',
                   side_effect=lambda url: 'transport:' + url)
        self.cluster = deployed.DeployedCluster(
            'prod', '/share', 'redis://:pw@r:6379', 'rabbit://u:pw@b/')

    def patch(self, target, **kwargs):
        patcher = mock.patch(target, **kwargs)
        self.addCleanup(patcher.stop)
        return patcher.start()

    def test_the_workload_sends_to_every_member(self):
        self.cluster.start()
        load = workload.Workload(self.cluster, seed=1)
        rng = random.Random(1)
        self.assertEqual({'a', 'b'}, {load._service(rng)[1].host
                                      for _ in range(40)})

    def test_start_probes_every_member_at_its_address(self):
        self.cluster.start()
        self.list_members.assert_called_once_with('redis://:pw@r:6379')
        self.assertEqual(['a', 'b'], [m.host for m in self.cluster.services])
        self.assertEqual(
            [mock.call('transport:rabbit://u:pw@b/', 'a@nfs',
                       timeout=deployed.PROBE_TIMEOUT),
             mock.call('transport:rabbit://u:pw@b/', 'b@nfs',
                       timeout=deployed.PROBE_TIMEOUT)],
            self.rpc.call_args_list)
        self.assertEqual([mock.call('get_volume_stats')] * 2,
                         self.client.call.call_args_list)
        self.assertEqual('prod@nfs', self.cluster.address)

    def test_a_member_that_does_not_answer_is_refused(self):
        self.client.call.side_effect = exception.RequestOutcomeUnknown(
            'a@nfs', 'get_volume_stats()', 10.0, 'timed out')
        error = self.assertRaises(deployed.DeployedError, self.cluster.start)
        self.assertIn('member a of cluster prod does not answer a stats '
                      'request at a@nfs on the bus', str(error))
        self.assertNotIn('pw', str(error))


class RemoveTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.calls = []
        self.client = mock.Mock()
        self.client.call.side_effect = self.call
        self.cluster = mock.Mock()
        self.cluster.client.return_value = self.client
        self.failing = set()

    def call(self, method, volume, **args):
        self.calls.append((method, volume.id, args.get('attachment_id'),
                           len(volume.attachments)))
        if (method, volume.id) in self.failing:
            raise messaging.RemoteError('VolumeBackendAPIException', 'no')
        if method == 'detach_volume':
            # The reply updates the caller's record, as over the bus.
            volume.attachments = [a for a in volume.attachments
                                  if a.id != args['attachment_id']]

    def attached(self, count):
        volume = objects.Volume(status='in-use')
        volume.attachments = [
            objects.Attachment(id='att-%d' % i, volume_id=volume.id,
                               connector={'host': 'c%d' % i})
            for i in range(count)]
        return volume

    def test_attached_volumes_are_detached_first_each_deleted_once(self):
        plain, once, twice = (self.attached(0), self.attached(1),
                              self.attached(2))
        ids = [a.id for a in once.attachments + twice.attachments]
        removed, failures = deployed.remove(self.cluster,
                                            [plain, once, twice])
        self.assertEqual([plain.id, once.id, twice.id], removed)
        self.assertEqual([], failures)
        self.assertEqual([
            ('delete_volume', plain.id, None, 0),
            ('detach_volume', once.id, ids[0], 1),
            ('delete_volume', once.id, None, 0),
            ('detach_volume', twice.id, ids[1], 2),
            ('detach_volume', twice.id, ids[2], 1),
            ('delete_volume', twice.id, None, 0)], self.calls)
        self.cluster.client.assert_called_with(
            timeout=deployed.REMOVE_TIMEOUT)

    def test_a_failure_is_reported_and_the_others_go_on(self):
        first, second = self.attached(1), self.attached(0)
        self.failing.add(('detach_volume', first.id))
        removed, failures = deployed.remove(self.cluster, [first, second])
        self.assertEqual([second.id], removed)
        self.assertEqual(1, len(failures))
        self.assertIn('volume %s was not removed: '
                      'VolumeBackendAPIException: no' % first.id,
                      failures[0])
        self.assertNotIn(('delete_volume', first.id, None, 1), self.calls)
