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

"""Unit tests of the registry of child processes, with real children."""

import queue
import signal
import subprocess
import sys
import threading

import fixtures
from oslo_concurrency import processutils
from oslotest import base

from cinder.common import processes
from cinder.tests import processes_fixture

#: A child that runs until it is killed (bounded, should a test fail).
LONG = (sys.executable, '-c', 'import time; time.sleep(120)')


class InThread(object):
    """Run ``call`` in its own thread; ``result()`` returns or raises."""

    def __init__(self, call):
        self._outcome = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(call,),
                                       daemon=True)
        self.thread.start()

    def _run(self, call):
        try:
            self._outcome.put((True, call()))
        except BaseException as e:
            self._outcome.put((False, e))

    def result(self, timeout=60):
        ok, value = self._outcome.get(timeout=timeout)
        if not ok:
            raise value
        return value


class RegistryTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        fixture = self.useFixture(processes_fixture.ChildProcessesFixture())
        self.registry = fixture.registry
        self.started = fixture.started

    def start_long(self, **kwargs):
        """A LONG child in a thread of its own; (InThread, Child)."""
        run = InThread(lambda: self.registry.execute(*LONG, **kwargs))
        return run, self.started.get(timeout=60)

    def test_a_child_is_registered_while_it_runs(self):
        out, _err = self.registry.execute(sys.executable, '-c',
                                          'print("hello")')
        self.assertEqual('hello\n', out)
        child = self.started.get_nowait()
        self.assertEqual(threading.current_thread(), child.thread)
        self.assertIn('print("hello")', child.command)
        self.assertEqual([], self.registry.running())

    def test_killed_child_fails_its_call_with_the_reason(self):
        run, child = self.start_long()
        self.assertEqual([child], self.registry.running([run.thread]))
        killed = self.registry.kill([run.thread], 'the service is stopping')
        self.assertEqual([child], killed)
        error = self.assertRaises(processes.ChildKilled, run.result)
        self.assertIsInstance(error, processutils.ProcessExecutionError)
        self.assertEqual('the service is stopping', error.reason)
        self.assertIn('killed: the service is stopping', str(error))
        self.assertEqual(-signal.SIGKILL, error.exit_code)
        self.assertEqual([], self.registry.running())

    def test_killed_child_fails_even_if_its_exit_code_is_accepted(self):
        run, _child = self.start_long(check_exit_code=False)
        self.registry.kill([run.thread], 'stopping')
        self.assertRaises(processes.ChildKilled, run.result)

    def test_a_child_started_after_the_kill_is_killed_at_once(self):
        gate = threading.Event()

        def late():
            gate.wait(60)
            return self.registry.execute(*LONG)

        run = InThread(late)
        self.assertEqual([], self.registry.kill([run.thread], 'stopping'))
        gate.set()
        child = self.started.get(timeout=60)
        self.assertEqual('stopping', child.killed)
        error = self.assertRaises(processes.ChildKilled, run.result)
        self.assertEqual('stopping', error.reason)

    def test_a_pardoned_thread_runs_children_again(self):
        self.registry.kill([threading.current_thread()], 'lock lost')
        self.assertRaises(processes.ChildKilled, self.registry.execute,
                          'true')
        self.registry.pardon(threading.current_thread())
        self.registry.execute('true')

    def test_other_threads_children_are_left_alone(self):
        run, child = self.start_long()
        other = threading.Thread(target=lambda: None)
        self.assertEqual([], self.registry.kill([other], 'stopping'))
        self.assertEqual([child], self.registry.running())
        self.assertIsNone(child.killed)
        # And this thread's own commands still run.
        self.registry.execute('true')

    def test_a_child_past_its_timeout_is_killed_and_reaped(self):
        log = self.useFixture(fixtures.FakeLogger(
            name='cinder.common.processes'))
        self.assertRaises(subprocess.TimeoutExpired, self.registry.execute,
                          *LONG, timeout=0.2)
        child = self.started.get_nowait()
        self.assertIsNotNone(child._popen.returncode)
        self.assertEqual([], self.registry.running())
        self.assertIn('its timeout passed', log.output)

    def test_callers_hooks_are_still_called(self):
        seen = []
        self.registry.execute('true', on_execute=lambda p: seen.append('x'),
                              on_completion=lambda p: seen.append('c'))
        self.assertEqual(['x', 'c'], seen)

    def test_module_execute_uses_the_registry_of_the_time(self):
        processes.execute('true')
        self.assertEqual('true', self.started.get_nowait().command)
