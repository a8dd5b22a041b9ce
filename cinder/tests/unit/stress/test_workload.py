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

"""Unit tests of cinder-aa-stress's workload: access modes, retries."""

import random
from unittest import mock

from oslotest import base

from cinder import objects
from cinder.stress import records
from cinder.stress import workload


def record():
    return records.VolumeRecord(objects.Volume())


class ModesTestCase(base.BaseTestCase):

    def test_writes_exclude_everything_and_rewrites_exclude_readers(self):
        model = records.Model()
        vol = record()
        self.assertTrue(model.try_enter([(vol, records.READ)]))
        self.assertTrue(model.try_enter([(vol, records.OTHER)]))
        self.assertFalse(model.try_enter([(vol, records.WRITE)]))
        self.assertFalse(model.try_enter([(vol, records.REWRITE)]))
        with model.lock:
            model.leave([(vol, records.READ)])
        self.assertTrue(model.try_enter([(vol, records.REWRITE)]))
        self.assertFalse(model.try_enter([(vol, records.READ)]))
        self.assertTrue(model.try_enter([(vol, records.OTHER)]))

    def test_an_extend_waits_for_the_volume_s_readers(self):
        # A clone or snapshot running meanwhile would copy a size the tool
        # cannot know; a later extend to that size would then fail.
        load = workload.Workload(mock.Mock(), seed=3)
        vol = record()
        vol.volume.size = 1
        load.model.volumes[vol.id] = vol
        load.model.try_enter([(vol, records.READ)])
        self.assertFalse(load._extend_volume(random.Random(1)))
        self.assertEqual([], load.outcomes)

    def test_a_refused_entry_takes_nothing(self):
        model = records.Model()
        free, busy = record(), record()
        model.try_enter([(busy, records.WRITE)])
        self.assertFalse(model.try_enter([(free, records.READ),
                                          (busy, records.READ)]))
        self.assertEqual(0, sum(free.modes.values()))


class ServiceChoiceTestCase(base.BaseTestCase):

    def test_new_requests_avoid_the_services_a_fault_names(self):
        services = [mock.Mock(host='h%d' % i) for i in range(3)]
        cluster = mock.Mock(services=services, avoided={0, 2})
        load = workload.Workload(cluster, seed=3)
        rng = random.Random(5)
        self.assertEqual({1}, {load._service(rng)[0] for _ in range(20)})
        # Never all of them: with nobody left, any service will do.
        cluster.avoided = {0, 1, 2}
        self.assertEqual({0, 1, 2},
                         {load._service(rng)[0] for _ in range(60)})


class CollideTestCase(base.BaseTestCase):

    def test_a_pair_goes_to_two_services_on_one_volume_at_once(self):
        services = [mock.Mock(host='h%d' % i) for i in range(3)]
        cluster = mock.Mock(services=services, share='/nonexistent')
        load = workload.Workload(cluster, seed=5, volumes=2, collide=True)
        entered = []

        def call(method, **args):
            # When the first of a pair is sent, the other side has picked
            # and entered its volume too (the second may find the first
            # done and gone).
            entered.append(sum(sum(v.modes.values())
                               for v in load.model.volumes.values()))

        for service in services:
            service.client.return_value.call.side_effect = call
        vols = [record(), record()]
        for vol in vols:
            vol.snapshots.append(records.SnapshotRecord(
                objects.Snapshot(volume=vol.volume)))
            load.model.volumes[vol.id] = vol
        for _ in range(10):
            before = len(load.outcomes)
            load._collide(random.Random(len(load.outcomes)))
            pair = load.outcomes[before:]
            self.assertEqual(2, len(pair), [o.op for o in pair])
            # The volume the pair raced for is the first each names.
            targets = {o.volume_ids[-1] if o.op in (
                'clone_volume', 'volume_from_snapshot') else o.volume_ids[0]
                for o in pair}
            self.assertEqual(1, len(targets), [o.to_dict() for o in pair])
            self.assertNotEqual(pair[0].host, pair[1].host)
        self.assertEqual([2] * 10, entered[0::2])
        # Forcing ends with the pair.
        self.assertIsNone(getattr(load._forced, 'volume_id', None))


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
        cluster = mock.Mock(services=[service], avoided=set())
        load = workload.Workload(cluster, seed=3)
        vol = record()
        snap = records.SnapshotRecord(objects.Snapshot(volume=vol.volume))
        vol.snapshots.append(snap)
        load.to_retry = [('delete_snapshot', vol, snap),
                         ('delete_volume', vol, None)]
        load.recover()
        self.assertFalse(snap.exists)
        self.assertFalse(vol.exists)
        self.assertEqual(['retry_delete_snapshot', 'retry_delete_volume'],
                         [o.op for o in load.outcomes])
        # What the replay needs is recorded with each request.
        self.assertEqual([{'volume': vol.id, 'snapshot': snap.id},
                          {'volume': vol.id}],
                         [o.to_dict()['args'] for o in load.outcomes])
        self.assertEqual(['delete_snapshot', 'delete_volume'],
                         [c[0][0] for c in
                          service.client.return_value.call.call_args_list])


def outcome(op, host, error_type=None, error='why', start=10.0, end=11.0):
    result = records.Outcome(op, host, ['v'])
    result.start, result.end = start, end
    result.error_type = error_type
    result.error = error if error_type else None
    return result
