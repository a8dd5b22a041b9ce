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

"""Tests of the ZooKeeper session watch and of the fence it renews.

On the fake kazoo client of :mod:`.test_zookeeper`, with the injected
clock: the session timeout that the server negotiated, the renewals the
watch reports, and a process that wakes from a freeze.
"""

import importlib.metadata
import threading
import time

from kazoo import exceptions as kazoo_exceptions

from cinder import coordination
from cinder.tests.unit.coordination import fakes
from cinder.tests.unit.coordination import test_zookeeper


class SessionTestCase(test_zookeeper.ZooKeeperTestCase):

    def negotiate(self, ms):
        """The server clamps every session timeout asked for to *ms*."""
        self.client._connection.negotiated_ms = ms

    def reconnect(self):
        """kazoo reconnects: a handshake, then CONNECTED."""
        self.client.change_state('SUSPENDED')
        self.client._connection.handshake(self.driver.timeout * 1000)
        self.client.change_state('CONNECTED')

    def read(self):
        """The session watch's read, sent now (the clock's time)."""
        return self.coordinator.backend.session.read()

    def gets(self):
        return [call for call in self.client.calls if call[0] == 'get']


class NegotiatedTimeoutTestCase(SessionTestCase):
    """The server's session timeout counts, not the one asked for."""

    def test_the_lease_is_the_negotiated_session_timeout(self):
        self.negotiate(4000)
        backend = self.start().backend
        self.assertEqual(4.0, backend.lease())
        self.assertEqual(10, backend.requested_lease())
        self.assertEqual(4.0, self.coordinator._fence.lease)
        self.assertIn('WARNING The ZooKeeper server of zookeeper://127.0.0.1:1'
                      ' negotiated a session timeout of 4 s, not the 10 s '
                      'requested', self.log.output)
        self.assertIn('locks declared lost 1.0 s before their 4.0 s lease',
                      self.log.output)

    def test_the_fence_counts_with_the_negotiated_timeout(self):
        self.negotiate(4000)
        lock = self.acquired()
        fence = self.coordinator._fence
        # Asked for at 100: the session may end at 104, less the 1 s
        # margin. With the 10 s asked for: 109.
        self.assertEqual(103.0, fence.deadline(lock))
        self.clock.now = 102.0
        self.assertTrue(self.read())
        self.assertEqual(105.0, fence.deadline(lock))

    def test_a_margin_too_long_for_the_negotiated_timeout_is_refused(self):
        # 3 s would do for the 10 s asked for (6.667 s left).
        self.fixture.config(group='coordination', fencing_margin=3)
        self.negotiate(4000)
        e = self.assertRaises(coordination.ConfigurationError,
                              self.coordinator.start)
        self.assertIn('[coordination] fencing_margin (3.0 s) must be smaller '
                      'than 2.667 s, what is left of the 4 s session timeout '
                      'that the server of zookeeper://127.0.0.1:1 negotiated '
                      '(10 s requested) between two of the reads that renew '
                      'it', str(e))
        self.assertFalse(self.coordinator.started)

    def test_the_fence_follows_a_timeout_negotiated_at_reconnection(self):
        lock = self.acquired()
        fence = self.coordinator._fence
        self.assertEqual(10.0, fence.lease)
        # Another server of the ensemble allows shorter sessions; the
        # handshake that negotiated them was sent at 300.
        self.negotiate(4000)
        self.clock.now = 300.0
        self.reconnect()
        self.assertEqual(4.0, fence.lease)
        self.assertEqual(4.0, self.coordinator.backend.lease())
        self.assertEqual(303.0, fence.deadline(lock))
        self.assertIn('negotiated a session timeout of 4 s at the '
                      'reconnection (10 s before)', self.log.output)
        # And longer ones.
        self.negotiate(10000)
        self.clock.now = 301.0
        self.reconnect()
        self.assertEqual(310.0, fence.deadline(lock))

    def test_a_start_that_sees_no_handshake_fails(self):
        # A kazoo that no longer sends its handshake through _invoke.
        self.driver.start = lambda start_heart=False: None
        e = self.assertRaises(coordination.ConfigurationError,
                              self.coordinator.start)
        self.assertIn('kazoo %s cannot be used' %
                      importlib.metadata.version('kazoo'), str(e))
        self.assertIn('_invoke', str(e))
        self.assertFalse(self.coordinator.started)


class RenewalTestCase(SessionTestCase):
    """The watch's reads and the handshakes renew the session."""

    def test_locks_are_declared_lost_before_the_session_can_expire(self):
        lock = self.acquired()
        fence = self.coordinator._fence
        self.assertEqual(109.0, fence.deadline(lock))
        self.clock.now = 103.0
        self.assertTrue(self.read())
        # Sent at 103: the server cannot end the session before 113.
        self.assertEqual(112.0, fence.deadline(lock))
        # Reads that get no answer renew nothing.
        for now, error in ((106.4, kazoo_exceptions.ConnectionLoss()),
                           (109.7, self.client.handler.timeout_exception())):
            self.clock.now = now
            self.client.exists_answers = [error]
            self.assertFalse(self.read())
        self.clock.now = 111.99
        self.coordinator._fence.check()
        self.assertIsNone(lock.lost)
        self.clock.now = 112.0
        self.coordinator._fence.check()
        self.assertIn('fenced: the last renewal that reached the backend was '
                      'sent 9.0s ago', lock.lost)

    def test_a_reconnection_renews_from_its_handshake(self):
        lock = self.acquired()
        self.clock.now = 105.0
        self.client.change_state('SUSPENDED')
        self.clock.now = 106.0
        self.client._connection.handshake(self.driver.timeout * 1000)
        self.client.change_state('CONNECTED')
        self.assertEqual(115.0, self.coordinator._fence.deadline(lock))

    def test_a_read_answered_after_a_reconnection_renews_nothing(self):
        lock = self.acquired()
        fence = self.coordinator._fence

        def reconnect_first():
            # The handshake of a reconnection, sent at 104 (before the
            # read) to a server that allows 4 s sessions, is answered
            # before the read: the read may have reached the server under
            # either timeout.
            self.clock.now = 104.0
            self.negotiate(4000)
            self.reconnect()

        self.clock.now = 105.0
        self.client.exists_answers = [reconnect_first]
        self.assertFalse(self.read())
        # From the handshake, with its timeout: 104 + 4 - 1.
        self.assertEqual(107.0, fence.deadline(lock))

    def test_the_watch_reads_when_due_until_stopped(self):
        # 300 ms sessions: a read is due every 0.1 s of the clock.
        self.negotiate(300)
        self.fixture.config(group='coordination', fencing_margin=0.05)
        lock = self.acquired()
        watch = self.coordinator.backend.session
        self.assertTrue(watch.alive)
        fence = self.coordinator._fence
        self.assertEqual(100.25, fence.deadline(lock))
        # The clock stood still: nothing was due.
        self.assertEqual([], [c for c in self.client.calls
                              if c[0] == 'exists'])
        self.clock.now = 100.1
        deadline = time.monotonic() + fakes.WAIT
        while (fence.deadline(lock) != 100.35 and
               time.monotonic() < deadline):
            threading.Event().wait(0.01)
        self.assertEqual(100.35, fence.deadline(lock))
        self.coordinator.stop()
        self.assertFalse(watch.alive)


class FreezeTestCase(SessionTestCase):
    """A process that wakes from a freeze past its deadline."""

    def test_its_next_check_fails_at_once_without_asking(self):
        lock = self.acquired()
        self.clock.now = 103.0
        self.assertTrue(self.read())
        # Frozen for 10 s: the session may have ended at 113; the server
        # would still say "yours" if it had not yet.
        self.clock.now = 113.0
        e = self.assertRaises(coordination.LockLost,
                              coordination.ensure_locks_held)
        self.assertIn('fenced: the last renewal that reached the backend was '
                      'sent 10.0s ago', str(e))
        self.assertEqual([], self.gets())
        self.assertRaises(coordination.LockLost, lock.release)

    def test_a_read_after_the_deadline_does_not_save_the_locks(self):
        # The watch's thread wakes up first and its read is answered: the
        # server had not ended the session yet, but the deadline passed.
        lock = self.acquired()
        self.clock.now = 109.5
        self.assertTrue(self.read())
        self.assertIn('fenced: the lock was asked for 9.5s ago', lock.lost)
        self.assertRaises(coordination.LockLost,
                          coordination.ensure_locks_held)

    def test_a_reconnection_after_the_deadline_does_not_save_them(self):
        # kazoo found the connection dead at the wake-up and reconnected,
        # in the same session, before any check.
        lock = self.acquired()
        self.clock.now = 120.0
        self.reconnect()
        self.assertIn('fenced: the lock was asked for 20.0s ago', lock.lost)
        self.assertEqual([], self.gets())
