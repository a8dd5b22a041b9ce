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

"""Unit tests of the record store of cinder-volume-request."""

import json
import os
from unittest import mock

import fixtures
from oslotest import base

from cinder.cmd import record_store
from cinder import messaging
from cinder import objects


class RecordStoreTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.root, 'state', 'records')
        self.store = record_store.RecordStore(self.path).open()

    def test_directory_is_created_private(self):
        self.assertEqual(0o700, os.stat(self.path).st_mode & 0o777)

    def test_a_file_in_the_way_is_an_error_naming_it(self):
        path = os.path.join(self.root, 'file')
        open(path, 'w').close()
        error = self.assertRaises(record_store.RecordStoreError,
                                  record_store.RecordStore(path).open)
        self.assertIn('%s is not a directory' % path, str(error))

    def test_records_round_trip_as_versioned_dicts(self):
        volume = objects.Volume(size=3, status='available')
        snapshot = objects.Snapshot(volume=volume)
        self.store.save(volume)
        self.store.save(snapshot)
        self.assertEqual(volume, self.store.load(volume.id, objects.Volume))
        self.assertEqual(snapshot,
                         self.store.load(snapshot.id, objects.Snapshot))
        with open(os.path.join(self.path, volume.id + '.json')) as f:
            data = json.load(f)
        self.assertEqual('Volume', data['cinder_object.name'])
        self.assertEqual(3, data['cinder_object.data']['size'])

    def test_a_failed_write_leaves_the_old_record_and_no_temp_file(self):
        volume = objects.Volume(size=1)
        self.store.save(volume)
        volume.size = 2
        for failing in ('fsync', 'replace'):
            with mock.patch.object(record_store.os, failing,
                                   side_effect=OSError(28, 'No space')):
                self.assertRaises(OSError, self.store.save, volume)
            self.assertEqual([volume.id + '.json'], os.listdir(self.path))
            self.assertEqual(1, self.store.load(volume.id).size)
        self.store.save(volume)
        self.assertEqual(2, self.store.load(volume.id).size)
        self.assertEqual([volume.id + '.json'], os.listdir(self.path))

    def test_a_failed_serialization_keeps_the_old_record(self):
        volume = objects.Volume(size=1)
        self.store.save(volume)
        volume.metadata = {'bad': object()}
        self.assertRaises(TypeError, self.store.save, volume)
        self.assertEqual({}, self.store.load(volume.id).metadata)
        self.assertEqual([volume.id + '.json'], os.listdir(self.path))

    def test_unknown_id_names_the_id_and_directory(self):
        error = self.assertRaises(record_store.UnknownRecord,
                                  self.store.load, 'no-such-id')
        self.assertIn('no record no-such-id in %s' % self.path, str(error))

    def test_record_of_another_type_is_unknown(self):
        volume = objects.Volume()
        self.store.save(volume)
        error = self.assertRaises(record_store.UnknownRecord,
                                  self.store.load, volume.id,
                                  objects.Snapshot)
        self.assertIn('record %s is a Volume, not a Snapshot' % volume.id,
                      str(error))

    def test_an_id_is_never_a_path(self):
        # A valid record just outside the directory.
        with open(os.path.join(self.path, '..', 'outside.json'), 'w') as f:
            json.dump(messaging.serialize(objects.Volume()), f)
        for bad in ('../outside', '/etc/passwd', '', '.hidden'):
            self.assertRaises(record_store.UnknownRecord, self.store.load,
                              bad)

    def test_remove_forgets_the_record(self):
        volume = objects.Volume()
        self.store.save(volume)
        self.store.remove(volume.id)
        self.store.remove(volume.id)
        self.assertEqual([], os.listdir(self.path))
        self.assertRaises(record_store.UnknownRecord, self.store.load,
                          volume.id)

    def test_a_damaged_record_says_which_file(self):
        with open(os.path.join(self.path, 'damaged.json'), 'w') as f:
            f.write('{not json')
        error = self.assertRaises(record_store.RecordStoreError,
                                  self.store.load, 'damaged')
        self.assertIn(os.path.join(self.path, 'damaged.json'), str(error))
