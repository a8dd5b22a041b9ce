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

"""Tests of the bounded calls to the lock backend."""

import inspect
import os
import sys
import threading

from oslotest import base

from cinder import coordination
from cinder.coordination.backends import base as backend_base
from cinder.coordination import bounded
from cinder.tests.unit.coordination import fakes

BOUNDED_SOURCE = os.path.splitext(bounded.__file__)[0]


def _in_bounded(frame):
    return os.path.splitext(frame.f_code.co_filename)[0] == BOUNDED_SOURCE


class Preempter(object):
    """Pauses the helper thread at its *k*-th line after the call returns.

    Installed from inside the call, in the helper thread: every line that
    cinder/coordination/bounded.py runs from then on (in the frame that
    made the call and in the frames it calls) is counted, and the thread
    stops before the *k*-th until :attr:`resume` is set. This reproduces,
    deterministically, the helper being preempted at any point of its
    hand-over while the caller decides to give up.
    """

    def __init__(self, k):
        self.k = k
        self.lines = 0
        self.top = None
        self.stopped = threading.Event()   # paused at k, or finished
        self.paused = False
        self.resume = threading.Event()
        self.finished = threading.Event()

    def install(self):
        self.top = inspect.currentframe().f_back.f_back
        assert _in_bounded(self.top), self.top
        self.top.f_trace = self._local
        sys.settrace(self._global)

    def _global(self, frame, event, arg):
        return self._local if _in_bounded(frame) else None

    def _local(self, frame, event, arg):
        if event == 'line':
            self.lines += 1
            if self.lines == self.k:
                self.paused = True
                self.stopped.set()
                assert self.resume.wait(fakes.WAIT)
        elif event == 'return' and frame is self.top:
            sys.settrace(None)
            self.finished.set()
            self.stopped.set()
        return self._local


class HandOverTestCase(base.BaseTestCase):
    """The caller's "give up" and the helper's "done" are one decision."""

    def setUp(self):
        super().setUp()
        self.backend = backend_base.Backend('zookeeper://127.0.0.1:1', 0.01)

    def _race(self, k):
        """Give up just as the helper is at its k-th line after the call.

        Returns (returned, undone, paused): whether run_bounded returned
        the call's value, whether undo ran, whether line k was reached.
        """
        preempter = Preempter(k)
        undone = threading.Event()
        deciding = threading.Event()

        def call():
            preempter.install()
            # The call finishes while the caller is deciding to give up.
            self.assertTrue(deciding.wait(fakes.WAIT))
            return True   # e.g. the lock was acquired

        def expired():
            deciding.set()
            # The deadline passes while the helper stands at line k (or
            # once it has finished, when it has fewer lines than k).
            self.assertTrue(preempter.stopped.wait(fakes.WAIT))
            return True

        try:
            returned = bounded.run_bounded(
                'Acquiring lock x', self.backend, call, undo=undone.set,
                expired=expired, reason='test deadline')
        except coordination.BackendUnavailable:
            returned = False
        preempter.resume.set()
        self.assertTrue(preempter.finished.wait(fakes.WAIT))
        return returned, undone.is_set(), preempter.paused

    def test_value_returned_xor_undone_wherever_the_helper_stops(self):
        for k in range(1, 200):
            returned, undone, paused = self._race(k)
            # Either the caller got the lock and it stays held, or the
            # caller gave up and the helper released it: never both (a
            # body running unlocked), never neither (a lock leaked).
            self.assertNotEqual(
                returned, undone,
                'helper preempted at its line %d after the call: value '
                'returned to the caller: %s, undo run: %s' % (
                    k, returned, undone))
            if not paused:
                break
        else:
            self.fail('the helper never finished')


class PoolTestCase(base.BaseTestCase):
    """Helper threads are reused, and those left behind are bounded."""

    def setUp(self):
        super().setUp()
        self.backend = backend_base.Backend('zookeeper://127.0.0.1:1', 0.01)

    def _hang(self, pool, release, undone):
        """A call that hangs until *release*; its caller gives up."""
        running = threading.Event()

        def call():
            running.set()
            self.assertTrue(release.wait(fakes.WAIT))
            return True

        def expired():
            return running.is_set()

        self.assertRaises(coordination.BackendUnavailable,
                          bounded.run_bounded, 'Acquiring lock x',
                          self.backend, call, undo=undone.set,
                          expired=expired, reason='no connection',
                          pool=pool)

    def test_calls_reuse_the_helper_thread(self):
        threads = []

        def call():
            threads.append(threading.current_thread())
            return True

        # Time enough for a loaded machine: a call that ran past its
        # bound would leave its thread behind, and the next start one.
        patient = backend_base.Backend('zookeeper://127.0.0.1:1',
                                       fakes.WAIT)
        for _ in range(3):
            self.assertTrue(bounded.run_bounded('Acquiring lock x',
                                                patient, call))
        self.assertNotIn(threading.current_thread(), threads)
        self.assertEqual(1, len(set(threads)),
                         'one thread started per call: %s' % threads)

    def test_calls_left_behind_are_bounded(self):
        pool = bounded.CallPool(max_abandoned=2)
        release = threading.Event()
        self.addCleanup(release.set)
        undone = [threading.Event(), threading.Event()]
        for event in undone:
            self._hang(pool, release, event)
        self.assertEqual(2, pool.abandoned)
        # Every slot is taken by a call stuck on the server: the next call
        # waits for one within its own bound, then fails, and never runs.
        ran = threading.Event()
        checks = []

        def expired():
            checks.append(1)
            return len(checks) > 2

        exc = self.assertRaises(
            coordination.BackendUnavailable, bounded.run_bounded,
            'Acquiring lock y', self.backend, ran.set, expired=expired,
            reason='no connection', pool=pool)
        self.assertIn('Acquiring lock y failed', str(exc))
        self.assertIn('2 earlier calls to the lock backend have not '
                      'returned after their callers gave up', str(exc))
        self.assertEqual(2, pool.threads)
        # The stuck calls return once the server answers: each is undone
        # and frees its slot for the next calls.
        release.set()
        for event in undone:
            self.assertTrue(event.wait(fakes.WAIT))
        patient = backend_base.Backend('zookeeper://127.0.0.1:1', fakes.WAIT)
        self.assertTrue(bounded.run_bounded('Acquiring lock z', patient,
                                            lambda: True, pool=pool))
        self.assertFalse(ran.is_set())

    def test_a_call_given_up_before_it_started_never_runs(self):
        handed = []

        class HeldPool(bounded.CallPool):
            # The helper is slow to pick the call up.
            def submit(self, call):
                handed.append(call)

        ran = threading.Event()
        self.assertRaises(coordination.BackendUnavailable,
                          bounded.run_bounded, 'Acquiring lock x',
                          self.backend, ran.set, expired=lambda: True,
                          reason='no connection', pool=HeldPool())
        handed[0].run()
        self.assertFalse(ran.is_set())

    def test_idle_threads_exit(self):
        pool = bounded.CallPool(idle_seconds=0.01)
        worker = []

        def call():
            worker.append(threading.current_thread())
            return True

        bounded.run_bounded('Acquiring lock x', self.backend, call,
                            pool=pool)
        worker[0].join(fakes.WAIT)
        self.assertFalse(worker[0].is_alive())
        self.assertEqual(0, pool.threads)
        bounded.run_bounded('Acquiring lock x', self.backend, call,
                            pool=pool)
        self.assertEqual(1, pool.threads)
