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


"""Processes of servers, seen through /proc: alive, stopped, what they use."""

import ctypes
import ctypes.util
import os
import signal
import time

from cinder.stress.lockservers import common

LOG = common.LOG

_PR_SET_PDEATHSIG = 1


def open_file_targets(pid):
    """What the descriptors of process ``pid`` point at, from /proc.

    A list of ``readlink()`` results (paths, ``socket:[inode]``...); a
    descriptor closed while it is read is skipped. None when the
    process's descriptors cannot be listed (it is gone, or no /proc).
    """
    fd_dir = '/proc/%d/fd' % pid
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return None
    targets = []
    for fd in fds:
        try:
            targets.append(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            continue
    return targets


def _pid_state(pid):
    """The state letter of ``pid`` (R, S, T, Z...), or None if it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
        return stat.rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return '?'


def threads_stopped(pid):
    """Whether every thread of ``pid`` is stopped (or gone).

    A SIGSTOP is delivered to each thread of a process on its own: a
    thread running on another CPU may answer one more request before it
    stops. Without ``/proc``, True.
    """
    try:
        tasks = os.listdir('/proc/%d/task' % pid)
    except FileNotFoundError:
        return True
    except OSError:
        return True
    return all(_pid_state(int(task)) in (None, 'T', 't', 'Z', 'X')
               for task in tasks)


def pid_alive(pid):
    """Whether ``pid`` runs (a zombie does not)."""
    return _pid_state(pid) not in (None, 'Z', 'X')


def pid_cmdline(pid):
    """The command line of ``pid`` as a list, empty if unknown."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode('utf-8', 'replace') for a in raw.split(b'\0') if a]


def pid_uses_dir(pid, path):
    """Whether process ``pid`` runs in ``path`` or names it in its argv.

    Servers are started with their data dir as working directory (Redis
    rewrites its command line, so that alone would not tell).
    """
    path = os.path.realpath(path)
    try:
        if os.path.realpath(os.readlink('/proc/%d/cwd' % pid)) == path:
            return True
    except OSError:
        pass
    return any(path in arg for arg in pid_cmdline(pid))


def wait_pid_gone(pid, timeout):
    """Wait at most ``timeout`` seconds for ``pid`` to end; True if it did."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(common.POLL_INTERVAL)
    return True


def stop_pid(pid, timeout=10.0, data_dir=None):
    """Stop a server process that is not our child (tools/lock-servers).

    SIGTERM (and SIGCONT, in case it is paused) to its process group, a
    bounded wait, then SIGKILL.  If ``data_dir`` is given, the process is
    left alone unless :func:`pid_uses_dir` (a guard against a recycled
    pid).

    :returns: True if a process was stopped, False if none was running.
    """
    if not pid_alive(pid):
        return False
    if data_dir is not None and not pid_uses_dir(pid, data_dir):
        LOG.warning('pid %d is not the server of %s; not stopping it',
                    pid, data_dir)
        return False

    def send(sig):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    send(signal.SIGTERM)
    send(signal.SIGCONT)
    if not wait_pid_gone(pid, timeout):
        LOG.warning('pid %d ignored SIGTERM for %.1fs; killing it',
                    pid, timeout)
        send(signal.SIGKILL)
        if not wait_pid_gone(pid, common.KILL_TIMEOUT):
            raise common.LockServerError('pid %d survived SIGKILL' % pid)
    return True


def set_pdeathsig():
    """preexec_fn factory: SIGKILL the child when its parent dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6',
                           use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec():
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent already died
            os._exit(1)
    return preexec


def tail(path, max_lines=25, max_bytes=8192):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError as exc:
        return '(no log: %s)' % exc
    lines = data.decode('utf-8', 'replace').splitlines()[-max_lines:]
    return '\n'.join(lines)
