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

"""Tests of the heartbeat and its backoff."""

import threading
from unittest import mock

from oslotest import base
from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.tests.unit.coordination import fakes


class HeartbeatTestCase(fakes.CoordinationTestCase):
    url = 'redis://:hunter2@127.0.0.1:1'

    def test_failed_beats_are_retried_with_backoff_and_logged(self):
        self.fixture.config(group='coordination', heartbeat=0.01,
                            initial_reconnect_backoff=0.001,
                            max_reconnect_backoff=0.004)
        error = tooz_coordination.ToozConnectionError
        self.driver.beat_errors = [error('refused :hunter2'), error('x'),
                                   error('y')]
        recovered = threading.Event()
        beat = self.driver.heartbeat

        def heartbeat():
            result = beat()
            if self.driver.beats >= 4:
                recovered.set()
            return result
        self.driver.heartbeat = heartbeat
        self.start()
        self.assertTrue(recovered.wait(fakes.WAIT))
        self.coordinator.stop()
        for attempt in (1, 2, 3):
            self.assertIn('failed (attempt %d)' % attempt, self.log.output)
        self.assertIn('again after 3 failed attempt(s)', self.log.output)
        self.assertNotIn('hunter2', self.log.output)

    def test_stop_interrupts_a_long_backoff(self):
        self.fixture.config(group='coordination', heartbeat=0.01,
                            initial_reconnect_backoff=3600,
                            max_reconnect_backoff=3600)
        self.driver.beat_errors = [
            tooz_coordination.ToozConnectionError('down')]
        self.start()
        self.assertTrue(self.driver.beat_event.wait(fakes.WAIT))
        heartbeat = self.coordinator._heartbeat
        self.coordinator.stop()
        self.assertFalse(heartbeat.alive)
        self.assertEqual(1, self.driver.beats)


class BackoffTestCase(base.BaseTestCase):

    def test_sequence_doubles_with_jitter_between_bounds(self):
        rng = mock.Mock()
        rng.uniform.side_effect = lambda low, high: (low, high)
        backoff = coordination.Backoff(0.1, 1.0, rng=rng)
        self.assertEqual([(0.1, 0.1), (0.1, 0.2), (0.2, 0.4), (0.4, 0.8),
                          (0.5, 1.0), (0.5, 1.0)],
                         [backoff.delay(n) for n in range(1, 7)])

    def test_a_real_random_stays_within_bounds(self):
        backoff = coordination.Backoff(0.1, 60.0)
        for attempt in range(1, 40):
            delay = backoff.delay(attempt)
            self.assertGreaterEqual(delay, 0.1)
            self.assertLessEqual(delay, 60.0)

    def test_max_below_initial_is_refused_naming_both_options(self):
        e = self.assertRaises(coordination.ConfigurationError,
                              coordination.Backoff, 5.0, 1.0)
        self.assertIn('max_reconnect_backoff', str(e))
        self.assertIn('initial_reconnect_backoff', str(e))
