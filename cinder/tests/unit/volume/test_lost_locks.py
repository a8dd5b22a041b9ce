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

"""Tests of what a volume service does when a held lock is lost."""

import logging
import threading

import fixtures
from oslo_concurrency import processutils

from cinder.common import processes
from cinder import coordination
from cinder.tests import processes_fixture
from cinder.tests.unit.common import test_processes
from cinder.tests.unit.coordination import fakes
from cinder.volume import lost_locks


class KillChildrenTestCase(fakes.CoordinationTestCase):
    """A fenced section's qemu-img is killed, the next request's is not."""

    url = 'redis://127.0.0.1:1'

    def setUp(self):
        super().setUp()
        self.fixture.config(group='coordination', heartbeat=3600)
        fixture = self.useFixture(processes_fixture.ChildProcessesFixture())
        self.registry = fixture.registry
        self.started = fixture.started
        self.start()
        self.coordinator.add_hook(lost_locks.KillChildren())
        self.gate = threading.Event()
        self.addCleanup(self.gate.set)
        self.warnings = self.useFixture(fixtures.FakeLogger(
            name=lost_locks.__name__, level=logging.WARNING))

    def section(self, name):
        """Under lock *name*: a long child, then wait for the gate."""
        def run():
            with self.coordinator.get_lock(name):
                try:
                    processes.execute(*test_processes.LONG)
                except processutils.ProcessExecutionError as e:
                    self.gate.wait(fakes.WAIT)
                    return e
        return test_processes.InThread(run)

    def test_the_child_of_a_fenced_section_is_killed(self):
        run = self.section('vol-1')
        child = self.started.get(timeout=fakes.WAIT)
        other = self.section('vol-2')
        bystander = self.started.get(timeout=fakes.WAIT)
        locks = {lock.name: lock for lock in self.coordinator._held_locks()}
        # vol-1 is past its deadline (lease 30 s, margin 1 s), vol-2 not.
        locks['cinder-vol-1'].asked_at = self.clock.now - 29
        locks['cinder-vol-2'].asked_at = self.clock.now
        self.coordinator._fence.check()
        self.gate.set()
        self.assertRaises(coordination.LockLost, run.result)
        self.assertIn('lock cinder-vol-1 was lost: fenced', child.killed)
        self.assertIsNone(bystander.killed)
        self.assertIn('Killed 1 child process(es) of %s, whose lock '
                      'cinder-vol-1 was lost: ' % run.thread.name,
                      self.warnings.output)
        bystander._popen.kill()
        self.assertNotIsInstance(other.result(), processes.ChildKilled)

    def test_the_holder_runs_children_again_after_the_section(self):
        lock = self.coordinator.get_lock('vol-1')
        lock.acquire()
        lock.asked_at -= 29
        self.coordinator._fence.check()
        # Still inside: a child it starts now is killed at once.
        self.assertRaises(processes.ChildKilled, processes.execute, 'true')
        self.assertRaises(coordination.LockLost, lock.release)
        # Out of the section: its next request's children run.
        processes.execute('true')
