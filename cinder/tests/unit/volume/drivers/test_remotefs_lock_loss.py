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

"""What the RemoteFS snapshot driver does when its lock is lost.

Like :mod:`cinder.tests.unit.volume.drivers.test_remotefs`, on directory
shares with the real qemu-img; the lock check is replaced by one that
reports the lock lost.
"""

import os
from unittest import mock

from cinder import coordination
from cinder import objects
from cinder.tests.unit.volume.drivers import test_remotefs


class LockLossTestCase(test_remotefs.DriverTestCase):

    def lose_lock(self):
        return mock.patch.object(
            coordination, 'ensure_locks_held',
            side_effect=coordination.LockLost('lock lost'))

    def snapshot_files(self, volume):
        """name -> what identifies the file's content.

        The info file by its text; images by size, blocks and mtime (they
        are sparse and large).
        """
        files = {}
        for name in os.listdir(self.share):
            path = os.path.join(self.share, name)
            if name.endswith('.info'):
                with open(path) as f:
                    files[name] = f.read()
            else:
                st = os.stat(path)
                files[name] = (st.st_size, st.st_blocks, st.st_mtime_ns)
        return files

    def assertNothingChanged(self, volume, operation):
        before = self.snapshot_files(volume)
        with self.lose_lock() as check:
            self.assertRaises(coordination.LockLost, operation)
        self.assertTrue(check.called)
        after = self.snapshot_files(volume)
        # no file deleted, info file unchanged
        self.assertLessEqual(set(before), set(after))
        info = volume.name + '.info'
        self.assertEqual(before[info], after[info])
        self.assertEqual([], [f for f in after if '.tmp' in f])

    def test_lost_lock_stops_create_snapshot(self):
        volume = self.create_volume()
        self.assertNothingChanged(volume, lambda: self.driver.create_snapshot(
            objects.Snapshot(volume=volume)))

    def test_lost_lock_stops_delete_of_newest_snapshot_before_commit(self):
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.write(volume, 0x22, '0')
        before = self.snapshot_files(volume)
        self.assertNothingChanged(
            volume, lambda: self.driver.delete_snapshot(snapshot))
        # not even the snapshot's file was written to
        self.assertEqual(before, self.snapshot_files(volume))
        self.assertImageReads(self.snapshot_image(snapshot), {'0': 0x11})

    def test_lost_lock_stops_delete_of_older_snapshot(self):
        volume = self.create_volume()
        s1 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s1)
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertNothingChanged(
            volume, lambda: self.driver.delete_snapshot(s1))

    def test_lost_lock_stops_revert(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.assertNothingChanged(
            volume, lambda: self.driver.revert_to_snapshot(volume, snapshot))

    def test_lost_lock_stops_delete_volume(self):
        volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertNothingChanged(
            volume, lambda: self.driver.delete_volume(volume))

    def test_real_check_passes_while_the_lock_is_held(self):
        volume = self.create_volume()
        with mock.patch.object(coordination, 'ensure_locks_held',
                               wraps=coordination.ensure_locks_held) as c:
            self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertTrue(c.called)
