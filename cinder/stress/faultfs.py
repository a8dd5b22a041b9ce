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

"""A fault-injecting FUSE file system, for tests and validation tools.

This kernel has no NFS client. To run the NFS driver unchanged against
NFS's failure modes, its share is a FUSE mount of a backing directory
through ``python -m cinder.stress.faultfs BACKING MOUNTPOINT --control
SOCKET`` (:mod:`cinder.stress.faultops`), whose faults are armed at run
time (:mod:`cinder.stress.faultrules`)::

    with faultfs.FaultFS.mount(backing, share) as fs:
        rule = fs.arm('link', 'volume-*', 'after', errno='EEXIST')
        ...                       # the driver's link fails, yet is done
        assert fs.fired(rule) == 1

:class:`FaultFS` starts the process, waits until the mount answers, and
on :meth:`FaultFS.stop` (the end of :meth:`FaultFS.mount`, however it
ends) unmounts it and stops the process by its pid. It needs
``/dev/fuse``, the ``mfusepy`` package, libfuse 3 (Debian ``fuse3``) and
root or ``fusermount3``: :func:`missing` names what is not there.
"""

import argparse
import contextlib
import ctypes.util
import importlib.util
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import cinder

#: The mount's type in /proc/self/mountinfo (``fuse.`` + fsname).
FSTYPE = 'fuse.cinder-faultfs'
#: Seconds the process may take to mount, or to exit once unmounted.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: Seconds a control request may take.
CONTROL_TIMEOUT = 30.0


class FaultFSError(Exception):
    """The file system did not start, answer or stop as asked."""


def missing():
    """What a mount needs and this machine lacks, with where to get it."""
    lacking = []
    if not os.path.exists('/dev/fuse'):
        lacking.append('/dev/fuse (a kernel with FUSE)')
    if importlib.util.find_spec('mfusepy') is None:
        lacking.append('mfusepy (pip, test-requirements.txt)')
    if ctypes.util.find_library('fuse3') is None:
        lacking.append('libfuse3 (Debian fuse3, tools/test-setup.sh)')
    if os.geteuid() != 0 and shutil.which('fusermount3') is None:
        lacking.append('fusermount3 (Debian fuse3, tools/test-setup.sh)')
    return lacking


def _unescape(field):
    # /proc/self/mountinfo writes space, tab, newline and \ as \ooo.
    out = bytearray()
    raw = os.fsencode(field)
    i = 0
    while i < len(raw):
        if raw[i:i + 1] == b'\\' and raw[i + 1:i + 4].isdigit():
            out.append(int(raw[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return os.fsdecode(bytes(out))


def parse_mounts(text):
    """Mount points of this file system in mountinfo *text*."""
    found = []
    for line in text.splitlines():
        fields = line.split(' ')
        if ' - ' not in line or len(fields) < 5:
            continue
        fstype = line.split(' - ', 1)[1].split(' ')[0]
        if fstype == FSTYPE:
            found.append(_unescape(fields[4]))
    return found


def mounts():
    """Where this file system is mounted now (also when its process died)."""
    with open('/proc/self/mountinfo') as f:
        return parse_mounts(f.read())


def is_mounted(mountpoint):
    return os.path.realpath(mountpoint) in mounts()


def _run(command):
    done = subprocess.run(command, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False,
                          timeout=STOP_TIMEOUT)
    return '%s: %s' % (' '.join(command),
                       done.stdout.decode('utf-8', 'replace').strip())


def unmount(mountpoint):
    """Unmount; detach lazily if busy. FaultFSError if it stays.

    Returns True when it had to detach lazily: the process then serves
    the files still open and does not exit by itself.
    """
    path = os.path.realpath(mountpoint)
    if not is_mounted(path):
        return False
    if os.geteuid() == 0:
        clean, lazy = ['umount', path], ['umount', '-l', path]
    else:
        clean = ['fusermount3', '-u', path]
        lazy = ['fusermount3', '-u', '-z', path]
    said = [_run(clean)]
    if not is_mounted(path):
        return False
    said.append(_run(lazy))
    if is_mounted(path):
        raise FaultFSError('%s is still mounted: %s'
                           % (path, '; '.join(said)))
    return True


class Control(object):
    """The control socket of one mount (:mod:`cinder.stress.faultrules`)."""

    def __init__(self, path):
        self.path = path

    def request(self, cmd, **fields):
        """Send one request; return the reply. FaultFSError if refused."""
        fields['cmd'] = cmd
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONTROL_TIMEOUT)
            sock.connect(self.path)
            sock.sendall((json.dumps(fields) + '\n').encode('utf-8'))
            with sock.makefile('rb') as reply:
                line = reply.readline()
        if not line:
            raise FaultFSError('the control socket %s closed without an '
                               'answer to %s' % (self.path, cmd))
        answer = json.loads(line.decode('utf-8'))
        if not answer.get('ok'):
            raise FaultFSError('%s refused: %s' % (cmd, answer.get('error')))
        return answer

    def arm(self, op, pattern, mode='before', errno=None, count=1,
            size=None):
        """Arm a rule (see :mod:`cinder.stress.faultrules`); its id.

        :param errno: a number or a name ("EEXIST"); EIO if None.
        :param count: calls it fires on; None for every call until it is
            disarmed.
        :param size: bytes a ``short`` write applies (half by default).
        """
        return self.request('arm', op=op, pattern=pattern, mode=mode,
                            errno=errno, count=count,
                            size=size)['rule']['rule']

    def fired(self, rule):
        """How many calls *rule* has failed or served so far."""
        return self.request('fired', rule=rule)['rule']['fired']

    def disarm(self, rule):
        """Remove *rule*; return its last description."""
        return self.request('disarm', rule=rule)['rule']

    def rules(self):
        """Every armed rule's description (``fired``, ``count`` left)."""
        return self.request('list')['rules']

    def clear(self):
        """Remove every rule; return how many there were."""
        return self.request('clear')['cleared']


class FaultFS(Control):
    """One mount of the file system and its process (by :meth:`start`)."""

    def __init__(self, backing, mountpoint, process, workdir):
        self.backing = backing
        self.mountpoint = os.path.realpath(mountpoint)
        self.process = process
        self.pid = process.pid
        self.workdir = workdir
        self.log_path = os.path.join(workdir, 'faultfs.log')
        self._stopped = False
        super().__init__(os.path.join(workdir, 'control'))

    @classmethod
    @contextlib.contextmanager
    def mount(cls, backing, mountpoint, timeout=START_TIMEOUT):
        """Mount *backing* on *mountpoint* for the ``with`` block."""
        fs = cls.start(backing, mountpoint, timeout)
        try:
            yield fs
        finally:
            fs.stop()

    @classmethod
    def start(cls, backing, mountpoint, timeout=START_TIMEOUT,
              new_session=False):
        """Start the process; return once the mount answers.

        Raises FaultFSError, with the process's own words, if it exits
        or does not mount within *timeout* seconds (it is stopped then).
        The caller must :meth:`stop` what this returns.

        :param new_session: start it in a session of its own, so that a
            Ctrl-C of the caller's terminal does not reach it: the caller
            stops it, after what uses the mount.
        """
        # In /tmp, not a test's deep temporary directory: a Unix socket
        # path has at most 107 bytes.
        workdir = tempfile.mkdtemp(prefix='faultfs-', dir='/tmp')
        top = os.path.dirname(os.path.dirname(
            os.path.abspath(cinder.__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [top, os.environ.get('PYTHONPATH')])))
        try:
            with open(os.path.join(workdir, 'faultfs.log'), 'wb') as log:
                process = subprocess.Popen(
                    [sys.executable, '-m', 'cinder.stress.faultfs', backing,
                     mountpoint, '--control',
                     os.path.join(workdir, 'control')],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=log, env=env, start_new_session=new_session)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        fs = cls(backing, mountpoint, process, workdir)
        try:
            fs._wait_ready(timeout)
        except BaseException:
            fs.stop()
            raise
        return fs

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        line = b''
        while not line.endswith(b'\n'):
            left = deadline - time.monotonic()
            ready, _w, _x = select.select([self.process.stdout], [], [],
                                          max(left, 0))
            if not ready:
                raise FaultFSError('%s was not mounted on %s within %s s: %s'
                                   % (self.backing, self.mountpoint,
                                      timeout, self.log()))
            chunk = os.read(self.process.stdout.fileno(), 64)
            if not chunk:
                self.process.wait(STOP_TIMEOUT)
                raise FaultFSError(
                    'faultfs exited with %s before mounting %s on %s: %s'
                    % (self.process.returncode, self.backing,
                       self.mountpoint, self.log()))
            line += chunk
        if line.strip() != b'ready' or not is_mounted(self.mountpoint):
            raise FaultFSError('faultfs said %r but %s is not mounted'
                               % (line, self.mountpoint))

    def log(self):
        """What the process wrote on stderr (its last 2000 characters)."""
        try:
            with open(self.log_path, 'rb') as f:
                return f.read()[-2000:].decode('utf-8', 'replace').strip()
        except OSError as e:
            return 'no log: %s' % e

    def stop(self):
        """Unmount, and stop the process by pid; safe to call again.

        A busy mount is detached lazily; a process still running
        :data:`STOP_TIMEOUT` seconds after the unmount gets SIGTERM, then
        SIGKILL. Raises FaultFSError if the mount stays.
        """
        if self._stopped:
            return
        self._stopped = True
        lazy = True
        try:
            lazy = unmount(self.mountpoint)
        finally:
            self._end_process(wait_first=not lazy)
            # A killed process leaves its mount behind, disconnected.
            unmount(self.mountpoint)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _end_process(self, wait_first):
        signals = (None, signal.SIGTERM, signal.SIGKILL)
        for sig in signals if wait_first else signals[1:]:
            if sig is not None and self.process.poll() is None:
                os.kill(self.pid, sig)
            try:
                self.process.wait(STOP_TIMEOUT)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process.stdout.close()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m cinder.stress.faultfs',
        description='Mount BACKING on MOUNTPOINT through a fault-injecting '
                    'FUSE pass-through; arm faults through --control. '
                    'Prints "ready" once mounted; stops when unmounted.')
    parser.add_argument('backing', metavar='BACKING')
    parser.add_argument('mountpoint', metavar='MOUNTPOINT')
    parser.add_argument('--control', required=True, metavar='SOCKET',
                        help='Unix socket path of the control protocol')
    parser.add_argument('--debug', action='store_true',
                        help="libfuse's request trace on stderr")
    args = parser.parse_args(argv)
    # mfusepy loads libfuse 2 when both are installed, unless told.
    os.environ.setdefault('FUSE_LIBRARY_NAME', 'fuse3')
    from cinder.stress import faultops
    return faultops.serve(args.backing, args.mountpoint, args.control,
                          debug=args.debug)


if __name__ == '__main__':
    sys.exit(main())
