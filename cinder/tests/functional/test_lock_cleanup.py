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

"""What locks leave on real lock servers, and their removal.

ZooKeeper keeps a parent node per lock name after the lock is released;
removing it must never break a service that takes the lock at the same
moment. Redis and etcd leave only keys and leases that expire.
"""

import uuid

from kazoo import client as kazoo_client
from oslo_config import cfg
from oslotest import base

from cinder import coordination
from cinder.stress import lockservers

WAIT = 30  # upper bound of waits; reached only when the code is wrong


def _coordinator(test, url, prefix='cinder-'):
    conf = cfg.ConfigOpts()
    coordinator = coordination.Coordinator(conf=conf, prefix=prefix)
    conf([], project='cinder-test', default_config_files=[])
    conf.set_override('backend_url', url, group='coordination')
    conf.set_override('backend_timeout', 10, group='coordination')
    coordinator.start()
    test.addCleanup(coordinator.stop)
    return coordinator


class ZooKeeperParentNodeTest(base.BaseTestCase):
    """A lock whose parent node is removed beside its acquirer."""

    def setUp(self):
        super().setUp()
        self.url = lockservers.server_url('zookeeper')
        self.zk = kazoo_client.KazooClient(
            hosts=self.url[len('zookeeper://'):].split('?')[0])
        self.zk.start(timeout=WAIT)
        self.addCleanup(self.zk.close)
        self.addCleanup(self.zk.stop)
        # A prefix of this test's own: tests share the server.
        self.prefix = 'cinder-%s-' % uuid.uuid4().hex[:8]
        self.holder = _coordinator(self, self.url, self.prefix)
        self.other = _coordinator(self, self.url, self.prefix)
        self.name = '%s-delete_volume' % uuid.uuid4()
        self.parent = '/tooz/locks/%s%s' % (self.prefix, self.name)

    def assertExcludes(self, lock):
        """*lock* is held: the other member cannot take it."""
        self.assertTrue(lock.held)
        self.assertEqual(1, len(self.zk.get_children(self.parent)))
        self.assertRaises(coordination.LockAcquireFailed,
                          self.other.get_lock(self.name).acquire,
                          blocking=False)

    def test_parent_node_is_where_tooz_keeps_it(self):
        backend = self.holder.backend
        self.assertEqual(self.parent,
                         backend.parent_node(self.prefix + self.name))
        namespace = 'cinder-test-%s' % uuid.uuid4().hex[:8]
        self.addCleanup(self.zk.delete, '/' + namespace, recursive=True)
        other = _coordinator(self, '%s%snamespace=%s' % (
            self.url, '&' if '?' in self.url else '?', namespace))
        with other.get_lock('x'):
            pass
        self.assertEqual('/%s/locks/cinder-x' % namespace,
                         other.backend.parent_node('cinder-x'))
        self.assertEqual(['cinder-x'],
                         self.zk.get_children('/%s/locks' % namespace))

    def test_lock_taken_again_after_its_parent_was_removed(self):
        # A Lock object kept by its caller, whose idle parent node was
        # removed between two uses.
        lock = self.holder.get_lock(self.name)
        with lock:
            pass
        self.assertEqual([], self.zk.get_children(self.parent))
        self.zk.delete(self.parent)

        lock.acquire(blocking=False)
        try:
            self.assertExcludes(lock)
        finally:
            lock.release()

    def test_parent_removed_between_ensure_path_and_create(self):
        # kazoo's Lock makes sure the parent exists, then creates its
        # node in it: the parent is removed in between, as a cleanup
        # running at that moment would.
        lock = self.holder.get_lock(self.name)
        kazoo_lock = lock._tooz_lock._lock
        real_ensure_path = kazoo_lock._ensure_path
        removed = []

        def ensure_path_then_remove():
            real_ensure_path()
            if not removed:
                self.zk.delete(self.parent)
                removed.append(self.parent)

        kazoo_lock._ensure_path = ensure_path_then_remove
        lock.acquire(blocking=WAIT)
        try:
            self.assertEqual([self.parent], removed)
            self.assertExcludes(lock)
        finally:
            lock.release()
