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

"""Unit tests of the bus's addresses, records and replies."""

import subprocess
import sys

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder.coordination import urls
from cinder import exception
from cinder import messaging
from cinder import objects


class TargetsTestCase(base.BaseTestCase):

    def test_a_service_consumes_from_upstreams_targets(self):
        targets = [(t.topic, t.server) for t in
                   messaging.server_targets('h1', 'nfs', cluster='c1')]
        self.assertEqual([('cinder-volume', 'h1@nfs'),
                          ('cinder-volume.h1@nfs', 'h1'),
                          ('cinder-volume.c1@nfs', 'c1')], targets)
        alone = [(t.topic, t.server) for t in
                 messaging.server_targets('h1', 'nfs')]
        self.assertEqual(targets[:2], alone)

    def test_a_client_sends_to_the_target_a_service_consumes(self):
        served = {(t.topic, t.server) for t in
                  messaging.server_targets('h1', 'nfs', cluster='c1')}
        for address in ('h1@nfs', 'c1@nfs'):
            target = messaging.target_for(address)
            self.assertIn((target.topic, target.server), served)

    def test_an_address_needs_a_backend(self):
        for address in ('h1', '@nfs', 'h1@'):
            exc = self.assertRaises(exception.InvalidInput,
                                    messaging.target_for, address)
            self.assertIn('<host or cluster>@<backend>', str(exc))


class RecordsTestCase(base.BaseTestCase):

    def test_records_travel_as_versioned_dicts(self):
        volume = objects.Volume(size=3)
        snapshot = objects.Snapshot(volume=volume)
        wire = messaging.serialize({'v': volume, 'l': [snapshot], 'n': 1})
        self.assertEqual({'cinder_object.name': 'Volume',
                          'cinder_object.version': '1.0',
                          'cinder_object.data': volume.to_dict()},
                         wire['v'])
        back = messaging.deserialize(wire)
        self.assertEqual(volume.to_dict(), back['v'].to_dict())
        self.assertEqual(snapshot.to_dict(), back['l'][0].to_dict())
        self.assertEqual(1, back['n'])

    def test_unknown_records_and_versions_are_refused(self):
        exc = self.assertRaises(exception.InvalidInput, messaging.deserialize,
                                {'cinder_object.name': 'Pickle',
                                 'cinder_object.data': {}})
        self.assertIn("unknown record type 'Pickle'", str(exc))
        exc = self.assertRaises(exception.InvalidInput, messaging.deserialize,
                                {'cinder_object.name': 'Volume',
                                 'cinder_object.version': '2.0',
                                 'cinder_object.data': {}})
        self.assertIn('Volume version 2.0 cannot be read', str(exc))

    def test_a_reply_updates_the_callers_records_in_place(self):
        volume = objects.Volume(size=1)
        theirs = objects.Volume.from_dict(volume.to_dict())
        theirs.status = 'available'
        reply = messaging.result_reply('r', {'volume': theirs, 'n': 2})
        self.assertEqual('r', messaging.open_reply(reply, {'volume': volume}))
        self.assertEqual('available', volume.status)

    def test_an_error_reply_is_scrubbed_and_raised(self):
        self.useFixture(fixtures.MockPatchObject(urls, '_registered', ()))
        urls.register('redis://:hunter2-pw@h:1')
        reply = messaging.error_reply('LockLost', 'lost at hunter2-pw')
        self.assertEqual('lost at ***', reply['error']['message'])
        exc = self.assertRaises(messaging.RemoteError, messaging.open_reply,
                                reply, {})
        self.assertEqual('LockLost', exc.exc_type)
        self.assertRaises(messaging.RemoteError, messaging.open_reply,
                          'not a reply', {})

    def test_summaries_name_record_ids_only(self):
        volume = objects.Volume(size=1)
        self.assertEqual('extend_volume(volume=%s)' % volume.id,
                         messaging.summarize('extend_volume', {
                             'volume': volume, 'new_size': 9}))


class TransportTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(urls, '_registered', ()))

    def test_every_brokers_password_is_registered(self):
        url = 'rabbit://u:first-pw@b1:5672,v:second%2Fpw@b2:5672/vh'
        self.assertEqual('rabbit://u:***@b1:5672,v:***@b2:5672/vh',
                         messaging.display_url(url))
        self.assertEqual('*** ***', urls.scrub('first-pw second/pw'))

    def test_an_unusable_url_is_named_and_masked(self):
        exc = self.assertRaises(
            exception.ConfigurationError, messaging.get_transport,
            cfg.CONF, 'nosuch://u:the-pw@b:1/')
        self.assertIn('[DEFAULT] transport_url = nosuch://u:***@b:1/',
                      str(exc))
        self.assertNotIn('the-pw', str(exc))

    def test_both_ends_use_cinders_exchange(self):
        transport = messaging.get_transport(cfg.CONF, 'fake://')
        self.addCleanup(transport.cleanup)
        self.assertEqual('cinder', cfg.CONF.control_exchange)
        self.assertEqual('cinder', messaging.CONTROL_EXCHANGE)


class ImportTestCase(base.BaseTestCase):

    def test_no_eventlet_notice_on_stderr(self):
        # oslo.messaging's dependencies import eventlet; its notices must
        # not reach the tools' stderr, nor a fork warn about it.
        done = subprocess.run(
            [sys.executable, '-W', 'default', '-c',
             'import cinder.messaging, oslo_service.backend as b, '
             'subprocess; subprocess.run(["true"]); '
             'print(b.get_backend_type())'],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertEqual('', done.stderr)
        self.assertIn('THREADING', done.stdout.upper())
