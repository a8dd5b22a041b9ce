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

"""Unit tests of the request server's error replies."""

import logging

import fixtures
from oslotest import base

from cinder.coordination import urls
from cinder import exception
from cinder import rpc


class Endpoint(object):
    def __init__(self, error):
        self.error = error

    def fail(self):
        raise self.error


class ErrorReplyTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(urls, '_registered', ()))
        urls.register('redis://:p%40ss@h:1')
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.rpc', level=logging.DEBUG))

    def reply(self, error):
        server = rpc.Server('unused', Endpoint(error), ['fail'])
        return server._dispatch(b'{"method": "fail"}')['error']

    def test_replies_carry_no_secret(self):
        for error in (RuntimeError('driver said p@ss'),
                      exception.VolumeNotFound('v', 'no p%40ss here'),
                      KeyError('p@ss')):
            reply = self.reply(error)
            self.assertEqual(type(error).__name__, reply['type'])
            self.assertNotIn('p@ss', reply['message'])
            self.assertNotIn('p%40ss', reply['message'])
            self.assertIn('***', reply['message'])
        # The log has the traceback of the unexpected ones, scrubbed too.
        self.assertIn('Request fail failed', self.log.output)
        self.assertIn('Traceback', self.log.output)
        self.assertIn("KeyError: '***'", self.log.output)
        self.assertNotIn('p@ss', self.log.output)

    def test_malformed_request_is_not_echoed_with_secrets(self):
        server = rpc.Server('unused', object(), [])
        reply = server._dispatch(b'{"method": "p@ss"}')['error']
        self.assertEqual("unknown method '***'", reply['message'])
