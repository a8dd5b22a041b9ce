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

"""A private RabbitMQ broker (Debian's ``rabbitmq-server``), for tests.

Not a lock server, but run by the same machinery: a child process bound to
127.0.0.1 on free ports of its own (AMQP, Erlang distribution, and an
``epmd`` of its own, which a system ``epmd`` on port 4369 never sees), with
its node name, data, log and configuration in its data directory. The
broker runs in the foreground (``RABBITMQ_ALLOW_INPUT`` with ``-noinput``),
so the process this module starts is ``beam.smp`` itself and owns the
AMQP socket. ``epmd`` is started first, in the foreground too, and stopped
after the broker: an ``epmd`` that Erlang starts by itself outlives the
broker.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading

from cinder.stress.lockservers import common
from cinder.stress.lockservers import processes
from cinder.stress.lockservers import server

#: What the broker's guest account may do: connect from any address (a
#: namespace's too), with the default guest password.
USER = 'guest'
PASSWORD = 'guest'

_AMQP_HEADER = b'AMQP\x00\x00\x09\x01'
_FRAME_METHOD = 1


class RabbitServer(server.LockServer):
    """A RabbitMQ broker on 127.0.0.1, data kept across restarts.

    :attr:`url` is an oslo.messaging ``transport_url`` with the guest
    password in it; :attr:`display_url` masks the password, for logs.
    """

    kind = 'rabbitmq'
    scheme = 'rabbit'
    default_start_timeout = 60.0
    _extra_port_names = ('dist', 'epmd')
    bin_dir = '/usr/lib/rabbitmq/bin'

    def __init__(self, *args, **kwargs):
        super(RabbitServer, self).__init__(*args, **kwargs)
        self._epmd = None

    @classmethod
    def missing(cls):
        missing = []
        if not os.access(os.path.join(cls.bin_dir, 'rabbitmq-server'),
                         os.X_OK):
            missing.append(os.path.join(cls.bin_dir, 'rabbitmq-server'))
        if shutil.which('epmd') is None:
            missing.append('epmd')
        return missing

    @property
    def url(self):
        if self.port is None:
            raise common.LockServerError('rabbitmq server has no port yet: '
                                         'start it')
        return '%s://%s:%s@%s:%d/' % (self.scheme, USER, PASSWORD,
                                      self.host, self.port)

    @property
    def display_url(self):
        return self.url.replace(':%s@' % PASSWORD, ':***@')

    @property
    def node_name(self):
        return 'cinder-test-%d@localhost' % self.port

    @property
    def epmd_pid(self):
        return self._epmd.pid if self._epmd is not None else None

    def _path(self, *parts):
        return os.path.join(self.data_dir, *parts)

    def _command(self):
        os.makedirs(self._path('home'), exist_ok=True)
        with open(self._path('rabbitmq.conf'), 'w') as f:
            f.write('listeners.tcp.1 = %s:%d\n' % (self.host, self.port))
            f.write('loopback_users = none\n')
        with open(self._path('enabled_plugins'), 'w') as f:
            f.write('[].\n')
        return [os.path.join(self.bin_dir, 'rabbitmq-server')]

    def _environ(self):
        environ = {
            'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
            'HOME': self._path('home'),
            'LANG': 'C.UTF-8',
            'RABBITMQ_ALLOW_INPUT': '1',
            'RABBITMQ_SERVER_START_ARGS': '-noinput',
            'RABBITMQ_NODENAME': self.node_name,
            'RABBITMQ_NODE_IP_ADDRESS': self.host,
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(self.extra_ports['dist']),
            'ERL_EPMD_PORT': str(self.extra_ports['epmd']),
            'ERL_EPMD_ADDRESS': self.host,
            'RABBITMQ_MNESIA_BASE': self._path('mnesia'),
            'RABBITMQ_LOG_BASE': self._path('log'),
            'RABBITMQ_CONFIG_FILE': self._path('rabbitmq.conf'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': self._path('enabled_plugins'),
            'RABBITMQ_PID_FILE': self._path('rabbit.pid'),
            'RABBITMQ_CONF_ENV_FILE': self._path('rabbitmq-env.conf'),
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                '-kernel inet_dist_use_interface {%s}' % (
                    self.host.replace('.', ',')),
        }
        return environ

    def _launch(self):
        self._start_epmd()
        try:
            super(RabbitServer, self)._launch()
        except Exception:
            self._stop_epmd()
            raise

    def _start_epmd(self):
        self._stop_epmd()
        argv = [shutil.which('epmd') or 'epmd', '-port',
                str(self.extra_ports['epmd']), '-address', self.host]
        preexec = None
        if (not self.detached and
                threading.current_thread() is threading.main_thread()):
            preexec = processes.set_pdeathsig()   # as for the broker
        with open(self._path('epmd.log'), 'ab') as log:
            try:
                self._epmd = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                    close_fds=True, preexec_fn=preexec)
            except OSError as exc:
                raise common.LockServerError('cannot run %s: %s' % (
                    argv[0], exc))

    def _stop_epmd(self):
        epmd, self._epmd = self._epmd, None
        if epmd is None or epmd.poll() is not None:
            return
        epmd.send_signal(signal.SIGTERM)
        try:
            epmd.wait(timeout=common.KILL_TIMEOUT)
        except subprocess.TimeoutExpired:
            epmd.kill()
            epmd.wait(timeout=common.KILL_TIMEOUT)

    def _terminate(self, graceful=True):
        try:
            super(RabbitServer, self)._terminate(graceful)
        finally:
            self._stop_epmd()

    def _reset_data(self):
        shutil.rmtree(self._path('mnesia'), ignore_errors=True)

    def ping(self, timeout=1.0):
        """Whether an AMQP 0-9-1 broker answers the protocol header."""
        try:
            with socket.create_connection((self.host, self.port),
                                          timeout=timeout) as sock:
                sock.sendall(_AMQP_HEADER)
                frame = sock.recv(7)
        except OSError:
            return False
        # The broker opens with a method frame: Connection.Start.
        return len(frame) == 7 and frame[0] == _FRAME_METHOD
