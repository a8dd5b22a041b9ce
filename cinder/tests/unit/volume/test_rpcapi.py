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

"""Unit tests of the volume RPC client's bounds and errors."""

import threading
from unittest import mock

import fixtures
from oslo_config import cfg
import oslo_messaging
from oslotest import base

from cinder import exception
from cinder import messaging
from cinder import objects
from cinder.volume import rpcapi


class VolumeAPITestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.transport = messaging.get_transport(cfg.CONF, 'fake://')
        self.addCleanup(self.transport.cleanup)
        self.useFixture(fixtures.MockPatchObject(rpcapi, 'REPLY_GRACE',
                                                 0.05))
        self.api = rpcapi.VolumeAPI(self.transport, 'nobody@be',
                                    timeout=0.05)
        self.context = mock.Mock()
        self.useFixture(fixtures.MockPatchObject(
            self.api._client, 'prepare', return_value=self.context))
        self.volume = objects.Volume(size=1)

    def test_a_call_the_bus_never_ends_is_bounded_by_the_client(self):
        release = threading.Event()
        self.addCleanup(release.set)
        self.context.call.side_effect = lambda *a, **k: release.wait(60)
        exc = self.assertRaises(exception.RequestOutcomeUnknown,
                                self.api.call, 'delete_volume',
                                volume=self.volume)
        self.assertIn('no reply from nobody@be to delete_volume(volume=%s)'
                      % self.volume.id, str(exc))
        self.assertIn('the message bus did not answer', str(exc))
        self.assertIn('it was not sent again', str(exc))
        self.assertEqual(1, self.context.call.call_count)
        self.api._client.prepare.assert_called_once_with(timeout=0.05,
                                                         retry=0)

    def test_a_timeout_is_an_unknown_outcome_not_a_retry(self):
        self.context.call.side_effect = oslo_messaging.MessagingTimeout('t')
        exc = self.assertRaises(exception.RequestOutcomeUnknown,
                                self.api.call, 'extend_volume',
                                volume=self.volume, new_size=2)
        self.assertEqual('nobody@be', exc.address)
        self.assertIn('timed out', str(exc))
        self.assertEqual(1, self.context.call.call_count)

    def test_oslo_refusals_say_the_method_did_not_run(self):
        self.context.call.side_effect = oslo_messaging.RemoteError(
            'NoSuchMethod', 'Endpoint does not support RPC method x')
        exc = self.assertRaises(messaging.RemoteError, self.api.call, 'x')
        self.assertEqual('NoSuchMethod', exc.exc_type)

    def test_a_call_to_nobody_times_out_on_a_real_client(self):
        api = rpcapi.VolumeAPI(self.transport, 'nobody-else@be',
                               timeout=0.2)
        exc = self.assertRaises(exception.RequestOutcomeUnknown, api.call,
                                'get_volume_stats')
        self.assertIn('nobody-else@be', str(exc))

    def test_a_cast_the_broker_refuses_is_reported(self):
        self.context.cast.side_effect = oslo_messaging.MessageDeliveryFailure(
            'broker down')
        exc = self.assertRaises(exception.RequestOutcomeUnknown,
                                self.api.cast, 'delete_volume',
                                volume=self.volume)
        self.assertIn('MessageDeliveryFailure', str(exc))
        self.api._client.prepare.assert_called_once_with(retry=0)
