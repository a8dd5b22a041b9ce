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

"""Tests of the fault injector's choice of kinds and its stale holder."""

import json
import os
import threading
from unittest import mock

import fixtures
from oslotest import base

from cinder import messaging
from cinder.stress import faults
from cinder.stress import holds
from cinder.stress import nfsreplay
from cinder.tests.unit.stress import test_nfsreplay

WAIT = 10


class FakeService(object):
    def __init__(self, host, events):
        self.host = host
        self.events = events

    def pause(self):
        self.events.append(('pause', self.host))

    def resume(self):
        self.events.append(('resume', self.host))


class FakeCluster(object):
    """What the injector uses of a cluster, in a temporary directory."""

    def __init__(self, root, lease=6, server=True, network=True, fs=True):
        self.lease = lease
        self.server = object() if server else None
        self.network = object() if network else None
        self.fs = test_nfsreplay.FakeFS() if fs else None
        self.share = os.path.join(root, 'share')
        self.ledger = os.path.join(root, 'ledger.jsonl')
        os.makedirs(self.share)
        self.events = []
        self.services = [FakeService('host-%d' % i, self.events)
                         for i in (1, 2)]
        self.avoided = set()
        self.hold_dirs = []
        for service in self.services:
            path = os.path.join(root, service.host)
            os.makedirs(path)
            self.hold_dirs.append(path)

    def holds(self, index):
        return holds.StepHolds(self.hold_dirs[index])

    def pause(self, index, seconds, stop_event):
        self.events.append(('paused', index))

    def restart_lock_server(self):
        self.events.append(('restarted', None))

    lock_server_kind = 'zookeeper'


class KindsTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path

    def test_every_kind_the_cluster_allows_in_turn(self):
        cluster = FakeCluster(self.root)
        self.assertEqual(list(faults.KINDS),
                         faults.FaultInjector(cluster).kinds)
        cluster = FakeCluster(os.path.join(self.root, 'file'), lease=None,
                              server=False, network=False, fs=False)
        self.assertEqual(['kill'], faults.FaultInjector(cluster).kinds)

    def test_nfs_replay_needs_the_share_through_the_file_system(self):
        cluster = FakeCluster(self.root, lease=None, server=False,
                              network=False)
        self.assertEqual(['kill', 'nfs-replay'],
                         faults.FaultInjector(cluster).kinds)
        cluster.fs = None
        self.assertEqual(['kill'], faults.FaultInjector(cluster).kinds)
        e = self.assertRaises(faults.FaultError, faults.FaultInjector,
                              cluster, kinds=['nfs-replay'])
        self.assertIn('nfs-replay needs the share through the '
                      'fault-injecting file system', str(e))

    def test_kinds_asked_for_are_checked(self):
        cluster = FakeCluster(self.root, lease=None)
        self.assertEqual(['kill', 'lock-server-restart'],
                         faults.FaultInjector(
                             cluster, kinds=['kill',
                                             'lock-server-restart']).kinds)
        e = self.assertRaises(faults.FaultError, faults.FaultInjector,
                              cluster, kinds=['stale-holder'])
        self.assertIn('stale-holder needs a lock backend whose locks are '
                      'leases', str(e))
        e = self.assertRaises(faults.FaultError, faults.FaultInjector,
                              cluster, kinds=['freeze'])
        self.assertIn("no fault called 'freeze'", str(e))


class StaleHolderTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        self.cluster = FakeCluster(root)
        self.injector = faults.FaultInjector(self.cluster,
                                             kinds=['stale-holder'])
        self.cluster.lease = 0   # lost as soon as frozen
        self.useFixture(fixtures.MockPatchObject(faults, 'LEASE_SLACK', 0))
        self.holds = self.cluster.holds(1)
        self.answered = []

        def answer(index):
            # Still avoided until it answers.
            self.answered.append((index, set(self.cluster.avoided)))
            return 1234.5

        self.useFixture(fixtures.MockPatchObject(
            self.injector, '_wait_for_answer', side_effect=answer))

    def create_record(self, name):
        open(os.path.join(self.cluster.share, name + '.g1'), 'w').close()

    def append_ledger(self, **entry):
        with open(self.cluster.ledger, 'a') as f:
            f.write(json.dumps(entry) + '\n')

    def hold(self, step, pid=41):
        """Be the service: take the next armed commit, as the hook does."""
        armed = os.path.join(self.cluster.hold_dirs[1], 'armed-commit')
        held = threading.Event()

        def take():
            for _ in range(WAIT * 100):
                if os.path.exists(armed):
                    with open(armed) as f:
                        name = json.load(f)['name']
                    os.unlink(armed)
                    holds._write(os.path.join(
                        self.cluster.hold_dirs[1], 'waiting-' + name),
                        {'lock': 'cinder-v', 'step': step, 'pid': pid,
                         't': 0})
                    held.set()
                    return
                threading.Event().wait(0.01)

        thread = threading.Thread(target=take)
        thread.start()
        self.addCleanup(thread.join, WAIT)
        return held

    def inject(self):
        fault = faults.Fault('stale-holder', None)
        self.injector._stale_holder(fault, 1)
        return fault

    def test_frozen_until_another_holder_committed_the_record(self):
        self.create_record('volume-1.info')
        self.append_ledger(event='step', step='commit volume-1.info',
                           pid=7, t=0)       # before the hold: not counted
        held = self.hold('commit volume-1.info')
        avoided = []

        def other_commits():
            held.wait(WAIT)
            while ('pause', 'host-2') not in self.cluster.events:
                threading.Event().wait(0.01)
            avoided.append(set(self.cluster.avoided))
            self.append_ledger(event='step', step='commit volume-2.info',
                               pid=8, t=1)
            self.append_ledger(event='step', step='commit volume-1.info',
                               pid=41, t=1)  # the frozen holder itself
            self.append_ledger(event='step', step='commit volume-1.info',
                               pid=9, t=2)

        thread = threading.Thread(target=other_commits)
        thread.start()
        fault = self.inject()
        thread.join(WAIT)
        self.assertEqual([('pause', 'host-2'), ('resume', 'host-2')],
                         self.cluster.events)
        # While it was frozen, new requests went to the other service, and
        # until it answered again after it woke up.
        self.assertEqual([{1}], avoided)
        self.assertEqual([(1, {1})], self.answered)
        self.assertEqual(1234.5, fault.end)
        self.assertIn('held pid 41 at "commit volume-1.info"', fault.note)
        self.assertIn('pid 9 committed it meanwhile', fault.note)
        self.assertEqual(set(), self.cluster.avoided)
        # Let go: the service's hold ends.
        self.assertTrue(any(n.startswith('go-stale-')
                            for n in os.listdir(self.cluster.hold_dirs[1])))

    def test_the_first_commit_of_a_new_record_is_let_go(self):
        # Nobody else can commit a volume only this request knows of.
        self.hold('commit volume-new.info')
        with mock.patch.object(faults, 'STALE_WAIT', 0.5):
            fault = self.inject()
        self.assertEqual([], self.cluster.events)
        self.assertEqual('no commit within 0 s', fault.note)
        names = os.listdir(self.cluster.hold_dirs[1])
        self.assertIn('go-stale-0-0', names)
        self.assertNotIn('armed-commit', names)

    def test_the_end_of_the_run_is_told_apart_from_no_commit(self):
        # The workload ended while it waited: that is no "60 s" wait.
        self.injector._stop.set()
        fault = self.inject()
        self.assertEqual('the run ended before a commit', fault.note)
        self.assertEqual([], os.listdir(self.cluster.hold_dirs[1]))

    def test_no_commit_takes_back_the_hold(self):
        with mock.patch.object(faults, 'STALE_WAIT', 0):
            fault = self.inject()
        self.assertEqual('no commit within 0 s', fault.note)
        self.assertEqual([], os.listdir(self.cluster.hold_dirs[1]))
        self.assertEqual([], self.cluster.events)


class RecoveryProbeTestCase(base.BaseTestCase):

    def test_a_probe_takes_locks_and_changes_nothing(self):
        root = self.useFixture(fixtures.TempDir()).path
        cluster = FakeCluster(root)
        calls = []

        class Client(object):
            def call(self, method, **args):
                calls.append((method, args))
                if len(calls) < 3:
                    # Still finding out its session expired.
                    raise messaging.RemoteError('BackendUnavailable', 'x')

        cluster.services[0].client = lambda timeout: Client()
        answered = faults.FaultInjector(cluster)._wait_for_answer(0)
        self.assertIsNotNone(answered)
        self.assertEqual(['delete_volume'] * 3, [m for m, _ in calls])
        volumes = [args['volume'] for _, args in calls]
        # A volume that never existed, a new one each time, on no share.
        self.assertEqual(3, len({v.id for v in volumes}))
        self.assertEqual([None] * 3,
                         [v.provider_location for v in volumes])


class RecoveryTestCase(base.BaseTestCase):
    """After a fault, the tool waits until the services it reached answer."""

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        self.cluster = FakeCluster(root)
        self.probed = []

    def inject(self, kind, answers):
        """Run the injector for one fault of *kind*; return the fault.

        *answers*: service index -> what its probe returns.
        """
        injector = faults.FaultInjector(self.cluster, interval=0,
                                        kinds=[kind])

        def answer(index):
            # The fault itself is over before anybody is probed.
            self.assertTrue(self.cluster.events)
            self.probed.append(index)
            return answers[index]

        self.useFixture(fixtures.MockPatchObject(
            injector, '_wait_for_answer', side_effect=answer))
        # One fault, then the loop ends.
        self.cluster.events = _StopAfterOne(injector)
        injector._run()
        self.assertEqual(1, len(injector.faults))
        return injector.faults[0]

    def test_a_paused_service_is_probed_until_it_answers(self):
        fault = self.inject('pause', {0: 2000.0, 1: 2000.0})
        self.assertEqual([self.cluster.events[0][1]], self.probed)
        self.assertEqual(2000.0, fault.recovered)
        self.assertIn('paused 9 s (lease 6 s); answered again', fault.note)
        self.assertIn('after the thaw', fault.note)

    def test_every_service_is_probed_after_a_lock_server_restart(self):
        fault = self.inject('lock-server-restart', {0: 2000.0, 1: 2003.0})
        self.assertEqual([0, 1], self.probed)
        # Its failures are the fault's until the last one answered.
        self.assertEqual(2003.0, fault.recovered)
        self.assertIn('restarted zookeeper; answered again', fault.note)

    def test_a_service_that_does_not_answer_is_noted(self):
        fault = self.inject('lock-server-restart', {0: 2000.0, 1: None})
        self.assertIsNone(fault.recovered)
        self.assertIn('restarted zookeeper; no answer within 90 s after '
                      'the restart', fault.note)


class NfsReplayTestCase(base.BaseTestCase):
    """Each nfs-replay arms the next failure, and excuses nothing."""

    def test_the_failures_in_turn_from_the_seed(self):
        root = self.useFixture(fixtures.TempDir()).path
        cluster = FakeCluster(root)
        cluster.fs.fires = {rule: [1] for rule in (1, 2, 3)}
        self.useFixture(fixtures.MockPatchObject(nfsreplay, 'POLL', 0))
        injector = faults.FaultInjector(cluster, seed=3, interval=0,
                                        kinds=['nfs-replay'])
        # Three faults, then the loop ends.
        injector.faults = _StopAfter(injector, 3)
        injector._run()
        names = [nfsreplay.variant(3, turn).name for turn in range(3)]
        self.assertEqual(names, [f.note.split(':')[0]
                                 for f in injector.faults])
        for fault, variant in zip(injector.faults, (
                nfsreplay.variant(3, turn) for turn in range(3))):
            self.assertEqual(('nfs-replay', None, None, False),
                             (fault.kind, fault.host, fault.target,
                              fault.excuses))
            self.assertIn('%s; fired 1 time(s)' % variant.what, fault.note)
        armed = [c for c in cluster.fs.calls if c[0] == 'arm']
        self.assertEqual([(v.op, v.pattern, v.mode, v.errno) for v in (
            nfsreplay.variant(3, turn) for turn in range(3))],
            [c[1:5] for c in armed])
        # Each disarmed before the next was armed.
        self.assertEqual(['arm', 'disarm'] * 3,
                         [c[0] for c in cluster.fs.calls])


class _StopAfter(list):
    """The injector's faults; the *count*-th stops its loop."""

    def __init__(self, injector, count):
        super().__init__()
        self.injector = injector
        self.count = count

    def append(self, fault):
        super().append(fault)
        if len(self) >= self.count:
            self.injector._stop.set()


class _StopAfterOne(list):
    """Events of the cluster; the first one stops *injector*'s loop."""

    def __init__(self, injector):
        super().__init__()
        self.injector = injector

    def append(self, event):
        super().append(event)
        self.injector._stop.set()
