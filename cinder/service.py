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
   driver code runs before locks work;
3. the manager's ``init_host`` sets the driver up;
4. accept requests on ``[DEFAULT] request_socket``.

Stop runs the same steps backwards: stop accepting requests and wait up to
``[DEFAULT] graceful_shutdown_timeout`` for those in flight, the manager's
``cleanup``, then stop the coordinator, so that no lock is dropped while
the driver may still act under it.

A failure at any start step undoes the steps before it and raises
:class:`cinder.exception.ServiceStartError` with a message that says what
to fix.
"""

import threading

from oslo_config import cfg
from oslo_log import log as logging

from cinder.common import config
from cinder import coordination
from cinder import exception
from cinder import rpc
from cinder.volume import driver as driver_mod
from cinder.volume import manager as manager_mod

LOG = logging.getLogger(__name__)


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
        self._stopped = threading.Event()
        self._state_lock = threading.Lock()
        self._started = False

    @property
    def host(self):
        return self.conf.host

    @property
    def cluster(self):
        return self.conf.cluster

    def start(self):
        """Start in the order of the module docstring.

        :raises ServiceStartError: the driver cannot be loaded, cannot run
            in the configured cluster, the coordinator or the driver
            cannot start, or the request socket cannot be bound.
        """
        with self._state_lock:
            if self._started:
                return
            LOG.info('Starting cinder-volume: host %s, cluster %s',
                     self.host, self.cluster or '(none)')
            volume_driver = self._load_driver()
            self._start_coordinator()
            self.manager = manager_mod.VolumeManager(
                volume_driver, self.host, cluster=self.cluster)
            try:
                self.manager.init_host()
            except Exception as e:
                LOG.exception('Volume driver %s failed to start',
                              self.conf.volume_driver)
                self._quietly(self.manager.cleanup)
                self._quietly(self.coordinator.stop)
                raise exception.ServiceStartError(
                    'volume driver %s failed to start: %s' %
                    (self.conf.volume_driver, e)) from None
            if self.conf.request_socket:
                self._server = rpc.Server(self.conf.request_socket,
                                          self.manager,
                                          self.manager.RPC_METHODS)
                try:
                    self._server.start()
                except Exception as e:
                    self._server = None
                    self._quietly(self.manager.cleanup)
                    self._quietly(self.coordinator.stop)
                    raise exception.ServiceStartError(str(e)) from None
            self._started = True
            self._stopped.clear()
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

    def _start_coordinator(self):
        try:
            self.coordinator.start()
        except coordination.CoordinationError as e:
            # The coordinator's messages name the option and mask secrets.
            raise exception.ServiceStartError(
                'the lock coordinator cannot start: %s' % e) from None
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
        """Stop in reverse start order; safe to call more than once."""
        with self._state_lock:
            if not self._started:
                return
            LOG.info('Stopping cinder-volume on host %s', self.host)
            if self._server is not None:
                self._server.stop(
                    timeout=self.conf.graceful_shutdown_timeout)
                self._server = None
            self._quietly(self.manager.cleanup)
            self._quietly(self.coordinator.stop)
            self._started = False
            self._stopped.set()
            LOG.info('cinder-volume stopped on host %s', self.host)

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
