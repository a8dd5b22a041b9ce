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

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import fixtures
from kazoo import client as kazoo_client
from oslo_config import cfg
from oslotest import base
import redis

from cinder import coordination
from cinder import objects
from cinder.stress import lockservers
from cinder.tests.functional import test_operator_tools
from cinder.tests.functional import volume_service

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
        self.assertEqual(1, self.other.remove_lock(self.name))
        self.assertIsNone(self.zk.exists(self.parent))

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
                # What clean_locks and a volume's deletion call.
                removed.append(self.other.remove_lock(self.name))

        kazoo_lock._ensure_path = ensure_path_then_remove
        lock.acquire(blocking=WAIT)
        try:
            self.assertEqual([1], removed)
            self.assertExcludes(lock)
        finally:
            lock.release()

    def test_parent_with_a_holder_or_a_waiter_is_never_removed(self):
        lock = self.holder.get_lock(self.name)
        lock.acquire()
        self.assertEqual(0, self.other.remove_lock(self.name))
        self.assertEqual(0, self.other.remove_lock('*' + self.name[:8] + '*'))
        waiting = threading.Event()
        got = threading.Event()

        def wait_for_it():
            waiter = self.other.get_lock(self.name)
            waiting.set()
            waiter.acquire(blocking=WAIT)
            got.set()
            waiter.release()

        thread = threading.Thread(target=wait_for_it)
        thread.start()
        self.assertTrue(waiting.wait(WAIT))
        deadline = time.monotonic() + WAIT
        while (len(self.zk.get_children(self.parent)) < 2 and
               time.monotonic() < deadline):
            threading.Event().wait(0.01)
        # Holder and waiter: two children, and the parent stays.
        self.assertEqual(2, len(self.zk.get_children(self.parent)))
        lock.release()
        # The waiter alone: still not removed.
        self.assertTrue(got.wait(WAIT))
        thread.join(WAIT)
        self.assertEqual(1, self.other.remove_lock(self.name))

    def test_cleanup_beside_running_acquirers(self):
        # Two services take the lock over and over (one reusing its Lock
        # object, one asking for a new one each time) while a cleanup
        # removes the parent whenever it is idle: nobody fails, nobody
        # overlaps.
        cycles = 100
        inside = []
        overlaps = []
        errors = []

        def acquirer(coordinator, reuse):
            lock = coordinator.get_lock(self.name)
            try:
                for _ in range(cycles):
                    if not reuse:
                        lock = coordinator.get_lock(self.name)
                    with lock:
                        inside.append(1)
                        if len(inside) > 1:
                            overlaps.append(len(inside))
                        inside.pop()
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=acquirer, args=(c, reuse))
                   for c, reuse in ((self.holder, True),
                                    (self.other, False))]
        for thread in threads:
            thread.start()
        cleaner = _coordinator(self, self.url, self.prefix)
        removed = 0
        while any(thread.is_alive() for thread in threads):
            removed += cleaner.remove_lock(self.name)
        for thread in threads:
            thread.join(WAIT)
        self.assertEqual([], errors)
        self.assertEqual([], overlaps)
        self.assertGreater(removed, 0, 'the parent was never idle')


def _with_query(url, **query):
    return '%s%s%s' % (url, '&' if '?' in url else '?',
                       '&'.join('%s=%s' % kv for kv in query.items()))


class CleanLocksOnZooKeeperTest(test_operator_tools.ToolTestCase):
    """``cinder-manage util clean_locks`` beside a service on ZooKeeper."""

    def setUp(self):
        super().setUp()
        server_url = lockservers.server_url('zookeeper')
        # A namespace of this test's own: tests share the server.
        self.namespace = 'cinder-test-%s' % uuid.uuid4().hex[:8]
        self.root = '/%s/locks' % self.namespace
        self.url = _with_query(server_url, namespace=self.namespace)
        self.zk = kazoo_client.KazooClient(
            hosts=server_url[len('zookeeper://'):].split('?')[0])
        self.zk.start(timeout=WAIT)
        self.addCleanup(self.zk.close)
        self.addCleanup(self.zk.stop)
        self.addCleanup(self.zk.delete, '/' + self.namespace,
                        recursive=True)
        share = os.path.join(self.dir, 'share')
        os.mkdir(share)
        shares_file = os.path.join(self.dir, 'nfs_shares')
        with open(shares_file, 'w') as f:
            f.write(share + '\n')
        self.svc = self.useFixture(volume_service.VolumeService(
            os.path.join(self.dir, 'state'),
            {'DEFAULT': {'volume_driver': 'nfs',
                         'nfs_shares_config': shares_file,
                         'nfs_snapshot_support': 'true'},
             'coordination': {'backend_url': self.url}}))

    def parents(self):
        return self.zk.get_children(self.root)

    def leave(self, *names):
        """What released locks *names* leave: their parent nodes."""
        coordinator = _coordinator(self, self.url)
        for name in names:
            with coordinator.get_lock(name):
                pass

    def hold(self, name):
        coordinator = _coordinator(self, self.url)
        lock = coordinator.get_lock(name)
        lock.acquire()
        self.addCleanup(lock.release)

    def clean(self, *args):
        rc, out, err = self.manage(self.svc.config_file, 'util',
                                   'clean_locks', *args)
        self.assertNotIn('Traceback', err)
        return rc, out

    def test_online_removes_only_parents_of_deleted_resources(self):
        volume = objects.Volume(size=1)
        self.svc.call('create_volume', volume=volume)
        snapshot = objects.Snapshot(volume=volume)
        self.svc.call('create_snapshot', snapshot=snapshot)
        kept = set(self.parents())
        self.assertIn('cinder-nfs-' + volume.id, kept)
        gone_volume, gone_snapshot, busy = (str(uuid.uuid4())
                                            for _ in range(3))
        leftovers = {'cinder-%s-delete_volume' % gone_volume,
                     'cinder-nfs-' + gone_volume,
                     'cinder-%s-delete_snapshot' % gone_snapshot}
        self.leave(*(name[len('cinder-'):] for name in leftovers))
        self.leave('tgt-targets')
        self.hold('%s-detach_volume' % busy)
        kept |= {'cinder-tgt-targets', 'cinder-%s-detach_volume' % busy}
        self.assertEqual(kept | leftovers, set(self.parents()))

        rc, out = self.clean('--dry-run')
        self.assertEqual(0, rc, out)
        self.assertIn('Would remove 4 lock node(s) from %s on %s' % (
            self.root, self.url), out)
        self.assertEqual(kept | leftovers, set(self.parents()))

        rc, out = self.clean()
        self.assertEqual(0, rc, out)
        self.assertEqual(kept, set(self.parents()))
        for name in leftovers:
            self.assertIn('removed ' + name, out)
        self.assertIn('Removed 3 lock node(s) from %s on %s; kept ' % (
            self.root, self.url), out)
        self.assertIn('Kept 1 lock node(s) in use: cinder-%s-detach_volume'
                      % busy, out)
        # The service still works on the kept ones, and removes the
        # parents of what it deletes.
        self.svc.call('delete_snapshot', snapshot=snapshot)
        self.svc.call('delete_volume', volume=volume)
        self.assertEqual([], [name for name in self.parents()
                              if volume.id in name or snapshot.id in name])

    def test_offline_removes_hundreds_of_parents(self):
        self.assertEqual(0, self.svc.terminate())
        # What repeated stress runs leave: idle parents of the locks of
        # deleted volumes (made directly: 300 lock cycles take seconds).
        names = ['%s-delete_volume' % uuid.uuid4() for _ in range(300)]
        self.leave(names[0])
        for result in [self.zk.create_async('%s/cinder-%s' % (self.root, n))
                       for n in names[1:]]:
            result.get(timeout=WAIT)
        self.hold(names[0])
        self.assertEqual(300, len(self.parents()))

        rc, out = self.clean('--services-offline')
        self.assertEqual(1, rc, out)
        self.assertIn('Removed 299 lock node(s) from %s' % self.root, out)
        self.assertIn('Kept 1 lock node(s) in use: cinder-' + names[0], out)
        self.assertIn('is a cinder-volume still running?', out)
        self.assertEqual(['cinder-' + names[0]], self.parents())


def _run_holder(test, url, name, release):
    """A child process that takes lock *name*; releases it or keeps it."""
    proc = subprocess.Popen(
        [sys.executable, '-c',
         'import sys\n'
         'from cinder.tests.functional import test_lock_cleanup as t\n'
         't.hold_in_child(*sys.argv[1:])\n', url, name, str(release)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    test.addCleanup(proc.wait, WAIT)
    test.addCleanup(proc.stdin.close)
    test.assertEqual('held\n', proc.stdout.readline())
    return proc


def hold_in_child(url, name, release):
    """Run by :func:`_run_holder` in the child process."""
    conf = cfg.ConfigOpts()
    coordinator = coordination.Coordinator(conf=conf)
    conf([], project='cinder-test', default_config_files=[])
    conf.set_override('backend_url', url, group='coordination')
    coordinator.start()
    lock = coordinator.get_lock(name)
    lock.acquire()
    print('held', flush=True)
    if release == 'True':
        lock.release()
        coordinator.stop()
    else:
        sys.stdin.read()


class LeaseLeftoversMixin(object):
    """Redis and etcd leave only what expires, and clean_locks says so.

    After a release, and after the holder's death.
    """

    kind = None

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(
            lockservers.LockServerFixture(self.kind)).server

    def test_release_and_kill_leave_only_what_expires(self):
        _run_holder(self, self.server.url, 'nfs-released', True).wait(WAIT)
        self.assertReleasedLeavesNoLockKey()
        holder = _run_holder(self, self.server.url, 'nfs-killed', False)
        holder.kill()
        holder.wait(WAIT)
        self.assertEverythingExpires(['cinder-nfs-killed'])

        rc, out, err = test_operator_tools.run_tool(
            'cinder.cmd.manage', test_operator_tools.write_conf(
                os.path.join(self.useFixture(fixtures.TempDir()).path,
                             'cinder.conf'),
                {'coordination': {'backend_url': self.server.url}}),
            'util', 'clean_locks')
        self.assertEqual(0, rc, out + err)
        self.assertIn('leaves nothing to clean: a release deletes the '
                      'lock\'s key', out)


class RedisLeftoversTest(LeaseLeftoversMixin, base.BaseTestCase):
    kind = 'redis'

    def client(self):
        return redis.Redis(host='127.0.0.1', port=self.server.port)

    def assertReleasedLeavesNoLockKey(self):
        self.assertEqual([], self.client().keys('*'))

    def assertEverythingExpires(self, names):
        keys = {key.decode(): self.client().pttl(key)
                for key in self.client().keys('*')}
        for name in names:
            self.assertIn('_tooz_%s_lock' % name, keys)
        for key, pttl in keys.items():
            # The lock key and the member key of the dead holder.
            self.assertTrue(0 < pttl <= 30000, '%s: PTTL %s' % (key, pttl))


class EtcdLeftoversTest(LeaseLeftoversMixin, base.BaseTestCase):
    kind = 'etcd'

    def post(self, path, body):
        request = urllib.request.Request(
            'http://127.0.0.1:%d/v3/%s' % (self.server.port, path),
            json.dumps(body).encode(), {'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return json.load(response)

    def keys(self):
        everything = base64.b64encode(b'\0').decode()
        found = self.post('kv/range', {'key': everything,
                                       'range_end': everything})
        return [base64.b64decode(kv['key']).decode()
                for kv in found.get('kvs', [])]

    def leases(self):
        """{lease id: (seconds left, keys)}."""
        leases = {}
        for lease in self.post('lease/leases', {}).get('leases', []):
            live = self.post('lease/timetolive', {'ID': lease['ID'],
                                                  'keys': True})
            leases[lease['ID']] = (int(live['TTL']), [
                base64.b64decode(k).decode() for k in live.get('keys', [])])
        return leases

    def assertReleasedLeavesNoLockKey(self):
        self.assertEqual([], self.keys())
        # Its lease and the service's member lease remain, and expire.
        self.assertEqual(2, len(self.leases()))
        for ttl, keys in self.leases().values():
            self.assertTrue(0 < ttl <= 30, ttl)
            self.assertEqual([], keys)

    def assertEverythingExpires(self, names):
        keys = self.keys()
        # tooz's key is b'/tooz/locks' + name, with no slash between.
        self.assertEqual(['/tooz/locks' + name for name in names], keys)
        leased = []
        for ttl, lease_keys in self.leases().values():
            self.assertTrue(0 < ttl <= 30, ttl)
            leased += lease_keys
        self.assertEqual(sorted(keys), sorted(leased))
