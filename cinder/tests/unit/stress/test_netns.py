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

"""Unit tests of cinder.stress.netns: the commands it would run.

The real namespaces are in cinder/tests/functional/test_netns.py.
"""

from unittest import mock

import fixtures
from oslotest import base

from cinder.stress import netns
from cinder.tests.functional import netns_gate
from cinder.tests.unit.coordination import fakes


class NetworkTestCase(base.BaseTestCase):

    def test_only_a_24_inside_10_8_and_a_short_prefix(self):
        for subnet in ('192.168.1.0/24', '10.0.0.0/16', '10.1.2.0/25'):
            e = self.assertRaises(ValueError, netns.Network, subnet=subnet)
            self.assertIn('/24 inside 10.0.0.0/8', str(e))
        for prefix in ('', 'much-too-long', 'a b'):
            self.assertRaises(ValueError, netns.Network, prefix=prefix)

    def test_a_partition_is_one_nft_run_in_the_host_namespace(self):
        net = netns.Network(prefix='cx')
        net._created = True
        with mock.patch.object(netns, '_run', return_value='') as run:
            host = net.add_host('a')
            run.reset_mock()
            net.partition('a', outbound=False, peers=['10.77.0.2'])
            net.heal('a')
            net.heal('a')   # healed already: nothing to run
        (argv, rules), (heal_argv,) = (
            (run.call_args_list[0][0][0], run.call_args_list[0][1]['stdin']),
            (run.call_args_list[1][0][0],))
        self.assertEqual(2, run.call_count)
        self.assertEqual(['ip', 'netns', 'exec', host.netns, 'nft', '-f',
                          '-'], argv)
        self.assertIn('hook input', rules)
        self.assertNotIn('hook output', rules)
        self.assertIn('iif "lo" accept', rules)
        self.assertIn('ip saddr { 10.77.0.2 } drop', rules)
        self.assertEqual(['ip', 'netns', 'exec', host.netns, 'nft',
                          'delete', 'table', 'inet', 'cx_cut'], heal_argv)

    def test_a_cut_of_some_ports_names_them_each_way(self):
        net = netns.Network(prefix='cx')
        net._created = True
        with mock.patch.object(netns, '_run', return_value='') as run:
            net.add_host('a')
            run.reset_mock()
            net.partition('a', peers=['10.77.0.9'], ports=[2181, 5672])
        rules = run.call_args_list[0][1]['stdin']
        self.assertIn('ip saddr { 10.77.0.9 } tcp sport { 2181, 5672 } '
                      'drop', rules)
        self.assertIn('ip daddr { 10.77.0.9 } tcp dport { 2181, 5672 } '
                      'drop', rules)

    def test_a_failed_command_names_itself(self):
        with mock.patch('subprocess.run', return_value=mock.Mock(
                returncode=2, stderr='RTNETLINK answers: File exists\n',
                stdout='')):
            e = self.assertRaises(netns.NetnsError, netns._run,
                                  ['ip', 'netns', 'add', 'cx-a'])
        self.assertIn('ip netns add cx-a failed (exit 2): RTNETLINK', str(e))


class MachineLockTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'cinder.stress.netns.LOCK_DIR',
            self.useFixture(fixtures.TempDir()).path))
        self.clock = fakes.FakeClock()
        self.waits = []
        # Another run holds the subnet (flock: another open file).
        self.other = netns.MachineLock('10.77.0.0/24')
        self.assertTrue(self.other.acquire(blocking=False))
        self.addCleanup(self.other.release)

    def wait(self, seconds):
        self.waits.append(seconds)
        self.clock.now += seconds

    def take(self, timeout, wait=None):
        lock = netns.MachineLock('10.77.0.0/24')
        self.addCleanup(lock.release)
        return lock.acquire(timeout=timeout, clock=self.clock,
                            wait=wait or self.wait)

    def test_a_timeout_gives_up_when_it_has_passed(self):
        self.assertFalse(self.take(timeout=2))
        self.assertEqual([0.5, 0.5, 0.5, 0.5], self.waits)

    def test_a_timeout_takes_it_once_the_other_lets_go(self):
        def wait(seconds):
            self.wait(seconds)
            if len(self.waits) == 3:
                self.other.release()

        self.assertTrue(self.take(timeout=900, wait=wait))
        self.assertEqual([0.5] * 3, self.waits)
        self.assertFalse(netns.MachineLock('10.77.0.0/24').acquire(
            blocking=False))


class HoldSubnetTestCase(base.BaseTestCase):
    """netns_gate.hold_subnet: the subnet, taken before a test's timeout."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'cinder.stress.netns.LOCK_DIR',
            self.useFixture(fixtures.TempDir()).path))
        self.test = mock.Mock(spec=['fail', 'addCleanup'])
        self.test.fail.side_effect = AssertionError

    def test_held_until_the_test_cleans_up(self):
        netns_gate.hold_subnet(self.test, '10.77.0.0/24', timeout=0)
        other = netns.MachineLock('10.77.0.0/24')
        self.assertFalse(other.acquire(blocking=False))
        (release,), _ = self.test.addCleanup.call_args
        release()
        self.assertTrue(other.acquire(blocking=False))
        other.release()

    def test_a_subnet_not_freed_in_time_fails_the_test_naming_the_lock(self):
        other = netns.MachineLock('10.77.0.0/24')
        other.acquire()
        self.addCleanup(other.release)
        self.assertRaises(AssertionError, netns_gate.hold_subnet,
                          self.test, '10.77.0.0/24', timeout=0)
        message = self.test.fail.call_args[0][0]
        self.assertIn('10.77.0.0/24 was not free within 0 s', message)
        self.assertIn(other.path, message)
        self.test.addCleanup.assert_not_called()
