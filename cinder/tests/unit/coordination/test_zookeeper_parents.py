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

"""Tests of the ZooKeeper backend's parent nodes of lock names.

The same against a real ZooKeeper: cinder/tests/functional/
test_lock_cleanup.py.
"""

from kazoo import exceptions as kazoo_exceptions

from cinder import coordination
from cinder.tests.unit.coordination import fakes


class ParentNodeTestCase(fakes.CoordinationTestCase):
    url = 'zookeeper://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.driver = fakes.FakeZooKeeperTree()
        self.get_coordinator.return_value = self.driver
        self.driver.add('/tooz/locks')

    def test_parent_node_paths(self):
        backend = self.start().backend
        self.assertEqual('/tooz/locks/cinder-v1',
                         backend.parent_node(b'cinder-v1'))
        self.fixture.config(group='coordination',
                            backend_url='zookeeper://h:1?timeout=5&'
                                        'namespace=ns')
        self.coordinator.stop()
        self.coordinator.start()
        backend = self.coordinator.backend
        self.assertEqual('/ns/locks', backend.locks_root())
        self.assertEqual('/ns/locks/cinder-v1',
                         backend.parent_node('cinder-v1'))

    def vanishing_parent(self, times):
        """Lock v1, whose first *times* acquires find no parent node."""
        coordinator = self.start()
        clock = fakes.FakeClock()
        coordinator.backend.parent_clock = clock
        lock = coordinator.get_lock('v1')
        tooz_lock = self.driver.locks[b'cinder-v1']
        real_acquire = tooz_lock.acquire
        seen = []

        def acquire(blocking=True):
            seen.append(set(self.driver.nodes.get('/tooz/locks/cinder-v1',
                                                  ())))
            real_acquire(blocking)
            clock.now += 1
            if len(seen) <= times:
                tooz_lock.acquired = False
                raise kazoo_exceptions.NoNodeError()
            return True

        tooz_lock.acquire = acquire
        return lock, tooz_lock, seen

    def test_acquire_recreates_a_parent_removed_meanwhile(self):
        lock, tooz_lock, seen = self.vanishing_parent(1)
        lock.acquire(blocking=5)
        self.addCleanup(lock.release)
        # Tried again with the rest of the time, while a guard node kept
        # the parent from being removed; the guard is gone afterwards.
        self.assertEqual([('acquire', 5.0), ('acquire', 4.0)],
                         tooz_lock.calls)
        self.assertEqual([set(), {'guard-0000000000'}], seen)
        self.assertEqual(set(), self.driver.nodes['/tooz/locks/cinder-v1'])
        self.assertIn('Parent node /tooz/locks/cinder-v1 of lock cinder-v1 '
                      'was removed', self.log.output)

    def test_guard_is_made_with_its_parent_in_one_transaction(self):
        backend = self.start().backend
        guard = backend._guard_parent('/tooz/locks/cinder-v1')
        self.assertEqual([('create', '/tooz/locks/cinder-v1/guard-'),
                          ('commit', ['/tooz/locks/cinder-v1',
                                      '/tooz/locks/cinder-v1/guard-'])],
                         self.driver.calls)
        self.assertEqual({guard.rpartition('/')[2]},
                         self.driver.nodes['/tooz/locks/cinder-v1'])
        # With the parent there, the guard alone.
        del self.driver.calls[:]
        backend._guard_parent('/tooz/locks/cinder-v1')
        self.assertEqual([('create', '/tooz/locks/cinder-v1/guard-')],
                         self.driver.calls)

    def test_guard_recreates_the_root_too(self):
        backend = self.start().backend
        self.driver.nodes.clear()
        backend._guard_parent('/tooz/locks/cinder-v1')
        self.assertIn(('ensure_path', '/tooz/locks'), self.driver.calls)
        self.assertEqual(1, len(self.driver.nodes['/tooz/locks/cinder-v1']))

    def test_parent_that_vanishes_again_is_an_error(self):
        lock, tooz_lock, seen = self.vanishing_parent(2)
        self.assertRaises(coordination.BackendUnavailable, lock.acquire,
                          blocking=False)
        self.assertEqual(2, len(tooz_lock.calls))
        self.assertFalse(lock.held)
        self.assertEqual(set(), self.driver.nodes['/tooz/locks/cinder-v1'])


class RemoveParentNodesTestCase(fakes.CoordinationTestCase):
    url = 'zookeeper://:secret@127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.driver = fakes.FakeZooKeeperTree()
        self.get_coordinator.return_value = self.driver
        self.backend = self.start().backend
        self.driver.add('/tooz/locks/cinder-v1-delete_volume')
        self.driver.add('/tooz/locks/cinder-nfs-v1')
        self.driver.add('/tooz/locks/cinder-v2-delete_volume',
                        'a1b2__lock__0000000001')
        self.driver.add('/tooz/locks/other-v1')

    def test_lists_the_lock_names_with_the_prefix(self):
        self.assertEqual(['cinder-nfs-v1', 'cinder-v1-delete_volume',
                          'cinder-v2-delete_volume'],
                         self.backend.list_lock_names('cinder-'))
        self.assertTrue(self.backend.has_leftover('cinder-nfs-v1'))
        self.assertFalse(self.backend.has_leftover('cinder-nfs-v9'))
        self.assertEqual('/tooz/locks on zookeeper://:***@127.0.0.1:1',
                         self.backend.leftovers_place())

    def test_no_locks_root_yet_lists_nothing(self):
        self.driver.nodes.clear()
        self.assertEqual([], self.backend.list_lock_names('cinder-'))

    def test_pattern_removes_idle_matching_parents_only(self):
        self.assertEqual(2, self.coordinator.remove_lock('*v1*'))
        self.assertEqual({'cinder-v2-delete_volume', 'other-v1'},
                         self.driver.nodes['/tooz/locks'])
        # One listing, then the deletes of the matching names.
        self.assertEqual([('get_children', '/tooz/locks'),
                          ('delete', '/tooz/locks/cinder-nfs-v1'),
                          ('delete', '/tooz/locks/cinder-v1-delete_volume')],
                         self.driver.calls)

    def test_parent_with_a_holder_or_waiter_is_kept(self):
        self.assertEqual(0, self.coordinator.remove_lock(
            'v2-delete_volume'))
        self.assertIn('cinder-v2-delete_volume',
                      self.driver.nodes['/tooz/locks'])
        self.assertIn('Not removing lock node '
                      '/tooz/locks/cinder-v2-delete_volume: the lock is '
                      'held, waited for or being taken', self.log.output)

    def test_exact_name_needs_no_listing(self):
        self.assertEqual(1, self.coordinator.remove_lock('nfs-v1'))
        self.assertEqual(0, self.coordinator.remove_lock('nfs-v1'))
        self.assertEqual([('delete', '/tooz/locks/cinder-nfs-v1')] * 2,
                         self.driver.calls)

    def test_no_answer_is_backend_unavailable(self):
        self.driver.no_answer = True
        for call in (lambda: self.coordinator.remove_lock('*v1*'),
                     lambda: self.coordinator.remove_lock('nfs-v1'),
                     lambda: self.backend.list_lock_names('cinder-'),
                     lambda: self.backend.has_leftover('cinder-nfs-v1')):
            exc = self.assertRaises(coordination.BackendUnavailable, call)
            self.assertIn('zookeeper://:***@127.0.0.1:1', str(exc))
            self.assertNotIn('secret', str(exc))
        self.assertIn('cinder-nfs-v1', self.driver.nodes['/tooz/locks'])
