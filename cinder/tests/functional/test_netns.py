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

"""Hosts apart on this machine: real namespaces, veths, bridge, nftables.

Every test uses the one /24 the project may use (10.77.0.0/24);
:class:`cinder.stress.netns.MachineLock` keeps the tests of parallel
workers (and stress runs with ``--hosts netns``) from making two networks
at once. Each test removes what it made, checked by name.
"""

import os
import socket
import subprocess
import sys
import threading
import time

from oslotest import base

from cinder.stress import netns
from cinder.tests.functional import netns_gate

SUBNET = '10.77.0.0/24'
PORT = 9999

SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
print('up', flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b'hi')
    c.close()
"""

CLIENT = """
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    print(s.recv(2).decode())
except OSError as e:
    print(type(e).__name__)
"""


class NetnsTestCase(base.BaseTestCase):

    def setUp(self):
        netns_gate.require(self, 'network namespaces need')
        # Before the test's timeout starts: see hold_subnet.
        netns_gate.hold_subnet(self, SUBNET)
        super(NetnsTestCase, self).setUp()
        self.prefix = 'ct%d' % (os.getpid() % 100000)
        self.net = netns.Network(prefix=self.prefix, subnet=SUBNET)
        self.addCleanup(self.assert_nothing_left)
        self.addCleanup(self.net.destroy)
        self.net.create()

    def assert_nothing_left(self):
        self.assertEqual([], netns.namespaces(self.prefix))
        self.assertEqual([], netns.links(self.prefix))
        routes = subprocess.run(['ip', 'route', 'show', 'type',
                                 'unreachable'], capture_output=True,
                                text=True).stdout
        self.assertNotIn(SUBNET, routes)

    def serve(self, host):
        server = subprocess.Popen(
            host.command([sys.executable, '-c', SERVER, host.address,
                          str(PORT)]), stdout=subprocess.PIPE, text=True)
        self.addCleanup(server.wait, 10)
        self.addCleanup(server.kill)
        self.addCleanup(server.stdout.close)
        self.assertEqual('up', server.stdout.readline().strip())

    def connect(self, address, host=None):
        argv = [sys.executable, '-c', CLIENT, address, str(PORT)]
        if host is not None:
            argv = host.command(argv)
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=30).stdout.strip()

    def test_hosts_reach_each_other_over_the_bridge_only(self):
        a, b = self.net.add_host('a'), self.net.add_host('b')
        self.assertEqual(('10.77.0.1', '10.77.0.2'), (a.address, b.address))
        self.assertEqual([a.netns, b.netns], netns.namespaces(self.prefix))
        self.serve(a)
        self.assertEqual('hi', self.connect(a.address, host=b))
        # Nothing on the machine reaches a host, and nothing for the hosts'
        # addresses leaves by the machine's own interfaces.
        self.assertEqual('OSError', self.connect(a.address))
        # A host reaches nothing beyond the bridge.
        self.assertEqual('OSError', self.connect('10.1.2.3', host=b))

    def test_a_partition_is_silent_and_heals(self):
        a, b = self.net.add_host('a'), self.net.add_host('b')
        c = self.net.add_host('c')
        self.serve(a)
        self.serve(c)
        self.net.partition('b')
        began = time.monotonic()
        # Silent: the connection times out, it is not refused at once.
        self.assertEqual('TimeoutError', self.connect(a.address, host=b))
        self.assertGreater(time.monotonic() - began, 0.9)
        self.net.heal('b')
        self.assertEqual('hi', self.connect(a.address, host=b))
        # Cut from one peer only.
        self.net.partition('b', peers=[a.address])
        self.assertEqual('TimeoutError', self.connect(a.address, host=b))
        self.assertEqual('hi', self.connect(c.address, host=b))
        self.net.heal('b')
        # Some ports of a peer only: the others still answer.
        self.net.partition('b', peers=[a.address], ports=[PORT + 1])
        self.assertEqual('hi', self.connect(a.address, host=b))
        self.net.heal('b')
        self.net.partition('b', peers=[a.address], ports=[PORT])
        self.assertEqual('TimeoutError', self.connect(a.address, host=b))
        self.net.heal('b')
        # One way: what b receives is dropped, its SYN still goes out.
        self.net.partition('b', outbound=False)
        self.assertEqual('TimeoutError', self.connect(a.address, host=b))
        self.net.heal('b')
        self.assertEqual('hi', self.connect(a.address, host=b))

    def test_a_new_run_removes_what_a_crashed_one_left(self):
        self.net.add_host('a')
        self.net.add_host('b')
        # A run that crashed: its Network object is gone, not destroyed.
        again = netns.Network(prefix=self.prefix, subnet=SUBNET)
        again.create()
        self.assertEqual([], netns.namespaces(self.prefix))
        self.assertEqual([self.prefix + '-br'], netns.links(self.prefix))
        removed = netns.cleanup(self.prefix, again.subnet)
        self.assertIn('unreachable %s' % SUBNET, removed)
        self.assertIn(self.prefix + '-br', removed)

    def test_a_thread_enters_a_namespace_and_leaves_it(self):
        a, b = self.net.add_host('a'), self.net.add_host('b')
        self.serve(a)

        def reach():
            try:
                with socket.create_connection((a.address, PORT),
                                              timeout=1) as s:
                    return s.recv(2).decode()
            except OSError as e:
                return type(e).__name__

        self.assertEqual('OSError', reach())
        with netns.inside(b.netns):
            self.assertEqual('hi', reach())
            # Threads and processes started inside are born there.
            seen = []
            thread = threading.Thread(target=lambda: seen.append(reach()))
            thread.start()
            thread.join(30)
            self.assertEqual(['hi'], seen)
            self.assertEqual('hi', self.connect(a.address))
        self.assertEqual('OSError', reach())
        self.assertRaises(netns.NetnsError, netns.Entered, 'no-such-ns')
