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

"""Tests of the lock servers that the functional tests run."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import unittest
from unittest import mock
import uuid

import etcd3gw
import fixtures
from kazoo import client as kazoo_client
from kazoo.protocol import states as kazoo_states
from oslotest import base
import redis
from tooz import coordination

from cinder.stress import lockservers
from cinder.stress.lockservers import ports

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
CLI = os.path.join(REPO_ROOT, 'tools', 'lock-servers')
WAIT = 30  # seconds: bound of every wait for a server or a client

# Run by a child process of the test: start a server, tell its pid and data
# directory, then wait to be killed.
STARTER = """
import sys
from cinder.stress import lockservers
server = lockservers.server_class(sys.argv[1])()
server.start()
print(server.pid, server.data_dir, flush=True)
sys.stdin.read()
"""


def lock_cycle(test, url):
    """Acquire and release a tooz lock at ``url``."""
    member = ('test-%s' % uuid.uuid4().hex).encode('ascii')
    coord = coordination.get_coordinator(url, member)
    coord.start()
    try:
        lock = coord.get_lock(b'x')
        test.assertTrue(lock.acquire(blocking=WAIT))
        test.assertTrue(lock.release())
    finally:
        coord.stop()


def own_addresses(server):
    """Where ``server`` may listen: 127.0.0.1, on its own ports only."""
    ports = [server.port] + list(server.extra_ports.values())
    return {(lockservers.HOST, port) for port in ports}


class _ServerTests(object):
    """The same tests for every kind of server (a mixin)."""

    kind = None
    scheme = None

    def setUp(self):
        super(_ServerTests, self).setUp()
        self.server = self.useFixture(
            lockservers.LockServerFixture(self.kind)).server

    def test_serves_a_lock_cycle(self):
        self.assertTrue(self.server.running)
        self.assertEqual('%s://127.0.0.1:%d' % (self.scheme, self.server.port),
                         self.server.url)
        self.assertTrue(os.path.isfile(self.server.log_file))
        lock_cycle(self, self.server.url)

    def test_listens_on_its_own_loopback_ports_only(self):
        # Nothing on 0.0.0.0 or ::, no port of its own choosing (a JMX or
        # an admin server).
        self.assertEqual(own_addresses(self.server),
                         lockservers.listening_addresses(self.server.pid))

    def test_restart_keeps_url_and_dir(self):
        url, data_dir, pid = (self.server.url, self.server.data_dir,
                              self.server.pid)
        self.server.restart()
        self.assertEqual(url, self.server.url)
        self.assertEqual(data_dir, self.server.data_dir)
        self.assertNotEqual(pid, self.server.pid)
        self.assertFalse(lockservers.pid_alive(pid))
        self.assertEqual(own_addresses(self.server),
                         lockservers.listening_addresses(self.server.pid))
        lock_cycle(self, url)

    def test_kill_then_start(self):
        url, pid = self.server.url, self.server.pid
        self.server.kill()
        self.assertFalse(self.server.running)
        self.assertFalse(lockservers.pid_alive(pid))
        self.assertFalse(self.server.ping(timeout=0.5))
        self.server.start()
        self.assertEqual(url, self.server.url)
        lock_cycle(self, url)

    def test_stop_is_idempotent(self):
        data_dir, pid = self.server.data_dir, self.server.pid
        self.server.stop()
        self.server.stop()
        self.assertFalse(self.server.running)
        self.assertIsNone(self.server.pid)
        self.assertFalse(lockservers.pid_alive(pid))
        self.assertFalse(os.path.exists(data_dir))

    def test_pause_and_resume(self):
        self.server.pause()
        self.assertTrue(self.server.paused)
        # A frozen server accepts connections (the kernel does) but
        # answers nothing.
        self.assertFalse(self.server.ping(timeout=0.3))
        self.server.resume()
        self.assertFalse(self.server.paused)
        self.assertTrue(self.server.ping(timeout=WAIT))

    def test_stop_while_paused(self):
        pid = self.server.pid
        self.server.pause()
        self.server.stop()
        self.assertFalse(lockservers.pid_alive(pid))

    def test_dies_with_the_process_that_started_it(self):
        errors = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'stderr')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
        with open(errors, 'w') as stderr:
            starter = subprocess.Popen(
                [sys.executable, '-c', STARTER, self.kind],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=stderr, text=True, env=env)
        self.addCleanup(starter.wait, WAIT)
        self.addCleanup(starter.kill)
        self.addCleanup(starter.stdin.close)
        self.addCleanup(starter.stdout.close)
        line = starter.stdout.readline()
        with open(errors) as f:
            self.assertTrue(line, 'the starter failed: %s' % f.read())
        pid, data_dir = int(line.split()[0]), line.split()[1]
        # Whatever happens, neither the server nor its data outlives this
        # test.
        self.addCleanup(shutil.rmtree, data_dir, ignore_errors=True)
        self.addCleanup(lockservers.stop_pid, pid, data_dir=data_dir)
        self.assertTrue(lockservers.pid_alive(pid))

        starter.kill()  # SIGKILL: no cleanup, no atexit hook runs
        starter.wait(WAIT)

        self.assertTrue(lockservers.wait_pid_gone(pid, WAIT),
                        '%s server (pid %d) outlived the process that '
                        'started it' % (self.kind, pid))

    def test_shared_server(self):
        shared = lockservers.shared_server(self.kind)
        self.assertIs(shared, lockservers.shared_server(self.kind))
        self.assertTrue(shared.running)
        self.assertNotEqual(self.server.url, shared.url)
        lock_cycle(self, shared.url)


class RedisServerTestCase(_ServerTests, base.BaseTestCase):
    kind = 'redis'
    scheme = 'redis'

    def test_port_in_use_fails_with_log_tail(self):
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind(('127.0.0.1', 0))
        sock.listen(1)
        server = lockservers.RedisServer(port=sock.getsockname()[1])
        self.addCleanup(server.stop)
        exc = self.assertRaises(lockservers.LockServerError, server.start)
        self.assertIn('exited with status', str(exc))
        self.assertIn('Address already in use', str(exc))
        self.assertFalse(server.running)

    def test_retries_with_other_port_when_taken(self):
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind(('127.0.0.1', 0))
        sock.listen(1)
        busy = sock.getsockname()[1]
        real_pick = lockservers.pick_free_port
        picks = iter([busy])
        self.useFixture(fixtures.MockPatchObject(
            ports, 'pick_free_port',
            side_effect=lambda: next(picks, None) or real_pick()))
        server = lockservers.RedisServer()
        self.addCleanup(server.stop)
        server.start()
        self.assertNotEqual(busy, server.port)
        self.assertTrue(server.ping())


class PersistentRedisServerTestCase(base.BaseTestCase):
    """What cinder-aa-stress runs: keys survive a crash of the server."""

    def setUp(self):
        super(PersistentRedisServerTestCase, self).setUp()
        lockservers.check_available('redis')
        self.server = lockservers.PersistentRedisServer()
        self.addCleanup(self.server.stop)
        self.server.start()

    def client(self):
        client = redis.Redis(host=lockservers.HOST, port=self.server.port,
                             socket_timeout=WAIT)
        self.addCleanup(client.close)
        return client

    def test_listens_on_its_own_loopback_port_only(self):
        self.assertEqual(own_addresses(self.server),
                         lockservers.listening_addresses(self.server.pid))

    def test_crash_keeps_keys_and_their_expiry(self):
        self.assertTrue(self.client().set('held', 'token', px=600000))
        self.server.kill()  # SIGKILL right after the write
        self.server.start()
        client = self.client()
        self.assertEqual(b'token', client.get('held'))
        self.assertGreater(client.pttl('held'), 0)


class ZooKeeperServerTestCase(_ServerTests, base.BaseTestCase):
    kind = 'zookeeper'
    scheme = 'zookeeper'

    def test_session_survives_restart(self):
        # Given twice: kazoo waits for the answer to a session handshake
        # its session timeout divided by the number of hosts, and one sent
        # while the restarted server has its port open but does not serve
        # yet goes unanswered. The second try comes before the session
        # can expire.
        zk = kazoo_client.KazooClient(
            hosts=','.join(['127.0.0.1:%d' % self.server.port] * 2),
            timeout=WAIT)
        zk.start(timeout=WAIT)
        self.addCleanup(zk.close)
        self.addCleanup(zk.stop)
        session_id = zk.client_id[0]
        zk.create('/held', ephemeral=True)
        lost = threading.Event()
        back = threading.Event()

        def listener(state):
            if state == kazoo_states.KazooState.SUSPENDED:
                lost.set()
            elif state == kazoo_states.KazooState.CONNECTED and lost.is_set():
                back.set()
            elif state == kazoo_states.KazooState.LOST:
                lost.set()
                back.set()
        zk.add_listener(listener)

        self.server.restart()

        self.assertTrue(back.wait(WAIT))
        self.assertEqual(kazoo_states.KazooState.CONNECTED, zk.state)
        self.assertEqual(session_id, zk.client_id[0])
        self.assertIsNotNone(zk.exists('/held'))


class EtcdServerTestCase(_ServerTests, base.BaseTestCase):
    kind = 'etcd'
    scheme = 'etcd3+http'

    def test_crash_keeps_keys(self):
        client = etcd3gw.client(host=lockservers.HOST, port=self.server.port,
                                timeout=WAIT)
        self.assertTrue(client.put('held', 'token'))
        self.server.kill()
        self.server.start()
        self.assertEqual([b'token'], client.get('held'))


class AvailabilityTestCase(base.BaseTestCase):

    def setUp(self):
        super(AvailabilityTestCase, self).setUp()
        self.useFixture(fixtures.MockPatchObject(
            lockservers.EtcdServer, 'missing',
            return_value=['etcd']))

    def _require(self, value):
        self.useFixture(fixtures.EnvironmentVariable(
            lockservers.REQUIRE_ENV, value))

    def test_skips_without_binaries(self):
        for value in (None, '', '0'):
            self._require(value)
            self.assertFalse(lockservers.EtcdServer.available())
            fixture = lockservers.LockServerFixture('etcd')
            exc = self.assertRaises(unittest.SkipTest, fixture.setUp)
            self.assertIn('tools/test-setup.sh', str(exc))
            self.assertRaises(unittest.SkipTest,
                              lockservers.shared_server, 'etcd')

    def test_fails_without_binaries_when_required(self):
        self._require('1')
        fixture = lockservers.LockServerFixture('etcd')
        exc = self.assertRaises(lockservers.LockServerUnavailable,
                                fixture.setUp)
        self.assertIn('tools/test-setup.sh', str(exc))
        self.assertIn(lockservers.REQUIRE_ENV, str(exc))
        self.assertRaises(lockservers.LockServerUnavailable,
                          lockservers.shared_server, 'etcd')

    def test_unknown_kind(self):
        self.assertRaises(ValueError, lockservers.shared_server, 'memcached')
        self.assertRaises(ValueError, lockservers.server_url, 'memcached')

    def test_server_url_from_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'CINDER_TEST_ETCD_URL', 'etcd3+http://127.0.0.1:1'))
        # Neither starts a server nor looks at the (mocked) binaries.
        self.assertEqual('etcd3+http://127.0.0.1:1',
                         lockservers.server_url('etcd'))

    def test_server_classes(self):
        self.assertEqual(
            {'redis': lockservers.RedisServer,
             'zookeeper': lockservers.ZooKeeperServer,
             'etcd': lockservers.EtcdServer},
            lockservers.SERVER_CLASSES)
        with mock.patch.object(shutil, 'which',
                               return_value=None):
            self.assertFalse(lockservers.RedisServer.available())
            self.assertEqual(['redis-server'],
                             lockservers.RedisServer.missing())


class CommandLineTestCase(base.BaseTestCase):

    def setUp(self):
        super(CommandLineTestCase, self).setUp()
        for kind, cls in lockservers.SERVER_CLASSES.items():
            if not cls.available():
                lockservers.check_available(kind)  # skips or fails
        self.state_dir = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'state')

    def cli(self, *args):
        return subprocess.run(
            [sys.executable, CLI] + list(args) +
            ['--state-dir', self.state_dir],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=3 * 60)

    def test_start_status_stop(self):
        # Registered first, so it runs last: stop what a failure left.
        self.addCleanup(self.cli, 'stop')
        result = self.cli('start')
        self.assertEqual(0, result.returncode, result.stderr)

        with open(os.path.join(self.state_dir, 'env')) as f:
            env = dict(line.split('=', 1) for line in f.read().splitlines())
        self.assertEqual(
            {'CINDER_TEST_REDIS_URL', 'CINDER_TEST_ZOOKEEPER_URL',
             'CINDER_TEST_ETCD_URL'}, set(env))
        self.assertTrue(env['CINDER_TEST_REDIS_URL'].startswith(
            'redis://127.0.0.1:'))
        self.assertTrue(env['CINDER_TEST_ZOOKEEPER_URL'].startswith(
            'zookeeper://127.0.0.1:'))
        self.assertTrue(env['CINDER_TEST_ETCD_URL'].startswith(
            'etcd3+http://127.0.0.1:'))
        pids = {}
        for kind in lockservers.SERVER_CLASSES:
            with open(os.path.join(self.state_dir, kind + '.pid')) as f:
                pids[kind] = int(f.read())
            self.assertTrue(lockservers.pid_alive(pids[kind]))
        for url in env.values():
            lock_cycle(self, url)

        result = self.cli('status')
        self.assertEqual(0, result.returncode, result.stdout)
        self.assertEqual(3, result.stdout.count('serving'))

        # Starting again keeps the running servers.
        result = self.cli('start', 'redis')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('already running', result.stdout)

        result = self.cli('stop')
        self.assertEqual(0, result.returncode, result.stderr)
        for kind, pid in pids.items():
            self.assertFalse(lockservers.pid_alive(pid), kind)
        self.assertFalse(os.path.exists(self.state_dir))
        self.assertEqual(3, self.cli('status').returncode)

    def test_unknown_kind(self):
        result = self.cli('start', 'memcached')
        self.assertEqual(2, result.returncode)
        self.assertIn('unknown server kind', result.stderr)
        self.assertFalse(os.path.exists(self.state_dir))


RABBIT_STARTER = """
import sys
from cinder.stress import lockservers
server = lockservers.RabbitServer()
server.start()
print(server.pid, server.epmd_pid, server.data_dir, flush=True)
sys.stdin.read()
"""


class RabbitServerTestCase(base.BaseTestCase):
    """The private RabbitMQ broker: AMQP on its own ports, its own epmd."""

    def setUp(self):
        super(RabbitServerTestCase, self).setUp()
        missing = lockservers.RabbitServer.missing()
        if missing:
            if lockservers.env_flag(lockservers.REQUIRE_ENV):
                raise lockservers.LockServerUnavailable(
                    'rabbitmq: missing %s; %s' % (', '.join(missing),
                                                  lockservers.SETUP_HINT))
            self.skipTest('rabbitmq: missing %s' % ', '.join(missing))
        self.logger = self.useFixture(fixtures.FakeLogger(
            name='cinder.stress.lockservers', level='INFO'))
        self.server = lockservers.RabbitServer()
        self.addCleanup(self.server.stop)
        self.server.start()

    def assert_own_ports(self):
        server = self.server
        self.assertEqual(
            {(lockservers.HOST, server.port),
             (lockservers.HOST, server.extra_ports['dist'])},
            lockservers.listening_addresses(server.pid))
        # epmd always adds the IPv6 loopback to the addresses it is given.
        self.assertEqual(
            {lockservers.HOST, '::1'},
            {host for host, port in
             lockservers.listening_addresses(server.epmd_pid)
             if port == server.extra_ports['epmd']})

    def test_serves_amqp_on_its_own_loopback_ports(self):
        self.assertTrue(self.server.ping(timeout=WAIT))
        self.assert_own_ports()
        self.assertEqual('rabbit://guest:guest@127.0.0.1:%d/' %
                         self.server.port, self.server.url)
        # The log line of the start shows no password.
        self.assertIn('rabbit://guest:***@127.0.0.1:%d/' % self.server.port,
                      self.logger.output)
        self.assertNotIn('guest:guest', self.logger.output)

    def test_restart_keeps_url_and_dir(self):
        url, data_dir = self.server.url, self.server.data_dir
        pid, epmd = self.server.pid, self.server.epmd_pid
        self.server.restart()
        self.assertEqual((url, data_dir),
                         (self.server.url, self.server.data_dir))
        self.assertFalse(lockservers.pid_alive(pid))
        self.assertFalse(lockservers.pid_alive(epmd))
        self.assertTrue(self.server.ping(timeout=WAIT))
        self.assert_own_ports()

    def test_stop_leaves_neither_broker_nor_epmd(self):
        pid, epmd = self.server.pid, self.server.epmd_pid
        data_dir = self.server.data_dir
        self.server.stop()
        self.server.stop()
        self.assertFalse(lockservers.pid_alive(pid))
        self.assertFalse(lockservers.pid_alive(epmd))
        self.assertFalse(os.path.exists(data_dir))
        self.assertFalse(self.server.ping(timeout=0.5))

    def test_dies_with_the_process_that_started_it(self):
        self.server.stop()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
        starter = subprocess.Popen(
            [sys.executable, '-c', RABBIT_STARTER], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=env)
        self.addCleanup(starter.wait, WAIT)
        self.addCleanup(starter.kill)
        self.addCleanup(starter.stdin.close)
        self.addCleanup(starter.stdout.close)
        line = starter.stdout.readline()
        self.assertTrue(line, 'the starter failed')
        pid, epmd, data_dir = line.split()
        pid, epmd = int(pid), int(epmd)
        self.addCleanup(shutil.rmtree, data_dir, ignore_errors=True)
        self.addCleanup(lockservers.stop_pid, epmd)
        self.addCleanup(lockservers.stop_pid, pid, data_dir=data_dir)
        starter.kill()  # SIGKILL: no cleanup, no atexit hook runs
        starter.wait(WAIT)
        for what, gone in (('broker', pid), ('epmd', epmd)):
            self.assertTrue(lockservers.wait_pid_gone(gone, WAIT),
                            'the %s (pid %d) outlived the process that '
                            'started it' % (what, gone))
