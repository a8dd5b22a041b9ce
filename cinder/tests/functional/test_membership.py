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

"""The volume services' group, with real services, broker and Redis."""

import os
import time

import fixtures
import testtools

from cinder.stress import lockservers
from cinder.tests.functional import broker
from cinder.tests.functional import volume_service

FAKE_DRIVER = 'cinder.tests.unit.fake_driver.FakeDriver'


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class MembershipTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.redis = self.useFixture(
            lockservers.LockServerFixture('redis')).server
        self.cluster = broker.unique('c')

    def service(self, host, backend_url, **kwargs):
        svc = volume_service.VolumeService(
            os.path.join(self.dir, host + '-%d' % len(os.listdir(self.dir))),
            {'DEFAULT': {'volume_driver': FAKE_DRIVER,
                         'cluster': self.cluster,
                         'transport_url': broker.url()},
             'coordination': {'backend_url': backend_url}},
            host=host, **kwargs)
        return svc

    def test_a_second_service_with_a_taken_host_is_refused(self):
        host = broker.unique('taken')
        self.useFixture(self.service(host, self.redis.url))
        second = self.service(host, self.redis.url).service
        second.prepare()
        self.addCleanup(second.kill)
        error = self.assertRaises(volume_service.ServiceProcessError,
                                  second.start)
        self.assertIn('cannot start: [DEFAULT] host = %s is taken' % host,
                      str(error))

    def test_a_member_on_another_lock_backend_is_reported(self):
        on_redis = self.useFixture(self.service(broker.unique('r'),
                                                self.redis.url))
        on_file = self.useFixture(self.service(
            broker.unique('f'), 'file://' + os.path.join(self.dir, 'locks')))
        # Each says so, loudly: the one that was there, and the newcomer.
        for svc, other, theirs in ((on_redis, on_file, 'file://'),
                                   (on_file, on_redis, 'redis://')):
            line = 'ERROR cinder.membership [-] Member host %s' % other.host
            self.assertTrue(_wait_for(lambda: line in svc.log()),
                            svc.log_tail())
            self.assertIn('takes its locks at %s' % theirs, svc.log())
            self.assertIn('their locks do not exclude each other',
                          svc.log())
