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

"""Unit tests of the request server, on oslo.messaging's fake:// bus."""

import threading
import uuid

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from cinder.common import inflight
from cinder.coordination import urls
from cinder import messaging
from cinder import request_server
from cinder.volume import rpcapi


class Gated(object):
    """A manager whose ``slow`` waits at a gate; ``boom`` fails."""

    def __init__(self):
        self.gate = threading.Event()
        self.inside = threading.Semaphore(0)
        self.ran = []

    def slow(self, n):
        self.ran.append(n)
        self.inside.release()
        self.gate.wait(60)
        return n

    def boom(self):
        raise RuntimeError('disk on fire at /secret-share-pw')


class RequestServerTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        fixture = self.useFixture(config_fixture.Config(cfg.CONF))
        messaging.register_opts(cfg.CONF)
        fixture.config(executor_thread_pool_size=2)
        self.useFixture(fixtures.MockPatchObject(urls, '_registered', ()))
        self.transport = messaging.get_transport(cfg.CONF, 'fake://')
        self.addCleanup(self.transport.cleanup)
        self.host = 'rs-%s' % uuid.uuid4().hex[:8]
        self.manager = Gated()
        self.addCleanup(self.manager.gate.set)
        self.server = request_server.RequestServer(
            self.transport, messaging.server_targets(self.host, 'be'),
            self.manager, ['slow', 'boom'])
        self.server.start()
        self.addCleanup(self.server.stop, 0)
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.request_server'))

    def client(self):
        return rpcapi.VolumeAPI(self.transport, '%s@be' % self.host,
                                timeout=60)

    def call_in_thread(self, n):
        outcome = []

        def run():
            try:
                outcome.append(self.client().call('slow', n=n))
            except Exception as e:
                outcome.append(e)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 60)
        return thread, outcome

    def test_errors_cross_as_type_and_scrubbed_message_only(self):
        urls.register('rabbit://u:secret-share-pw@b/')
        exc = self.assertRaises(messaging.RemoteError, self.client().call,
                                'boom')
        self.assertEqual('RuntimeError', exc.exc_type)
        self.assertEqual('disk on fire at /***', exc.remote_message)
        self.assertNotIn('Traceback', str(exc))

    def test_stop_waits_for_a_request_in_flight(self):
        thread, outcome = self.call_in_thread(1)
        self.assertTrue(self.manager.inside.acquire(timeout=60))
        self.assertEqual(1, len(self.server.requests()))
        self.assertIn('slow()', self.server.requests()[0].describe())
        stopped = []
        stopper = threading.Thread(
            target=lambda: stopped.append(self.server.stop(timeout=60)))
        stopper.start()
        self.manager.gate.set()
        stopper.join(60)
        thread.join(60)
        self.assertEqual([True], stopped)
        self.assertEqual([1], outcome)

    def test_a_stop_past_its_bound_refuses_what_has_not_begun(self):
        first, first_outcome = self.call_in_thread(1)
        self.assertTrue(self.manager.inside.acquire(timeout=60))
        self.assertFalse(self.server.stop(timeout=0.01))
        self.assertIn('1 volume request(s) still running after 0.01 s: '
                      'slow() (running', self.log.output)
        # A request the executor had taken from the bus but not begun
        # reaches the endpoint only now: refused, not run.
        reply = self.server._endpoint.slow({}, n=2)
        self.assertEqual('ServiceStopping', reply['error']['type'])
        self.assertIn('nothing was done, send it again',
                      reply['error']['message'])
        self.manager.gate.set()
        first.join(60)
        self.assertEqual([1], first_outcome)
        self.assertEqual([1], self.manager.ran)


class EndpointTestCase(base.BaseTestCase):

    def test_only_the_listed_methods_are_exposed(self):
        endpoint = request_server.Endpoint(Gated(), ['slow'],
                                           inflight.InFlight())
        self.assertTrue(endpoint.slow.exposed)
        self.assertFalse(hasattr(endpoint, 'boom'))
        self.assertFalse(hasattr(endpoint._dispatch, 'exposed'))
