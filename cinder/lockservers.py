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

"""Real lock servers (Redis, ZooKeeper, etcd) on this host, for testing.

The functional tests, ``tools/lock-servers`` and the Active/Active
validation tool (``cinder-aa-stress``, which restarts its lock server to
inject faults) start their servers with this module. It is not for
production deployments: run lock servers there as the operating system
packages them.

Each server runs as a child process bound to 127.0.0.1 only, on free ports
of its own, with a data directory of its own, in a session of its own (so a
signal sent to it never reaches the test runner).  The process writes its
stdout and stderr to ``server.log`` in its data directory.

Typical use::

    # A dedicated server, for tests that restart, kill or pause it.
    server = self.useFixture(lockservers.LockServerFixture('zookeeper')).server
    server.restart()

    # A server shared by every test of this process: never break it.
    url = lockservers.shared_server('redis').url

Servers are stopped by whoever started them: ``stop()``, the fixture's
cleanup, or an ``atexit`` hook for anything still running at interpreter
exit.  Started from the main thread, a server also gets SIGKILL from the
kernel if the test process dies without running its ``atexit`` hooks.

Environment variables:

``CINDER_TEST_REQUIRE_SERVERS``
    Non-empty and not ``0``: a missing server binary is an error
    (:class:`LockServerUnavailable`) instead of a skip.
``CINDER_TEST_KEEP_SERVER_DIRS``
    Non-empty and not ``0``: keep the data directories (and their logs)
    when the servers stop.
``CINDER_TEST_SERVER_START_TIMEOUT``
    Seconds to wait for a server to serve (default 30 for Redis and etcd,
    60 for ZooKeeper).
``CINDER_TEST_SERVER_TMPDIR``
    Where to create the data directories (default: ``$TMPDIR`` or
    ``/tmp``, never a per-test temporary directory).

This module needs only the standard library, except for
:class:`LockServerFixture`, which needs ``fixtures``; ``tools/lock-servers``
uses it too.
"""

import atexit
import base64
import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

try:
    import fixtures
except ImportError:  # pragma: no cover - tools/lock-servers without a venv
    fixtures = None

LOG = logging.getLogger(__name__)

HOST = '127.0.0.1'
LOG_FILE_NAME = 'server.log'
REQUIRE_ENV = 'CINDER_TEST_REQUIRE_SERVERS'
KEEP_DIRS_ENV = 'CINDER_TEST_KEEP_SERVER_DIRS'
START_TIMEOUT_ENV = 'CINDER_TEST_SERVER_START_TIMEOUT'
TMPDIR_ENV = 'CINDER_TEST_SERVER_TMPDIR'
SETUP_HINT = 'run tools/test-setup.sh to install the lock servers'

# Ports are picked at random below the kernel's ephemeral range, so that a
# server never collides with the source port of an outgoing connection.
_PORT_RANGE_FALLBACK = (15000, 32767)
_POLL_INTERVAL = 0.02
_KILL_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1


class LockServerError(Exception):
    """A lock server could not be started or controlled."""


class LockServerUnavailable(LockServerError):
    """The binaries of a lock server are not installed."""


def env_flag(name):
    """Whether the environment variable ``name`` is set to a true value."""
    value = os.environ.get(name, '').strip()
    return bool(value) and value != '0'


def _tmp_root():
    # Not tempfile.gettempdir(): fixtures.NestedTempfile (used by oslotest)
    # points it to a per-test directory that is removed when the test ends,
    # which would take a shared server's data directory with it.
    for name in (TMPDIR_ENV, 'TMPDIR', 'TEMP', 'TMP'):
        path = os.environ.get(name)
        if path and os.path.isdir(path):
            return path
    return '/tmp'


def _ephemeral_low():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return _PORT_RANGE_FALLBACK[1] + 1


_random = random.SystemRandom()  # immune to random.seed() in tests
_allocated_ports = set()
_allocated_ports_lock = threading.Lock()


def _port_is_free(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def pick_free_port():
    """Return a port of 127.0.0.1 that nothing is bound to right now.

    The port is not reserved: whoever uses it must cope with losing a race
    (:meth:`LockServer.start` retries with new ports).
    """
    low, high = _PORT_RANGE_FALLBACK
    high = min(high, _ephemeral_low() - 1)
    with _allocated_ports_lock:
        if high - low > 1000:
            for _attempt in range(200):
                port = _random.randint(low, high)
                if port not in _allocated_ports and _port_is_free(port):
                    _allocated_ports.add(port)
                    return port
        # Odd port range: let the kernel choose.
        for _attempt in range(20):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((HOST, 0))
                port = sock.getsockname()[1]
            finally:
                sock.close()
            if port not in _allocated_ports:
                _allocated_ports.add(port)
                return port
    raise LockServerError('no free port found on %s' % HOST)


def _listening_inodes(port):
    """Inodes of the sockets listening on ``port``, or None without /proc."""
    inodes = set()
    found_table = False
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            f = open(table)
        except OSError:
            continue
        found_table = True
        with f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) < 10 or fields[3] != '0A':  # 0A: LISTEN
                    continue
                if int(fields[1].rsplit(':', 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes if found_table else None


def _pid_listens_on(pid, port):
    """Whether process ``pid`` holds the socket listening on ``port``.

    Returns True when this cannot be told (no /proc).
    """
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    targets = open_file_targets(pid)
    if targets is None:
        return not os.path.isdir('/proc/self/fd')
    return any(t.startswith('socket:[') and t[8:-1] in inodes
               for t in targets)


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


def _wait_pid_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL)
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
    if not _wait_pid_gone(pid, timeout):
        LOG.warning('pid %d ignored SIGTERM for %.1fs; killing it',
                    pid, timeout)
        send(signal.SIGKILL)
        if not _wait_pid_gone(pid, _KILL_TIMEOUT):
            raise LockServerError('pid %d survived SIGKILL' % pid)
    return True


def _set_pdeathsig():
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


def _tail(path, max_lines=25, max_bytes=8192):
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
    """

    kind = None
    scheme = None
    default_start_timeout = 30.0
    _extra_port_names = ()

    def __init__(self, port=None, data_dir=None, start_timeout=None,
                 stop_timeout=10.0, detached=False):
        self.host = HOST
        self.port = port
        self.extra_ports = {}
        self._given_data_dir = data_dir
        self.data_dir = os.path.abspath(data_dir) if data_dir else None
        if start_timeout is None:
            env = os.environ.get(START_TIMEOUT_ENV)
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
            raise LockServerError('%s server has no port yet: start it'
                                  % self.kind)
        return '%s://%s:%d' % (self.scheme, self.host, self.port)

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
        return os.path.join(self.data_dir, LOG_FILE_NAME)

    def log_tail(self, lines=25):
        """The last lines of the server's log."""
        if self.log_file is None:
            return '(no log)'
        return _tail(self.log_file, max_lines=lines)

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
                    prefix='cinder-%s-' % self.kind, dir=_tmp_root())
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
                except LockServerError as exc:
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
                     self.kind, self.url, self.pid, self.start_duration,
                     self.data_dir)
            return self

    def _assign_ports(self):
        if self.port is None:
            self.port = pick_free_port()
        for name in self._extra_port_names:
            if self.extra_ports.get(name) is None:
                self.extra_ports[name] = pick_free_port()

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
                preexec = _set_pdeathsig()
            try:
                self._process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, cwd=self.data_dir,
                    env=self._environ(), start_new_session=True,
                    close_fds=True, preexec_fn=preexec)
            except OSError as exc:
                raise LockServerError('cannot run %s: %s' % (argv[0], exc))

    def _wait_until_serving(self):
        deadline = time.monotonic() + self.start_timeout
        process = self._process
        while True:
            remaining = deadline - time.monotonic()
            if process.poll() is not None:
                exc = LockServerError(
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
                raise LockServerError(
                    '%s server (pid %d, port %s) did not serve within %.1fs;'
                    ' log %s ends with:\n%s' % (
                        self.kind, process.pid, self.port,
                        self.start_timeout, self.log_file, self.log_tail()))
            try:
                process.wait(timeout=min(_POLL_INTERVAL, max(remaining, 0)))
            except subprocess.TimeoutExpired:
                pass

    def _owns_ports(self):
        # Guards against a foreign server that grabbed our port first.
        return _pid_listens_on(self._process.pid, self.port)

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
                    process.wait(timeout=_KILL_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise LockServerError('%s server (pid %d) survived '
                                          'SIGKILL' % (self.kind,
                                                       process.pid))
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
                if env_flag(KEEP_DIRS_ENV):
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
        """SIGSTOP the server: it keeps its sockets but answers nothing."""
        with self._lock:
            if not self._signal(signal.SIGSTOP):
                raise LockServerError('%s server is not running' % self.kind)
            self._paused = True

    def resume(self):
        """SIGCONT a paused server."""
        with self._lock:
            if not self._signal(signal.SIGCONT):
                raise LockServerError('%s server is not running' % self.kind)
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


def _recv_all(sock, limit=65536):
    chunks = []
    size = 0
    while size < limit:
        data = sock.recv(4096)
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b''.join(chunks)


class RedisServer(LockServer):
    """redis-server without persistence: a restart loses every key."""

    kind = 'redis'
    scheme = 'redis'
    binary = 'redis-server'

    @classmethod
    def missing(cls):
        return [] if shutil.which(cls.binary) else [cls.binary]

    def _command(self):
        return [shutil.which(self.binary) or self.binary,
                '--bind', self.host,
                '--port', str(self.port),
                '--protected-mode', 'yes',
                '--save', '',
                '--appendonly', 'no',
                '--daemonize', 'no',
                '--dir', self.data_dir,
                '--logfile', '']

    def ping(self, timeout=1.0):
        try:
            with socket.create_connection((self.host, self.port),
                                          timeout=timeout) as sock:
                sock.sendall(b'*1\r\n$4\r\nPING\r\n')
                reply = b''
                while not reply.endswith(b'\r\n'):
                    data = sock.recv(64)
                    if not data:
                        break
                    reply += data
        except OSError:
            return False
        return reply == b'+PONG\r\n'


class PersistentRedisServer(RedisServer):
    """redis-server with an append-only file synced on every write.

    A restart keeps every key and its expiry, so locks survive it: what a
    deployment that relies on Redis for locks should run.
    """

    def _command(self):
        command = super()._command()
        at = command.index('--appendonly')
        command[at:at + 2] = ['--appendonly', 'yes',
                              '--appendfsync', 'always']
        return command


class ZooKeeperServer(LockServer):
    """A standalone ZooKeeper (Debian's jars), data kept across restarts.

    Sessions survive a restart (even after :meth:`kill`) shorter than their
    timeout.  ``tickTime`` is ``tick_time`` ms; clients may ask for session
    timeouts between ``min_session_timeout`` and ``max_session_timeout``
    ms.  ``force_sync=False`` skips the fsync of each transaction.
    """

    kind = 'zookeeper'
    scheme = 'zookeeper'
    default_start_timeout = 60.0
    java_dir = '/usr/share/java'
    # zookeeper.jar's manifest Class-Path names its dependencies (jute,
    # netty, slf4j-api, metrics, snappy, commons-*, jackson, jetty...);
    # slf4j-simple is the logging binding (to stderr, hence server.log).
    jars = ('zookeeper.jar', 'slf4j-simple.jar')
    required_jars = ('zookeeper.jar', 'zookeeper-jute.jar', 'slf4j-api.jar')
    main_class = 'org.apache.zookeeper.server.quorum.QuorumPeerMain'

    def __init__(self, port=None, data_dir=None, start_timeout=None,
                 stop_timeout=10.0, detached=False, tick_time=2000,
                 min_session_timeout=2000, max_session_timeout=60000,
                 force_sync=True, heap='256m'):
        super(ZooKeeperServer, self).__init__(
            port=port, data_dir=data_dir, start_timeout=start_timeout,
            stop_timeout=stop_timeout, detached=detached)
        self.tick_time = tick_time
        self.min_session_timeout = min_session_timeout
        self.max_session_timeout = max_session_timeout
        self.force_sync = force_sync
        self.heap = heap

    @classmethod
    def _java(cls):
        java_home = os.environ.get('JAVA_HOME')
        if java_home:
            candidate = os.path.join(java_home, 'bin', 'java')
            if os.access(candidate, os.X_OK):
                return candidate
        return shutil.which('java')

    @classmethod
    def missing(cls):
        missing = [] if cls._java() else ['java']
        missing.extend(os.path.join(cls.java_dir, jar)
                       for jar in cls.required_jars
                       if not os.path.exists(os.path.join(cls.java_dir, jar)))
        return missing

    @property
    def conf_dir(self):
        return os.path.join(self.data_dir, 'conf')

    @property
    def zk_data_dir(self):
        return os.path.join(self.data_dir, 'data')

    def _command(self):
        os.makedirs(self.conf_dir, exist_ok=True)
        os.makedirs(self.zk_data_dir, exist_ok=True)
        config = os.path.join(self.conf_dir, 'zoo.cfg')
        with open(config, 'w') as f:
            f.write('\n'.join([
                'tickTime=%d' % self.tick_time,
                'dataDir=%s' % self.zk_data_dir,
                'clientPort=%d' % self.port,
                'clientPortAddress=%s' % self.host,
                'admin.enableServer=false',
                '4lw.commands.whitelist=ruok,srvr,stat',
                'minSessionTimeout=%d' % self.min_session_timeout,
                'maxSessionTimeout=%d' % self.max_session_timeout,
                # The default, 60 connections per client IP, is too few
                # for benchmarks where every client is 127.0.0.1.
                'maxClientCnxns=0',
                'forceSync=%s' % ('yes' if self.force_sync else 'no'),
                # 1 MB instead of 64 MB per transaction log file.
                'preAllocSize=1024',
                '']))
        with open(os.path.join(self.conf_dir, 'simplelogger.properties'),
                  'w') as f:
            f.write('\n'.join([
                'org.slf4j.simpleLogger.logFile=System.err',
                'org.slf4j.simpleLogger.defaultLogLevel=info',
                'org.slf4j.simpleLogger.showDateTime=true',
                'org.slf4j.simpleLogger.dateTimeFormat='
                'yyyy-MM-dd HH:mm:ss.SSS',
                '']))
        classpath = [self.conf_dir]
        classpath.extend(os.path.join(self.java_dir, jar)
                         for jar in self.jars
                         if os.path.exists(os.path.join(self.java_dir, jar)))
        return [self._java(),
                '-Xmx%s' % self.heap,
                '-XX:-UsePerfData',  # no /tmp/hsperfdata_* files
                '-Djava.awt.headless=true',
                '-Dzookeeper.jmx.log4j.disable=true',
                '-cp', ':'.join(classpath),
                self.main_class, config]

    def _reset_data(self):
        shutil.rmtree(self.zk_data_dir, ignore_errors=True)

    def _four_letter(self, word, timeout):
        with socket.create_connection((self.host, self.port),
                                      timeout=timeout) as sock:
            sock.sendall(word)
            return _recv_all(sock)

    def ping(self, timeout=1.0):
        try:
            if self._four_letter(b'ruok', timeout) != b'imok':
                return False
            # ruok answers as soon as the port is open; srvr tells whether
            # the server really serves requests.
            return b'Mode:' in self._four_letter(b'srvr', timeout)
        except OSError:
            return False


class EtcdServer(LockServer):
    """A single-member etcd cluster, data kept across restarts.

    A restarted member serves only once it has elected itself, which takes
    one to two ``election_timeout`` (ms); etcd's default of 1000 ms is
    lowered to 500 ms, harmless with a single member.
    """

    kind = 'etcd'
    scheme = 'etcd3+http'
    binary = 'etcd'
    _extra_port_names = ('peer', 'metrics')

    def __init__(self, port=None, data_dir=None, start_timeout=None,
                 stop_timeout=10.0, detached=False, heartbeat_interval=100,
                 election_timeout=500):
        super(EtcdServer, self).__init__(
            port=port, data_dir=data_dir, start_timeout=start_timeout,
            stop_timeout=stop_timeout, detached=detached)
        self.heartbeat_interval = heartbeat_interval
        self.election_timeout = election_timeout

    @classmethod
    def missing(cls):
        return [] if shutil.which(cls.binary) else [cls.binary]

    @property
    def etcd_data_dir(self):
        return os.path.join(self.data_dir, 'etcd')

    def _command(self):
        client = 'http://%s:%d' % (self.host, self.port)
        peer = 'http://%s:%d' % (self.host, self.extra_ports['peer'])
        metrics = 'http://%s:%d' % (self.host, self.extra_ports['metrics'])
        return [shutil.which(self.binary) or self.binary,
                '--name', 'n',
                '--data-dir', self.etcd_data_dir,
                '--listen-client-urls', client,
                '--advertise-client-urls', client,
                '--listen-peer-urls', peer,
                '--initial-advertise-peer-urls', peer,
                '--initial-cluster', 'n=%s' % peer,
                '--listen-metrics-urls', metrics,
                '--heartbeat-interval', str(self.heartbeat_interval),
                '--election-timeout', str(self.election_timeout)]

    def _environ(self):
        # ETCD_* variables would configure (or conflict with) the flags.
        return {k: v for k, v in os.environ.items()
                if not k.startswith('ETCD_')}

    def _reset_data(self):
        shutil.rmtree(self.etcd_data_dir, ignore_errors=True)

    def _owns_ports(self):
        return all(_pid_listens_on(self._process.pid, port)
                   for port in [self.port] + list(self.extra_ports.values()))

    def ping(self, timeout=1.0):
        # No proxy: http_proxy in the environment must not apply here.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        base = 'http://%s:%d' % (self.host, self.port)
        try:
            with opener.open(base + '/health', timeout=timeout) as resp:
                health = json.loads(resp.read().decode('utf-8'))
            if health.get('health') not in (True, 'true'):
                return False
            # What etcd3gw (tooz) uses: the grpc-gateway under /v3/.
            body = json.dumps({'key': base64.b64encode(
                b'cinder-lockservers-ping').decode('ascii')}).encode('ascii')
            request = urllib.request.Request(
                base + '/v3/kv/range', data=body, method='POST',
                headers={'Content-Type': 'application/json'})
            with opener.open(request, timeout=timeout) as resp:
                return 'header' in json.loads(resp.read().decode('utf-8'))
        except (OSError, ValueError, urllib.error.URLError):
            return False


SERVER_CLASSES = {
    'redis': RedisServer,
    'zookeeper': ZooKeeperServer,
    'etcd': EtcdServer,
}


def server_class(kind):
    try:
        return SERVER_CLASSES[kind]
    except KeyError:
        raise ValueError('unknown lock server kind %r (known: %s)' % (
            kind, ', '.join(sorted(SERVER_CLASSES))))


def check_available(kind):
    """Skip the test, or fail if servers are required, without binaries.

    :raises unittest.SkipTest: the server is not installed.
    :raises LockServerUnavailable: the same, with
        ``CINDER_TEST_REQUIRE_SERVERS`` set.
    """
    cls = server_class(kind)
    missing = cls.missing()
    if not missing:
        return cls
    message = '%s lock server not available (missing: %s)' % (
        kind, ', '.join(missing))
    if env_flag(REQUIRE_ENV):
        raise LockServerUnavailable('%s; %s is set: %s' % (
            message, REQUIRE_ENV, SETUP_HINT))
    raise unittest.SkipTest('%s; %s' % (message, SETUP_HINT))


_shared = {}
_shared_lock = threading.Lock()


def shared_server(kind):
    """The server of ``kind`` shared by all tests of this process.

    Started on first use, restarted if it died, stopped at interpreter exit.
    Tests must not stop, kill, restart or pause it: use
    :class:`LockServerFixture` for that.
    """
    cls = check_available(kind)
    with _shared_lock:
        server = _shared.get(kind)
        if server is None:
            server = _shared[kind] = cls()
        if server.paused:  # left frozen by a misbehaving test
            LOG.warning('shared %s server was paused; resuming it', kind)
            server.resume()
        if not server.running:
            try:
                server.start()
            except Exception:
                server.stop()
                del _shared[kind]
                raise
        return server


def url_env_name(kind):
    """The variable tools/lock-servers writes the URL of ``kind`` to."""
    return 'CINDER_TEST_%s_URL' % kind.upper()


def server_url(kind):
    """A tooz URL of a server of ``kind`` that tests may share.

    ``$CINDER_TEST_<KIND>_URL`` if set (servers started beforehand with
    tools/lock-servers), else the URL of :func:`shared_server`.
    """
    server_class(kind)
    url = os.environ.get(url_env_name(kind))
    if url:
        return url
    return shared_server(kind).url


if fixtures is not None:
    _FixtureBase = fixtures.Fixture
else:  # pragma: no cover
    _FixtureBase = object


class LockServerFixture(_FixtureBase):
    """A dedicated server of ``kind`` for one test.

    For destructive tests (restart, kill, pause).  Attributes after setUp:
    ``server`` (the :class:`LockServer`) and ``url``.  Keyword arguments go
    to the server class (e.g. ``tick_time`` for ZooKeeper).
    """

    def __init__(self, kind, **server_kwargs):
        if fixtures is None:  # pragma: no cover
            raise ImportError('LockServerFixture needs the fixtures package')
        super(LockServerFixture, self).__init__()
        self.kind = kind
        self.server_kwargs = server_kwargs
        self.server = None

    def setUp(self):
        # Before Fixture.setUp, which would wrap SkipTest into
        # MultipleExceptions and so turn a skip into an error.
        check_available(self.kind)
        super(LockServerFixture, self).setUp()

    def _setUp(self):
        self.server = server_class(self.kind)(**self.server_kwargs)
        self.addCleanup(self.server.stop)
        self.server.start()

    @property
    def url(self):
        return self.server.url
