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

"""Backend.location(): one name for each place where locks live.

Two URLs name the same place when Tooz's driver would keep the locks of
both in the same keys or nodes of the same servers; the fencing tokens
of their services then compare, and their locks exclude each other.
"""

import os
import socket

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder import coordination
from cinder.coordination import backends


def location(url):
    return backends.make_backend(url, 1.0).location()


class LocationTestCase(base.BaseTestCase):

    def assertSame(self, *urls):
        found = {url: location(url) for url in urls}
        self.assertEqual(1, len(set(found.values())), found)

    def assertDifferent(self, *urls):
        found = {url: location(url) for url in urls}
        self.assertEqual(len(urls), len(set(found.values())), found)

    def assertRefused(self, url, *words):
        e = self.assertRaises(coordination.ConfigurationError,
                              backends.make_backend, url, 1.0)
        self.assertIn('[coordination] backend_url %s' %
                      coordination.mask_url(url), str(e))
        for word in words:
            self.assertIn(word, str(e))
        return e

    # ZooKeeper: the servers, the chroot and tooz's namespace.

    def test_zookeeper_servers_in_any_place_and_order(self):
        self.assertSame('zookeeper://zk1?hosts=zk2',
                        'zookeeper://zk2?hosts=zk1',
                        'zookeeper://zk2:2181,zk1:2181',
                        'zookeeper://?hosts=zk1,zk2:2181',
                        'zookeeper://?hosts=zk2&hosts=ZK1:2181&hosts=zk2',
                        'kazoo://zk1:02181?hosts=zk2&timeout=5')

    def test_zookeeper_user_path_and_other_options_do_not_count(self):
        # Tooz ignores the URL's path (a chroot follows the last server).
        self.assertSame('zookeeper://zk1:2181',
                        'zookeeper://user:pw@zk1/ignored',
                        'zookeeper://zk1?namespace=tooz&randomize_hosts=0')

    def test_zookeeper_chroot_and_namespace(self):
        self.assertSame('zookeeper://zk1?hosts=zk2/cinder',
                        'zookeeper://zk2?hosts=zk1:2181/cinder/',
                        'zookeeper://zk1?hosts=zk2/cinder&namespace=tooz')
        self.assertDifferent('zookeeper://zk1?hosts=zk2',
                             'zookeeper://zk1?hosts=zk2/cinder',
                             'zookeeper://zk1?hosts=zk2/other',
                             'zookeeper://zk1?hosts=zk2&namespace=cinder')

    def test_zookeeper_different_ensembles(self):
        self.assertDifferent('zookeeper://zk1',
                             'zookeeper://zk1:2182',
                             'zookeeper://zk1?hosts=zk2',
                             'zookeeper://zk3')

    def test_zookeeper_default_server_and_ipv6(self):
        self.assertSame('zookeeper://', 'zookeeper://localhost:2181')
        self.assertSame('zookeeper://[::1]', 'zookeeper://[::1]:2181')
        self.assertEqual('zookeeper://[::1]:2181,zk1:2181/tooz',
                         location('zookeeper://zk1?hosts=[::1]'))

    def test_zookeeper_refuses_what_it_cannot_normalise(self):
        self.assertRefused('zookeeper://zk1:abc', "'zk1:abc'", 'port')
        self.assertRefused('zookeeper://zk1?hosts=zk2:99999', "'zk2:99999'")
        self.assertRefused('zookeeper://zk1?hosts=zk2,', 'empty')
        # kazoo takes everything after the first "/" as the chroot.
        self.assertRefused('zookeeper://zk1?hosts=zk2/a&hosts=zk3',
                           'chroot', 'last server')
        self.assertRefused('zookeeper://zk1?namespace=a&namespace=b',
                           'namespace', 'more than once')

    # Redis: the server (or socket, or Sentinels and service), the
    # database and tooz's namespace.

    def test_redis_same_server_database_and_namespace(self):
        self.assertSame('redis://h', 'redis://H:6379?db=0',
                        'redis://:pw@h:6379?ssl=true&socket_timeout=3',
                        'redis://h:6379?namespace=_tooz&lock_timeout=5')

    def test_redis_database_namespace_and_server_count(self):
        self.assertDifferent('redis://h', 'redis://h?db=1',
                             'redis://h?namespace=cinder',
                             'redis://h:6380', 'redis://other')

    def test_redis_sentinels(self):
        self.assertSame(
            'redis://s1:26379?sentinel=main&sentinel_fallback=s2:26379',
            'redis://s2:26379?sentinel=main&sentinel_fallback=s1:26379&'
            'sentinel_password=x')
        self.assertDifferent(
            'redis://s1:26379?sentinel=main',
            'redis://s1:26379?sentinel=other',
            'redis://s1:26379',
            'redis://s1:26379?sentinel=main&db=2')

    def test_paths_are_of_this_host_links_resolved(self):
        # A Redis socket and a lock directory are places of this host.
        tmp = self.useFixture(fixtures.TempDir()).path
        os.symlink(tmp, os.path.join(tmp, 'link'))
        self.assertSame('redis://%s/r.sock' % tmp,
                        'redis://%s/link/r.sock?db=0' % tmp)
        self.assertEqual('redis+unix://%s%s/r.sock?db=0&namespace=_tooz' % (
            socket.gethostname(), os.path.realpath(tmp)),
            location('redis://%s/r.sock' % tmp))
        self.assertDifferent('redis://%s/r.sock' % tmp,
                             'redis://%s/r.sock?db=1' % tmp)
        self.assertSame('file://%s' % tmp, 'file://%s/link/' % tmp)
        self.assertEqual('file://%s%s' % (socket.gethostname(),
                                          os.path.realpath(tmp)),
                         location('file://%s/link/link/' % tmp))

    def test_redis_refuses_what_it_cannot_normalise(self):
        self.assertRefused('redis://h?db=x', 'db', "'x'")
        self.assertRefused('redis://h?db=1&db=2', 'db', 'more than once')
        self.assertRefused('redis://h:port', "'h:port'")
        self.assertRefused('redis://s1:1?sentinel=m&sentinel_fallback=s2:x',
                           "'s2:x'")

    # etcd: the server; Tooz's etcd driver keeps every lock under one
    # fixed prefix (/tooz/locks), with no option to change it.

    def test_etcd(self):
        self.assertSame('etcd3+http://h', 'etcd3+http://H:2379?timeout=5',
                        'etcd3+https://h:2379', 'etcd3+http://h:2379/x')
        self.assertSame('etcd3+http://', 'etcd3+http://localhost:2379')
        self.assertDifferent('etcd3+http://h', 'etcd3+http://h:2380',
                             'etcd3+http://other')
        self.assertRefused('etcd3+http://h:x', "'h:x'")

    # Secrets: the location is written to files on the share.

    def test_no_secret_in_a_location(self):
        for url in ('redis://user:hunter2@h?sentinel_password=s3cret',
                    'redis://:hunter2@h:1?sentinel=m&sentinel_fallback=s:2&'
                    'sentinel_password=s3cret',
                    'zookeeper://user:hunter2@zk1?hosts=zk2/c',
                    # An unencoded "/" ends urllib's netloc before the "@".
                    'zookeeper://user:hun/ter2@zk1',
                    'etcd3+http://user:hunter2@h'):
            found = location(url)
            for secret in ('hunter2', 's3cret', 'user', 'hun', 'ter2'):
                self.assertNotIn(secret, found)

    def test_refusal_shows_no_secret(self):
        e = self.assertRefused('zookeeper://u:hunter2@zk1?hosts=zk2:x')
        self.assertNotIn('hunter2', str(e))
        e = self.assertRefused('redis://:hunter2@h:x?sentinel_password=s3')
        self.assertNotIn('hunter2', str(e))
        self.assertNotIn('s3', str(e))

    def test_start_refuses_before_connecting(self):
        get_coordinator = self.useFixture(fixtures.MockPatch(
            'tooz.coordination.get_coordinator')).mock
        conf = cfg.ConfigOpts()
        coordinator = coordination.Coordinator(conf=conf)
        conf([], project='cinder-test', default_config_files=[])
        conf.set_override('backend_url', 'zookeeper://zk1?hosts=zk2:x',
                          group='coordination')
        e = self.assertRaises(coordination.ConfigurationError,
                              coordinator.start)
        self.assertIn('[coordination] backend_url', str(e))
        get_coordinator.assert_not_called()
        self.assertFalse(coordinator.started)
