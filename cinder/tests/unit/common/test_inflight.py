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

"""Unit tests of the running-requests registry."""

import threading

from oslotest import base

from cinder.common import inflight


class InFlightTestCase(base.BaseTestCase):

    def test_requests_are_counted_until_they_end(self):
        now = [10.0]
        running = inflight.InFlight(clock=lambda: now[0])
        first = running.begin('a()')
        now[0] = 11.0
        second = running.begin('b()')
        self.assertEqual([first, second], running.requests())
        self.assertIs(threading.current_thread(), first.thread)
        self.assertEqual('a() (running 2.5 s)', first.describe(12.5))
        self.assertFalse(running.wait(0))
        running.end(first)
        running.end(second)
        self.assertTrue(running.wait(0))

    def test_once_closed_nothing_begins(self):
        running = inflight.InFlight()
        kept = running.begin('a()')
        running.close()
        self.assertTrue(running.closed)
        self.assertIsNone(running.begin('b()'))
        self.assertEqual([kept], running.requests())

    def test_wait_returns_when_the_last_request_ends(self):
        running = inflight.InFlight()
        request = running.begin('a()')
        ender = threading.Timer(0.01, running.end, args=(request,))
        ender.start()
        self.addCleanup(ender.join)
        self.assertTrue(running.wait(60))
