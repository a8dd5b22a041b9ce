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

"""The volume service's lifecycle: what starts and stops in which order.

Start:

1. load ``[DEFAULT] volume_driver`` and check it may run as configured
   (a ``cluster`` needs a driver that supports Active/Active);
2. start the coordinator (:data:`cinder.coordination.COORDINATOR`): no
   driver code runs before locks work; from then on, the child processes
   of a section whose lock is declared lost are killed
   (:mod:`cinder.volume.lost_locks`);
3. join the volume services' group at the lock backend, unless a live
   member already serves this host (:mod:`cinder.membership`);
4. the manager's ``init_host`` sets the driver up;
5. take requests from the message bus (``[DEFAULT] transport_url``) at
   ``host@backend`` and, in a cluster, ``cluster@backend``
   (:mod:`cinder.messaging`); in a cluster, tell every member where this
   service takes its locks (members that take theirs elsewhere say so).

Stop runs the same steps backwards, and waits before each step until
nothing works under the locks the next one drops:

1. stop taking requests from the bus, and wait up to ``[DEFAULT]
   graceful_shutdown_timeout`` for those in flight, those taken but not
   begun included;
2. if the bound passes: refuse those not begun (nothing was done for
   them), ``SIGKILL`` the child processes (``qemu-img``, ``tgtadm``) of the
   ones still running and any they start from then on
   (:mod:`cinder.common.processes`), so that each fails with an error
   that says it was killed, and wait up to :data:`CUT_OFF_TIMEOUT` for
   their threads to end and release their locks; both steps are logged
   at WARNING, with what was killed and which requests still ran;
3. the manager's ``cleanup`` (the driver's ``stop``);
4. leave the group, and stop the coordinator: a request still running
   then loses its locks and fails at its next lock check;
5. close the connection to the bus.

A failure at any start step undoes the steps before it and raises
:class:`cinder.exception.ServiceStartError` with a message that says what
to fix.
"""

import socket
import threading
import time
import urllib.parse

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging

from cinder.common import config
from cinder.common import processes
from cinder import coordination
from cinder import exception
from cinder import membership
from cinder import messaging
from cinder import request_server
from cinder.volume import driver as driver_mod
from cinder.volume import lost_locks
from cinder.volume import manager as manager_mod
from cinder.volume import rpcapi

LOG = logging.getLogger(__name__)

#: Seconds a stop waits for the requests it cut off (their children
#: killed) to end, so that they release their locks before the
#: coordinator stops. Short: a killed command fails its request at once.
CUT_OFF_TIMEOUT = 5.0


class Service(object):
    """One ``cinder-volume`` service.

    :param conf: the oslo.config object (``cfg.CONF`` by default).
    :param coordinator: the lock coordinator; :data:`COORDINATOR` by
        default, which is what the manager's and drivers' locks use.
    """

    def __init__(self, conf=None, coordinator=None):
        self.conf = conf if conf is not None else cfg.CONF
        self.conf.register_opts(config.global_opts)
        self.conf.register_opts(config.volume_service_opts)
        self.coordinator = (coordinator if coordinator is not None
                            else coordination.COORDINATOR)
        self.manager = None
        self._server = None
        self._transport = None
        self._membership = None
        self._stopped = threading.Event()
        self._state_lock = threading.Lock()
        self._started = False

    @property
    def host(self):
        return self.conf.host

    @property
    def cluster(self):
        return self.conf.cluster

    @property
    def transport(self):
        """The oslo.messaging transport, while the service runs."""
        return self._transport

    def start(self):
        """Start in the order of the module docstring.

        :raises ServiceStartError: the driver cannot be loaded, cannot run
            in the configured cluster, the coordinator or the driver
            cannot start, or the message bus cannot be used.
        """
        with self._state_lock:
            if self._started:
                return
            LOG.info('Starting cinder-volume: host %s, cluster %s',
                     self.host, self.cluster or '(none)')
            if self.cluster and self.cluster == self.host:
                raise exception.ServiceStartError(
                    '[DEFAULT] cluster = %s is the same as [DEFAULT] host: '
                    'a cluster needs a name of its own, different from '
                    'every host in it' % self.cluster)
            volume_driver = self._load_driver()
            try:
                self._transport = messaging.get_transport(self.conf)
            except exception.ConfigurationError as e:
                raise exception.ServiceStartError(str(e)) from None
            self._start_coordinator()
            self._join(volume_driver)
            self.manager = manager_mod.VolumeManager(
                volume_driver, self.host, cluster=self.cluster)
            try:
                self.manager.init_host()
            except Exception as e:
                LOG.exception('Volume driver %s failed to start',
                              self.conf.volume_driver)
                self._quietly(self.manager.cleanup)
                self._undo_join_and_coordinator()
                raise exception.ServiceStartError(
                    'volume driver %s failed to start: %s' %
                    (self.conf.volume_driver, e)) from None
            me = self._membership.me
            cluster_endpoint = membership.ClusterEndpoint(me, self._cast)
            self._server = request_server.RequestServer(
                self._transport, messaging.server_targets(
                    self.host, volume_driver.backend_name, self.cluster),
                self.manager, self.manager.RPC_METHODS,
                extra_endpoints=[cluster_endpoint])
            try:
                self._server.start()
            except Exception as e:
                self._server = None
                self._quietly(self.manager.cleanup)
                self._undo_join_and_coordinator()
                raise exception.ServiceStartError(str(e)) from None
            self._started = True
            self._stopped.clear()
            self._log_addresses()
            if self.cluster:
                self._cast('%s@%s' % (self.cluster, me['backend']),
                           'member_joined', fanout=True, member=me)
            LOG.info('cinder-volume started on host %s', self.host)

    def _load_driver(self):
        try:
            volume_driver = driver_mod.load_driver(
                self.conf.volume_driver, configuration=self.conf,
                host=self.host)
        except exception.ConfigurationError as e:
            raise exception.ServiceStartError(str(e)) from None
        if self.cluster and not volume_driver.SUPPORTS_ACTIVE_ACTIVE:
            raise exception.ServiceStartError(
                '[DEFAULT] cluster = %s is set, but volume driver %s does '
                'not support Active/Active; unset cluster or use a driver '
                'that does' % (self.cluster, self.conf.volume_driver))
        return volume_driver

    def _join(self, volume_driver):
        """Join the services' group; refuse a taken host."""
        backend = self.coordinator.backend
        me = membership.record(
            self.host, self.cluster, volume_driver.backend_name,
            self._bus_address(), self.conf.volume_driver,
            backend.masked_url, backend.location())
        self._membership = membership.Membership(self.coordinator, me)
        try:
            self._membership.join()
        except exception.ServiceStartError:
            self._undo_join_and_coordinator()
            raise
        except coordination.CoordinationError as e:
            self._undo_join_and_coordinator()
            raise exception.ServiceStartError(
                'cannot join the group of the volume services at the lock '
                'backend: %s' % e) from None

    def _undo_join_and_coordinator(self):
        if self._membership is not None:
            self._quietly(self._membership.leave)
            self._membership = None
        self._quietly(self.coordinator.stop)
        self._close_transport()

    def _cast(self, address, method, fanout=False, **args):
        """Cast to a member or the cluster; a failure is only logged."""
        try:
            rpcapi.VolumeAPI(self._transport, address, timeout=10).cast(
                method, fanout=fanout, **args)
        except exception.CinderException as e:
            LOG.warning('Could not send %s to %s: %s', method, address, e)

    def _start_coordinator(self):
        try:
            self.coordinator.start()
        except coordination.CoordinationError as e:
            self._close_transport()
            # The coordinator's messages name the option and mask secrets.
            raise exception.ServiceStartError(
                'the lock coordinator cannot start: %s' % e) from None
        self.coordinator.add_hook(lost_locks.KillChildren())
        backend = self.coordinator.backend
        if self.cluster and backend is not None and not backend.distributed:
            LOG.warning(
                '[DEFAULT] cluster = %s is set but [coordination] '
                'backend_url = %s keeps locks on this host only: services '
                'of the cluster on other hosts will not see them. Use a '
                'distributed backend (redis://, zookeeper://, '
                'etcd3+http://) before running services on several hosts.',
                self.cluster, backend.masked_url)

    def stop(self):
        """Stop in the order of the module docstring; idempotent.

        Bounded: it returns after at most ``graceful_shutdown_timeout``
        plus :data:`CUT_OFF_TIMEOUT` seconds (plus the driver's and the
        coordinator's own stops), whatever the requests do.
        """
        with self._state_lock:
            if not self._started:
                return
            LOG.info('Stopping cinder-volume on host %s', self.host)
            if self._server is not None:
                server, self._server = self._server, None
                timeout = self.conf.graceful_shutdown_timeout
                if not server.stop(timeout=timeout):
                    self._cut_off(server, timeout)
            self._quietly(self.manager.cleanup)
            self._undo_join_and_coordinator()
            self._started = False
            self._stopped.set()
            LOG.info('cinder-volume stopped on host %s', self.host)

    def _cut_off(self, server, timeout):
        """Kill the children of the requests still running; wait briefly."""
        running = [r for r in server.requests() if r.thread is not None]
        reason = ('cinder-volume on host %s is stopping and the request '
                  'was still running after [DEFAULT] '
                  'graceful_shutdown_timeout = %s s' % (self.host, timeout))
        killed = processes.REGISTRY.kill([r.thread for r in running],
                                         reason)
        now = time.monotonic()
        if killed:
            of = {r.thread: r.summary for r in running}
            LOG.warning('Killed %d child process(es) of the volume requests '
                        'still running: %s', len(killed), '; '.join(
                            '%s of %s' % (c.describe(now), of[c.thread])
                            for c in killed))
        else:
            LOG.warning('No child process to kill for the %d volume '
                        'request(s) still running', len(running))
        if not server.wait(CUT_OFF_TIMEOUT):
            now = time.monotonic()
            left = [r.describe(now) for r in server.requests()]
            LOG.warning('%d volume request(s) still running %s s after '
                        'their child processes were killed: %s; the '
                        'coordinator stops now and their locks are lost',
                        len(left), CUT_OFF_TIMEOUT, ', '.join(left))

    def _brokers(self):
        try:
            return [(b.hostname, b.port or 5672) for b in
                    oslo_messaging.TransportURL.parse(
                        self.conf, self.conf.transport_url).hosts
                    if b.hostname]
        except oslo_messaging.InvalidTransportURL:
            return []

    def _bus_address(self):
        """The address this host reaches the (first) broker from."""
        brokers = self._brokers()
        return _source_address(*brokers[0]) if brokers else None

    def _log_addresses(self):
        """Log the addresses this host reaches the bus and locks from.

        Only a log line: what cannot be parsed is left out.
        """
        peers = [('message bus', host, port)
                 for host, port in self._brokers()]
        backend = self.coordinator.backend
        masked = getattr(backend, 'masked_url', None)
        if isinstance(masked, str) and backend.distributed:
            try:
                parts = urllib.parse.urlsplit(masked)
                if parts.hostname:
                    peers.append(('lock backend', parts.hostname,
                                  parts.port or 0))
            except ValueError:
                pass
        seen = ['%s %s:%s from %s' % (what, host, port,
                                      _source_address(host, port))
                for what, host, port in peers if host]
        if seen:
            LOG.info('Host %s reaches the %s', self.host, '; the '.join(seen))

    def _close_transport(self):
        transport, self._transport = self._transport, None
        if transport is not None:
            self._quietly(transport.cleanup)

    def wait(self, timeout=None):
        """Block until :meth:`stop` has run; True if it has."""
        return self._stopped.wait(timeout)

    @staticmethod
    def _quietly(call):
        try:
            call()
        except Exception:
            LOG.exception('Error while stopping (%s)',
                          getattr(call, '__qualname__', call))


def _source_address(host, port):
    """The local address this host sends from to ``host``; '?' if none.

    A UDP socket's connect() chooses the route and source address and
    sends nothing.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((host, port or 9))
            return sock.getsockname()[0]
    except OSError:
        return '?'
