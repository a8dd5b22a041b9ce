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

"""Unit tests of the fixed pool of request threads."""

import threading
import uuid

import fixtures
from oslotest import base

from cinder.common import request_pool


class RequestPoolTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.gate = threading.Event()
        self.addCleanup(self.gate.set)
        self.changed = threading.Condition()
        self.ran = []
        self.refused = []
        self.name = 'test-pool-%s' % uuid.uuid4().hex[:8]
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.common.request_pool'))

    def run_item(self, request):
        with self.changed:
            self.ran.append(request.item)
            self.changed.notify_all()
        if request.item == 'boom':
            raise RuntimeError('boom')
        self.gate.wait(60)

    def refuse_item(self, request):
        self.refused.append(request.item)

    def pool(self, size):
        pool = request_pool.RequestPool(size, self.run_item,
                                        self.refuse_item, name=self.name)
        pool.start()
        self.addCleanup(pool.drain, 0)
        return pool

    def wait_ran(self, count):
        with self.changed:
            return self.changed.wait_for(lambda: len(self.ran) >= count, 30)

    def threads(self):
        return [t for t in threading.enumerate()
                if t.name.startswith(self.name + '-')]

    def test_at_most_size_run_and_the_rest_wait_in_order(self):
        pool = self.pool(2)
        for item in 'abcd':
            pool.submit(item)
        self.assertTrue(self.wait_ran(2))
        self.assertEqual(['a', 'b'], sorted(self.ran))
        self.assertEqual(4, len(pool.requests()))
        self.assertEqual(['c', 'd'], [r.item for r in pool.requests()
                                      if r.started is None])
        self.assertEqual(2, len(self.threads()))
        self.gate.set()
        self.assertTrue(pool.wait(30))
        self.assertEqual(['a', 'b', 'c', 'd'], sorted(self.ran))
        self.assertEqual([], self.refused)

    def test_drain_refuses_what_is_still_queued_at_the_bound(self):
        pool = self.pool(1)
        for item in 'abc':
            pool.submit(item)
        self.assertTrue(self.wait_ran(1))
        self.assertEqual((False, 2), pool.drain(0.01))
        self.assertEqual(['b', 'c'], self.refused)
        running = pool.requests()
        self.assertEqual(['a'], [r.item for r in running])
        self.assertIs(running[0].thread, self.threads()[0])
        self.assertIn('(running ', running[0].describe())
        self.gate.set()
        self.assertTrue(pool.wait(30))
        self.assertEqual(['a'], self.ran)

    def test_drain_lets_queued_requests_run_within_the_bound(self):
        pool = self.pool(1)
        pool.submit('a')
        pool.submit('b')
        self.assertTrue(self.wait_ran(1))
        self.gate.set()
        self.assertEqual((True, 0), pool.drain(30))
        self.assertEqual(['a', 'b'], self.ran)

    def test_nothing_runs_after_drain_and_idle_threads_end(self):
        pool = self.pool(2)
        threads = self.threads()
        self.assertEqual(2, len(threads))
        self.assertEqual((True, 0), pool.drain(0))
        for thread in threads:
            thread.join(30)
            self.assertFalse(thread.is_alive())
        pool.submit('late')
        self.assertEqual(['late'], self.refused)
        self.assertEqual([], pool.requests())

    def test_a_failing_request_is_logged_and_leaves_the_flight(self):
        pool = self.pool(1)
        pool.submit('boom')
        self.assertTrue(pool.wait(30))
        self.assertIn('Request a request not read yet (running',
                      self.log.output)
        self.assertIn('RuntimeError: boom', self.log.output)

    def test_size_must_be_a_positive_integer(self):
        for size in (0, -1, 1.5, None, True):
            exc = self.assertRaises(ValueError, request_pool.RequestPool,
                                    size, self.run_item, self.refuse_item)
            self.assertIn('workers must be a positive integer', str(exc))
