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

"""Tests of the naming of why a backend cannot be used, and the probe.

The errors are built the way the client libraries chain them (checked
against real servers by FailureCauseTest in the functional tests).
"""

import socket
import threading
from unittest import mock

from etcd3gw import exceptions as etcd3gw_exceptions
import fixtures
from kazoo import exceptions as kazoo_exceptions
from oslotest import base
import redis
from redis import exceptions as redis_exceptions
from tooz import coordination as tooz_coordination
from tooz import utils as tooz_utils

from cinder import coordination
from cinder.coordination import backends
from cinder.coordination.backends import base as backends_base
from cinder.coordination.backends import etcd
from cinder.coordination.backends import redis as redis_backend
from cinder.coordination.backends import zookeeper
from cinder.tests.unit.coordination import fakes


def raised(make, *causes):
    """The exception *make()* raised while handling *causes* in turn."""
    def throw(index):
        if index == len(causes):
            raise make()
        try:
            raise causes[index]
        except BaseException:
            throw(index + 1)
    try:
        throw(0)
    except BaseException as e:
        return e


def tooz_wrapped(cause):
    """What tooz's drivers raise: ToozConnectionError from *cause*."""
    try:
        tooz_utils.raise_with_cause(tooz_coordination.ToozConnectionError,
                                    str(cause), cause=cause)
    except tooz_coordination.ToozConnectionError as e:
        return e


class ClassifyTestCase(base.BaseTestCase):

    def reason(self, url, exc):
        return backends.make_backend(url, 10.0).classify(exc)

    def test_redis(self):
        url = 'redis://:pw@h:1'
        for exc, reason in (
                (tooz_wrapped(redis_exceptions.AuthenticationError(
                    'invalid username-password pair')),
                 backends_base.AUTH_FAILED),
                (redis_exceptions.ResponseError(
                    'NOAUTH Authentication required.'),
                 backends_base.AUTH_FAILED),
                (tooz_wrapped(raised(
                    lambda: redis_exceptions.ConnectionError('Error 111'),
                    ConnectionRefusedError(111, 'Connection refused'))),
                 backends_base.REFUSED),
                (raised(lambda: redis_exceptions.ConnectionError('Error -2'),
                        socket.gaierror(-2, 'Name or service not known')),
                 backends_base.UNRESOLVED),
                (redis_exceptions.TimeoutError('Timeout reading'),
                 backends_base.TIMED_OUT),
                (redis_exceptions.ResponseError('WRONGTYPE'), None),
                (ValueError('Expected socket path'), None)):
            self.assertEqual(reason, self.reason(url, exc), repr(exc))

    def test_etcd(self):
        url = 'etcd3+http://h:1'

        class Wrapper(Exception):
            """Like urllib3's MaxRetryError: the cause is its reason."""
            def __init__(self, reason):
                super().__init__('Max retries exceeded')
                self.reason = reason

        refused = raised(etcd3gw_exceptions.ConnectionFailedError,
                         Wrapper(ConnectionRefusedError(111, 'refused')))
        no_login = etcd3gw_exceptions.Etcd3Exception(
            '{"error":"etcdserver: user name is empty","message":'
            '"etcdserver: user name is empty","code":3}', 'Bad Request')
        for exc, reason in (
                (tooz_wrapped(refused), backends_base.REFUSED),
                (no_login, backends_base.AUTH_FAILED),
                (etcd3gw_exceptions.ConnectionTimeoutError(),
                 backends_base.TIMED_OUT),
                (etcd3gw_exceptions.Etcd3Exception('{"message": "x"}'),
                 None)):
            self.assertEqual(reason, self.reason(url, exc), repr(exc))
        backend = backends.make_backend(url, 10.0)
        self.assertEqual('Etcd3Exception: etcdserver: user name is empty',
                         backend.describe(no_login))

    def test_zookeeper(self):
        url = 'zookeeper://h:1'
        for exc, reason in (
                (kazoo_exceptions.AuthFailedError(),
                 backends_base.AUTH_FAILED),
                (kazoo_exceptions.NoAuthError(), backends_base.AUTH_FAILED),
                (ConnectionRefusedError(111, 'refused'),
                 backends_base.REFUSED),
                (kazoo_exceptions.NoNodeError(), None)):
            self.assertEqual(reason, self.reason(url, exc), repr(exc))

    def test_a_cycle_in_the_chain_ends(self):
        first, second = ValueError('a'), ValueError('b')
        first.__context__, second.__context__ = second, first
        self.assertIsNone(self.reason('redis://h:1', first))


class MessageTestCase(base.BaseTestCase):

    def test_reason_option_and_what_to_check(self):
        backend = backends.make_backend('redis://:hunter2@h:1', 10.0)
        error = backend.translate('Starting the coordinator', tooz_wrapped(
            redis_exceptions.AuthenticationError('invalid pair hunter2.')))
        self.assertIsInstance(error, coordination.BackendUnavailable)
        self.assertEqual(backends_base.AUTH_FAILED, error.reason)
        self.assertEqual(
            'Starting the coordinator failed: the lock backend '
            'redis://:***@h:1 ([coordination] backend_url) rejected the '
            'credentials (authentication failed): ToozConnectionError: '
            'invalid pair ***. Check the user name and password in '
            '[coordination] backend_url against the users of the server.',
            str(error))

    def test_timeouts_name_the_option(self):
        backend = backends.make_backend('redis://h:1', 2.5)
        error = backend.translate('Heartbeat', redis_exceptions.TimeoutError(
            'Timeout reading from socket'))
        self.assertEqual(backends_base.TIMED_OUT, error.reason)
        self.assertIn('did not answer (timed out): TimeoutError: Timeout '
                      'reading from socket (after 2.5 s, [coordination] '
                      'backend_timeout). Check that the server runs',
                      str(error))

    def test_empty_messages_are_taken_from_the_chain(self):
        backend = backends.make_backend('etcd3+http://h:1', 1.0)
        error = backend.translate('Starting', tooz_wrapped(raised(
            etcd3gw_exceptions.ConnectionFailedError,
            ConnectionRefusedError(111, 'Connection refused'))))
        self.assertIn('(connection refused): ConnectionRefusedError: '
                      '[Errno 111] Connection refused. Check', str(error))

    def test_unknown_kind_keeps_the_old_wording(self):
        backend = backends.make_backend('redis://h:1', 1.0)
        error = backend.translate('Heartbeat', tooz_coordination.ToozError(
            'odd'))
        self.assertIsNone(error.reason)
        self.assertTrue(str(error).endswith('did not answer: ToozError: '
                                            'odd'), str(error))


class PreflightTestCase(fakes.CoordinationTestCase):
    url = 'redis://:hunter2@127.0.0.1:1'

    def test_a_refusal_fails_the_start_at_once(self):
        self.useFixture(fixtures.MockPatchObject(
            redis_backend.RedisBackend, 'probe', side_effect=tooz_wrapped(
                redis_exceptions.AuthenticationError('invalid pair'))))
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator.start)
        self.assertEqual(backends_base.AUTH_FAILED, e.reason)
        self.assertEqual(0, self.driver.started)
        self.assertFalse(self.coordinator.started)

    def test_a_silent_probe_is_bounded(self):
        self.fixture.config(group='coordination', backend_timeout=0.2)
        release = threading.Event()
        self.addCleanup(release.set)
        self.useFixture(fixtures.MockPatchObject(
            redis_backend.RedisBackend, 'probe',
            side_effect=lambda: release.wait(fakes.WAIT)))
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator.start)
        self.assertEqual(backends_base.TIMED_OUT, e.reason)
        self.assertIn('no answer within 0.2 s', str(e))
        self.assertEqual(0, self.driver.started)

    def test_drivers_other_than_tooz_own_are_not_probed(self):
        for cls in (redis_backend.RedisBackend, zookeeper.ZooKeeperBackend,
                    etcd.Etcd3Backend):
            backend = cls('x://h:1', 1.0)
            backend.driver = self.driver  # a fake: nothing to reproduce
            self.assertIsNone(backend.probe())


class ProbeTestCase(base.BaseTestCase):
    """The probes reproduce what Tooz's own drivers would connect to."""

    def backend(self, url):
        backend = backends.make_backend(url, 4.0)
        # Tooz's real driver; creating it connects to nothing.
        backend.driver = tooz_coordination.get_coordinator(
            backend.tooz_url(), b'member')
        return backend

    def test_redis_connects_once_as_tooz_would(self):
        connection = mock.Mock()
        cls = self.useFixture(fixtures.MockPatchObject(
            redis, 'Connection', return_value=connection)).mock
        self.backend('redis://bob:p%40ss@h:7?db=2&socket_timeout=3'
                     '&lock_timeout=5').probe()
        kwargs = cls.call_args.kwargs
        self.assertEqual(('h', 7, 'bob', 'p%40ss', 2, 3.0, 4.0),
                         (kwargs['host'], kwargs['port'], kwargs['username'],
                          kwargs['password'], kwargs['db'],
                          kwargs['socket_timeout'],
                          kwargs['socket_connect_timeout']))
        self.assertEqual(0, kwargs['retry'].get_retries())
        connection.connect.assert_called_once_with()
        connection.send_command.assert_called_once_with('PING')
        connection.disconnect.assert_called_once_with()

    def test_redis_sentinels_are_not_probed(self):
        cls = self.useFixture(fixtures.MockPatchObject(redis,
                                                       'Connection')).mock
        self.backend('redis://h:26379?sentinel=main').probe()
        cls.assert_not_called()

    def test_zookeeper_tries_each_host_until_one_accepts(self):
        connect = self.useFixture(fixtures.MockPatchObject(
            socket, 'create_connection', side_effect=[
                ConnectionRefusedError(111, 'refused'), mock.Mock()])).mock
        self.backend('zookeeper://u:pw@h1:11?hosts=h2:12').probe()
        self.assertEqual([(('h1', 11),), (('h2', 12),)],
                         [c.args for c in connect.call_args_list])

    def test_zookeeper_without_any_server(self):
        self.useFixture(fixtures.MockPatchObject(
            socket, 'create_connection', side_effect=[
                ConnectionRefusedError(111, 'refused'),
                socket.gaierror(-2, 'Name or service not known')]))
        backend = self.backend('zookeeper://h1:11?hosts=h2:12')
        e = self.assertRaises(coordination.BackendUnavailable,
                              backend.preflight)
        self.assertEqual(backends_base.REFUSED, e.reason)
        self.assertIn('h1:11: [Errno 111] refused; h2:12: [Errno -2]', str(e))

    def test_etcd_reads_a_key(self):
        backend = self.backend('etcd3+http://h:1')
        self.useFixture(fixtures.MockPatchObject(
            backend.driver.client, 'get', side_effect=(
                etcd3gw_exceptions.Etcd3Exception(
                    '{"message": "etcdserver: user name is empty"}'))))
        e = self.assertRaises(coordination.BackendUnavailable,
                              backend.preflight)
        self.assertEqual(backends_base.AUTH_FAILED, e.reason)
        self.assertIn("Check that authentication is disabled on the etcd "
                      "cluster: Tooz's etcd driver cannot log in.", str(e))
