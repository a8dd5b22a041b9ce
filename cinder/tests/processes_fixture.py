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

"""A private registry of child processes for a test.

:class:`ChildProcessesFixture` installs a new
:class:`cinder.common.processes.Registry` as the process's ``REGISTRY``,
so that the commands the code under test runs are registered there and
nowhere else, hands the test each child as it starts (``started``), and
kills whatever child is still running at cleanup.
"""

import queue
import threading

import fixtures

from cinder.common import processes


class ChildProcessesFixture(fixtures.Fixture):
    """A fresh ``processes.REGISTRY``.

    Attributes: ``registry``; ``started``, a :class:`queue.Queue` of the
    :class:`~cinder.common.processes.Child` objects, in start order.
    """

    def _setUp(self):
        self.registry = processes.Registry()
        self.started = queue.Queue()
        self._children = []
        self.registry.on_start = self._on_start
        self.useFixture(fixtures.MockPatchObject(processes, 'REGISTRY',
                                                 self.registry))
        self.addCleanup(self.kill_leftovers)

    def _on_start(self, child):
        self._children.append(child)
        self.started.put(child)

    def doom(self, reason, thread=None):
        """Kill every child ``thread`` (this one by default) starts."""
        thread = thread or threading.current_thread()
        return self.registry.kill([thread], reason)

    def kill_leftovers(self):
        """Kill and reap the children still running (a failed test's)."""
        for child in self._children:
            if child._popen.poll() is None:
                child._popen.kill()
                child._popen.wait(60)
