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

"""The child processes of the service, so that a stop can kill them.

The commands the drivers run (``qemu-img``, ``tgtadm``) go through
:func:`execute`, a drop-in for :func:`oslo_concurrency.processutils.execute`
that records every child process with the thread that started it, from
the moment it exists until it has been reaped. When a stopping service
gives up waiting for its requests, it calls :meth:`Registry.kill` with the
threads of the requests still running: their children get ``SIGKILL``,
and so does any child those threads start afterwards, so that no command
outlives the locks it runs under. The call that ran a killed child raises
:class:`ChildKilled`, whatever its exit code, so a request that was cut off
never reports success.

``SIGKILL``, not ``SIGTERM``: ``cinder-volume`` blocks ``SIGTERM`` and
``SIGINT`` in every thread (see :mod:`cinder.cmd.volume`), and children
inherit the blocked mask, so a ``SIGTERM`` would only stay pending. That
is also why the init system's ``SIGTERM`` to the whole control group does
not cut the children short while the service waits for them.

This module is below the drivers and imports nothing of the service.
"""

import subprocess
import threading
import time
import weakref

from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_utils import strutils

LOG = logging.getLogger(__name__)

#: Seconds to wait for a child killed after its ``timeout`` to be reaped.
REAP_TIMEOUT = 10.0


class ChildKilled(processutils.ProcessExecutionError):
    """The command's process was killed by :meth:`Registry.kill`.

    A :class:`ProcessExecutionError`, so that callers that handle a failed
    command handle this one too; ``reason`` says why it was killed.
    """

    def __init__(self, command, reason, exit_code=None, stdout=None,
                 stderr=None):
        super().__init__(stdout=stdout, stderr=stderr, exit_code=exit_code,
                         cmd=command,
                         description='killed: %s' % reason)
        self.reason = reason


class Child(object):
    """One running child process.

    :ivar pid: its process id.
    :ivar command: its command line, passwords masked.
    :ivar thread: the :class:`threading.Thread` that started it.
    :ivar started: ``time.monotonic()`` when it was registered.
    :ivar killed: why :meth:`Registry.kill` killed it, or None.
    """

    def __init__(self, popen, command, thread):
        self.pid = popen.pid
        self.command = command
        self.thread = thread
        self.started = time.monotonic()
        self.killed = None
        self._popen = popen

    def __repr__(self):
        return '<Child %d %s>' % (self.pid, self.command)

    def describe(self, now=None):
        now = time.monotonic() if now is None else now
        return '%s (pid %d, running %.1f s)' % (self.command, self.pid,
                                                now - self.started)


class Registry(object):
    """The running children of this process, by the thread that started them.

    :ivar on_start: test hook: called with each :class:`Child` once it is
        registered (and, if its thread was doomed, killed), in the thread
        that started it. Production code leaves it None.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._children = set()
        #: Thread -> why its children are killed.
        self._doomed = weakref.WeakKeyDictionary()
        self.on_start = None

    def execute(self, *cmd, **kwargs):
        """:func:`processutils.execute`, with the child registered.

        Takes the same arguments (``on_execute`` and ``on_completion`` are
        still called). A child still running when ``timeout`` passes is
        killed and reaped before ``subprocess.TimeoutExpired`` is raised:
        the caller has given up on it, and nobody else would end it.

        :raises ChildKilled: :meth:`kill` killed the child, even if the
            command's exit code would have been accepted.
        :raises ProcessExecutionError, OSError, TimeoutExpired: as
            ``processutils.execute``.
        """
        thread = threading.current_thread()
        command = strutils.mask_password(' '.join(str(c) for c in cmd))
        their_start = kwargs.pop('on_execute', None)
        their_end = kwargs.pop('on_completion', None)
        current = []
        killed = []

        def started(popen):
            child = self._register(popen, command, thread)
            current.append(child)
            if their_start is not None:
                their_start(popen)
            hook = self.on_start
            if hook is not None:
                hook(child)

        def completed(popen):
            try:
                if their_end is not None:
                    their_end(popen)
            finally:
                child = current.pop()
                if not self._forget(child, popen):
                    killed.append(child)

        try:
            result = processutils.execute(*cmd, on_execute=started,
                                          on_completion=completed, **kwargs)
        except processutils.ProcessExecutionError as e:
            if killed:
                raise ChildKilled(command, killed[-1].killed, e.exit_code,
                                  e.stdout, e.stderr) from None
            raise
        if killed:
            stdout, stderr = (result if isinstance(result, tuple)
                              else (None, None))
            raise ChildKilled(command, killed[-1].killed, None, stdout,
                              stderr)
        return result

    def _register(self, popen, command, thread):
        child = Child(popen, command, thread)
        with self._lock:
            self._children.add(child)
            reason = self._doomed.get(thread)
            if reason is not None:
                self._kill(child, reason)
        return child

    def _forget(self, child, popen):
        """Unregister ``child``; False if it was killed by :meth:`kill`.

        A child still running (its ``timeout`` passed) is killed and
        reaped first.
        """
        if popen.poll() is None:
            LOG.warning('Killing %s: its timeout passed', child.describe())
            popen.kill()
            try:
                popen.wait(REAP_TIMEOUT)
            except subprocess.TimeoutExpired:
                LOG.error('%s did not exit %s s after SIGKILL',
                          child.describe(), REAP_TIMEOUT)
        with self._lock:
            self._children.discard(child)
            return child.killed is None

    @staticmethod
    def _kill(child, reason):
        child.killed = reason
        try:
            # Popen.kill() polls first: a child already reaped is not
            # signalled (its pid may be another process's by now).
            child._popen.kill()
        except OSError as e:
            LOG.warning('Cannot kill %s: %s', child.describe(), e)

    def running(self, threads=None):
        """The children running now, oldest first; of ``threads`` if given."""
        with self._lock:
            children = [c for c in self._children
                        if threads is None or c.thread in threads]
        return sorted(children, key=lambda c: c.started)

    def kill(self, threads, reason):
        """``SIGKILL`` the children of ``threads``, now and from now on.

        :param threads: the :class:`threading.Thread` objects whose
            children to kill: a child any of them starts later is killed
            as soon as it is registered.
        :param reason: why, for the :class:`ChildKilled` error of the
            calls that ran them.
        :returns: the :class:`Child` objects killed now.
        """
        with self._lock:
            threads = set(threads)
            for thread in threads:
                self._doomed[thread] = reason
            victims = [c for c in self._children
                       if c.thread in threads and c.killed is None]
            for child in victims:
                self._kill(child, reason)
        return sorted(victims, key=lambda c: c.started)

    def pardon(self, thread):
        """Let the children *thread* starts from now on run again.

        Ends what :meth:`kill` began for *thread*; children already
        killed stay killed.
        """
        with self._lock:
            self._doomed.pop(thread, None)


#: The registry of this process.
REGISTRY = Registry()


def execute(*cmd, **kwargs):
    """:meth:`Registry.execute` of :data:`REGISTRY`, read at call time."""
    return REGISTRY.execute(*cmd, **kwargs)
