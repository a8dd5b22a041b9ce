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

"""Unit tests of cinder.coordination's own logic (Tooz is faked here).

The behaviour against real lock servers is checked by the contract suite
in cinder/tests/functional/test_coordination.py.
"""

import fcntl
import inspect
import json
import logging
import os
import subprocess
import sys
import threading
import time
import types
from unittest import mock

import fixtures
from kazoo import exceptions as kazoo_exceptions
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base
import tenacity
import tooz
from tooz import coordination as tooz_coordination

from cinder import coordination
from cinder import lockservers
from cinder import opts

REAL_GET_COORDINATOR = tooz_coordination.get_coordinator
WAIT = 10  # bound for waits on events; never reached when the code works


class FakeClock(object):
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


class FakeToozLock(object):
    def __init__(self, name):
        self.name = name
        self.acquired = False
        self.acquire_result = True
        self.acquire_error = None
        self.owner = True
        self.calls = []

    def acquire(self, blocking=True):
        self.calls.append(('acquire', blocking))
        if self.acquire_error is not None:
            raise self.acquire_error
        self.acquired = self.acquire_result
        return self.acquire_result

    def release(self):
        self.calls.append(('release',))
        was = self.acquired
        self.acquired = False
        return was

    def is_still_owner(self):
        if isinstance(self.owner, Exception):
            raise self.owner
        return self.owner


class FakeDriver(object):
    requires_beating = True
    lock_timeout = 30

    def __init__(self):
        self.locks = {}
        self.started = 0
        self.stopped = 0
        self.beats = 0
        self.beat_errors = []
        self.beat_event = threading.Event()
        self.listeners = []
        self._coord = self  # what the ZooKeeper backend reaches for
        # kazoo's connection handler and its reconnect policy.
        self._connection = types.SimpleNamespace(
            retry_sleeper=types.SimpleNamespace(delay=0.1, max_delay=3600.0))
        self.order = []

    def start(self, start_heart=False):
        assert start_heart is False
        self.started += 1

    def stop(self):
        self.stopped += 1

    def get_lock(self, name):
        lock = self.locks.get(name)
        if lock is None:
            lock = self.locks[name] = FakeToozLock(name)
        order = self.order

        def acquire(blocking=True, _orig=lock.acquire):
            order.append(('acquire', name))
            return _orig(blocking)

        def release(_orig=lock.release):
            order.append(('release', name))
            return _orig()
        lock.acquire, lock.release = acquire, release
        return lock

    def heartbeat(self):
        self.beats += 1
        try:
            if self.beat_errors:
                raise self.beat_errors.pop(0)
        finally:
            self.beat_event.set()
        return 1.0

    def add_listener(self, listener):
        self.listeners.append(listener)


class CoordinationTestCase(base.BaseTestCase):
    url = 'file:///nonexistent-test-dir'

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        self.fixture = self.useFixture(config_fixture.Config(self.conf))
        self.clock = FakeClock()
        self.coordinator = coordination.Coordinator(
            member_id='test-member', conf=self.conf, clock=self.clock)
        self.fixture.config(group='coordination', backend_url=self.url,
                            backend_timeout=WAIT)
        self.driver = FakeDriver()
        self.get_coordinator = self.useFixture(fixtures.MockPatchObject(
            coordination.tooz_coordination, 'get_coordinator',
            return_value=self.driver)).mock
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.coordination', level=logging.DEBUG,
            format='%(levelname)s %(message)s'))

        self.addCleanup(coordination._thread_locks().clear)

    def start(self):
        self.coordinator.start()
        self.addCleanup(self.coordinator.stop)
        return self.coordinator


class VolumeStub(object):
    def __init__(self, id, volume=None):
        self.id = id
        self.volume = volume


class SynchronizedTestCase(CoordinationTestCase):

    def test_templates_render_attributes_items_defaults_and_f_name(self):
        self.start()
        seen = []

        class Driver(object):
            driver_prefix = 'nfs'

            @coordination.synchronized(
                '{self.driver_prefix}-{volume.id}',
                '{snapshot.volume.id}-{f_name}',
                'mapping-{connector[host]}', '{mode}',
                coordinator=self.coordinator)
            def op(self, volume, snapshot, connector, mode='rw'):
                seen.append(sorted(lock.name for lock in
                                   coordination._thread_locks()))
                return 'done'

        result = Driver().op(VolumeStub('v1'),
                             VolumeStub('s1', VolumeStub('v2')),
                             {'host': 'h1'})
        self.assertEqual('done', result)
        self.assertEqual([['cinder-mapping-h1', 'cinder-nfs-v1',
                           'cinder-rw', 'cinder-v2-op']], seen)

    def test_names_deduplicated_acquired_sorted_released_reversed(self):
        self.start()

        @coordination.synchronized('b-{x}', 'a-{x}', 'b-{x}',
                                   coordinator=self.coordinator)
        def f(x):
            self.driver.order.append(('run',))

        f(1)
        self.assertEqual([('acquire', b'cinder-a-1'),
                          ('acquire', b'cinder-b-1'),
                          ('run',),
                          ('release', b'cinder-b-1'),
                          ('release', b'cinder-a-1')], self.driver.order)

    def test_var_keyword_arguments_can_be_named(self):
        self.start()

        @coordination.synchronized('{volume_id}',
                                   coordinator=self.coordinator)
        def f(context, **kwargs):
            return [lock.name for lock in coordination._thread_locks()]

        self.assertEqual(['cinder-v9'], f(None, volume_id='v9'))

    def test_signature_and_metadata_are_kept(self):
        def delete_volume(self, context, volume, force=False):
            """Docstring."""

        wrapped = coordination.synchronized('{volume.id}')(delete_volume)
        self.assertEqual(inspect.signature(delete_volume),
                         inspect.signature(wrapped))
        self.assertEqual('delete_volume', wrapped.__name__)
        self.assertEqual('Docstring.', wrapped.__doc__)

    def test_unknown_argument_fails_at_decoration_naming_both(self):
        def create_volume(self, volume):
            pass

        e = self.assertRaises(coordination.LockNameError,
                              coordination.synchronized('{snapshot.id}-x'),
                              create_volume)
        self.assertIn("'{snapshot.id}-x'", str(e))
        self.assertIn('create_volume()', str(e))
        self.assertIn('snapshot', str(e))

    def test_positional_and_malformed_fields_are_refused(self):
        def f(a):
            pass

        for template in ('{0}', '{}', '{a'):
            self.assertRaises(coordination.LockNameError,
                              coordination.synchronized(template), f)
        self.assertRaises(coordination.LockNameError,
                          coordination.synchronized)

    def test_render_error_names_template_and_function(self):
        self.start()

        @coordination.synchronized('{volume.id}',
                                   coordinator=self.coordinator)
        def extend(volume):
            self.fail('must not run')

        e = self.assertRaises(coordination.LockNameError, extend, object())
        self.assertIn("'{volume.id}'", str(e))
        self.assertIn('extend()', str(e))
        self.assertIn('AttributeError', str(e))

    def test_function_never_runs_without_its_lock(self):
        self.start()
        ran = []

        @coordination.synchronized('a', 'b', blocking=False,
                                   coordinator=self.coordinator)
        def f():
            ran.append(True)

        self.coordinator.get_lock('b')  # create the fake lock
        self.driver.locks[b'cinder-b'].acquire_result = False
        self.assertRaises(coordination.LockAcquireFailed, f)
        self.assertEqual([], ran)
        # the lock taken before the miss was given back
        self.assertIn(('release', b'cinder-a'), self.driver.order)
        self.assertFalse(self.driver.locks[b'cinder-a'].acquired)

    def test_locks_released_when_function_raises(self):
        self.start()

        @coordination.synchronized('{x}', coordinator=self.coordinator)
        def f(x):
            raise KeyError('boom')

        self.assertRaises(KeyError, f, 'k')
        self.assertEqual(('release', b'cinder-k'), self.driver.order[-1])
        self.assertEqual([], coordination._thread_locks())

    def test_default_coordinator_resolved_at_call_time(self):
        @coordination.synchronized('x')
        def f():
            return 'ran'

        self.start()
        self.useFixture(fixtures.MockPatchObject(
            coordination, 'COORDINATOR', self.coordinator))
        self.assertEqual('ran', f())
        self.assertIn(('acquire', b'cinder-x'), self.driver.order)

    def test_blocking_argument_passed_through(self):
        self.start()

        @coordination.synchronized('x', blocking=2.5,
                                   coordinator=self.coordinator)
        def f():
            pass

        f()
        self.assertEqual(('acquire', 2.5),
                         self.driver.locks[b'cinder-x'].calls[0])

    def test_synchronized_remove_uses_coordinator(self):
        coordinator = mock.Mock()
        coordination.synchronized_remove('v1-*', coordinator=coordinator)
        coordinator.remove_lock.assert_called_once_with('v1-*')


class LockTestCase(CoordinationTestCase):

    def test_acquire_miss_raises_one_class_for_every_driver_answer(self):
        self.start()
        answers = [(False, None),
                   (None, kazoo_exceptions.LockTimeout('kazoo timed out')),
                   (None, tenacity.RetryError(None))]
        for result, error in answers:
            lock = self.coordinator.get_lock('x')
            lock._tooz_lock.acquire_result = result
            lock._tooz_lock.acquire_error = error
            e = self.assertRaises(coordination.LockAcquireFailed,
                                  lock.acquire, blocking=False)
            self.assertIsInstance(e, tooz_coordination.LockAcquireFailed)
            self.assertFalse(lock.held)

    def test_connection_errors_become_backend_unavailable(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        lock._tooz_lock.acquire_error = tooz_coordination.ToozConnectionError(
            'refused')
        e = self.assertRaises(coordination.BackendUnavailable, lock.acquire)
        self.assertIn('[coordination] backend_url', str(e))
        self.assertIn('refused', str(e))

    def test_bad_blocking_value_is_refused(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        for value in (-1, 'soon', None):
            e = self.assertRaises(ValueError, lock.acquire, blocking=value)
            self.assertIn('blocking', str(e))

    def test_release_of_a_lock_not_held_is_an_error(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        self.assertRaises(coordination.LockNotHeld, lock.release)
        with lock:
            pass
        self.assertRaises(coordination.LockNotHeld, lock.release)

    def test_lock_objects_are_not_reentrant(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        with lock:
            self.assertRaises(coordination.CoordinationError, lock.acquire)

    def test_debug_logs_wait_and_hold_times(self):
        self.start()
        lock = self.coordinator.get_lock('x')
        original = lock._tooz_lock.acquire

        def slow_acquire(blocking=True):
            self.clock.now += 1.5
            return original(blocking)
        lock._tooz_lock.acquire = slow_acquire
        lock.acquire()
        self.clock.now += 2.25
        lock.release()
        self.assertIn('Acquiring lock "cinder-x"', self.log.output)
        self.assertIn('Acquired lock "cinder-x" :: waited 1.500s',
                      self.log.output)
        self.assertIn('Released lock "cinder-x" :: held 2.250s',
                      self.log.output)

    def test_get_lock_before_start_is_an_error(self):
        e = self.assertRaises(coordination.CoordinationError,
                              self.coordinator.get_lock, 'x')
        self.assertIn('not started', str(e))

    def test_invalid_names_refused(self):
        self.start()
        for name in ('', None, 'a\0b', b'bytes'):
            self.assertRaises(coordination.LockNameError,
                              self.coordinator.get_lock, name)


class LockLossTestCase(CoordinationTestCase):
    url = 'redis://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.fixture.config(group='coordination', heartbeat=3600)

    def test_ensure_locks_held_asks_the_backend(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        coordination.ensure_locks_held()
        lock._tooz_lock.owner = False
        self.clock.now += 7
        e = self.assertRaises(coordination.LockLost,
                              coordination.ensure_locks_held)
        self.assertIn('cinder-vol-1', str(e))
        self.assertIn('Lock "cinder-vol-1" was LOST after being held for '
                      '7.000s', self.log.output)
        # and releasing it says so too: the section ran unprotected
        self.assertRaises(coordination.LockLost, lock.release)
        # while the driver is still told, so it stops refreshing the lease
        self.assertEqual(('release', b'cinder-vol-1'), self.driver.order[-1])

    def test_unconfirmable_ownership_counts_as_lost(self):
        self.start()
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        lock._tooz_lock.owner = tooz_coordination.ToozConnectionError('down')
        e = self.assertRaises(coordination.LockLost, lock.check)
        self.assertIn('cannot be confirmed', str(e))

    def test_ensure_locks_held_only_checks_this_threads_locks(self):
        self.start()
        mine = self.coordinator.get_lock('mine')
        mine.acquire()
        theirs = self.coordinator.get_lock('theirs')
        done = threading.Event()
        threading.Thread(target=lambda: (theirs.acquire(), done.set())).start()
        self.assertTrue(done.wait(WAIT))
        theirs._tooz_lock.owner = False
        coordination.ensure_locks_held()  # does not look at theirs
        self.assertRaises(coordination.LockLost,
                          self.coordinator.ensure_locks_held)

    def test_heartbeat_marks_lost_locks_and_logs_error(self):
        self.start()
        lock = self.coordinator.get_lock('vol-2')
        lock.acquire()
        self.clock.now += 3
        lock._tooz_lock.owner = False
        self.coordinator._beat()
        self.assertEqual(1, self.driver.beats)
        self.assertEqual('another member may hold it', lock.lost)
        self.assertIn('ERROR Lock "cinder-vol-2" was LOST after being held '
                      'for 3.000s', self.log.output)

    def test_no_heartbeat_for_a_lease_marks_locks_lost(self):
        self.start()
        lock = self.coordinator.get_lock('vol-3')
        lock.acquire()
        last_ok = self.clock.now
        self.clock.now += 29
        self.coordinator._check_lease(last_ok)
        self.assertIsNone(lock.lost)
        self.clock.now += 2
        self.coordinator._check_lease(last_ok)
        self.assertIn('longer than the 30 s lock lease', lock.lost)

    def test_stop_marks_held_locks_lost(self):
        self.start()
        lock = self.coordinator.get_lock('vol-4')
        lock.acquire()
        self.coordinator.stop()
        self.assertRaises(coordination.LockLost, lock.release)


class LifecycleTestCase(CoordinationTestCase):

    def test_start_and_stop_are_idempotent(self):
        self.coordinator.stop()  # not started: nothing happens
        self.coordinator.start()
        self.coordinator.start()
        self.assertEqual(1, self.get_coordinator.call_count)
        self.assertEqual(1, self.driver.started)
        self.coordinator.stop()
        self.coordinator.stop()
        self.assertEqual(1, self.driver.stopped)
        self.assertFalse(self.coordinator.started)
        self.coordinator.start()  # and it can start again
        self.assertEqual(2, self.driver.started)
        self.coordinator.stop()

    def test_member_id_is_given_to_tooz(self):
        self.start()
        self.get_coordinator.assert_called_once_with(self.url,
                                                     b'test-member')

    def test_default_url_is_the_state_path(self):
        self.fixture.config(state_path='/srv/state')
        self.conf.clear_override('backend_url', group='coordination')
        self.start()
        self.get_coordinator.assert_called_once_with('file:///srv/state',
                                                     b'test-member')

    def test_no_heartbeat_for_file_and_zookeeper(self):
        for url in ('file:///tmp/x', 'zookeeper://127.0.0.1:1'):
            self.fixture.config(group='coordination', backend_url=url)
            self.coordinator.start()
            self.assertIsNone(self.coordinator._heartbeat)
            self.coordinator.stop()
        self.assertEqual(1, len(self.driver.listeners))  # zookeeper's

    def test_heartbeat_thread_for_lease_backends(self):
        for url in ('redis://127.0.0.1:1', 'etcd3+http://127.0.0.1:1'):
            self.fixture.config(group='coordination', backend_url=url,
                                heartbeat=0.01)
            self.driver.beat_event.clear()
            self.coordinator.start()
            heartbeat = self.coordinator._heartbeat
            self.assertTrue(heartbeat.alive)
            self.assertTrue(self.driver.beat_event.wait(WAIT))
            self.assertIsInstance(heartbeat._thread, threading.Thread)
            self.assertTrue(heartbeat._thread.daemon)
            self.coordinator.stop()
            self.assertFalse(heartbeat.alive)

    def test_unknown_scheme_lists_installed_backends_and_masks(self):
        self.fixture.config(group='coordination',
                            backend_url='bogus://user:hunter2@host/')
        e = self.assertRaises(coordination.ConfigurationError,
                              self.coordinator.start)
        self.assertIn('[coordination] backend_url', str(e))
        self.assertIn("'bogus'", str(e))
        for name in ('file', 'redis', 'zookeeper', 'etcd3+http'):
            self.assertIn(name, str(e))
        self.assertNotIn('hunter2', str(e))

    def test_start_failure_names_option_and_masks_password(self):
        self.fixture.config(group='coordination',
                            backend_url='redis://:hunter2@127.0.0.1:1')
        self.driver.start = mock.Mock(
            side_effect=tooz_coordination.ToozConnectionError(
                'cannot connect to redis://:hunter2@127.0.0.1:1'))
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator.start)
        self.assertIn('[coordination] backend_url', str(e))
        self.assertIn('redis://:***@127.0.0.1:1', str(e))
        self.assertNotIn('hunter2', str(e))
        self.assertNotIn('hunter2', self.log.output)
        self.assertFalse(self.coordinator.started)

    def test_start_that_hangs_fails_within_backend_timeout(self):
        self.fixture.config(group='coordination', backend_timeout=0.2)
        release = threading.Event()
        self.addCleanup(release.set)
        self.driver.start = lambda start_heart: release.wait(WAIT)
        e = self.assertRaises(coordination.BackendUnavailable,
                              self.coordinator.start)
        self.assertIn('no answer within 0.2 s', str(e))
        self.assertIn('[coordination] backend_timeout', str(e))

    def test_redis_and_etcd_get_bounded_client_timeouts(self):
        backend = coordination._make_backend(
            'redis://:pw@h:1?socket_timeout=5', 2.0)
        url = backend.tooz_url()
        self.assertIn('socket_timeout=5', url)  # the operator's wins
        self.assertIn('socket_connect_timeout=2.0', url)
        backend = coordination._make_backend('etcd3+http://h:1', 2.0)
        self.assertIn('timeout=2', backend.tooz_url())
        self.assertIn('lock_timeout=30', backend.tooz_url())
        backend = coordination._make_backend('etcd3+http://h:1?timeout=9',
                                             2.0)
        self.assertEqual('etcd3+http://h:1?timeout=9', backend.tooz_url())

    def test_heartbeat_shorter_than_lease_is_advised(self):
        self.fixture.config(group='coordination', heartbeat=20,
                            backend_url='redis://h:1')
        self.start()
        self.assertIn('heartbeat (20.0 s) should be a third of the lock '
                      'lease (30 s)', self.log.output)


class ZooKeeperOutageTestCase(CoordinationTestCase):
    url = 'zookeeper://127.0.0.1:1'

    def test_call_after_a_long_outage_gets_time_to_reconnect(self):
        coordinator = self.start()
        backend = coordinator.backend
        # kazoo reported the connection lost long before this call.
        backend._down_since = time.monotonic() - 1000
        checked = threading.Event()
        real_check = backend._connection_down_too_long

        def check(call_start):
            result = real_check(call_start)
            checked.set()
            return result

        self.useFixture(fixtures.MockPatchObject(
            backend, '_connection_down_too_long', side_effect=check))
        lock = coordinator.get_lock('v1')
        tooz_lock = self.driver.locks[b'cinder-v1']
        real_acquire = tooz_lock.acquire

        def acquire(blocking=True):
            # kazoo is still reconnecting when the caller first checks.
            self.assertTrue(checked.wait(WAIT))
            self.driver.listeners[0]('CONNECTED')
            return real_acquire(blocking)

        tooz_lock.acquire = acquire
        self.assertTrue(lock.acquire(blocking=False))
        self.assertIsNone(backend._down_since)
        lock.release()

    def test_kazoo_reconnect_delay_is_bounded_by_the_options(self):
        self.fixture.config(group='coordination',
                            initial_reconnect_backoff=0.5,
                            max_reconnect_backoff=20)
        self.start()
        sleeper = self.driver._connection.retry_sleeper
        self.assertEqual((0.5, 20.0), (sleeper.delay, sleeper.max_delay))

    def test_release_reports_a_node_lost_with_its_session(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        tooz_lock = self.driver.locks[b'cinder-v1']
        tooz_lock.owner = False   # the session expired while frozen
        exc = self.assertRaises(coordination.LockLost, lock.release)
        self.assertIn('no longer had it', str(exc))
        self.assertFalse(tooz_lock.acquired)

    def test_release_of_an_owned_lock_is_clean(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        lock.release()
        self.assertNotIn('LOST', self.log.output)

    def test_outage_during_the_call_still_bounds_it(self):
        self.fixture.config(group='coordination', backend_timeout=0.2)
        coordinator = self.start()
        backend = coordinator.backend
        release = threading.Event()
        self.addCleanup(release.set)
        lock = coordinator.get_lock('v1')
        tooz_lock = self.driver.locks[b'cinder-v1']

        def acquire(blocking=True):
            release.wait(WAIT)
            return False

        tooz_lock.acquire = acquire
        self.driver.listeners[0]('CONNECTING')
        self.assertIsNotNone(backend._down_since)
        exc = self.assertRaises(coordination.BackendUnavailable,
                                lock.acquire, blocking=False)
        self.assertIn('no connection for more than 0.2 s', str(exc))


class HeartbeatTestCase(CoordinationTestCase):
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
        self.assertTrue(recovered.wait(WAIT))
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
        self.assertTrue(self.driver.beat_event.wait(WAIT))
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


class MaskTestCase(base.BaseTestCase):

    def test_mask_url(self):
        cases = {
            'redis://:pw@h:6379': 'redis://:***@h:6379',
            'redis://user:pw@h:6379/0?db=1': 'redis://user:***@h:6379/0?db=1',
            'redis://h?password=pw&sentinel_password=s&a=b':
                'redis://h?password=***&sentinel_password=***&a=b',
            'zookeeper://h:2181': 'zookeeper://h:2181',
            'file:///var/lib/cinder': 'file:///var/lib/cinder',
            'etcd3+http://u:p%40ss@h:2379': 'etcd3+http://u:***@h:2379',
        }
        for url, masked in cases.items():
            self.assertEqual(masked, coordination.mask_url(url))

    def test_unparseable_url_masked_whole(self):
        self.assertEqual('***', coordination.mask_url('redis://[::1:pw@h'))

    def test_scrub_removes_raw_and_quoted_secrets(self):
        backend = coordination._make_backend('redis://:p@ss@h:1', 1.0)
        self.assertEqual('auth *** failed ***',
                         backend.scrub('auth p@ss failed p%40ss'))


class RealFileBackendTestCase(CoordinationTestCase):
    """Tests that need the real file driver on a temporary directory."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.fixture.config(group='coordination',
                            backend_url='file://' + self.dir)
        # The real file driver: local files are this backend's whole state.
        self.get_coordinator.side_effect = REAL_GET_COORDINATOR


class RemoveLockTestCase(RealFileBackendTestCase):

    def _touch(self, name):
        path = os.path.join(self.dir, name)
        open(path, 'w').close()
        return path

    def test_removes_idle_matching_lock_files_only(self):
        self.start()
        gone = [self._touch('cinder-v1-delete_volume'),
                self._touch('cinder-v1-detach_volume')]
        kept = [self._touch('cinder-v2-delete_volume'),
                self._touch('other-v1-delete_volume')]
        busy = self._touch('cinder-v1-busy')
        holder = subprocess.Popen(
            [sys.executable, '-c',
             'import fcntl, sys; f = open(sys.argv[1], "r+"); '
             'fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); '
             'sys.stdin.read()', busy],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.stdin.close)
        self.assertEqual('locked\n', holder.stdout.readline())
        removed = coordination.synchronized_remove(
            'v1-*', coordinator=self.coordinator)
        self.assertEqual(2, removed)
        for path in gone:
            self.assertFalse(os.path.exists(path))
        for path in kept + [busy]:
            self.assertTrue(os.path.exists(path))
        # the file is unlocked after removal attempts of ours
        with open(kept[0], 'r+') as f:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def test_keeps_files_of_locks_this_process_holds(self):
        self.start()
        lock = self.coordinator.get_lock('v1-held')
        lock.acquire()
        self.assertEqual(0, coordination.synchronized_remove(
            'v1-*', coordinator=self.coordinator))
        self.assertTrue(os.path.exists(os.path.join(self.dir,
                                                    'cinder-v1-held')))
        # still exclusive: another process cannot take it
        probe = subprocess.run(
            [sys.executable, '-c',
             'import fcntl, sys; f = open(sys.argv[1], "r+"); '
             'fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)',
             os.path.join(self.dir, 'cinder-v1-held')])
        self.assertNotEqual(0, probe.returncode)
        lock.release()
        self.assertEqual(1, coordination.synchronized_remove(
            'v1-*', coordinator=self.coordinator))

    def test_no_op_for_other_backends(self):
        backend = coordination._make_backend('redis://h:1', 1.0)
        self.assertEqual(0, backend.remove_locks('*'))


class LedgerTestCase(CoordinationTestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'ledger')
        self.fixture.config(group='coordination', ledger_file=self.path)

    def entries(self):
        with open(self.path) as f:
            return [json.loads(line) for line in f]

    def test_records_enter_and_exit_inside_the_section(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        self.clock.now = 5.0
        real_acquire = self.driver.get_lock(b'cinder-v1').acquire

        def slow_acquire(blocking=True):
            self.clock.now = 5.25
            return real_acquire(blocking)

        self.driver.locks[b'cinder-v1'].acquire = slow_acquire
        lock.acquire()
        self.clock.now = 7.5
        lock.release()
        enter, exit_ = self.entries()
        self.assertEqual(('enter', 'cinder-v1', 5.25, 0.25, 'test-member'),
                         (enter['event'], enter['lock'], enter['t'],
                          enter['waited'], enter['member']))
        self.assertEqual(('exit', 'cinder-v1', 7.5, None),
                         (exit_['event'], exit_['lock'], exit_['t'],
                          exit_['lost']))
        self.assertEqual(os.getpid(), exit_['pid'])

    def test_exit_is_written_before_the_backend_release(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        seen = []
        real_release = self.driver.locks[b'cinder-v1'].release

        def release():
            seen.append([e['event'] for e in self.entries()])
            return real_release()

        self.driver.locks[b'cinder-v1'].release = release
        lock.release()
        self.assertEqual([['enter', 'exit']], seen)

    def test_lost_lock_and_stop_are_recorded(self):
        coordinator = self.start()
        lost = coordinator.get_lock('v1')
        lost.acquire()
        self.driver.locks[b'cinder-v1'].acquired = False
        self.assertRaises(coordination.LockLost, lost.release)
        held = coordinator.get_lock('v2')
        held.acquire()
        coordinator.stop()
        self.assertRaises(coordination.LockLost, held.release)
        events = [(e['event'], e['lock'], e.get('lost'))
                  for e in self.entries()]
        self.assertEqual([
            ('enter', 'cinder-v1', None),
            ('exit', 'cinder-v1', None),
            ('lost', 'cinder-v1', 'the backend no longer had it at release'),
            ('enter', 'cinder-v2', None),
            ('exit', 'cinder-v2', 'the coordinator was stopped')], events)

    def test_loss_seen_between_exit_and_release_is_recorded(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        real_exit = coordinator._ledger_exit

        def exit_then_heartbeat(held_lock, ledger):
            real_exit(held_lock, ledger)
            # The heartbeat marks the lock lost right after the exit line
            # was written, before the release looks at it.
            coordinator._mark_lost(held_lock, 'lease expired')

        self.useFixture(fixtures.MockPatchObject(
            coordinator, '_ledger_exit', side_effect=exit_then_heartbeat))
        self.assertRaises(coordination.LockLost, lock.release)
        self.assertEqual([('enter', None), ('exit', None),
                          ('lost', 'lease expired')],
                         [(e['event'], e.get('lost'))
                          for e in self.entries()])

    def test_unwritable_ledger_names_the_option(self):
        self.fixture.config(group='coordination',
                            ledger_file='/nonexistent-dir/ledger')
        exc = self.assertRaises(coordination.ConfigurationError, self.start)
        self.assertIn('[coordination] ledger_file', str(exc))
        self.get_coordinator.assert_not_called()

    def test_no_ledger_by_default(self):
        self.fixture.config(group='coordination', ledger_file=None)
        coordinator = self.start()
        with coordinator.get_lock('v1'):
            pass
        self.assertFalse(os.path.exists(self.path))


def _end_waiter(waiter):
    """Let the waiter finish, or kill it if it is still blocked."""
    waiter.stdin.close()
    try:
        waiter.wait(WAIT)
    except subprocess.TimeoutExpired:
        waiter.kill()
        waiter.wait()


class RemovedWhileWaitingTestCase(RealFileBackendTestCase):
    """A waiter whose lock file is unlinked must not hold a ghost lock."""

    def test_waiter_relocks_the_file_at_the_path(self):
        holder = self.start()
        lock = holder.get_lock('gone')
        lock.acquire()
        path = os.path.join(self.dir, 'cinder-gone')
        waiter = subprocess.Popen(
            [sys.executable, '-c',
             'import sys\n'
             'from oslo_config import cfg\n'
             'from cinder import coordination\n'
             'conf = cfg.ConfigOpts()\n'
             'c = coordination.Coordinator(conf=conf)\n'
             'conf([])\n'
             'conf.set_override("backend_url", sys.argv[1], "coordination")\n'
             'c.start()\n'
             'lock = c.get_lock("gone")\n'
             'lock.acquire()\n'
             'print("acquired", flush=True)\n'
             'sys.stdin.read()\n'
             'lock.release()\n', 'file://' + self.dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(_end_waiter, waiter)
        # Wait (bounded) until the waiter has the file open: it is then
        # blocked on the lock of this very inode.
        deadline = time.monotonic() + WAIT
        real_path = os.path.realpath(path)
        while real_path not in (
                lockservers.open_file_targets(waiter.pid) or ()):
            self.assertLess(time.monotonic(), deadline, 'waiter never '
                            'opened the lock file')
            time.sleep(0.01)
        # A remover elsewhere unlinks the file, then the holder lets go.
        os.unlink(path)
        lock.release()
        self.assertEqual('acquired\n', waiter.stdout.readline())
        # The waiter must hold the lock that everybody else now sees.
        other = holder.get_lock('gone')
        self.assertRaises(coordination.LockAcquireFailed, other.acquire,
                          blocking=False)


class RemoveWhileAcquiringTestCase(RealFileBackendTestCase):
    """remove_locks() in another thread of the acquiring process."""

    def test_file_being_acquired_is_not_removed(self):
        coordinator = self.start()
        lock = coordinator.get_lock('busy')
        backend = coordinator.backend
        tooz_lock = lock._tooz_lock
        real_acquire = tooz_lock.acquire
        removed = []

        def acquire(*args, **kwargs):
            got = real_acquire(*args, **kwargs)
            # Another request of this service removes the lock files of
            # the same, just deleted, resource at this very moment.
            removed.append(backend.remove_locks('cinder-busy'))
            return got

        tooz_lock.acquire = acquire
        lock.acquire()
        self.addCleanup(lock.release)
        self.assertEqual([0], removed)
        self.assertTrue(os.path.exists(os.path.join(self.dir,
                                                    'cinder-busy')))
        # And the lock still excludes another process.
        other = subprocess.run(
            [sys.executable, '-c',
             'import fcntl, sys; f = open(sys.argv[1], "r+")\n'
             'try:\n'
             '    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n'
             'except OSError:\n'
             '    print("busy")\n'
             'else:\n'
             '    print("free")\n',
             os.path.join(self.dir, 'cinder-busy')],
            capture_output=True, text=True)
        self.assertEqual('busy\n', other.stdout)


class OptsTestCase(base.BaseTestCase):

    def test_list_opts_exports_coordination_options(self):
        groups = dict(opts.list_opts())
        names = {o.name: o for o in groups['coordination']}
        self.assertEqual({'backend_url', 'heartbeat',
                          'initial_reconnect_backoff', 'max_reconnect_backoff',
                          'backend_timeout', 'ledger_file'}, set(names))
        self.assertEqual('file://$state_path', names['backend_url'].default)
        self.assertTrue(names['backend_url'].secret)
        self.assertEqual(1.0, names['heartbeat'].default)
        self.assertEqual(0.1, names['initial_reconnect_backoff'].default)
        self.assertEqual(60.0, names['max_reconnect_backoff'].default)
        self.assertIn('state_path', {o.name for o in groups['DEFAULT']})
        for opt in names.values():
            self.assertGreater(len(opt.help), 80)

    def test_tooz_errors_stay_catchable_as_tooz_errors(self):
        for cls in (coordination.BackendUnavailable, coordination.LockLost,
                    coordination.LockAcquireFailed):
            self.assertTrue(issubclass(cls, tooz.ToozError))
