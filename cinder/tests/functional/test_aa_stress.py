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

"""cinder-aa-stress against real lock servers: the CI runs of the tool.

Each test is one bounded run (a few hundred requests, under a minute on a
2-core machine) of the default workload, through the real services, the
real NFS driver and the real qemu-img. With a shared lock backend the
verdict must be clean, faults included; with a lock directory per service
(what host-local locks on several hosts amount to) it must find
violations, which shows it can.

The runs on a lock server put each service on a host of its own
(``--hosts netns``: a network namespace each, the broker and the lock
server in a control namespace); those runs take turns, as they share the
project's one /24. The file backend runs stay on one host, as the
README's first command does. The fault runs also give the services their
share through the fault-injecting file system, where ``nfs-replay`` makes
NFS operations the server applied answer with an error.
"""

import io
import json
import os
import re
from unittest import mock

import fixtures
import testtools

from cinder.cmd import aa_stress
from cinder.stress import lockservers
from cinder.tests.functional import netns_gate
from cinder.tests.functional import test_faultfs

OPERATIONS = '150'

#: Violations of what is on the share (as opposed to the ledger's).
SHARE_DAMAGE = frozenset([
    'snapshot-missing', 'snapshot-unexpected', 'stray-file', 'stray-volume',
    'chain-broken', 'chain-file-missing', 'missing-image', 'leftover-files',
    'volume-missing', 'data-mismatch', 'snapshot-data-mismatch',
    'torn-operation', 'size-mismatch', 'qemu-img-check'])


class StressTest(testtools.TestCase):

    def run_tool(self, *args):
        work = os.path.join(self.useFixture(fixtures.TempDir()).path, 'w')
        self.work = work
        out = io.StringIO()
        err = io.StringIO()
        with mock.patch('sys.stdout', out), mock.patch('sys.stderr', err):
            status = aa_stress.main(['--json', '--work-dir', work,
                                     '--operations', OPERATIONS] +
                                    list(args))
        self.addDetail('stderr', testtools.content.text_content(
            err.getvalue()))
        report = json.loads(out.getvalue())
        self.addDetail('report', testtools.content.text_content(
            json.dumps(report, indent=2)))
        return status, report

    def assert_clean(self, status, report):
        """No violation, stale writes included; the data all checked.

        The share fences commits (the info file), and the driver writes
        only new files when it changes a chain (copy-on-write): a holder
        frozen past its lease, wherever it was, changes nothing another
        holder uses.
        """
        self.assertEqual({}, report['violations'],
                         report['violation_details'][:5])
        self.assertEqual(1 if report['violations'] else 0, status)
        done = sum(c.get('done', 0) for c in report['operations'].values())
        self.assertGreater(done, 100)
        checked = report['checked']
        self.assertGreater(checked['volumes'], 0)
        # The data of every surviving volume and snapshot was read, faults
        # or not: eight slots each, nothing left unchecked.
        self.assertEqual(0, checked['unchecked'])
        self.assertEqual(8 * (checked['volumes'] + checked['snapshots']),
                         checked['slots'])

    def test_default_file_backend(self):
        self.assert_clean(*self.run_tool())

    def _server(self, kind):
        lockservers.check_available(kind)
        return ['--lock-server', kind]

    def _apart(self):
        netns_gate.require(self, '--hosts netns needs')
        return ['--hosts', 'netns']

    def assert_apart(self, report):
        """Each service in a namespace and at an address of its own."""
        hosts = report['hosts']
        self.assertEqual(3, len(hosts))
        self.assertEqual(3, len({h['netns'] for h in hosts}))
        self.assertEqual(3, len({h['address'] for h in hosts}))
        for host in hosts:
            self.assertTrue(host['address'].startswith('10.77.0.'), host)
            with open(os.path.join(self.work, host['host'],
                                   'cinder-volume.log')) as f:
                log = f.read()
            # The bus and the locks are reached over the bridge, from the
            # service's own address.
            seen = re.findall(r'reaches the message bus (\S+):\d+ from '
                              r'(\S+); the lock backend (\S+):\d+ from '
                              r'(\S+)', log)
            self.assertTrue(seen, log[-2000:])
            bus, bus_from, locks, locks_from = seen[0]
            self.assertEqual('10.77.0.1', bus)
            self.assertEqual('10.77.0.1', locks)
            self.assertEqual([host['address']] * 2, [bus_from, locks_from])

    def _run_apart(self, kind, *args):
        status, report = self.run_tool(*self._server(kind) + self._apart() +
                                       list(args))
        self.assert_apart(report)
        return status, report

    def test_redis(self):
        self.assert_clean(*self._run_apart('redis'))

    def test_zookeeper(self):
        self.assert_clean(*self._run_apart('zookeeper'))

    def test_etcd(self):
        self.assert_clean(*self._run_apart('etcd'))

    def _assert_faults(self, report):
        kinds = {f['kind'] for f in report['faults']}
        self.assertEqual({'kill', 'pause', 'stale-holder',
                          'lock-server-restart', 'partition',
                          'partition-one-way', 'partition-lock-server',
                          'nfs-replay'},
                         kinds)
        self.assertTrue(all(not f['note'].startswith('failed')
                            for f in report['faults']), report['faults'])
        # A holder frozen between the check of its commit and the commit
        # until another service committed the same record: the share
        # refused its commit. One injected after the round, while the
        # last requests ran, may be cut short by the end of the run; the
        # round's may not.
        stale = [f for f in report['faults'] if f['kind'] == 'stale-holder'
                 and 'the run ended' not in f['note']]
        self.assertIs(stale[0], [f for f in report['faults']
                                 if f['kind'] == 'stale-holder'][0])
        for fault in stale:
            self.assertIn('committed it meanwhile', fault['note'])
        self.assertGreaterEqual(report['fenced_off'], len(stale))
        # Each cut-off service answered again after its heal, without a
        # restart; where another service took a lock it had declared
        # lost, it took it later.
        partitions = report['partitions']
        self.assertEqual(len([f for f in report['faults']
                              if f['kind'].startswith('partition')]),
                         len(partitions))
        for row in partitions:
            self.assertIsNotNone(row['answered_after_heal'], row)
            if row['margin'] is not None:
                self.assertGreater(row['margin'], 0, row)
        self._assert_nfs_replays(report)

    def _assert_nfs_replays(self, report):
        """Each NFS failure fired, and the services settled it.

        The first of the run's seed is a commit's link applied and then
        answered with an error: a service found the link made and let the
        commit stand. No commit was left in doubt, and no request failed
        because of them: nfs-replay excuses nothing.
        """
        replays = [f for f in report['faults'] if f['kind'] == 'nfs-replay']
        for fault in replays:
            self.assertIsNone(fault['host'], fault)
            self.assertRegex(fault['note'], r'; fired [1-9]', fault)
        self.assertTrue(replays[0]['note'].startswith('link-'), replays)
        self.assertGreaterEqual(report['ambiguous_commits'], 1)
        self.assertEqual(0, report['commits_in_doubt'])
        self.assertNotIn('nfs-replay', report['fault_hits'])

    def assert_fault_run(self, kind):
        """Every fault once with hosts apart on *kind*: a clean verdict."""
        # nfs-replay needs the share through the fault-injecting file
        # system.
        test_faultfs.require(self)
        status, report = self._run_apart(
            kind, '--faults', '--fault-interval', '4', '--operations',
            '200')
        self._assert_faults(report)
        self.assert_clean(status, report)

    def test_redis_with_faults(self):
        self.assert_fault_run('redis')

    def test_zookeeper_with_faults(self):
        self.assert_fault_run('zookeeper')

    def test_etcd_with_faults(self):
        self.assert_fault_run('etcd')

    def test_local_locks_are_caught(self):
        # Requests in pairs racing for one volume: they meet for sure;
        # each service on a host of its own, with its own lock directory.
        status, report = self.run_tool('--local-locks', '--collide',
                                       *self._apart())
        self.assertEqual(1, status)
        self.assertFalse(report['ok'])
        self.assertIn('lock-overlap', report['violations'])
        # What the races did is found too: damage to the share, or, as the
        # share fences its commits, requests refused (each service's
        # fencing tokens come from a counter of its own, and the share
        # refuses the service whose counter is behind). The data of what
        # survived was still checked.
        self.assertTrue(SHARE_DAMAGE & set(report['violations']) or
                        report['fenced_off'] > 0, report['violations'])
        self.assertGreater(report['checked']['slots'], 0)

    def test_collisions_under_shared_locks_are_clean(self):
        self.assert_clean(*self.run_tool('--collide'))
