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

"""Hold one real ``qemu-img`` run at a gate, to order a race by hand.

A race between two volume services is only worth testing if the test
decides the interleaving. :class:`QemuImgGate` puts a ``qemu-img`` shim
first on the services' ``PATH``. The shim runs the real ``qemu-img``, but
when the test has armed a gate for its subcommand (``convert``,
``commit`` ...) the first run that matches stops before starting, tells
the test, and goes on only when the test releases it. Nothing in the
services is mocked: they run their real code and the real ``qemu-img``,
just later.
"""

import os
import shutil
import stat
import sys
import time

import fixtures

from cinder.stress import holds

GATE_DIR_ENV = 'CINDER_TEST_QEMU_GATE_DIR'
REAL_QEMU_IMG_ENV = 'CINDER_TEST_REAL_QEMU_IMG'
HOLD_LIMIT = 300.0

_SHIM = '''#!{python}
import json, os, sys, time
gates = os.environ['{gate_env}']
real = os.environ['{real_env}']
args = sys.argv[1:]
sub = args[0] if args else ''
armed = os.path.join(gates, 'armed-' + sub)
taken = os.path.join(gates, 'taken-%s-%d' % (sub, os.getpid()))
try:
    os.rename(armed, taken)
except OSError:
    pass
else:
    with open(taken) as f:
        name = f.read().strip()
    with open(os.path.join(gates, 'waiting-' + name + '.tmp'), 'w') as f:
        json.dump(args, f)
    os.rename(os.path.join(gates, 'waiting-' + name + '.tmp'),
              os.path.join(gates, 'waiting-' + name))
    deadline = time.monotonic() + {limit}
    go = os.path.join(gates, 'go-' + name)
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)
os.execv(real, [real] + args)
'''


def wait_for(predicate, timeout, what):
    """Poll ``predicate`` until it is true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %s s waiting for %s' %
                                 (timeout, what))
        time.sleep(0.02)


class GateDir(fixtures.Fixture):
    """The test's side of gates kept as files in ``self.gate_dir``.

    A held run writes ``waiting-<name>`` (JSON) and goes on once
    ``go-<name>`` exists, the protocol of the ``step-hold`` lock hook
    (:class:`cinder.stress.holds.StepHolds`); subclasses make the
    directory and arm gates.
    """

    def wait_until_held(self, name, timeout=60):
        """Wait until a run is held at gate ``name``; return its JSON."""
        held = holds.StepHolds(self.gate_dir).wait_until_held(name, timeout)
        if held is None:
            raise AssertionError('timed out after %s s waiting for a run to '
                                 'reach gate %s' % (timeout, name))
        return held

    def release(self, name):
        holds.StepHolds(self.gate_dir).release(name)

    def _release_all(self):
        holds.StepHolds(self.gate_dir).release_all()


class QemuImgGate(GateDir):
    """A ``qemu-img`` shim directory and its gates.

    :attr env: environment variables to give a service process.
    """

    def _setUp(self):
        real = shutil.which('qemu-img')
        if real is None:
            raise AssertionError('qemu-img is not installed (Debian '
                                 'qemu-utils)')
        root = self.useFixture(fixtures.TempDir()).path
        self.bin_dir = os.path.join(root, 'bin')
        self.gate_dir = os.path.join(root, 'gates')
        os.makedirs(self.bin_dir)
        os.makedirs(self.gate_dir)
        shim = os.path.join(self.bin_dir, 'qemu-img')
        with open(shim, 'w') as f:
            f.write(_SHIM.format(python=sys.executable, gate_env=GATE_DIR_ENV,
                                 real_env=REAL_QEMU_IMG_ENV,
                                 limit=HOLD_LIMIT))
        os.chmod(shim, os.stat(shim).st_mode | stat.S_IXUSR)
        self.env = {
            'PATH': self.bin_dir + os.pathsep + os.environ.get('PATH', ''),
            GATE_DIR_ENV: self.gate_dir,
            REAL_QEMU_IMG_ENV: real,
        }
        # Whatever happens to the test, never leave a run held.
        self.addCleanup(self._release_all)

    def arm(self, subcommand, name):
        """Hold the next ``qemu-img <subcommand>`` run, as gate ``name``."""
        path = os.path.join(self.gate_dir, 'armed-' + subcommand)
        with open(path + '.tmp', 'w') as f:
            f.write(name)
        os.rename(path + '.tmp', path)

    def disarm(self, subcommand):
        try:
            os.unlink(os.path.join(self.gate_dir, 'armed-' + subcommand))
        except FileNotFoundError:
            pass
