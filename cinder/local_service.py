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

"""Run ``cinder-volume`` services as child processes.

For programs that play the scheduler on one machine: the functional tests,
``cinder-volume-demo`` and the Active/Active tools. A
:class:`ServiceProcess` writes a ``cinder.conf``, starts the real
``cinder-volume --config-file`` as its own OS process, waits (bounded)
until it answers a request over the message bus (``[DEFAULT]
transport_url`` of its options), and stops it with a signal, as an init
system would. The scheduler's side of the bus is one transport per URL,
shared by every :class:`ServiceProcess` of this process
(:func:`transport`, :func:`close_transports`).
"""

import configparser
import os
import re
import signal
import subprocess
import sys
import threading
import time

from cinder.coordination import urls
from cinder import exception
from cinder import messaging
from cinder.volume import rpcapi

START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
#: Seconds one readiness probe waits for the service's reply.
PROBE_TIMEOUT = 1.0

_transports = {}
_transports_lock = threading.Lock()


def transport(url):
    """The transport of this process for ``url``, made on first use."""
    with _transports_lock:
        if url not in _transports:
            _transports[url] = messaging.get_transport(url=url)
        return _transports[url]


def close_transports():
    """Close every transport :func:`transport` made."""
    with _transports_lock:
        made = list(_transports.values())
        _transports.clear()
    for made_transport in made:
        made_transport.cleanup()


def backend_of(options):
    """The backend name a service of ``options`` serves under."""
    driver = options.get('DEFAULT', {}).get('volume_driver', 'nfs')
    return options.get('DEFAULT', {}).get(
        'volume_backend_name', driver if driver in ('nfs', 'tgt')
        else 'backend')


class ServiceProcessError(Exception):
    pass


class ServiceProcess(object):
    """One ``cinder-volume`` process.

    :param state_path: the service's ``[DEFAULT] state_path``; its config
        file and log file go there too.
    :param options: ``{section: {option: value}}`` added to the config;
        ``[DEFAULT] transport_url`` is required.
    :raises ValueError: no ``[DEFAULT] transport_url`` in ``options``.
    :param host: its ``[DEFAULT] host``.
    :param env: extra environment variables for the process.
    :param new_session: run it in a session (and process group) of its
        own, so that :meth:`pause` and ``kill(group=True)`` reach the
        commands it runs (``qemu-img``) too.
    :param netns: run it inside this network namespace (``ip netns
        exec``, which keeps the pid); None: this process's.
    """

    def __init__(self, state_path, options, host='host-a', env=None,
                 debug=True, new_session=False, netns=None):
        self.state_path = state_path
        self.netns = netns
        self.new_session = new_session
        self.paused = False
        self.host = host
        self.options = options
        self.transport_url = options.get('DEFAULT', {}).get('transport_url')
        if not self.transport_url:
            raise ValueError('options need [DEFAULT] transport_url: the '
                             'service takes its requests from the bus')
        self.backend = backend_of(options)
        #: Where requests to this service go: ``host@backend``.
        self.address = messaging.backend_address(host, self.backend)
        cluster = options.get('DEFAULT', {}).get('cluster')
        #: Where requests to its cluster go; None outside a cluster.
        self.cluster_address = (messaging.backend_address(cluster,
                                                          self.backend)
                                if cluster else None)
        self.env = env
        self.debug = debug
        self.config_file = os.path.join(state_path, 'cinder.conf')
        self.log_file = os.path.join(state_path, 'cinder-volume.log')
        # Not a pipe: nobody reads it while the service runs, and a full
        # pipe would block the service (warnings go to stderr).
        self.stderr_file = os.path.join(state_path, 'cinder-volume.stderr')
        self.process = None
        self.returncode = None

    def prepare(self):
        """Write the config file; :meth:`start` runs the service.

        The file holds ``[coordination] backend_url``, password included,
        so it is private to this user (mode 0600) from its creation; an
        existing file is narrowed before it is rewritten. The secrets of
        the URL are registered, so that this process's output and the
        :class:`ServiceProcessError` texts carry none.
        """
        os.makedirs(self.state_path, exist_ok=True)
        parser = configparser.ConfigParser(interpolation=None)
        parser['DEFAULT'] = {'state_path': self.state_path,
                             'host': self.host,
                             'log_file': self.log_file,
                             'debug': str(self.debug).lower(),
                             'volume_backend_name': self.backend}
        for section, values in self.options.items():
            if section not in parser:
                parser[section] = {}
            for key, value in values.items():
                parser[section][key] = str(value)
        urls.register(parser.get('coordination', 'backend_url',
                                 fallback=None))
        messaging.register_secrets(self.transport_url)
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        with os.fdopen(fd, 'w') as f:
            parser.write(f)

    def start(self):
        """Start and wait until the service answers over the bus.

        :raises ServiceProcessError: it exited, or did not answer within
            :data:`START_TIMEOUT` seconds; the message has its stderr and
            the end of its log.
        """
        env = dict(os.environ)
        env.update(self.env or {})
        self.returncode = None
        stderr = open(self.stderr_file, 'ab')
        try:
            log_offset = os.path.getsize(self.log_file)
        except OSError:
            log_offset = 0
        argv = [sys.executable, '-m', 'cinder.cmd.volume',
                '--config-file', self.config_file]
        if self.netns:
            argv = ['ip', 'netns', 'exec', self.netns] + argv
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL, stderr=stderr, env=env,
            start_new_session=self.new_session)
        stderr.close()
        self.paused = False
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.returncode = self.process.returncode
                stderr = self.stderr_tail()
                raise ServiceProcessError(urls.scrub(
                    'cinder-volume exited with %s at start: %s\n%s' % (
                        self.returncode, stderr, self.log_tail())))
            if not self._said_started(log_offset):
                time.sleep(0.05)
            elif self._answers():
                return
        self.kill()
        raise ServiceProcessError(urls.scrub(
            'cinder-volume did not answer at %s within %s s\n%s' % (
                self.address, START_TIMEOUT, self.log_tail())))

    def _said_started(self, offset):
        """True once this process logged that it started.

        Not only a reply: another live service with the same address (a
        taken host, which this one then refuses) would answer the probe.
        """
        try:
            with open(self.log_file, 'rb') as f:
                f.seek(offset)
                text = f.read().decode('utf-8', 'replace')
        except OSError:
            return False
        return re.search(r'^\S+ \S+ %d INFO cinder\.service \[[^]]*\] '
                         r'cinder-volume started on host ' %
                         self.process.pid, text, re.M) is not None

    def _answers(self):
        """True once the service replies to a stats request.

        A probe sent before the service consumes from its queue is lost
        (no queue holds it) or waits there; either way it only reads.
        """
        try:
            self.client(timeout=PROBE_TIMEOUT).call('get_volume_stats')
        except exception.RequestOutcomeUnknown:
            return False
        return True

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def client(self, timeout=None):
        """A :class:`~cinder.volume.rpcapi.VolumeAPI` to this service."""
        return rpcapi.VolumeAPI(transport(self.transport_url), self.address,
                                timeout=timeout)

    def cluster_client(self, timeout=None):
        """A :class:`~cinder.volume.rpcapi.VolumeAPI` to its cluster."""
        return rpcapi.VolumeAPI(transport(self.transport_url),
                                self.cluster_address, timeout=timeout)

    def call(self, method, **args):
        return self.client().call(method, **args)

    def send_signal(self, sig):
        self.process.send_signal(sig)

    def terminate(self, sig=signal.SIGTERM):
        """Send ``sig`` and return the exit status."""
        if self.running:
            self.process.send_signal(sig)
        return self._reap()

    def kill(self, group=False):
        """SIGKILL the service (and, with ``group``, its commands)."""
        if self.running:
            if group and self.new_session:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
        self.paused = False
        return self._reap()

    def pause(self):
        """SIGSTOP the service's process group: a frozen host."""
        os.killpg(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        os.killpg(self.process.pid, signal.SIGCONT)
        self.paused = False

    def _reap(self):
        if self.process is None:
            return None
        self.returncode = self.process.wait(STOP_TIMEOUT)
        return self.returncode

    def stderr_tail(self, max_bytes=8192):
        try:
            with open(self.stderr_file, 'rb') as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - max_bytes))
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def log(self):
        try:
            with open(self.log_file) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def log_tail(self, lines=40):
        return '\n'.join(self.log().splitlines()[-lines:])
