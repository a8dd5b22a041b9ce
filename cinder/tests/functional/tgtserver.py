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

"""A real tgtd (Linux SCSI target daemon) for functional tests.

It plays the storage array of the ``tgt`` volume driver. Each instance runs
in userspace, in the foreground, as a child process in a session of its
own, with:

* a management channel of its own: a random ``--control-port`` N, which
  selects the socket ``/var/run/tgtd/socket.N`` (tgtd refuses to start on
  an N another tgtd holds, and the fixture then retries with another);
* an iSCSI portal on 127.0.0.1 and a free port;
* a data directory holding its log (``server.log``) and a ``volumes``
  directory for the volume files.

Typical use::

    tgt = self.useFixture(tgtserver.TgtServer())
    conf.set_override('tgt_control_port', tgt.control_port)
    conf.set_override('tgt_portal', tgt.portal)
    conf.set_override('tgt_volumes_dir', tgt.volumes_dir)
    print(tgt.tgtadm('--op', 'show', '--mode', 'target'))

Measured with tgt 1.0.85: SIGTERM does not stop tgtd, and ``tgtadm --op
delete --mode system`` refuses while a target exists. Stopping therefore
deletes every target (``--force``), then asks tgtd to exit, and sends
SIGKILL if it is still there after ``stop_timeout``. A portal port that is
already taken does not make tgtd exit either (it only logs it), so the
start checks that the portal is bound and retries with other ports if not.

``CINDER_TEST_REQUIRE_SERVERS`` set (as in CI): missing tgt binaries fail
the test instead of skipping it. Run tools/test-setup.sh to install them.
"""

import os
import random
import shutil
import subprocess
import threading
import time
import unittest

import fixtures

from cinder.stress import lockservers

SOCKET_DIR = '/var/run/tgtd'
SETUP_HINT = 'run tools/test-setup.sh to install tgt'
_CONTROL_PORT_RANGE = (10000, 32767)  # tgtd refuses more
_random = random.SystemRandom()
_allocated_control_ports = set()
_allocated_lock = threading.Lock()


class TgtUnavailable(lockservers.LockServerUnavailable):
    """tgtd or tgtadm is not installed."""


def _which(name):
    # /usr/sbin is not on the PATH of every user.
    found = shutil.which(name)
    if found:
        return found
    for directory in ('/usr/sbin', '/sbin', '/usr/local/sbin'):
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def socket_path(control_port):
    return os.path.join(SOCKET_DIR, 'socket.%d' % control_port)


def pick_control_port():
    """A control port whose socket does not exist right now.

    Not reserved: tgtd itself refuses an N that another tgtd holds (it
    exits with status 1) and :meth:`TgtDaemon.start` then retries.
    """
    low, high = _CONTROL_PORT_RANGE
    with _allocated_lock:
        for _attempt in range(200):
            n = _random.randint(low, high)
            if (n not in _allocated_control_ports and
                    not os.path.exists(socket_path(n))):
                _allocated_control_ports.add(n)
                return n
    raise lockservers.LockServerError('no free tgtd control port found')


def check_available():
    """Skip the test, or fail if servers are required, without tgt.

    :raises unittest.SkipTest: tgtd or tgtadm is missing.
    :raises TgtUnavailable: the same, with ``CINDER_TEST_REQUIRE_SERVERS``
        set.
    """
    missing = TgtDaemon.missing()
    if not missing:
        return
    message = 'tgt not available (missing: %s)' % ', '.join(missing)
    if lockservers.env_flag(lockservers.REQUIRE_ENV):
        raise TgtUnavailable('%s; %s is set: %s' % (
            message, lockservers.REQUIRE_ENV, SETUP_HINT))
    raise unittest.SkipTest('%s; %s' % (message, SETUP_HINT))


class TgtDaemon(lockservers.LockServer):
    """A tgtd process: ``port`` is its iSCSI portal port.

    ``control_port`` is chosen on the first start and kept across
    restarts, like the portal port.
    """

    kind = 'tgt'
    scheme = 'iscsi'
    default_start_timeout = 20.0

    def __init__(self, control_port=None, **kwargs):
        super(TgtDaemon, self).__init__(**kwargs)
        self.control_port = control_port
        self._fixed_control_port = control_port is not None
        self._channel_owned = False

    @classmethod
    def missing(cls):
        return [name for name in ('tgtd', 'tgtadm') if not _which(name)]

    @property
    def portal(self):
        return '%s:%d' % (self.host, self.port)

    @property
    def volumes_dir(self):
        if self.data_dir is None:
            return None
        return os.path.join(self.data_dir, 'volumes')

    def _assign_ports(self):
        super(TgtDaemon, self)._assign_ports()
        if self.control_port is None:
            self.control_port = pick_control_port()

    def _reset_data(self):
        # A start that failed is retried with a fresh control port too:
        # the failure may be another tgtd holding this one.
        if not self._fixed_control_port:
            self.control_port = None

    def _owns_control_channel(self, pid):
        """Whether ``pid`` holds the lock file of our control port.

        tgtd keeps ``socket.N.lock`` open (and locked) for its lifetime;
        another tgtd answering on the same socket does not.
        """
        # /var/run is usually a link to /run.
        lock_path = os.path.realpath(socket_path(self.control_port) + '.lock')
        targets = lockservers.open_file_targets(pid)
        if targets is None:
            return not os.path.isdir('/proc/self/fd')
        return any(os.path.realpath(t) == lock_path for t in targets)

    def _command(self):
        os.makedirs(SOCKET_DIR, exist_ok=True)
        os.makedirs(self.volumes_dir, exist_ok=True)
        return [_which('tgtd') or 'tgtd', '--foreground',
                '--control-port', str(self.control_port),
                '--iscsi', 'portal=%s' % self.portal]

    def tgtadm(self, *args, timeout=10.0, check=True):
        """Run ``tgtadm -C <control_port> --lld iscsi <args>``; stdout."""
        argv = [_which('tgtadm') or 'tgtadm', '-C', str(self.control_port),
                '--lld', 'iscsi'] + list(args)
        result = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=timeout,
                                universal_newlines=True)
        if check and result.returncode != 0:
            raise lockservers.LockServerError(
                '%s failed with status %d: %s' % (
                    ' '.join(argv), result.returncode,
                    result.stderr.strip()))
        return result.stdout

    def show(self):
        """``tgtadm --op show --mode target`` output."""
        return self.tgtadm('--op', 'show', '--mode', 'target')

    def ping(self, timeout=1.0):
        try:
            self.tgtadm('--op', 'show', '--mode', 'target',
                        timeout=max(timeout, 0.5))
        except (lockservers.LockServerError, OSError,
                subprocess.TimeoutExpired):
            return False
        return True

    def _portal_listed(self):
        try:
            out = self.tgtadm('--op', 'show', '--mode', 'portal')
        except (lockservers.LockServerError, OSError,
                subprocess.TimeoutExpired):
            return False
        return any(line.split(':', 1)[-1].strip().startswith(self.portal)
                   for line in out.splitlines()
                   if line.strip().startswith('Portal:'))

    def _wait_until_serving(self):
        # tgtd answers on its socket even when it could not bind the
        # portal; such a start is retried with other ports.
        deadline = time.monotonic() + self.start_timeout
        process = self._process
        while True:
            if process.poll() is not None:
                exc = lockservers.LockServerError(
                    'tgtd (control port %s, portal %s) exited with status '
                    '%s while starting; log %s ends with:\n%s' % (
                        self.control_port, self.portal, process.returncode,
                        self.log_file, self.log_tail()))
                exc.exited_early = True
                raise exc
            if self._owns_control_channel(process.pid) and self.ping():
                self._channel_owned = True
                if self._portal_listed() and self._owns_ports():
                    return
                exc = lockservers.LockServerError(
                    'tgtd (control port %s) could not listen on portal %s; '
                    'log %s ends with:\n%s' % (
                        self.control_port, self.portal, self.log_file,
                        self.log_tail()))
                exc.exited_early = True  # retry with other ports
                raise exc
            if time.monotonic() >= deadline:
                raise lockservers.LockServerError(
                    'tgtd (pid %d, control port %s) did not answer within '
                    '%.1fs; log %s ends with:\n%s' % (
                        process.pid, self.control_port, self.start_timeout,
                        self.log_file, self.log_tail()))
            try:
                process.wait(timeout=lockservers.POLL_INTERVAL)
            except subprocess.TimeoutExpired:
                pass

    def _terminate(self, graceful=True):
        process = self._process
        if graceful and process is not None and process.poll() is None:
            self._shutdown(process)
        super(TgtDaemon, self)._terminate(graceful=False)
        self._remove_socket()

    def _shutdown(self, process):
        """Delete every target, then ask tgtd to exit; bounded."""
        try:
            targets = [line.split(':', 1)[0].split()[1]
                       for line in self.show().splitlines()
                       if line.startswith('Target ')]
            for tid in targets:
                self.tgtadm('--op', 'delete', '--force', '--mode', 'target',
                            '--tid', tid, check=False)
            subprocess.run([_which('tgtadm') or 'tgtadm', '-C',
                            str(self.control_port), '--op', 'delete',
                            '--mode', 'system'],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)
            process.wait(timeout=self.stop_timeout)
        except (lockservers.LockServerError, OSError, IndexError,
                subprocess.TimeoutExpired):
            lockservers.LOG.warning('tgtd (pid %d) did not shut down; '
                                    'killing it', process.pid)

    def _remove_socket(self):
        # Only the files of a tgtd of ours: never another daemon's.
        if self.control_port is None or not self._channel_owned:
            return
        self._channel_owned = False
        for path in (socket_path(self.control_port),
                     socket_path(self.control_port) + '.lock'):
            try:
                os.unlink(path)
            except OSError:
                pass

    def start(self):
        try:
            return super(TgtDaemon, self).start()
        except lockservers.LockServerError:
            self._remove_socket()
            raise


class TgtServer(fixtures.Fixture):
    """A tgtd of its own for one test, stopped when the test ends.

    Attributes after setUp: ``daemon`` (the :class:`TgtDaemon`),
    ``control_port``, ``portal``, ``volumes_dir``; :meth:`tgtadm` and
    :meth:`show` run tgtadm against it.
    """

    def __init__(self, **daemon_kwargs):
        super(TgtServer, self).__init__()
        self.daemon_kwargs = daemon_kwargs
        self.daemon = None

    def setUp(self):
        # Before Fixture.setUp, which would wrap SkipTest into
        # MultipleExceptions and so turn a skip into an error.
        check_available()
        super(TgtServer, self).setUp()

    def _setUp(self):
        self.daemon = TgtDaemon(**self.daemon_kwargs)
        self.addCleanup(self.daemon.stop)
        self.daemon.start()

    @property
    def control_port(self):
        return self.daemon.control_port

    @property
    def portal(self):
        return self.daemon.portal

    @property
    def volumes_dir(self):
        return self.daemon.volumes_dir

    def tgtadm(self, *args, **kwargs):
        return self.daemon.tgtadm(*args, **kwargs)

    def show(self):
        return self.daemon.show()
