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

"""Unit tests of cinder-aa-stress's own logic: access modes, verdict."""

import time
from unittest import mock

from oslotest import base

from cinder import objects
from cinder.stress import assess
from cinder.stress import faults
from cinder.stress import share
from cinder.stress import verdict
from cinder.stress import workload


def record():
    return workload.VolumeRecord(objects.Volume(), [0] * workload.SLOTS)


class ModesTestCase(base.BaseTestCase):

    def test_writes_exclude_everything_and_reverts_exclude_readers(self):
        model = workload.Model()
        vol = record()
        self.assertTrue(model.try_enter([(vol, workload.READ)]))
        self.assertTrue(model.try_enter([(vol, workload.OTHER)]))
        self.assertFalse(model.try_enter([(vol, workload.WRITE)]))
        self.assertFalse(model.try_enter([(vol, workload.REVERT)]))
        with model.lock:
            model.leave([(vol, workload.READ)])
        self.assertTrue(model.try_enter([(vol, workload.REVERT)]))
        self.assertFalse(model.try_enter([(vol, workload.READ)]))
        self.assertTrue(model.try_enter([(vol, workload.OTHER)]))

    def test_a_refused_entry_takes_nothing(self):
        model = workload.Model()
        free, busy = record(), record()
        model.try_enter([(busy, workload.WRITE)])
        self.assertFalse(model.try_enter([(free, workload.READ),
                                          (busy, workload.READ)]))
        self.assertEqual(0, sum(free.modes.values()))


class TicketTestCase(base.BaseTestCase):

    def test_keeps_going_until_done_says_so(self):
        rounds = []
        load = workload.Workload(mock.Mock(), operations=2,
                                 done=lambda: len(rounds) > 0)
        self.assertTrue(load._next_ticket())
        self.assertTrue(load._next_ticket())
        self.assertTrue(load._next_ticket())   # faults not all injected
        rounds.append(1)
        self.assertFalse(load._next_ticket())

    def test_stops_at_operations_without_done(self):
        load = workload.Workload(mock.Mock(), operations=1)
        self.assertTrue(load._next_ticket())
        self.assertFalse(load._next_ticket())


class RetryTestCase(base.BaseTestCase):

    def test_only_deletes_that_did_not_lose_a_race_are_retried(self):
        load = workload.Workload(mock.Mock(), seed=3)
        vol = record()
        for error_type in ('VolumeNotFound', 'LockLost', 'ConnectionClosed',
                           None):
            load._retry_later(outcome('delete_volume', 'h1', error_type),
                              'delete_volume', vol)
        self.assertEqual(2, len(load.to_retry))

    def test_a_successful_retry_updates_the_records(self):
        service = mock.Mock(host='h1')
        cluster = mock.Mock(services=[service])
        load = workload.Workload(cluster, seed=3)
        vol = record()
        snap = workload.SnapshotRecord(objects.Snapshot(volume=vol.volume),
                                       [0] * workload.SLOTS)
        vol.snapshots.append(snap)
        load.to_retry = [('delete_snapshot', vol, snap),
                         ('delete_volume', vol, None)]
        load.recover()
        self.assertFalse(snap.exists)
        self.assertFalse(vol.exists)
        self.assertEqual(['retry_delete_snapshot', 'retry_delete_volume'],
                         [o.op for o in load.outcomes])
        self.assertEqual(['delete_snapshot', 'delete_volume'],
                         [c[0][0] for c in
                          service.client.return_value.call.call_args_list])


def outcome(op, host, error_type=None, error='why', start=10.0, end=11.0):
    result = workload.Outcome(op, host, ['v'])
    result.start, result.end = start, end
    result.error_type = error_type
    result.error = error if error_type else None
    return result


class AssessTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.cluster = mock.Mock(ledger='/nonexistent', share='/share',
                                 killed={})
        self.load = mock.Mock(outcomes=[], model=workload.Model())
        self.analyze = mock.patch.object(
            verdict, 'analyze_ledger',
            return_value=verdict.LedgerReport()).start()
        self.addCleanup(mock.patch.stopall)

    def kinds(self, report):
        return sorted(v.kind for v in report.violations)

    def test_lost_races_are_clean_failures(self):
        self.load.outcomes = [
            outcome('clone_volume', 'h1', 'VolumeNotFound'),
            outcome('revert_to_snapshot', 'h2', 'InvalidSnapshot'),
            outcome('create_volume', 'h1')]
        report = assess.assess(self.cluster, self.load)
        self.assertEqual([], self.kinds(report))
        self.assertEqual(1, report.ops['clone_volume']['failed: '
                                                       'VolumeNotFound'])

    def test_other_failures_are_violations_unless_a_fault_hit(self):
        self.load.outcomes = [
            outcome('delete_snapshot', 'h1', 'VolumeDriverException'),
            outcome('delete_snapshot', 'h2', 'LockLost', start=20,
                    end=21),
            outcome('clone_volume', 'h1', 'VolumeNotFound', error='')]
        pause = faults.Fault('pause', 'h2')
        pause.start, pause.end = 20.5, 30.0
        report = assess.assess(self.cluster, self.load, [pause])
        self.assertEqual(['failure-without-reason', 'unexpected-failure'],
                         self.kinds(report))
        self.assertEqual({'pause': 1}, dict(report.fault_hits))

    def test_failure_on_a_volume_a_fault_hit_earlier_is_excused(self):
        hit = outcome('delete_volume', 'h2', 'ConnectionClosed', start=20,
                      end=21)
        later = outcome('write_data', 'tool', 'OSError', start=25, end=26)
        earlier = outcome('extend_volume', 'h1', 'OSError', start=15,
                          end=16)
        other = outcome('write_data', 'tool', 'OSError', start=25, end=26)
        other.volume_ids = ['w']
        self.load.outcomes = [earlier, hit, later, other]
        kill = faults.Fault('kill', 'h2')
        kill.start, kill.end = 20.5, 21.5
        report = assess.assess(self.cluster, self.load, [kill])
        self.assertEqual('after kill', later.fault)
        self.assertEqual(['unexpected-failure', 'unexpected-failure'],
                         self.kinds(report))
        self.assertIn('extend_volume', report.violations[0].detail)
        self.assertIn('write_data', report.violations[1].detail)
        self.assertEqual(1, report.ops['write_data'][
            'failed: OSError (after kill)'])

    def test_fault_on_another_host_does_not_excuse(self):
        self.load.outcomes = [outcome('extend_volume', 'h1', 'LockLost')]
        kill = faults.Fault('kill', 'h2')
        kill.start, kill.end = 10.0, 12.0
        report = assess.assess(self.cluster, self.load, [kill])
        self.assertEqual(['unexpected-failure'], self.kinds(report))

    def test_data_is_compared_slot_by_slot(self):
        vol = record()
        vol.content[3] = 0x5a
        self.load.model.volumes[vol.id] = vol
        with mock.patch.object(share, 'audit_volume', return_value=[]), \
                mock.patch.object(share, 'active_image',
                                  return_value=('/p', 'raw')), \
                mock.patch.object(share, 'read_bytes',
                                  return_value=[0] * workload.SLOTS):
            report = assess.assess(self.cluster, self.load)
        self.assertEqual(['data-mismatch'], self.kinds(report))
        self.assertIn('expected 00 00 00 5a', report.violations[0].detail)

    def test_uncertain_volume_tolerates_crash_leftovers_only(self):
        vol = record()
        self.load.model.volumes[vol.id] = vol
        self.load.outcomes = [outcome('create_snapshot', 'h1',
                                      'ConnectionClosed', start=time.time(),
                                      end=time.time() + 1)]
        self.load.outcomes[0].volume_ids = [vol.id]
        kill = faults.Fault('kill', 'h1')
        kill.start, kill.end = 0, time.time() + 5
        problems = [verdict.Violation('stray-file', 'x'),
                    verdict.Violation('chain-broken', 'y')]
        with mock.patch.object(share, 'audit_volume',
                               return_value=problems) as audit:
            report = assess.assess(self.cluster, self.load, [kill])
        self.assertEqual(['chain-broken'], self.kinds(report))
        self.assertIsNone(audit.call_args[1]['expected_snapshots'])
