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

"""A small cluster of volume services on this host, for cinder-aa-stress.

:class:`Cluster` runs N real ``cinder-volume`` processes of one
``[DEFAULT] cluster`` on one NFS share (a local directory), all with one
``[coordination] backend_url`` and one ledger file, and can inject the
faults an operator fears: a service killed (``kill -9``) and restarted, a
service paused past its lock lease (SIGSTOP/SIGCONT of its process group,
so a running ``qemu-img`` stops too), the lock server restarted.
Requests reach the services over a RabbitMQ broker: a private one this
module starts on 127.0.0.1, or the one of a given ``transport_url``.

With ``hosts='netns'`` every service runs on a "host" of its own: a
network namespace with its own address on a bridge
(:mod:`cinder.stress.netns`), and the broker and the lock server run in a
control namespace, ``ctl``, where this process's calling thread moves
too (it plays the controller: its requests and probes leave from there).
No service reaches another's loopback or the machine's: locks and
requests cross the bridge. The share stays a directory every namespace
sees (the kernel has no NFS client). There a host can also be cut off
from the broker and the lock server (:meth:`Cluster.partition`).

With ``faultfs=True`` the services get the share through the
fault-injecting file system (:mod:`cinder.stress.faultfs`), mounted over
the share directory before they start, where NFS failures can be armed
(:attr:`Cluster.fs`); the tool's own reads and the verdict keep using the
directory itself. A mount is seen from every namespace: ``ip netns exec``
gives the services a copy of this mount table.
"""

import os
import sys
import threading
import time

from oslo_config import cfg

from cinder import coordination
from cinder import local_service
from cinder import messaging
from cinder.stress import faultfs as faultfs_mod
from cinder.stress import holds
from cinder.stress import lockservers
from cinder.stress import netns
from cinder.stress import servicelogs

#: Lease of a lock (Redis, etcd) or session timeout (ZooKeeper), seconds,
#: for clusters whose lock server this module starts: short, so that a
#: paused service loses its locks within a bounded test.
TEST_LEASE = 6

#: The ways :meth:`Cluster.partition` can cut a host off.
PARTITIONS = ('both', 'one-way', 'lock-server')

_LEASE_QUERY = {'redis': 'lock_timeout', 'etcd': 'lock_timeout',
                'zookeeper': 'timeout'}

HOSTS = ('local', 'netns')
#: Names of the namespaces, veths and bridge of ``hosts='netns'``.
NETNS_PREFIX = 'cvaa'
#: The one /24 their addresses come from.
NETNS_SUBNET = '10.77.0.0/24'


class ClusterError(Exception):
    pass


def tool_coordinator(url, timeout):
    """A started coordinator of the tool's own on *url*.

    With no configuration file, and *timeout* as its ``backend_timeout``.
    The caller stops it.

    :raises CoordinationError: the backend cannot be used.
    """
    conf = cfg.ConfigOpts()
    coordinator = coordination.Coordinator(conf=conf)
    conf([], project='cinder-aa-stress', default_config_files=[])
    conf.set_override('backend_url', url, group='coordination')
    conf.set_override('backend_timeout', timeout, group='coordination')
    coordinator.start()
    return coordinator


def backend_lease(url, timeout=10):
    """How long a lock of *url* outlives a frozen holder, in seconds.

    The lock lease (Redis, etcd) or session timeout (ZooKeeper) that a
    coordinator started on *url* gets, query options and the backend's
    defaults included; None when locks are never lost (``file://``).

    :raises ClusterError: the backend cannot be used.
    """
    try:
        coordinator = tool_coordinator(url, timeout)
    except coordination.CoordinationError as e:
        raise ClusterError(str(e)) from None
    try:
        lease = coordinator.backend.lease()
    finally:
        coordinator.stop()
    return float(lease) if lease else None


class Cluster(object):
    """N ``cinder-volume`` services sharing a share and a lock backend.

    :param work_dir: everything goes here: ``share/``, ``host-<i>/`` (each
        service's state_path), ``ledger.jsonl``, the lock server's data.
    :param lock_server: ``redis``, ``zookeeper`` or ``etcd`` to start a
        private server on 127.0.0.1 (Redis with an fsynced append-only
        file, so a restart keeps the locks); None to use ``backend_url``.
    :param backend_url: a lock backend URL; default (and with neither
        this nor ``lock_server``): ``file://<work_dir>/locks``, one lock
        directory shared by the services of this host.
    :param local_locks: each service gets its own ``file://`` lock
        directory, as host-local locks on N hosts would.
    :param volume_driver: ``[DEFAULT] volume_driver`` of every service: a
        registered name or a dotted class path (default ``nfs``).
    :param options: ``{section: {option: value}}`` added to every
        service's configuration after the cluster's own, which they
        override (an empty ``hooks`` turns the ledger off).
    :param transport_url: the message bus of the services; None starts a
        private RabbitMQ broker in ``work_dir/rabbitmq``.
    :param hosts: ``local`` (every service on this machine's network) or
        ``netns`` (a namespace per service; the broker and lock server
        in a control namespace; needs root, and neither ``backend_url``
        nor ``transport_url``: nothing outside the bridge is reachable).
    :param faultfs: give the services the share through the
        fault-injecting file system, mounted at ``share-fs/`` (see
        :func:`cinder.stress.faultfs.missing` for what it needs).
    """

    def __init__(self, work_dir, services=3, lock_server=None,
                 backend_url=None, local_locks=False, debug=False,
                 volume_driver='nfs', options=None, transport_url=None,
                 hosts='local', netns_prefix=NETNS_PREFIX,
                 netns_subnet=NETNS_SUBNET, faultfs=False):
        if services < 1:
            raise ClusterError('--services must be at least 1')
        if sum(bool(x) for x in (lock_server, backend_url,
                                 local_locks)) > 1:
            raise ClusterError('give at most one of --lock-server, '
                               '--backend-url and --local-locks')
        if hosts not in HOSTS:
            raise ClusterError('--hosts must be one of %s, not %r' % (
                ', '.join(HOSTS), hosts))
        if hosts == 'netns' and (backend_url or transport_url):
            raise ClusterError(
                '--hosts netns cannot use --%s: the namespaces reach '
                'nothing beyond their bridge; use --lock-server (and the '
                'private broker) instead' % (
                    'backend-url' if backend_url else 'transport-url'))
        self.work_dir = os.path.abspath(work_dir)
        self.share = os.path.join(self.work_dir, 'share')
        #: The share the services are given: the mount of the
        #: fault-injecting file system over :attr:`share`, or it.
        self.service_share = (os.path.join(self.work_dir, 'share-fs')
                              if faultfs else self.share)
        #: The :class:`~cinder.stress.faultfs.FaultFS` mounted at
        #: :attr:`service_share` once started (``faultfs=True``), or None.
        self.fs = None
        self._faultfs = faultfs
        self.ledger = os.path.join(self.work_dir, 'ledger.jsonl')
        self.count = services
        self.lock_server_kind = lock_server
        self.given_url = backend_url
        self.local_locks = local_locks
        self.debug = debug
        self.volume_driver = volume_driver
        self.options = options or {}
        self.server = None
        self.broker = None
        self.transport_url = transport_url
        self.hosts = hosts
        self.netns_prefix = netns_prefix
        self.netns_subnet = netns_subnet
        self.network = None
        self.control = None
        self._entered = None
        self._machine_lock = None
        self.backend_url = None
        self._given_lease = None
        self.services = []
        #: pid -> time.monotonic() of a kill -9, for the ledger analysis.
        self.killed = {}
        #: Indexes of services the workload sends no new request to (a
        #: fault wants the others to take their volumes meanwhile).
        self.avoided = set()
        self._lock = threading.Lock()

    @property
    def lease(self):
        """Seconds a paused service keeps its locks, or None (file)."""
        if self.lock_server_kind:
            return TEST_LEASE
        return self._given_lease

    def describe_backend(self):
        if self.local_locks:
            return 'file:// (one lock directory per service: local locks)'
        return coordination.mask_url(self.backend_url)

    def describe_share(self):
        """Where the services' share is, and what it is a mount of."""
        if self.service_share == self.share:
            return self.share
        return '%s (a FUSE mount of %s)' % (self.service_share, self.share)

    def describe_transport(self):
        return messaging.display_url(self.transport_url)

    def _start_broker(self):
        missing = lockservers.RabbitServer.missing()
        if missing:
            raise ClusterError('cannot start a RabbitMQ broker: missing %s '
                               '(install rabbitmq-server, or give '
                               '--transport-url)' % ', '.join(missing))
        self.broker = lockservers.RabbitServer(
            data_dir=os.path.join(self.work_dir, 'rabbitmq'),
            host=self._server_host())
        self.broker.start()
        self.transport_url = self.broker.url

    def _server_host(self):
        return self.control.address if self.control is not None else None

    def _make_network(self):
        """The namespaces; this thread moves into the control one."""
        self._machine_lock = netns.MachineLock(self.netns_subnet)
        if not self._machine_lock.acquire(blocking=False):
            sys.stderr.write('cinder-aa-stress: waiting for another run '
                             'with namespaces in %s to end\n' %
                             self.netns_subnet)
            self._machine_lock.acquire()
        self.network = netns.Network(self.netns_prefix, self.netns_subnet)
        self.network.create()
        self.control = self.network.add_host('ctl')
        for index in range(self.count):
            self.network.add_host('host-%d' % (index + 1))
        self._entered = netns.Entered(self.control.netns)

    def placement(self):
        """``[{host, netns, address}]`` of the services, in order."""
        rows = []
        for service in self.services:
            host = (self.network.hosts.get(service.host)
                    if self.network is not None else None)
            rows.append({'host': service.host,
                         'netns': host.netns if host else None,
                         'address': host.address if host else None})
        return rows

    def commit_counts(self):
        """The services' logged commits, by kind (see :mod:`.servicelogs`).

        ``fenced_off``: steps the share refused to them;
        ``ambiguous_commits``: commits whose link reported an error
        although it was made; ``commits_in_doubt``: commits whose outcome
        they could not tell.
        """
        return servicelogs.count(s.log_file for s in self.services)

    def fenced_off(self):
        """How many steps the share refused to the services (FencedOff)."""
        return self.commit_counts()['fenced_off']

    def _mount_share(self):
        """Mount the fault-injecting file system at the services' share.

        :raises ClusterError: naming what the mount needs and lacks, or
            why it did not start.
        """
        lacking = faultfs_mod.missing()
        if lacking:
            raise ClusterError('the share through the fault-injecting file '
                               'system needs %s' % ', '.join(lacking))
        os.makedirs(self.service_share, exist_ok=True)
        try:
            # A session of its own: a Ctrl-C of the tool must not end the
            # mount before the services, which use it, are stopped.
            self.fs = faultfs_mod.FaultFS.start(
                self.share, self.service_share, new_session=True)
        except faultfs_mod.FaultFSError as e:
            raise ClusterError(str(e)) from None

    def _write_shares_file(self):
        """The services' ``nfs_shares_config``: their share; its path."""
        path = os.path.join(self.work_dir, 'nfs_shares')
        with open(path, 'w') as f:
            f.write(self.service_share + '\n')
        return path

    def start(self):
        os.makedirs(self.share, exist_ok=True)
        if self._faultfs:
            self._mount_share()
        if self.hosts == 'netns':
            self._make_network()
        if self.transport_url is None:
            self._start_broker()
        shares_file = self._write_shares_file()
        if self.lock_server_kind:
            cls = lockservers.server_class(self.lock_server_kind)
            if cls is lockservers.RedisServer:
                cls = lockservers.PersistentRedisServer
            missing = cls.missing()
            if missing:
                raise ClusterError('cannot start a %s server: missing %s' %
                                   (self.lock_server_kind,
                                    ', '.join(missing)))
            self.server = cls(data_dir=os.path.join(self.work_dir,
                                                    'lock-server'),
                              host=self._server_host())
            self.server.start()
            self.backend_url = '%s?%s=%d' % (
                self.server.url, _LEASE_QUERY[self.lock_server_kind],
                TEST_LEASE)
        elif self.given_url:
            self.backend_url = self.given_url
            self._given_lease = backend_lease(self.given_url)
        else:
            self.backend_url = 'file://' + os.path.join(self.work_dir,
                                                        'locks')
        for index in range(self.count):
            host = 'host-%d' % (index + 1)
            state = os.path.join(self.work_dir, host)
            url = ('file://' + os.path.join(state, 'locks')
                   if self.local_locks else self.backend_url)
            hold_dir = os.path.join(state, 'holds')
            os.makedirs(hold_dir, exist_ok=True)
            options = {
                'DEFAULT': {'volume_driver': self.volume_driver,
                            'transport_url': self.transport_url,
                            'cluster': 'stress',
                            'nfs_shares_config': shares_file,
                            'nfs_snapshot_support': 'true',
                            'graceful_shutdown_timeout': '10'},
                'coordination': {'backend_url': url,
                                 'hooks': 'ledger,step-hold',
                                 'ledger_file': self.ledger,
                                 'step_hold_dir': hold_dir,
                                 'backend_timeout': '10',
                                 'max_reconnect_backoff': '2'},
            }
            for section, values in self.options.items():
                options.setdefault(section, {}).update(values)
            service = local_service.ServiceProcess(
                state, options, host=host, debug=self.debug,
                new_session=True,
                netns=(self.network.hosts[host].netns
                       if self.network is not None else None))
            service.prepare()
            self.services.append(service)
        for service in self.services:
            service.start()

    def stop(self):
        """Stop every service (SIGTERM), the lock server, the broker.

        Then the namespaces and the mount of the share, whatever failed
        before.
        """
        try:
            for service in self.services:
                try:
                    if service.paused:
                        service.resume()
                    service.terminate()
                except Exception:
                    service.kill()
            if self.server is not None:
                self.server.stop()
            local_service.close_transports()
            if self.broker is not None:
                self.broker.stop()
        finally:
            try:
                self._remove_network()
            finally:
                if self.fs is not None:
                    self.fs.stop()

    def _remove_network(self):
        """Leave the control namespace; remove every namespace made."""
        try:
            if self._entered is not None:
                self._entered.leave()
                self._entered = None
        finally:
            try:
                if self.network is not None:
                    self.network.destroy()
            finally:
                if self._machine_lock is not None:
                    self._machine_lock.release()

    # Faults --------------------------------------------------------------

    def kill_and_restart(self, index):
        """kill -9 service ``index``, start it again; return the old pid."""
        service = self.services[index]
        with self._lock:
            pid = service.process.pid
            self.killed[pid] = time.monotonic()
            service.kill(group=True)
        service.start()
        return pid

    def holds(self, index):
        """The :class:`~cinder.stress.holds.StepHolds` of service *index*."""
        options = self.services[index].options['coordination']
        return holds.StepHolds(options['step_hold_dir'])

    def pause(self, index, seconds, stop_event=None):
        """SIGSTOP service ``index`` (and its children) for ``seconds``."""
        service = self.services[index]
        service.pause()
        try:
            if stop_event is not None:
                stop_event.wait(seconds)
            else:
                time.sleep(seconds)  # the simulated freeze itself
        finally:
            service.resume()

    def partition(self, index, seconds, way='both', stop_event=None):
        """Cut service ``index``'s host off for ``seconds``, then heal.

        *way*: ``both`` (nothing passes between it and the control
        namespace, where the broker and the lock server run),
        ``one-way`` (what it sends still arrives; what it should receive
        is dropped) or ``lock-server`` (both ways, the lock server's
        port only: the broker still reaches it).

        :returns: (clock time of the cut, clock time of the heal).
        :raises ClusterError: the services are not on hosts apart.
        """
        if self.network is None or self.control is None:
            raise ClusterError('a partition needs --hosts netns')
        if way not in PARTITIONS:
            raise ValueError('way must be one of %s, not %r' % (
                ', '.join(PARTITIONS), way))
        name = self.services[index].host
        ports = None
        if way == 'lock-server':
            if self.server is None:
                raise ClusterError('a lock-server partition needs '
                                   '--lock-server')
            ports = [self.server.port]
        self.network.partition(name, outbound=(way != 'one-way'),
                               peers=[self.control.address], ports=ports)
        cut = time.monotonic()
        try:
            if stop_event is not None:
                stop_event.wait(seconds)
            else:
                time.sleep(seconds)  # the partition itself
        finally:
            self.network.heal(name)
        return cut, time.monotonic()

    def restart_lock_server(self):
        if self.server is None:
            raise ClusterError('the lock server is not started by this '
                               'tool; use --lock-server to inject this '
                               'fault')
        self.server.restart()
