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

"""Two real cinder-volume processes of one cluster on two "hosts".

Each service runs in a network namespace of its own; the broker and a
Redis lock server run in a control namespace, where this test's thread
moves too (it plays the scheduler and the operator). Requests cross the
bridge: a cast to the cluster reaches one member, a call to a host
reaches that host; ``cinder-manage`` lists both members.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid

import fixtures
from oslotest import base

from cinder.coordination import backends
from cinder import local_service
from cinder import objects
from cinder.stress import lockservers
from cinder.stress import netns
from cinder.tests.functional import netns_gate

SUBNET = '10.77.0.0/24'
FAKE_DRIVER = 'cinder.tests.unit.fake_driver.FakeDriver'
CASTS = 20


def _wait_for(predicate, timeout=60):
    """Poll ``predicate`` until true or ``timeout`` s; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


class HostsApartTest(base.BaseTestCase):

    def setUp(self):
        netns_gate.require(self, 'hosts apart need',
                           also=lockservers.RabbitServer.missing())
        # Before the test's timeout starts: see hold_subnet.
        netns_gate.hold_subnet(self, SUBNET)
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.prefix = 'ch%d' % (os.getpid() % 100000)
        self.net = netns.Network(prefix=self.prefix, subnet=SUBNET)
        self.addCleanup(self.assert_nothing_left)
        self.addCleanup(self.net.destroy)
        self.net.create()
        self.ctl = self.net.add_host('ctl')
        self.hosts = [self.net.add_host(name) for name in ('a', 'b')]
        entered = netns.Entered(self.ctl.netns)
        self.addCleanup(entered.leave)
        self.broker = lockservers.RabbitServer(
            data_dir=os.path.join(self.dir, 'rabbitmq'),
            host=self.ctl.address)
        self.broker.start()
        self.addCleanup(self.broker.stop)
        self.redis = lockservers.RedisServer(
            data_dir=os.path.join(self.dir, 'redis'), host=self.ctl.address)
        self.redis.start()
        self.addCleanup(self.redis.stop)
        self.addCleanup(local_service.close_transports)
        self.cluster = 'c-%s' % uuid.uuid4().hex[:6]
        self.services = [self.start_service(h) for h in self.hosts]

    def assert_nothing_left(self):
        self.assertEqual([], netns.namespaces(self.prefix))
        self.assertEqual([], netns.links(self.prefix))

    def start_service(self, host):
        service = local_service.ServiceProcess(
            os.path.join(self.dir, host.name),
            {'DEFAULT': {'volume_driver': FAKE_DRIVER,
                         'cluster': self.cluster,
                         'transport_url': self.broker.url},
             'coordination': {'backend_url': self.redis.url}},
            host='host-%s' % host.name, netns=host.netns)
        service.prepare()
        self.addCleanup(service.kill)
        service.start()
        return service

    def created(self, service):
        return set(re.findall(r'Created volume (\S+) ', service.log()))

    def test_a_cast_to_the_cluster_reaches_one_member(self):
        volumes = [objects.Volume(size=1) for _ in range(CASTS)]
        cluster = self.services[0].cluster_client(timeout=30)
        for volume in volumes:
            cluster.cast('create_volume', volume=volume)
        ids = {v.id for v in volumes}
        _wait_for(lambda: ids <= (self.created(self.services[0]) |
                                  self.created(self.services[1])))
        first, second = (self.created(s) for s in self.services)
        self.assertEqual(ids, first | second)
        self.assertEqual(set(), first & second)
        # Both members consume from the cluster's queue.
        self.assertTrue(first and second, (len(first), len(second)))

    def test_a_call_to_a_host_reaches_that_host(self):
        for service in self.services:
            volume = objects.Volume(size=1)
            service.client(timeout=30).call('create_volume', volume=volume)
            self.assertEqual(service.host, volume.host)
            self.assertIn(volume.id, self.created(service))
            others = [s for s in self.services if s is not service]
            self.assertNotIn(volume.id, self.created(others[0]))

    def test_each_service_reaches_the_bus_from_its_own_address(self):
        for host, service in zip(self.hosts, self.services):
            self.assertIn('reaches the message bus %s:%d from %s' % (
                self.ctl.address, self.broker.port, host.address),
                service.log())

    def manage(self, *args):
        done = subprocess.run(
            [sys.executable, '-m', 'cinder.cmd.manage', '--config-file',
             self.services[0].config_file] + list(args) + ['--json'],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(0, done.returncode, done.stderr)
        return json.loads(done.stdout)

    def test_cinder_manage_lists_the_members_on_their_hosts(self):
        rows = self.manage('service', 'list')
        self.assertEqual(
            [(s.host, self.cluster, h.address, 'up')
             for s, h in zip(self.services, self.hosts)],
            [(r['host'], r['cluster'], r['address'], r['state'])
             for r in rows])
        clusters = self.manage('cluster', 'list')
        self.assertEqual(1, len(clusters))
        self.assertEqual(2, clusters[0]['up'])
        self.assertEqual(
            [backends.make_backend(self.redis.url, 1.0).location()],
            clusters[0]['lock_backends'])
        # A member that stops leaves the group.
        self.assertEqual(0, self.services[1].terminate())
        self.assertEqual([self.services[0].host],
                         [r['host'] for r in self.manage('service', 'list')])
