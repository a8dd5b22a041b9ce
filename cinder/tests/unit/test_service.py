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

"""Unit tests of the service lifecycle and its requests.

The service takes its requests from oslo.messaging's in-process ``fake://``
transport here; the functional tests run it on a real RabbitMQ broker.
"""

import logging
import sys
import threading
from unittest import mock
import uuid

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from cinder.common import config
from cinder.common import processes
from cinder import coordination
from cinder import exception
from cinder import messaging
from cinder import objects
from cinder import request_server
from cinder import service
from cinder.tests import coordination_fixture
from cinder.tests import processes_fixture
from cinder.volume import lost_locks
from cinder.volume import rpcapi

FAKE = 'cinder.tests.unit.fake_driver.'


class ServiceTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.state = self.useFixture(fixtures.TempDir()).path
        # oslo.messaging's client needs the global configuration (its
        # tracing options are registered there only).
        self.conf = cfg.CONF
        self.conf.register_opts(config.global_opts)
        self.conf.register_opts(config.volume_service_opts)
        messaging.register_opts(self.conf)
        self.fixture = self.useFixture(config_fixture.Config(self.conf))
        self.conf([], project='cinder', default_config_files=[])
        # fake:// queues are shared by the whole process: a host name of
        # its own per test.
        self.host = 'h1-%s' % uuid.uuid4().hex[:8]
        self.fixture.config(state_path=self.state, host=self.host,
                            volume_driver=FAKE + 'FakeDriver',
                            transport_url='fake://')
        # The file backend: some tests check what the service says of it.
        self.locks = self.useFixture(
            coordination_fixture.CoordinatorFixture(use_env=False))
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder', level='INFO'))

    def make_service(self, coordinator=None):
        svc = service.Service(self.conf, coordinator=coordinator)
        self.addCleanup(svc.stop)
        return svc

    def make_client(self, svc, timeout=30):
        return rpcapi.VolumeAPI(svc.transport, messaging.backend_address(
            self.host, svc.manager.driver.backend_name), timeout=timeout)

    def fake_coordinator(self, order):
        coordinator = mock.Mock(spec=coordination.Coordinator)
        coordinator.start.side_effect = lambda: order.append('coord.start')
        coordinator.stop.side_effect = lambda: order.append('coord.stop')
        coordinator.backend.distributed = True
        coordinator.group.return_value.members.return_value = {}
        return coordinator


class LifecycleTestCase(ServiceTestCase):

    def test_start_and_stop_order(self):
        order = []
        svc = self.make_service(self.fake_coordinator(order))
        with mock.patch('cinder.tests.unit.fake_driver.FakeDriver.'
                        '_call', autospec=True,
                        side_effect=lambda drv, m, *a: order.append(m)):
            real_stop = request_server.RequestServer.stop

            def stop(server, *args, **kwargs):
                order.append('server.stop')
                # The real stop too: fake:// queues outlive the test.
                return real_stop(server, *args, **kwargs)

            with mock.patch.object(request_server.RequestServer, 'stop',
                                   autospec=True, side_effect=stop):
                svc.start()
                self.assertIsNotNone(svc.transport)
                svc.stop()
                self.assertIsNone(svc.transport)
        self.assertEqual(['coord.start', 'do_setup', 'check_for_setup_error',
                          'server.stop', 'stop', 'coord.stop'], order)
        self.assertTrue(svc.wait(0))

    def test_real_coordinator_is_started_before_driver_setup(self):
        seen = []
        svc = self.make_service()
        with mock.patch('cinder.tests.unit.fake_driver.FakeDriver.do_setup',
                        side_effect=lambda: seen.append(
                            self.locks.coordinator.started)):
            # The fixture's coordinator is already started; use a fresh
            # one to see the service start it.
            coordinator = coordination.Coordinator(conf=self.conf)
            self.fixture.config(group='coordination',
                                backend_url=self.locks.url)
            svc.coordinator = coordinator
            svc.start()
        self.assertTrue(coordinator.started)
        svc.stop()
        self.assertFalse(coordinator.started)
        self.assertEqual([True], seen)

    def test_children_of_sections_with_lost_locks_are_killed(self):
        order = []
        coordinator = self.fake_coordinator(order)
        svc = self.make_service(coordinator)
        svc.start()
        [hook] = [c.args[0] for c in coordinator.add_hook.call_args_list]
        self.assertIsInstance(hook, lost_locks.KillChildren)

    def test_stop_is_idempotent(self):
        order = []
        svc = self.make_service(self.fake_coordinator(order))
        svc.start()
        svc.stop()
        svc.stop()
        self.assertEqual(1, order.count('coord.stop'))

    def test_coordinator_failure_stops_start_with_its_reason(self):
        coordinator = mock.Mock(spec=coordination.Coordinator)
        coordinator.start.side_effect = coordination.BackendUnavailable(
            'Starting the coordinator: [coordination] backend_url '
            'redis://:***@127.0.0.1:1 did not answer')
        svc = self.make_service(coordinator)
        with mock.patch('cinder.tests.unit.fake_driver.FakeDriver.'
                        'do_setup') as do_setup:
            exc = self.assertRaises(exception.ServiceStartError, svc.start)
        self.assertIn('lock coordinator cannot start', str(exc))
        self.assertIn('backend_url', str(exc))
        do_setup.assert_not_called()
        self.assertIsNone(svc.transport)

    def test_driver_setup_failure_stops_the_coordinator(self):
        order = []
        svc = self.make_service(self.fake_coordinator(order))
        with mock.patch('cinder.tests.unit.fake_driver.FakeDriver.do_setup',
                        side_effect=exception.ConfigurationError(
                            'nfs_shares_config: /nope not found')):
            exc = self.assertRaises(exception.ServiceStartError, svc.start)
        self.assertIn('nfs_shares_config', str(exc))
        self.assertEqual(['coord.start', 'coord.stop'], order)

    def test_no_transport_url_names_the_option(self):
        self.fixture.config(transport_url=None)
        svc = self.make_service(mock.Mock())
        exc = self.assertRaises(exception.ServiceStartError, svc.start)
        self.assertIn('[DEFAULT] transport_url is not set', str(exc))
        svc.coordinator.start.assert_not_called()

    def test_unusable_transport_url_is_named_and_masked(self):
        self.fixture.config(transport_url='nosuch://u:s3cret-pw@b:1/')
        svc = self.make_service(mock.Mock())
        exc = self.assertRaises(exception.ServiceStartError, svc.start)
        self.assertIn('[DEFAULT] transport_url = nosuch://u:***@b:1/ '
                      'cannot be used', str(exc))
        self.assertNotIn('s3cret-pw', str(exc))
        svc.coordinator.start.assert_not_called()

    def test_a_failing_bus_stops_what_started_before_it(self):
        order = []
        svc = self.make_service(self.fake_coordinator(order))
        with mock.patch.object(request_server.RequestServer, 'start',
                               side_effect=exception.ConfigurationError(
                                   'cannot take requests from the message '
                                   'bus of [DEFAULT] transport_url: down')):
            exc = self.assertRaises(exception.ServiceStartError, svc.start)
        self.assertIn('transport_url: down', str(exc))
        self.assertEqual(['coord.start', 'coord.stop'], order)
        self.assertIsNone(svc.transport)


class MembershipTestCase(ServiceTestCase):

    def second_coordinator(self):
        coordinator = coordination.Coordinator(conf=self.conf)
        self.fixture.config(group='coordination', backend_url=self.locks.url)
        return coordinator

    def test_a_second_service_with_a_taken_host_is_refused(self):
        first = self.make_service()
        first.start()
        members = self.locks.coordinator.group('cinder-volume').members()
        self.assertEqual([self.host], [m['host'] for m in members.values()])
        second = self.make_service(self.second_coordinator())
        exc = self.assertRaises(exception.ServiceStartError, second.start)
        self.assertIn('[DEFAULT] host = %s is taken: member %s' % (
            self.host, self.locks.coordinator.member), str(exc))
        # Nothing of the second was left started; the first still serves.
        self.assertFalse(second.coordinator.started)
        self.assertIsNone(second.transport)
        volume = objects.Volume(size=1)
        self.make_client(first).call('create_volume', volume=volume)
        self.assertEqual('available', volume.status)

    def test_a_stopped_service_leaves_the_group(self):
        first = self.make_service()
        first.start()
        first.stop()
        self.locks.coordinator.start()
        self.assertEqual(
            {}, self.locks.coordinator.group('cinder-volume').members())
        second = self.make_service(self.second_coordinator())
        second.start()


class AddressesTestCase(ServiceTestCase):

    def test_the_log_names_the_address_each_server_is_reached_from(self):
        self.fixture.config(transport_url='rabbit://u:pw@127.0.0.2:5999/')
        coordinator = mock.Mock(spec=coordination.Coordinator)
        coordinator.backend.distributed = True
        coordinator.backend.masked_url = 'redis://:***@127.0.0.3:6379'
        svc = service.Service(self.conf, coordinator=coordinator)
        svc._log_addresses()
        self.assertIn('Host %s reaches the message bus 127.0.0.2:5999 from '
                      '127.0.0.1; the lock backend 127.0.0.3:6379 from '
                      '127.0.0.1' % self.host, self.log.output)

    def test_host_local_locks_are_not_named(self):
        self.fixture.config(transport_url='rabbit://u:pw@127.0.0.2:5999/')
        svc = service.Service(self.conf, coordinator=self.locks.coordinator)
        svc._log_addresses()
        self.assertIn('reaches the message bus 127.0.0.2:5999 from',
                      self.log.output)
        self.assertNotIn('lock backend', self.log.output)


class DriverChecksTestCase(ServiceTestCase):

    def test_unknown_driver_names_the_option(self):
        for name in ('no-such-driver', 'cinder.nope.Driver',
                     FAKE + 'NotADriver', ''):
            self.fixture.config(volume_driver=name)
            svc = self.make_service(mock.Mock())
            exc = self.assertRaises(exception.ServiceStartError, svc.start)
            self.assertIn('volume_driver', str(exc))
            svc.coordinator.start.assert_not_called()

    def test_cluster_needs_an_active_active_driver(self):
        self.fixture.config(cluster='c1',
                            volume_driver=FAKE + 'NotActiveActiveDriver')
        svc = self.make_service(mock.Mock())
        exc = self.assertRaises(exception.ServiceStartError, svc.start)
        self.assertIn('cluster = c1', str(exc))
        self.assertIn('does not support Active/Active', str(exc))
        svc.coordinator.start.assert_not_called()

    def test_a_cluster_named_like_its_host_is_refused(self):
        self.fixture.config(cluster=self.host)
        svc = self.make_service(mock.Mock())
        exc = self.assertRaises(exception.ServiceStartError, svc.start)
        self.assertIn('[DEFAULT] cluster = %s is the same as [DEFAULT] '
                      'host' % self.host, str(exc))
        svc.coordinator.start.assert_not_called()

    def test_no_cluster_runs_any_driver(self):
        self.fixture.config(volume_driver=FAKE + 'NotActiveActiveDriver')
        svc = self.make_service()
        svc.start()
        self.assertNotIn('keeps locks on this host only', self.log.output)

    def test_cluster_on_host_local_locks_warns(self):
        self.fixture.config(cluster='c1')
        svc = self.make_service()
        svc.start()
        self.assertIn('cluster = c1 is set but [coordination] backend_url '
                      '= file://', self.log.output)

    def test_cluster_on_distributed_locks_does_not_warn(self):
        self.fixture.config(cluster='c1')
        svc = self.make_service(self.fake_coordinator([]))
        svc.start()
        self.assertNotIn('keeps locks on this host only', self.log.output)


class RequestsTestCase(ServiceTestCase):

    def setUp(self):
        super().setUp()
        self.svc = self.make_service()
        self.svc.start()
        self.client = self.make_client(self.svc)

    def test_a_cluster_member_takes_requests_sent_to_its_cluster(self):
        self.svc.stop()
        self.fixture.config(cluster='c-%s' % self.host)
        svc = self.make_service(self.fake_coordinator([]))
        svc.start()
        cluster = rpcapi.VolumeAPI(svc.transport, messaging.backend_address(
            'c-%s' % self.host, svc.manager.driver.backend_name),
            timeout=30)
        volume = objects.Volume(size=1)
        cluster.call('create_volume', volume=volume)
        self.assertEqual('available', volume.status)

    def test_request_updates_the_callers_records(self):
        volume = objects.Volume(size=2)
        result = self.client.call('create_volume', volume=volume)
        self.assertEqual('available', volume.status)
        self.assertEqual(self.host, volume.host)
        self.assertEqual(volume, result)
        snapshot = objects.Snapshot(volume=volume)
        self.client.call('create_snapshot', snapshot=snapshot)
        clone = objects.Volume(size=2)
        self.client.call('create_volume', volume=clone, snapshot=snapshot)
        self.assertEqual(snapshot.id, clone.snapshot_id)
        attachment = self.client.call('attach_volume', volume=clone,
                                      connector={'host': 'compute1'})
        self.assertIsInstance(attachment, objects.Attachment)
        self.assertEqual([attachment], clone.attachments)
        self.assertEqual('in-use', clone.status)

    def test_errors_keep_their_type_and_message(self):
        volume = objects.Volume(size=2)
        self.client.call('create_volume', volume=volume)
        exc = self.assertRaises(messaging.RemoteError, self.client.call,
                                'extend_volume', volume=volume, new_size=1)
        self.assertEqual('InvalidInput', exc.exc_type)
        self.assertIn('new_size', str(exc))
        self.assertEqual(2, volume.size)

    def test_only_manager_methods_are_served(self):
        for method in ('init_host', 'cleanup', '_delete_volume', '__init__',
                       '_dispatch'):
            exc = self.assertRaises(messaging.RemoteError, self.client.call,
                                    method)
            self.assertEqual('NoSuchMethod', exc.exc_type)
            self.assertIn(method, str(exc))

    def test_stop_waits_for_requests_in_flight(self):
        inside = threading.Event()
        release = threading.Event()
        driver = self.svc.manager.driver

        def hook():
            inside.set()
            release.wait(30)
            driver.calls.append(('create_volume done',))

        driver.hooks['create_volume'] = hook
        replies = []
        caller = threading.Thread(target=lambda: replies.append(
            self.client.call('create_volume', volume=objects.Volume())))
        caller.start()
        self.assertTrue(inside.wait(30))
        waiting = _LogEvent(self, 'cinder.request_server',
                            'request(s) in flight')
        stopper = threading.Thread(target=self.svc.stop)
        stopper.start()
        self.assertTrue(waiting.wait(30))
        release.set()
        stopper.join(30)
        caller.join(30)
        self.assertFalse(stopper.is_alive())
        self.assertEqual('available', replies[0].status)
        calls = [c[0] for c in driver.calls]
        self.assertLess(calls.index('create_volume done'),
                        calls.index('stop'))
        self.assertFalse(self.locks.coordinator.started)


class StopTestCase(ServiceTestCase):
    """A stop whose bound passes with requests still running."""

    def setUp(self):
        super().setUp()
        self.fixture.config(graceful_shutdown_timeout=0.01)
        self.children = self.useFixture(
            processes_fixture.ChildProcessesFixture())
        self.order = []
        coordinator = self.fake_coordinator(self.order)
        self.svc = self.make_service(coordinator)
        self.svc.start()
        self.driver = self.svc.manager.driver
        self.client = self.make_client(self.svc, timeout=60)
        self.volume = objects.Volume()
        self.client.call('create_volume', volume=self.volume)
        self.lock = '%s-delete_volume' % self.volume.id
        # What the coordinator's stop would drop: the request's lock.
        coordinator.stop.side_effect = lambda: self.order.append(
            ('coord.stop', 'lock held' if self.locks.is_locked(self.lock)
             else 'lock free'))

    def delete_in_thread(self):
        outcome = []

        def run():
            try:
                outcome.append(self.client.call('delete_volume',
                                                volume=self.volume))
            except Exception as e:
                outcome.append(e)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 60)
        # First, should the stop have left its child running.
        self.addCleanup(self.children.kill_leftovers)
        return thread, outcome

    def test_children_are_killed_and_the_request_ends_before_the_stop(self):
        def hook():
            try:
                processes.execute(sys.executable, '-c',
                                  'import time; time.sleep(120)')
            except processes.ChildKilled:
                self.order.append('child killed')
                raise

        self.driver.hooks['delete_volume'] = hook
        thread, outcome = self.delete_in_thread()
        child = self.children.started.get(timeout=60)
        self.svc.stop()
        self.assertEqual(['coord.start', 'child killed',
                          ('coord.stop', 'lock free')], self.order)
        self.assertIsNotNone(child._popen.returncode)
        thread.join(60)
        error = outcome[0]
        self.assertIsInstance(error, messaging.RemoteError)
        self.assertIn('killed: cinder-volume on host %s is stopping and '
                      'the request was still running after [DEFAULT] '
                      'graceful_shutdown_timeout = 0.01 s' % self.host,
                      str(error))
        self.assertIn('Killed 1 child process(es) of the volume requests '
                      'still running: %s (pid %d, running ' % (
                          child.command, child.pid), self.log.output)
        self.assertIn(') of delete_volume(volume=%s)' % self.volume.id,
                      self.log.output)
        self.assertNotIn('after their child processes were killed',
                         self.log.output)
        calls = [c[0] for c in self.driver.calls]
        self.assertEqual('stop', calls[-1])

    def test_a_request_that_does_not_end_is_given_up_after_a_short_wait(self):
        inside = threading.Event()
        gate = threading.Event()
        late = []

        def hook():
            inside.set()
            gate.wait(60)
            try:
                processes.execute('true')
            except processes.ChildKilled as e:
                late.append(e.reason)
                raise

        self.driver.hooks['delete_volume'] = hook
        self.useFixture(fixtures.MockPatchObject(
            service, 'CUT_OFF_TIMEOUT', 0.01))
        thread, _outcome = self.delete_in_thread()
        self.addCleanup(gate.set)
        self.assertTrue(inside.wait(60))
        self.svc.stop()
        self.assertEqual(['coord.start', ('coord.stop', 'lock held')],
                         self.order)
        self.assertIn('No child process to kill', self.log.output)
        self.assertIn('1 volume request(s) still running 0.01 s after '
                      'their child processes were killed: delete_volume('
                      'volume=%s) (running ' % self.volume.id,
                      self.log.output)
        self.assertIn('the coordinator stops now and their locks are lost',
                      self.log.output)
        # A command it runs from now on is killed at once.
        gate.set()
        thread.join(60)
        self.assertEqual(
            ['cinder-volume on host %s is stopping and the request was '
             'still running after [DEFAULT] graceful_shutdown_timeout = '
             '0.01 s' % self.host], late)


class _LogEvent(logging.Handler):
    """An event set when ``logger`` logs a message containing ``text``."""

    def __init__(self, test, logger, text):
        super().__init__()
        self._event = threading.Event()
        self._text = text
        log = logging.getLogger(logger)
        log.addHandler(self)
        test.addCleanup(log.removeHandler, self)

    def emit(self, record):
        if self._text in record.getMessage():
            self._event.set()

    def wait(self, timeout):
        return self._event.wait(timeout)
