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

"""What the self-fencing deadline of each lock counts from.

The deadline (:mod:`cinder.coordination.fence`) of a lock counts from
its last renewal that the backend confirmed, or from its grant: a
renewal of one lock that failed is never credited to that lock, and a
lock granted after a long wait is not declared lost at once. These tests
run against real servers with a 3 s lease; a failed renewal is injected
in the client, where a timeout on the network would make it fail.
"""

import logging
import threading
import time
from unittest import mock

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder import coordination
from cinder.coordination import hooks
from cinder.coordination import lock as lock_mod
from cinder.stress import lockservers

WAIT = 30  # upper bound of event waits; reached only when the code is wrong


class _Witness(hooks.LockHook):
    """Reads, the moment a lock is declared lost, its key on the server."""

    def __init__(self, read_key):
        self.read_key = read_key
        self.lost_locks = []
        self.event = threading.Event()

    def lost(self, lock, reason):
        self.lost_locks.append((lock.name, reason, time.monotonic(),
                                self.read_key(lock)))
        self.event.set()


class LeaseRenewalMixin(object):

    kind = None

    def setUp(self):
        super().setUp()
        lockservers.check_available(self.kind)
        self.server_url = lockservers.shared_server(self.kind).url
        self.url = self.server_url + '?lock_timeout=3'
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO, format='%(name)s %(levelname)s %(message)s'))
        self.addCleanup(lock_mod.thread_locks().clear)

    def coordinator(self, **options):
        conf = cfg.ConfigOpts()
        coordinator = coordination.Coordinator(
            conf=conf, prefix='test-%s-' % self.id().rsplit('.', 1)[-1])
        conf([], project='cinder-test', default_config_files=[])
        options.update(backend_url=self.url, backend_timeout=5)
        for key, value in options.items():
            conf.set_override(key, value, group='coordination')
        coordinator.start()
        self.addCleanup(coordinator.stop)
        return coordinator

    def test_a_lock_granted_after_a_long_wait_is_not_fenced_at_once(self):
        # The holder never renews: the other waits for its 3 s lease to
        # end, longer than the lease less the margin. Its deadline
        # counts from the grant, not from the start of its wait.
        holder = self.coordinator(heartbeat=3600)
        other = self.coordinator(heartbeat=1)
        holder.get_lock('wait').acquire()
        taken = other.get_lock('wait')
        taken.acquire(blocking=WAIT)
        waited = time.monotonic() - taken.asked_at
        self.assertGreater(waited, 2)
        self.assertGreater(other._fence.deadline(taken),
                           time.monotonic() + 1)
        taken.check()
        taken.release()

    def wait_for(self, condition):
        deadline = time.monotonic() + WAIT
        while not condition() and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        return condition()


class RedisLeaseRenewalTest(LeaseRenewalMixin, base.BaseTestCase):
    kind = 'redis'

    def test_a_renewal_that_timed_out_is_not_credited(self):
        import redis
        from redis import exceptions as redis_exceptions

        # A 3 s lease and a beat every second; with a 1.5 s margin one
        # renewal that did not reach Redis leaves the lock 0.5 s short
        # of the next beat.
        holder = self.coordinator(heartbeat=1, fencing_margin=1.5,
                                  initial_reconnect_backoff=0.05,
                                  max_reconnect_backoff=0.2)
        server = redis.Redis.from_url(self.server_url)
        self.addCleanup(server.close)

        def read_key(lock):
            key = lock._tooz_lock.name
            return server.get(key), server.pttl(key)

        witness = _Witness(read_key)
        holder.add_hook(witness)
        missed = holder.get_lock('missed')
        missed.acquire()
        kept = holder.get_lock('kept')
        kept.acquire()
        # redis-py's lock inside tooz's: its second renewal times out.
        redis_lock = missed._tooz_lock._lock
        token = redis_lock.local.token
        renew = redis_lock.do_reacquire
        renewals = []

        def do_reacquire():
            renewals.append(time.monotonic())
            if len(renewals) == 2:
                raise redis_exceptions.TimeoutError('injected')
            return renew()

        with mock.patch.object(redis_lock, 'do_reacquire', do_reacquire):
            self.assertTrue(witness.event.wait(WAIT))
        self.assertEqual([missed.name], [w[0] for w in witness.lost_locks])
        name, reason, lost_at, (value, pttl) = witness.lost_locks[0]
        self.assertIn('fenced', reason)
        # Tooz logged the timeout and went on: the beat succeeded.
        self.assertIn('Unable to heartbeat lock', self.log.output)
        self.assertNotIn('Heartbeat to the lock backend failed',
                         self.log.output)
        # Declared lost while Redis still kept it for this holder.
        self.assertEqual(token, value)
        self.assertGreater(pttl, 0)
        # The other lock goes on being renewed, past the loss.
        self.assertTrue(self.wait_for(
            lambda: holder._fence.deadline(kept) > lost_at + 3))
        self.assertEqual([missed.name], [w[0] for w in witness.lost_locks])
        kept.check()
        kept.release()
        self.assertRaises(coordination.LockLost, missed.release)


class EtcdLeaseRenewalTest(LeaseRenewalMixin, base.BaseTestCase):
    kind = 'etcd'

    def test_a_failed_lease_refresh_fails_the_whole_beat(self):
        from etcd3gw import exceptions as etcd3gw_exceptions

        # Tooz's etcd heartbeat does not go on past a refresh that
        # failed: no lock is credited with that beat (the fence counts
        # each lock's deadline from the beat before).
        holder = self.coordinator(heartbeat=3600)
        missed = holder.get_lock('missed')
        missed.acquire()
        kept = holder.get_lock('kept')
        kept.acquire()
        fence = holder._fence
        before = {lock: fence.deadline(lock) for lock in (missed, kept)}
        lease = missed._tooz_lock._lease
        with mock.patch.object(
                lease, 'refresh',
                side_effect=etcd3gw_exceptions.ConnectionTimeoutError(
                    'injected')):
            self.assertRaises(coordination.BackendUnavailable, holder._beat)
        self.assertEqual(before, {lock: fence.deadline(lock)
                                  for lock in (missed, kept)})
        holder._beat()
        for lock in (missed, kept):
            self.assertGreater(fence.deadline(lock), before[lock])
            lock.release()
