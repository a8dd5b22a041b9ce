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

"""Raw driver errors, which may quote the URL, never leave the layer.

Each test makes the fake driver raise an error whose text holds the
password (decoded, as a library that parsed the URL would show it) and
checks what the caller and the log get.
"""

import logging
import traceback

from oslo_config import cfg
from oslo_log import formatters
from oslo_log import log as oslo_log
from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder.tests.unit.coordination import fakes

SECRETS = ('p@ss', 'p%40ss')


def traceback_text(exc):
    """What a traceback of *exc* shows, its cause and context included."""
    return ''.join(traceback.format_exception(exc))


class RawErrorTestCase(fakes.CoordinationTestCase):
    url = 'redis://:p%40ss@127.0.0.1:1'

    def assertClean(self, text):
        for secret in SECRETS:
            self.assertNotIn(secret, text)

    def held_lock(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        lock.acquire()
        return lock

    def test_unknown_error_becomes_a_scrubbed_coordination_error(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        lock._tooz_lock.acquire_error = KeyError('no slot for p@ss')
        e = self.assertRaises(coordination.CoordinationError, lock.acquire)
        self.assertIn('Acquiring lock cinder-x failed', str(e))
        self.assertIn('KeyError', str(e))
        self.assertIn("no slot for ***", str(e))
        self.assertClean(traceback_text(e))

    def test_unconfirmed_ownership_hides_the_raw_error(self):
        lock = self.held_lock()
        lock._tooz_lock.owner = tooz_coordination.ToozConnectionError(
            'cannot reach redis://:p@ss@127.0.0.1:1')
        e = self.assertRaises(coordination.LockLost, lock.check)
        self.assertIn('cannot be confirmed', str(e))
        self.assertClean(traceback_text(e))
        lock._tooz_lock.owner = True
        lock.release()

    def test_unexpected_heartbeat_error_logs_no_raw_traceback(self):
        self.fixture.config(group='coordination', heartbeat=0.01)
        self.driver.beat_errors = [KeyError('p@ss')]
        self.driver.beat_event.clear()
        self.start()
        self.assertTrue(self.driver.beat_event.wait(fakes.WAIT))
        self.coordinator.stop()
        self.assertIn('Unexpected error in the lock heartbeat',
                      self.log.output)
        self.assertIn('KeyError', self.log.output)
        self.assertClean(self.log.output)

    def test_failed_release_of_a_lost_lock_logs_no_raw_traceback(self):
        lock = self.held_lock()
        self.coordinator._mark_lost(lock, 'gone')
        lock._tooz_lock.release = lambda: ({}['p@ss'])
        self.assertRaises(coordination.LockLost, lock.release)
        self.assertIn('Releasing lost lock cinder-x', self.log.output)
        self.assertClean(self.log.output)


class OsloLogTestCase(RawErrorTestCase):
    """Through oslo.log's formatter, which adds the error in flight.

    oslo.log appends ``: <type>: <message>`` of the exception being
    handled to every WARNING or ERROR logged inside an ``except`` block,
    even one not given to the logger.
    """

    def setUp(self):
        super().setUp()
        conf = cfg.ConfigOpts()
        oslo_log.register_options(conf)
        conf([])
        # The FakeLogger's handler, with the formatter of the services.
        for handler in logging.getLogger('cinder.coordination').handlers:
            handler.setFormatter(formatters.ContextFormatter(
                project='cinder', version='1', config=conf))

    def test_failed_stop_logs_only_the_translated_error(self):
        self.start()
        self.driver.stop = lambda: ({}['p@ss'])
        self.coordinator.stop()
        self.assertIn('Stopping the coordinator failed', self.log.output)
        self.assertClean(self.log.output)
