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


"""The lock server base class: start, stop, restart, kill, pause."""

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from cinder.stress.lockservers import common
from cinder.stress.lockservers import ports
from cinder.stress.lockservers import processes

LOG = common.LOG


_running_servers = set()
_running_lock = threading.Lock()


def _stop_all_at_exit():
    with _running_lock:
        servers = [s for s in _running_servers if s._owner_pid == os.getpid()]
    for server in servers:
        try:
            server.stop()
        except Exception:  # keep stopping the others
            LOG.exception('could not stop %s at exit', server)


atexit.register(_stop_all_at_exit)


class LockServer(object):
    """A lock server process controlled by the tests.

    :param port: the client port; picked at random when None.
    :param data_dir: the directory for data, configuration and log.  When
        None a temporary directory is created by :meth:`start` and removed
        by :meth:`stop` (unless ``CINDER_TEST_KEEP_SERVER_DIRS`` is set); a
        given directory is never removed.
    :param start_timeout: seconds to wait for the server to serve.
    :param stop_timeout: seconds to wait after SIGTERM before SIGKILL.
    :param detached: True for a server that must outlive this process
        (tools/lock-servers): no ``atexit`` stop, no kill on parent death.
    :param host: the address to bind, 127.0.0.1 by default; another one
        must be of the network namespace the server is started in (that
        of the starting thread: :func:`cinder.stress.netns.inside`).
    """

    kind = None
    scheme = None
    default_start_timeout = 30.0
    _extra_port_names = ()

    def __init__(self, port=None, data_dir=None, start_timeout=None,
                 stop_timeout=10.0, detached=False, host=None):
        self.host = host or common.HOST
        self.port = port
        self.extra_ports = {}
        self._given_data_dir = data_dir
        self.data_dir = os.path.abspath(data_dir) if data_dir else None
        if start_timeout is None:
            env = os.environ.get(common.START_TIMEOUT_ENV)
            start_timeout = float(env) if env else self.default_start_timeout
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.detached = detached
        self.start_duration = None
        self._process = None
        self._paused = False
        self._owner_pid = os.getpid()
        self._lock = threading.RLock()

    # -- description -----------------------------------------------------

    def __repr__(self):
        return '<%s port=%s pid=%s dir=%s>' % (
            type(self).__name__, self.port, self.pid, self.data_dir)

    @classmethod
    def missing(cls):
        """What is missing to run this server (empty list: nothing)."""
        return []

    @classmethod
    def available(cls):
        """Whether the binaries of this server are installed."""
        return not cls.missing()

    @property
    def url(self):
        """The tooz URL of this server."""
        if self.port is None:
            raise common.LockServerError(
                '%s server has no port yet: start it' % self.kind)
        return '%s://%s:%d' % (self.scheme, self.host, self.port)

    @property
    def display_url(self):
        """:attr:`url` as logs may show it (without secrets)."""
        return self.url

    @property
    def pid(self):
        return self._process.pid if self._process is not None else None

    @property
    def running(self):
        """Whether the process exists (it may be paused)."""
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self):
        return self.running and self._paused

    @property
    def log_file(self):
        if self.data_dir is None:
            return None
        return os.path.join(self.data_dir, common.LOG_FILE_NAME)

    def log_tail(self, lines=25):
        """The last lines of the server's log."""
        if self.log_file is None:
            return '(no log)'
        return processes.tail(self.log_file, max_lines=lines)

    # -- subclass hooks --------------------------------------------------

    def _command(self):
        """The argv of the server; may write configuration files."""
        raise NotImplementedError()

    def _environ(self):
        return dict(os.environ)

    def _reset_data(self):
        """Forget the data of a first start that failed."""

    def ping(self, timeout=1.0):
        """Whether a server of this kind serves on ``self.port``."""
        raise NotImplementedError()

    # -- control ---------------------------------------------------------

    def start(self):
        """Start the server and wait until it serves; no-op if running.

        The ports and the data directory are chosen on the first start and
        kept across restarts.
        """
        with self._lock:
            if self.running:
                return self
            if self._process is not None:  # died on its own: reap it
                self._process = None
            self._paused = False
            fresh_ports = self.port is None
            if self.data_dir is None:
                self.data_dir = tempfile.mkdtemp(
                    prefix='cinder-%s-' % self.kind, dir=common.tmp_root())
            else:
                os.makedirs(self.data_dir, exist_ok=True)
            if not self.detached:
                with _running_lock:
                    _running_servers.add(self)
            attempts = 3 if fresh_ports else 1
            for attempt in range(1, attempts + 1):
                self._assign_ports()
                began = time.monotonic()
                try:
                    self._launch()
                    self._wait_until_serving()
                except common.LockServerError as exc:
                    self._terminate(graceful=False)
                    if attempt == attempts or not getattr(
                            exc, 'exited_early', False):
                        raise
                    LOG.info('%s server failed to start on port %s, '
                             'retrying with other ports', self.kind,
                             self.port)
                    self.port = None
                    self.extra_ports = {}
                    self._reset_data()
                    continue
                self.start_duration = time.monotonic() - began
                break
            LOG.info('%s server serving at %s (pid %d, %.2fs, dir %s)',
                     self.kind, self.display_url, self.pid,
                     self.start_duration,
                     self.data_dir)
            return self

    def _assign_ports(self):
        if self.port is None:
            self.port = ports.pick_free_port()
        for name in self._extra_port_names:
            if self.extra_ports.get(name) is None:
                self.extra_ports[name] = ports.pick_free_port()

    def _launch(self):
        argv = self._command()
        with open(self.log_file, 'ab') as log:
            log.write(('\n=== %s: starting %s\n' % (
                time.strftime('%Y-%m-%d %H:%M:%S'), ' '.join(argv))
            ).encode('utf-8'))
            log.flush()
            preexec = None
            if (not self.detached and
                    threading.current_thread() is threading.main_thread()):
                # PR_SET_PDEATHSIG fires when the parent *thread* exits, so
                # only servers started by the main thread get it.
                preexec = processes.set_pdeathsig()
            try:
                self._process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, cwd=self.data_dir,
                    env=self._environ(), start_new_session=True,
                    close_fds=True, preexec_fn=preexec)
            except OSError as exc:
                raise common.LockServerError('cannot run %s: %s' % (
                    argv[0], exc))

    def _wait_until_serving(self):
        deadline = time.monotonic() + self.start_timeout
        process = self._process
        while True:
            remaining = deadline - time.monotonic()
            if process.poll() is not None:
                exc = common.LockServerError(
                    '%s server (port %s) exited with status %s while '
                    'starting; log %s ends with:\n%s' % (
                        self.kind, self.port, process.returncode,
                        self.log_file, self.log_tail()))
                exc.exited_early = True
                raise exc
            if (self.ping(timeout=max(0.1, min(1.0, remaining))) and
                    self._owns_ports()):
                return
            if remaining <= 0:
                raise common.LockServerError(
                    '%s server (pid %d, port %s) did not serve within %.1fs;'
                    ' log %s ends with:\n%s' % (
                        self.kind, process.pid, self.port,
                        self.start_timeout, self.log_file, self.log_tail()))
            try:
                process.wait(timeout=min(common.POLL_INTERVAL,
                                         max(remaining, 0)))
            except subprocess.TimeoutExpired:
                pass

    def _owns_ports(self):
        # Guards against a foreign server that grabbed our port first.
        return ports.pid_listens_on(self._process.pid, self.port)

    def _signal(self, sig):
        process = self._process
        if process is None or process.poll() is not None:
            return False
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def _terminate(self, graceful=True):
        """End the process, keeping ports and data dir."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            if graceful:
                self._signal(signal.SIGTERM)
                self._signal(signal.SIGCONT)  # a paused server must see it
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    LOG.warning('%s server (pid %d) ignored SIGTERM for '
                                '%.1fs; killing it', self.kind, process.pid,
                                self.stop_timeout)
            if process.poll() is None:
                self._signal(signal.SIGKILL)
                try:
                    process.wait(timeout=common.KILL_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise common.LockServerError(
                        '%s server (pid %d) survived SIGKILL' % (
                            self.kind, process.pid))
        self._process = None
        self._paused = False

    def stop(self):
        """Stop the server (SIGTERM, then SIGKILL) and drop its data dir.

        Idempotent.  The ports are kept: a later :meth:`start` reuses them
        (with a new, empty data directory if this one was removed).
        """
        with self._lock:
            if os.getpid() != self._owner_pid:
                return  # a forked child does not own the server
            self._terminate(graceful=True)
            if self._given_data_dir is None and self.data_dir is not None:
                if common.env_flag(common.KEEP_DIRS_ENV):
                    LOG.info('keeping %s server dir %s', self.kind,
                             self.data_dir)
                else:
                    shutil.rmtree(self.data_dir, ignore_errors=True)
                self.data_dir = None
            with _running_lock:
                _running_servers.discard(self)

    def kill(self):
        """SIGKILL the server, as a crash; data dir and ports are kept."""
        with self._lock:
            self._terminate(graceful=False)

    def restart(self, downtime=0, hard=False):
        """Stop (SIGTERM, or SIGKILL if ``hard``) and start again.

        Same ports, same data dir.  ``downtime``: seconds to stay down.
        """
        with self._lock:
            self._terminate(graceful=not hard)
            if downtime:
                time.sleep(downtime)  # the simulated outage itself
            return self.start()

    def pause(self):
        """SIGSTOP the server: it keeps its sockets but answers nothing.

        Returns once every thread of the server has stopped, so that no
        request sent after it is answered.

        :raises LockServerError: the server is not running, or did not
            stop within ``KILL_TIMEOUT`` seconds.
        """
        with self._lock:
            if not self._signal(signal.SIGSTOP):
                raise common.LockServerError(
                    '%s server is not running' % self.kind)
            self._paused = True
            pid = self._process.pid
            deadline = time.monotonic() + common.KILL_TIMEOUT
            while not processes.threads_stopped(pid):
                if time.monotonic() > deadline:
                    raise common.LockServerError(
                        '%s server (pid %d) did not stop within %s s of '
                        'SIGSTOP' % (self.kind, pid, common.KILL_TIMEOUT))
                time.sleep(common.POLL_INTERVAL)

    def resume(self):
        """SIGCONT a paused server."""
        with self._lock:
            if not self._signal(signal.SIGCONT):
                raise common.LockServerError(
                    '%s server is not running' % self.kind)
            self._paused = False

    @contextlib.contextmanager
    def frozen(self):
        """Context manager: the server is frozen inside the block."""
        self.pause()
        try:
            yield self
        finally:
            if self.running:
                self.resume()

    def detach(self):
        """Forget the process without stopping it (tools/lock-servers)."""
        with self._lock:
            with _running_lock:
                _running_servers.discard(self)
            self._process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
