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

"""Unit tests of cinder.lock_cleanup.

On a real lock directory, and on a ZooKeeper tree of fake kazoo calls.
"""

import os
import socket
import uuid

import fixtures
from oslotest import base

from cinder import lock_cleanup
from cinder.tests import coordination_fixture
from cinder.tests.unit.coordination import fakes
from cinder.volume import driver


class CleanLockFilesTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.locks = self.useFixture(coordination_fixture.CoordinatorFixture(
            use_env=False))
        self.coordinator = self.locks.coordinator
        self.dir = self.locks.lock_dir
        self.volume, self.snapshot, self.gone = (
            str(uuid.uuid4()) for _ in range(3))
        self.existing = driver.ResourceIds({self.volume}, {self.snapshot})

    def plant(self, name, data=b''):
        with open(os.path.join(self.dir, name), 'wb') as f:
            f.write(data)

    def files(self):
        # groups/ and tmp/ belong to tooz's file driver.
        return sorted(set(os.listdir(self.dir)) - {'groups', 'tmp'})

    def test_online_keeps_existing_and_backend_wide_locks(self):
        names = {
            'cinder-%s-delete_volume' % self.volume.upper(): 'existing',
            'cinder-nfs-%s' % self.volume: 'existing',
            'cinder-%s-delete_snapshot' % self.snapshot: 'existing',
            'cinder-tgt-targets': 'backend_wide',
            'cinder-%s-delete_volume' % self.gone: 'removed',
            'cinder-nfs-%s' % self.gone: 'removed',
        }
        for name in names:
            self.plant(name)

        result = lock_cleanup.clean_lock_files(self.coordinator,
                                               self.existing)

        for name, fate in names.items():
            self.assertIn(name, getattr(result, fate), fate)
            self.assertEqual(fate != 'removed', name in self.files(), name)
        self.assertEqual(self.dir, result.directory)
        self.assertEqual([], result.in_use)

    def test_offline_removes_every_lock_file(self):
        self.plant('cinder-tgt-targets')
        self.plant('cinder-%s-delete_volume' % self.volume)
        result = lock_cleanup.clean_lock_files(self.coordinator, None)
        self.assertEqual(2, len(result.removed))
        self.assertEqual([], self.files())

    def test_files_that_are_not_lock_files_stay(self):
        self.plant('cinder-volume.log', b'a log line\n')
        self.plant('other-%s' % self.gone)
        os.mkdir(os.path.join(self.dir, 'cinder-%s' % self.gone))
        os.symlink('/dev/null', os.path.join(self.dir,
                                             'cinder-link-%s' % self.gone))
        sock = socket.socket(socket.AF_UNIX)
        self.addCleanup(sock.close)
        sock.bind(os.path.join(self.dir, 'cinder-volume.sock'))
        before = self.files()
        result = lock_cleanup.clean_lock_files(self.coordinator, None)
        self.assertEqual([], result.removed)
        self.assertEqual(before, self.files())

    def test_held_lock_is_kept_and_reported(self):
        name = '%s-delete_volume' % self.gone
        lock = self.coordinator.get_lock(name)
        lock.acquire()
        self.addCleanup(lock.release)
        result = lock_cleanup.clean_lock_files(self.coordinator, None)
        self.assertEqual(['cinder-' + name], result.in_use)
        self.assertIn('cinder-' + name, self.files())
        self.assertTrue(self.locks.is_locked(name))

    def test_dry_run_removes_nothing(self):
        self.plant('cinder-nfs-%s' % self.gone)
        result = lock_cleanup.clean_lock_files(self.coordinator,
                                               self.existing, dry_run=True)
        self.assertEqual(['cinder-nfs-%s' % self.gone], result.removed)
        self.assertEqual(['cinder-nfs-%s' % self.gone], self.files())

    def test_glob_characters_in_a_name_match_only_that_file(self):
        self.plant('cinder-[x]-%s' % self.gone)
        self.plant('cinder-x-%s' % self.volume)
        lock_cleanup.clean_lock_files(self.coordinator, self.existing)
        self.assertEqual(['cinder-x-%s' % self.volume], self.files())

    def test_distributed_backend_is_refused(self):
        fake = fixtures.MockPatchObject(self.coordinator.backend,
                                        'distributed', True)
        self.useFixture(fake)
        self.assertRaises(lock_cleanup.NotAFileBackend,
                          lock_cleanup.clean_lock_files, self.coordinator)


class CleanLeftoversOnZooKeeperTestCase(fakes.CoordinationTestCase):
    """The same rules for the parent nodes of ZooKeeper locks."""

    url = 'zookeeper://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.driver = fakes.FakeZooKeeperTree()
        self.get_coordinator.return_value = self.driver
        self.start()
        self.volume, self.snapshot, self.gone, self.busy = (
            str(uuid.uuid4()) for _ in range(4))
        self.existing = driver.ResourceIds({self.volume}, {self.snapshot})
        self.fates = {
            'cinder-%s-delete_volume' % self.volume: 'existing',
            'cinder-%s-delete_snapshot' % self.snapshot.upper(): 'existing',
            'cinder-tgt-targets': 'backend_wide',
            'cinder-%s-delete_volume' % self.gone: 'removed',
            'cinder-nfs-%s' % self.gone: 'removed',
            'cinder-%s-detach_volume' % self.busy: 'in_use',
        }
        for name, fate in self.fates.items():
            children = ['n__lock__0000000001'] if fate == 'in_use' else []
            self.driver.add('/tooz/locks/' + name, *children)
        self.driver.add('/tooz/locks/other-%s' % self.gone)

    def names(self):
        return self.driver.nodes['/tooz/locks']

    def test_online_removes_idle_parents_of_deleted_resources(self):
        result = lock_cleanup.clean_leftovers(self.coordinator,
                                              self.existing)
        for name, fate in self.fates.items():
            self.assertIn(name, getattr(result, fate), fate)
            self.assertEqual(fate != 'removed', name in self.names(), name)
        self.assertIn('other-%s' % self.gone, self.names())
        self.assertEqual('lock node', result.kind)
        self.assertEqual('/tooz/locks on zookeeper://127.0.0.1:1',
                         result.directory)

    def test_offline_removes_every_idle_parent(self):
        result = lock_cleanup.clean_leftovers(self.coordinator, None)
        self.assertEqual(5, len(result.removed))
        self.assertEqual(['cinder-%s-detach_volume' % self.busy],
                         result.in_use)
        self.assertEqual({'cinder-%s-detach_volume' % self.busy,
                          'other-%s' % self.gone}, self.names())

    def test_dry_run_removes_nothing(self):
        before = set(self.names())
        result = lock_cleanup.clean_leftovers(self.coordinator,
                                              self.existing, dry_run=True)
        self.assertEqual(3, len(result.removed))
        self.assertEqual(before, self.names())
        self.assertNotIn('delete', [call for call, _ in self.driver.calls])

    def test_clean_lock_files_still_wants_the_file_backend(self):
        self.assertRaises(lock_cleanup.NotAFileBackend,
                          lock_cleanup.clean_lock_files, self.coordinator)
