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

"""cinder-volume as an operator runs it: start, serve, stop on a signal."""

import os
import signal

import fixtures
import testtools

from cinder import objects
from cinder.tests.functional import volume_service

FAKE_DRIVER = 'cinder.tests.unit.fake_driver.FakeDriver'


class VolumeServiceLifecycleTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def service(self, **options):
        opts = {'DEFAULT': {'volume_driver': FAKE_DRIVER}}
        for key, value in options.items():
            section, _, name = key.rpartition('__')
            opts.setdefault(section or 'DEFAULT', {})[name] = value
        return volume_service.VolumeService(
            os.path.join(self.dir, 'state'), opts)

    def assert_in_order(self, log, *lines):
        positions = []
        for line in lines:
            self.assertIn(line, log)
            positions.append(log.index(line))
        self.assertEqual(sorted(positions), positions, log)

    def test_starts_serves_and_stops_on_sigterm(self):
        svc = self.useFixture(self.service())
        volume = objects.Volume()
        svc.call('create_volume', volume=volume)
        self.assertEqual('available', volume.status)
        self.assertEqual(0, svc.terminate(signal.SIGTERM))
        log = svc.log()
        self.assert_in_order(
            log, 'Coordinator started: lock backend file://',
            'Initializing volume driver FakeDriver',
            'cinder-volume started on host host-a',
            'Caught SIGTERM, stopping',
            'Volume manager on host host-a stopped',
            'Coordinator stopped',
            'cinder-volume stopped on host host-a')
        self.assertFalse(os.path.exists(svc.socket))

    def test_sigint_stops_too(self):
        svc = self.useFixture(self.service())
        self.assertEqual(0, svc.terminate(signal.SIGINT))
        self.assertIn('Caught SIGINT, stopping', svc.log())

    def test_failed_coordinator_start_stops_the_service(self):
        svc = self.service(
            coordination__backend_url='redis://:s3cret@127.0.0.1:1',
            coordination__backend_timeout='2')
        svc.prepare()
        self.addCleanup(svc.kill)
        error = self.assertRaises(volume_service.ServiceProcessError,
                                  svc.start)
        self.assertIn('exited with 1', str(error))
        self.assertIn('cannot start: the lock coordinator cannot start',
                      str(error))
        self.assertIn('backend_url', str(error))
        self.assertNotIn('s3cret', str(error) + svc.log())
        self.assertNotIn('Initializing volume driver', svc.log())
