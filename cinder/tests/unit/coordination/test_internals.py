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

"""Tests of the library internals the lock layer reads.

They pin every private attribute on the installed libraries (no server
is needed: making a driver and a lock asks nothing of one), and check
that a missing one stops the coordinator at start with a clear error.
"""

import importlib.metadata
import os
import types

import fixtures
from oslotest import base

from cinder import coordination
from cinder.coordination import internals
from cinder.tests.unit.coordination import fakes

DOC = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'doc',
                   'source', 'contributor', 'library-internals.rst')


class InstalledLibrariesTestCase(base.BaseTestCase):
    """The attributes are where this project reads them."""

    def driver(self, url):
        return fakes.REAL_GET_COORDINATOR(url, b'internals-test')

    def test_file(self):
        directory = self.useFixture(fixtures.TempDir()).path
        internals.check_file(
            self.driver('file://' + directory).get_lock(b'x'))

    def test_redis(self):
        import redis
        from tooz.drivers import redis as tooz_redis

        driver = self.driver('redis://127.0.0.1:1')
        # The driver makes locks once started only; making one asks
        # nothing of the server either.
        lock = tooz_redis.RedisLock(driver, redis.Redis(port=1), b'x', 30)
        internals.check_redis(driver, lock)
        self.assertIsNone(internals.redis_lock_token(lock))

    def test_etcd(self):
        driver = self.driver('etcd3+http://127.0.0.1:1')
        internals.check_etcd(driver, driver.get_lock(b'x'))
        self.assertIsInstance(internals.etcd_renewed_locks(driver), set)

    def test_zookeeper(self):
        driver = self.driver('zookeeper://127.0.0.1:1')
        internals.check_zookeeper(driver, driver.get_lock(b'x'))
        client = internals.kazoo_client(driver)
        self.assertTrue(hasattr(internals.kazoo_retry_sleeper(client),
                                'max_delay'))

    def test_every_internal_is_listed_for_upstreaming(self):
        with open(DOC) as f:
            page = f.read()
        for internal in internals.INTERNALS:
            self.assertIn('``%s.%s``' % (internal.owner, internal.attribute),
                          page)


class MissingInternalTestCase(fakes.CoordinationTestCase):
    """A library that moved an attribute stops the start, naming it."""

    def assertStartFails(self, url, attribute, library='tooz'):
        self.fixture.config(group='coordination', backend_url=url)
        exc = self.assertRaises(coordination.ConfigurationError,
                                self.coordinator.start)
        self.assertIn('%s %s cannot be used' % (
            library, importlib.metadata.version(library)), str(exc))
        self.assertIn("'%s'" % attribute, str(exc))
        self.assertFalse(self.coordinator.started)
        # Not left running.
        self.assertEqual(self.driver.started, self.driver.stopped)

    def locks_lack(self, attribute):
        """The driver's tooz locks have no *attribute*."""
        real_get_lock = self.driver.get_lock

        def get_lock(name):
            lock = real_get_lock(name)
            delattr(lock, attribute)
            return lock

        self.driver.get_lock = get_lock

    def test_file_lock_without_its_fasteners_lock(self):
        self.locks_lack('_lock')
        self.assertStartFails('file:///nonexistent', '_lock')

    def test_redis_driver_without_its_client(self):
        del self.driver._client
        self.assertStartFails('redis://h:1', '_client')

    def test_redis_lock_without_its_redis_py_lock(self):
        self.locks_lack('_lock')
        self.assertStartFails('redis://h:1', '_lock')

    def test_redis_py_lock_without_its_token(self):
        real_get_lock = self.driver.get_lock

        def get_lock(name):
            lock = real_get_lock(name)
            del lock._lock.local
            return lock

        self.driver.get_lock = get_lock
        self.fixture.config(group='coordination', backend_url='redis://h:1')
        exc = self.assertRaises(coordination.ConfigurationError,
                                self.coordinator.start)
        self.assertIn('local.token', str(exc))
        self.assertFalse(self.coordinator.started)

    def test_etcd_lock_without_its_token(self):
        self.locks_lack('_uuid')
        self.assertStartFails('etcd3+http://h:1', '_uuid')

    def test_etcd_driver_without_its_renewed_locks(self):
        del self.driver._acquired_locks
        self.assertStartFails('etcd3+http://h:1', '_acquired_locks')

    def test_kazoo_connection_without_its_handshake(self):
        self.driver._connection = types.SimpleNamespace(
            retry_sleeper=self.driver._connection.retry_sleeper)
        self.assertStartFails('zookeeper://h:1', '_invoke', library='kazoo')

    def test_kazoo_client_without_its_connection(self):
        del self.driver._connection
        self.assertStartFails('zookeeper://h:1', '_connection',
                              library='kazoo')


class NoSilentFallbackTestCase(fakes.RealFileBackendTestCase):
    """The link check used to give up quietly on an unknown lock."""

    def test_link_check_of_a_held_lock_reads_its_file(self):
        coordinator = self.start()
        lock = coordinator.get_lock('linked')
        lock.acquire()
        self.addCleanup(lock.release)
        locked = internals.locked_file(lock._tooz_lock)
        self.assertEqual(os.fstat(locked.fileno()).st_ino,
                         os.stat(os.path.join(self.dir,
                                              'cinder-linked')).st_ino)
