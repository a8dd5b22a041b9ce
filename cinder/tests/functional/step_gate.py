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

"""Hold a volume service right after a lock check, before its step.

The check-then-act window is what fencing tokens close: a holder whose
check passed, frozen before its step, goes on when it wakes up. To test
that, a test must stop a real ``cinder-volume`` exactly there.
:class:`StepGateHook` is a lock hook (``[coordination] hooks =
step-gate``, loaded by stevedore only where a test configures it): when
the test has armed a gate for a step's verb (``commit``, ``rewrite`` ...),
the first matching step, after ``skip`` others, waits in the hook's
``checked`` call, that is after every lock was confirmed and before the
step, until the test releases it. :class:`StepGate` is the test's side.
Nothing in the service is mocked or branched on.
"""

import json
import os
import time

import fixtures

from cinder.coordination import hooks
from cinder.tests.functional import qemu_gate

GATE_DIR_ENV = 'CINDER_TEST_STEP_GATE_DIR'
#: Seconds a held step waits for the test at most.
HOLD_LIMIT = 300.0


class StepGateHook(hooks.LockHook):
    """The service's side: waits at an armed step (see the module doc)."""

    def __init__(self, conf, member_id, clock):
        self.gates = os.environ[GATE_DIR_ENV]

    def checked(self, lock, step):
        verb = step.split(' ', 1)[0]
        armed = os.path.join(self.gates, 'armed-' + verb)
        try:
            with open(armed) as f:
                gate = json.load(f)
        except (OSError, ValueError):
            return
        if gate['skip'] > 0:
            gate['skip'] -= 1
            _write(armed, gate)
            return
        try:
            os.rename(armed, '%s-taken-%d' % (armed, os.getpid()))
        except OSError:
            return
        _write(os.path.join(self.gates, 'waiting-' + gate['name']),
               {'lock': lock.name, 'step': step, 'pid': os.getpid()})
        go = os.path.join(self.gates, 'go-' + gate['name'])
        deadline = time.monotonic() + HOLD_LIMIT
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.01)


def _write(path, doc):
    with open(path + '.tmp', 'w') as f:
        json.dump(doc, f)
    os.rename(path + '.tmp', path)


class StepGate(qemu_gate.GateDir):
    """The test's side: a gate directory and its gates.

    :attr env: environment variables to give a service process, with
        ``[coordination] hooks = step-gate`` in its configuration.
    """

    def _setUp(self):
        self.gate_dir = self.useFixture(fixtures.TempDir()).path
        self.env = {GATE_DIR_ENV: self.gate_dir}
        # Whatever happens to the test, never leave a step held.
        self.addCleanup(self._release_all)

    def arm(self, verb, name, skip=0):
        """Hold the next step of *verb* after *skip* others, as *name*."""
        _write(os.path.join(self.gate_dir, 'armed-' + verb),
               {'name': name, 'skip': skip})
