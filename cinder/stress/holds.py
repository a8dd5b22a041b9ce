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

"""Holding a service between the check of a step and the step.

Fencing tokens close the window between a lock check and the step it
guards: a holder whose check passed and who is then frozen past its lease
goes on when it wakes up, and only the storage can refuse it. To show
that, a validation tool must stop a real ``cinder-volume`` exactly there.

:class:`StepHoldHook` is the lock hook ``step-hold`` (``[coordination]
hooks = step-hold`` and ``[coordination] step_hold_dir``; validation
tools only, production services load no hook). :class:`StepHolds` is the
tool's side. They talk through files in the hold directory:

* ``armed-<verb>`` (JSON ``name``, ``skip``), written by the tool: hold
  the next step whose first word is *verb* (``commit``, ``rewrite`` ...)
  after *skip* others (a step under several locks counts once);
* the hook takes the hold by renaming that file (one thread of one
  process wins), writes ``waiting-<name>`` (JSON ``lock``, ``step``,
  ``pid``, ``t``: its monotonic clock) and waits in its ``checked`` call,
  that is after every lock of the step was confirmed and before the step,
  until ``go-<name>`` exists, or :data:`HOLD_LIMIT` seconds at most.

Nothing in the service is mocked or branched on: the hold is a hook.
"""

import json
import os
import threading
import time

from oslo_config import cfg

from cinder.coordination import exceptions
from cinder.coordination import hooks

#: Seconds a held step waits for the tool at most.
HOLD_LIMIT = 300.0
#: Seconds between two looks at the hold directory.
POLL = 0.01

step_hold_opts = [
    cfg.StrOpt('step_hold_dir',
               advanced=True,
               help='For validation tools such as cinder-aa-stress, not '
                    'for production: with [coordination] hooks = '
                    'step-hold, the directory where the tool arms holds. '
                    'A step whose verb is armed there waits, after its '
                    'lock check and before the step, until the tool lets '
                    'it go (at most 300 s). Costs one failed open per '
                    'checked step when nothing is armed.'),
]


def list_opts():
    """The step-hold hook's options, for oslo-config-generator."""
    return [('coordination', step_hold_opts)]


def _write(path, doc):
    """Write *doc* as JSON to *path* whole (a reader never sees half)."""
    with open(path + '.tmp', 'w') as f:
        json.dump(doc, f)
    os.rename(path + '.tmp', path)


def _read(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class StepHoldHook(hooks.LockHook):
    """The ``step-hold`` lock hook: the service's side (see module doc).

    :raises ConfigurationError: ``[coordination] step_hold_dir`` is not
        set or is not a directory.
    """

    def __init__(self, conf, member_id, clock=time.monotonic):
        conf.register_opts(step_hold_opts, group='coordination')
        self.directory = conf.coordination.step_hold_dir
        if not self.directory or not os.path.isdir(self.directory):
            raise exceptions.ConfigurationError(
                '[coordination] hooks = step-hold needs [coordination] '
                'step_hold_dir, an existing directory (not %r)' % (
                    self.directory,))
        self._clock = clock
        #: Per thread: [the step it is told of, the locks told of so far].
        self._told = threading.local()

    def _first_of_step(self, lock, step):
        """Is this the first call of a step (told once per lock)?"""
        current = getattr(self._told, 'step', None)
        if current is not None and current[0] == step and \
                lock not in current[1]:
            current[1].add(lock)
            return False
        self._told.step = (step, {lock})
        return True

    def checked(self, lock, step):
        if not self._first_of_step(lock, step):
            return      # another lock of the same step: counted once
        verb = step.split(' ', 1)[0]
        armed = os.path.join(self.directory, 'armed-' + verb)
        hold = _read(armed)
        if hold is None:
            return
        if hold['skip'] > 0:
            hold['skip'] -= 1
            _write(armed, hold)
            return
        try:
            os.rename(armed, '%s-taken-%d-%d' % (armed, os.getpid(),
                                                 threading.get_ident()))
        except OSError:
            return  # another thread or process took it first
        _write(os.path.join(self.directory, 'waiting-' + hold['name']),
               {'lock': lock.name, 'step': step, 'pid': os.getpid(),
                't': self._clock()})
        go = os.path.join(self.directory, 'go-' + hold['name'])
        deadline = time.monotonic() + HOLD_LIMIT
        waiting = threading.Event()
        while not os.path.exists(go) and time.monotonic() < deadline:
            waiting.wait(POLL)


class StepHolds(object):
    """The tool's side: arms holds in *directory* and lets them go."""

    def __init__(self, directory):
        self.directory = directory

    def _path(self, kind, name):
        return os.path.join(self.directory, '%s-%s' % (kind, name))

    def arm(self, verb, name, skip=0):
        """Hold the next step of *verb* after *skip* others, as *name*."""
        _write(self._path('armed', verb), {'name': name, 'skip': skip})

    def disarm(self, verb):
        """Take back the hold of *verb*; False if a step took it first."""
        try:
            os.unlink(self._path('armed', verb))
        except FileNotFoundError:
            return False
        return True

    def held(self, name):
        """What hold *name* holds (``lock``, ``step``, ``pid``), or None."""
        return _read(self._path('waiting', name))

    def wait_until_held(self, name, timeout, stop=None):
        """Wait up to *timeout* s for a step to be held as *name*.

        :returns: what :meth:`held` returns, None when the time is up or
            the :class:`threading.Event` *stop* is set.
        """
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        while True:
            held = self.held(name)
            if held is not None or time.monotonic() >= deadline:
                return held
            if stop.wait(POLL):
                return None

    def release(self, name):
        """Let the step held as *name* go on (now or when it is held)."""
        open(self._path('go', name), 'w').close()

    def release_all(self):
        """Let every held step go on."""
        for entry in os.listdir(self.directory):
            if entry.startswith('waiting-') and not entry.endswith('.tmp'):
                self.release(entry[len('waiting-'):])
