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

"""Unit tests of the volume manager: checks, statuses and lock names."""

import os

from oslo_config import cfg
from oslotest import base

from cinder import exception
from cinder import objects
from cinder.tests import coordination_fixture
from cinder.tests.unit import fake_driver
from cinder.volume import manager


class ManagerTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.locks = self.useFixture(coordination_fixture.CoordinatorFixture(
            use_env=False))
        conf = cfg.ConfigOpts()
        conf([])
        self.driver = fake_driver.FakeDriver(configuration=conf, host='h1')
        self.manager = manager.VolumeManager(self.driver, 'h1',
                                             cluster='c1')

    def held_during(self, method, *names):
        """Record, inside driver call ``method``, which ``names`` are held."""
        seen = {}

        def hook():
            for name in names:
                seen[name] = self.locks.is_locked(name)

        self.driver.hooks[method] = hook
        return seen

    def lock_files(self):
        return sorted(f for f in os.listdir(self.locks.lock_dir)
                      if f.startswith('cinder-'))

    def available_volume(self, size=1):
        volume = objects.Volume(size=size)
        self.manager.create_volume(volume)
        return volume

    def available_snapshot(self, volume):
        snapshot = objects.Snapshot(volume=volume)
        self.manager.create_snapshot(snapshot)
        return snapshot


class CreateVolumeTestCase(ManagerTestCase):

    def test_blank_volume_takes_no_lock(self):
        volume = objects.Volume(size=2)
        result = self.manager.create_volume(volume)
        self.assertIs(volume, result)
        self.assertEqual('available', volume.status)
        self.assertEqual('h1', volume.host)
        self.assertEqual('c1', volume.cluster_name)
        self.assertEqual('fake:%s' % volume.id, volume.provider_location)
        self.assertEqual([], self.locks.requested)

    def test_clone_holds_source_delete_lock_during_copy(self):
        source = self.available_volume()
        volume = objects.Volume(size=1)
        name = '%s-delete_volume' % source.id
        seen = self.held_during('create_cloned_volume', name)
        self.manager.create_volume(volume, source_volume=source)
        self.assertEqual({name: True}, seen)
        self.assertEqual([name], self.locks.requested)
        self.assertFalse(self.locks.is_locked(name))
        self.assertEqual(source.id, volume.source_volid)
        self.assertEqual('available', volume.status)

    def test_from_snapshot_holds_snapshot_delete_lock_during_copy(self):
        snapshot = self.available_snapshot(self.available_volume())
        volume = objects.Volume(size=1)
        name = '%s-delete_snapshot' % snapshot.id
        seen = self.held_during('create_volume_from_snapshot', name)
        self.manager.create_volume(volume, snapshot=snapshot)
        self.assertEqual({name: True}, seen)
        self.assertEqual([name], self.locks.requested)
        self.assertEqual(snapshot.id, volume.snapshot_id)

    def test_clone_of_a_deleted_source_fails_cleanly(self):
        source = self.available_volume()
        self.manager.delete_volume(source)
        volume = objects.Volume(size=1)
        self.assertRaises(exception.VolumeNotFound,
                          self.manager.create_volume, volume,
                          source_volume=source)
        self.assertEqual('error', volume.status)
        self.assertNotIn(volume.id, self.driver.volumes)
        # The clone took the deleted source's lock; its file is gone again.
        self.assertEqual([], [f for f in self.lock_files()
                              if source.id in f])

    def test_copy_of_a_deleted_snapshot_removes_its_lock_files(self):
        snapshot = self.available_snapshot(self.available_volume())
        self.manager.delete_snapshot(snapshot)
        self.assertRaises(exception.SnapshotNotFound,
                          self.manager.create_volume, objects.Volume(),
                          snapshot=snapshot)
        self.assertEqual([], [f for f in self.lock_files()
                              if snapshot.id in f])

    def test_snapshot_and_source_together_are_refused(self):
        volume = self.available_volume()
        snapshot = self.available_snapshot(volume)
        new = objects.Volume()
        exc = self.assertRaises(exception.InvalidInput,
                                self.manager.create_volume, new,
                                snapshot=snapshot, source_volume=volume)
        self.assertIn('source_volume', str(exc))
        self.assertEqual(1, len([c for c in self.driver.calls
                                 if c[0] == 'create_volume']))

    def test_smaller_than_source_is_refused(self):
        source = self.available_volume(size=3)
        exc = self.assertRaises(exception.InvalidInput,
                                self.manager.create_volume,
                                objects.Volume(size=2),
                                source_volume=source)
        self.assertIn('size 2 GiB', str(exc))

    def test_driver_failure_leaves_error_status(self):
        self.driver.failures['create_volume'] = \
            exception.VolumeBackendAPIException('backend full')
        volume = objects.Volume()
        self.assertRaises(exception.VolumeBackendAPIException,
                          self.manager.create_volume, volume)
        self.assertEqual('error', volume.status)


class DeleteVolumeTestCase(ManagerTestCase):

    def test_delete_holds_its_lock_and_removes_lock_files(self):
        volume = self.available_volume()
        other = self.available_volume()
        # Lock files of this volume from earlier operations, and one of
        # another volume that must stay.
        for name in ('%s-delete_volume' % other.id, volume.id,
                     'nfs-%s' % volume.id):
            with self.locks.coordinator.get_lock(name):
                pass
        name = '%s-delete_volume' % volume.id
        seen = self.held_during('delete_volume', name)
        self.manager.delete_volume(volume)
        self.assertEqual({name: True}, seen)
        self.assertEqual('deleted', volume.status)
        left = self.lock_files()
        self.assertEqual(['cinder-%s-delete_volume' % other.id], left)

    def test_attached_volume_is_not_deleted(self):
        volume = self.available_volume()
        self.manager.attach_volume(volume, {'host': 'compute1'})
        exc = self.assertRaises(exception.InvalidVolume,
                                self.manager.delete_volume, volume)
        self.assertIn('compute1', str(exc))
        self.assertIn(volume.id, self.driver.volumes)
        self.assertEqual('in-use', volume.status)

    def test_driver_failure_leaves_error_deleting(self):
        volume = self.available_volume()
        self.driver.failures['delete_volume'] = \
            exception.VolumeBackendAPIException('busy')
        self.assertRaises(exception.VolumeBackendAPIException,
                          self.manager.delete_volume, volume)
        self.assertEqual('error_deleting', volume.status)


class ExtendVolumeTestCase(ManagerTestCase):

    def test_extend(self):
        volume = self.available_volume()
        self.manager.extend_volume(volume, 3)
        self.assertEqual(3, volume.size)
        self.assertEqual('available', volume.status)
        self.assertEqual(3, self.driver.volumes[volume.id])

    def test_new_size_must_grow(self):
        volume = self.available_volume(size=2)
        for bad in (2, 1, '3', None):
            exc = self.assertRaises(exception.InvalidInput,
                                    self.manager.extend_volume, volume, bad)
            self.assertIn('new_size', str(exc))
        self.assertNotIn('extend_volume', [c[0] for c in self.driver.calls])


class SnapshotTestCase(ManagerTestCase):

    def test_create_snapshot_takes_no_manager_lock(self):
        volume = self.available_volume()
        snapshot = self.available_snapshot(volume)
        self.assertEqual('available', snapshot.status)
        self.assertEqual('fake:%s' % snapshot.id,
                         snapshot.provider_location)
        self.assertEqual([], self.locks.requested)

    def test_delete_snapshot_holds_its_lock_and_removes_lock_files(self):
        snapshot = self.available_snapshot(self.available_volume())
        name = '%s-delete_snapshot' % snapshot.id
        seen = self.held_during('delete_snapshot', name)
        self.manager.delete_snapshot(snapshot)
        self.assertEqual({name: True}, seen)
        self.assertEqual('deleted', snapshot.status)
        self.assertEqual([], self.lock_files())

    def test_delete_snapshot_failure_leaves_error_deleting(self):
        snapshot = self.available_snapshot(self.available_volume())
        self.driver.failures['delete_snapshot'] = \
            exception.VolumeDriverException('chain busy')
        self.assertRaises(exception.VolumeDriverException,
                          self.manager.delete_snapshot, snapshot)
        self.assertEqual('error_deleting', snapshot.status)

    def test_revert_holds_snapshot_delete_lock(self):
        volume = self.available_volume()
        snapshot = self.available_snapshot(volume)
        name = '%s-delete_snapshot' % snapshot.id
        seen = self.held_during('revert_to_snapshot', name)
        self.manager.revert_to_snapshot(volume, snapshot)
        self.assertEqual({name: True}, seen)
        self.assertEqual('available', volume.status)

    def test_revert_to_a_snapshot_of_another_volume_is_refused(self):
        volume = self.available_volume()
        snapshot = self.available_snapshot(self.available_volume())
        exc = self.assertRaises(exception.InvalidSnapshot,
                                self.manager.revert_to_snapshot, volume,
                                snapshot)
        self.assertIn(volume.id, str(exc))
        self.assertNotIn('revert_to_snapshot',
                         [c[0] for c in self.driver.calls])


class AttachTestCase(ManagerTestCase):

    def test_attach_holds_volume_lock_and_records_attachment(self):
        volume = self.available_volume()
        seen = self.held_during('initialize_connection', volume.id)
        attachment = self.manager.attach_volume(
            volume, {'host': 'compute1'}, instance_uuid='i1',
            mountpoint='/dev/vdb')
        self.assertEqual({volume.id: True}, seen)
        self.assertEqual([attachment], volume.attachments)
        self.assertEqual('in-use', volume.status)
        self.assertEqual('attached', volume.attach_status)
        self.assertEqual('compute1', attachment.attached_host)
        self.assertEqual({'driver_volume_type': 'fake',
                          'data': {'id': volume.id}},
                         attachment.connection_info)

    def test_detach_holds_detach_lock_and_frees_volume(self):
        volume = self.available_volume()
        attachment = self.manager.attach_volume(volume, {'host': 'c1'})
        name = '%s-detach_volume' % volume.id
        seen = self.held_during('terminate_connection', name)
        self.manager.detach_volume(volume, attachment.id)
        self.assertEqual({name: True}, seen)
        self.assertEqual([], volume.attachments)
        self.assertEqual('available', volume.status)
        self.assertIn(('terminate_connection', volume.id, 'c1'),
                      self.driver.calls)

    def test_second_attach_needs_multiattach(self):
        volume = self.available_volume()
        self.manager.attach_volume(volume, {'host': 'a'})
        self.assertRaises(exception.InvalidVolume,
                          self.manager.attach_volume, volume, {'host': 'b'})
        volume.multiattach = True
        self.manager.attach_volume(volume, {'host': 'b'})
        self.assertEqual(['a', 'b'],
                         [a.attached_host for a in volume.attachments])
        self.manager.detach_volume(volume, volume.attachments[0].id)
        self.assertEqual('in-use', volume.status)

    def test_bad_arguments_name_the_argument(self):
        volume = self.available_volume()
        for connector in (None, {}, {'host': ''}):
            exc = self.assertRaises(exception.InvalidInput,
                                    self.manager.attach_volume, volume,
                                    connector)
            self.assertIn('connector', str(exc))
        exc = self.assertRaises(exception.InvalidInput,
                                self.manager.attach_volume, volume,
                                {'host': 'a'}, mode='rx')
        self.assertIn('mode', str(exc))
        exc = self.assertRaises(exception.InvalidInput,
                                self.manager.detach_volume, volume, 'nope')
        self.assertIn('attachment_id', str(exc))
        self.assertEqual([], volume.attachments)

    def test_volume_in_error_is_not_attached(self):
        volume = self.available_volume()
        volume.status = 'error'
        self.assertRaises(exception.InvalidVolume,
                          self.manager.attach_volume, volume, {'host': 'a'})
        self.assertNotIn('initialize_connection',
                         [c[0] for c in self.driver.calls])


class FailureStatusTestCase(ManagerTestCase):
    """A driver failure leaves the record with an error status."""

    def fail(self, method):
        self.driver.failures[method] = exception.VolumeDriverException(
            '%s broke' % method)

    def test_extend(self):
        volume = self.available_volume()
        self.fail('extend_volume')
        self.assertRaises(exception.VolumeDriverException,
                          self.manager.extend_volume, volume, 2)
        self.assertEqual(('error', 1), (volume.status, volume.size))

    def test_create_snapshot(self):
        snapshot = objects.Snapshot(volume=self.available_volume())
        self.fail('create_snapshot')
        self.assertRaises(exception.VolumeDriverException,
                          self.manager.create_snapshot, snapshot)
        self.assertEqual('error', snapshot.status)

    def test_revert(self):
        volume = self.available_volume()
        snapshot = self.available_snapshot(volume)
        self.fail('revert_to_snapshot')
        self.assertRaises(exception.VolumeDriverException,
                          self.manager.revert_to_snapshot, volume, snapshot)
        self.assertEqual('error', volume.status)
