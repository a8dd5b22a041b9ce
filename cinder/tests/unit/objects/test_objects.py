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

"""Unit tests of the Volume, Snapshot and Attachment records."""

from oslotest import base

from cinder import objects


class ObjectsTestCase(base.BaseTestCase):

    def test_round_trip_through_dicts(self):
        volume = objects.Volume(size=3, metadata={'k': 'v'})
        volume.attachments.append(objects.Attachment(
            id='a1', volume_id=volume.id, connector={'host': 'h'}))
        snapshot = objects.Snapshot(volume=volume)
        again = objects.Snapshot.from_dict(snapshot.to_dict())
        self.assertEqual(snapshot, again)
        self.assertIsInstance(again.volume.attachments[0],
                              objects.Attachment)
        self.assertEqual(3, again.volume_size)
        self.assertEqual('volume-%s' % volume.id, volume.name)
        self.assertEqual('snapshot-%s' % snapshot.id, snapshot.name)
        self.assertEqual('attached', volume.attach_status)

    def test_model_update_rejects_unknown_fields(self):
        volume = objects.Volume()
        volume.update({'provider_location': 'share:/x'})
        self.assertEqual('share:/x', volume.provider_location)
        exc = self.assertRaises(KeyError, volume.update, {'sise': 2})
        self.assertIn('sise', str(exc))
        snapshot = objects.Snapshot(volume=volume)
        self.assertRaises(KeyError, snapshot.update, {'volume': None})
        self.assertIs(volume, snapshot.volume)
