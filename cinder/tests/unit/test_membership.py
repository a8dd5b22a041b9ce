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

"""Unit tests of the volume services' group and the cluster's checks."""

import os
import subprocess
import sys
from unittest import mock

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder import coordination
from cinder.coordination import groups
from cinder import exception
from cinder import membership

MACHINE = 'machine-1/boot-1'


def me(host='h1', backend='nfs', pid=None, location='zookeeper://zk:2181',
       **extra):
    return dict(membership.record(
        host, 'c1', backend, '10.0.0.1', 'nfs', location, location,
        machine=MACHINE, pid=pid or os.getpid(), clock=lambda: 1.0),
        **extra)


class GroupTestCase(base.BaseTestCase):
    """Tooz groups through the coordinator, on the file backend."""

    def coordinator(self, member):
        conf = cfg.ConfigOpts()
        coordinator = coordination.Coordinator(conf=conf, member_id=member)
        conf([], default_config_files=[])
        conf.set_override('backend_url', 'file://' + self.dir,
                          group='coordination')
        coordinator.start()
        self.addCleanup(coordinator.stop)
        return coordinator

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_members_and_their_capabilities(self):
        first = self.coordinator('m1').group('g')
        second = self.coordinator('m2').group('g')
        self.assertEqual({}, first.members())
        first.join({'host': 'h1'})
        second.join({'host': 'h2'})
        # Joining again replaces the capabilities.
        first.join({'host': 'h1', 'again': True})
        self.assertEqual({'m1': {'host': 'h1', 'again': True},
                          'm2': {'host': 'h2'}}, second.members())
        first.leave()
        first.leave()
        self.assertEqual({'m2': {'host': 'h2'}}, second.members())

    def test_a_stopped_coordinator_has_no_group(self):
        group = self.coordinator('m1').group('g')
        coordinator = coordination.Coordinator(conf=cfg.ConfigOpts())
        self.assertRaises(coordination.CoordinationError,
                          coordinator.group('g').members)
        self.assertEqual({}, group.members())

    def test_a_dead_process_of_this_machine_is_gone(self):
        done = subprocess.run([sys.executable, '-c', 'import os; '
                               'print(os.getpid())'], capture_output=True,
                              text=True, check=True)
        dead = int(done.stdout)
        here = groups.machine_id()
        self.assertTrue(groups.is_gone({'pid': dead, 'machine': here}))
        self.assertFalse(groups.is_gone({'pid': os.getpid(),
                                         'machine': here}))
        # Of another machine: cannot tell, so not gone.
        self.assertFalse(groups.is_gone({'pid': dead, 'machine': 'other'}))
        self.assertFalse(groups.is_gone({'machine': here}))


class MembershipTestCase(base.BaseTestCase):

    def membership(self, members):
        coordinator = mock.Mock(member='self-member')
        coordinator.group.return_value.members.return_value = members
        return membership.Membership(coordinator, me()), coordinator

    def test_a_live_member_with_this_host_and_backend_refuses_the_start(self):
        ours, coordinator = self.membership(
            {'other': me(pid=os.getpid())})
        exc = self.assertRaises(exception.ServiceStartError, ours.join)
        self.assertIn('[DEFAULT] host = h1 is taken: member other, host h1 '
                      '(cluster c1, address 10.0.0.1, pid %d) already serves '
                      'h1@nfs' % os.getpid(), str(exc))
        coordinator.group.return_value.join.assert_not_called()

    def test_the_same_host_on_another_backend_or_gone_is_no_conflict(self):
        with mock.patch.object(groups, 'is_gone', side_effect=lambda m:
                               m.get('pid') == 999999):
            ours, coordinator = self.membership({
                'other-backend': me(backend='tgt'),
                'killed': me(pid=999999),
                'self-member': me(),
                'another-host': me(host='h2')})
            ours.join()
        coordinator.group.return_value.join.assert_called_once_with(ours.me)
        ours.leave()
        coordinator.group.return_value.leave.assert_called_once_with()


class ClusterEndpointTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.membership'))
        self.reply = mock.Mock()
        self.endpoint = membership.ClusterEndpoint(me(), self.reply)

    def test_a_member_on_another_lock_backend_is_reported_both_ways(self):
        other = me(host='h2', pid=4242, location='file://h2/var/lib/cinder')
        self.endpoint.member_joined({}, other)
        self.assertIn('Member host h2 (cluster c1, address 10.0.0.1, pid '
                      '4242) of cluster c1 takes its locks at '
                      'file://h2/var/lib/cinder', self.log.output)
        self.assertIn('their locks do not exclude each other',
                      self.log.output)
        self.reply.assert_called_once_with('h2@nfs', 'lock_backend_mismatch',
                                           member=self.endpoint.me)

    def test_agreeing_members_and_itself_are_quiet(self):
        self.endpoint.member_joined({}, me(host='h2', pid=4242))
        self.endpoint.member_joined({}, me())
        self.reply.assert_not_called()
        self.assertNotIn('do not exclude', self.log.output)

    def test_the_newcomer_logs_what_a_member_told_it(self):
        self.endpoint.lock_backend_mismatch({}, me(host='h3', pid=7))
        self.assertIn('Member host h3', self.log.output)
        self.assertTrue(self.endpoint.member_joined.exposed)
        self.assertTrue(self.endpoint.lock_backend_mismatch.exposed)
