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

"""Hosts apart on one machine: network namespaces on a bridge.

:class:`Network` makes a bridge and, per "host", a network namespace with
a veth on that bridge and one address of a /24 inside 10.0.0.0/8. The
bridge has no address, and the /24 gets an ``unreachable`` route on the
machine, so the machine's own processes reach no namespace (and send
nothing for those addresses out of its real interfaces), and no namespace
reaches the machine's 127.0.0.1: servers shared by the hosts must run in
a namespace of their own, and traffic between hosts crosses the bridge
only. Every namespace, veth and the bridge are named
with one prefix, so that :func:`cleanup` finds what a crashed run left.

A *partition* is an nftables table inside the cut-off host's namespace
that drops what it sends and receives (except on ``lo``), applied and
removed in one ``nft`` run each: the cut is silent, as a real one, unlike
a link taken down (which fails at once with ENETUNREACH).

Needs root, ``ip`` (iproute2) and ``nft`` (nftables). Each command runs
with a bounded wait; a failure raises :class:`NetnsError` naming the
command and what it printed.
"""

import contextlib
import ctypes
import ctypes.util
import fcntl
import ipaddress
import os
import shutil
import subprocess
import threading
import time

#: Seconds one ``ip`` or ``nft`` command may take.
COMMAND_TIMEOUT = 30

#: Interface names are at most 15 bytes (IFNAMSIZ - 1).
_MAX_IFNAME = 15

_CLONE_NEWNET = 0x40000000
#: One set of namespaces of a prefix at a time on the machine.
LOCK_DIR = '/run/lock'
#: Seconds between two tries of a :class:`MachineLock` taken with a
#: timeout.
POLL_INTERVAL = 0.5


class NetnsError(Exception):
    """A namespace, link or partition could not be made or removed."""


def missing():
    """What this process lacks to make namespaces: ``ip``, ``nft``, root."""
    lacking = [tool for tool in ('ip', 'nft') if shutil.which(tool) is None]
    if os.geteuid() != 0:
        lacking.append('root')
    return lacking


def _run(argv, stdin=None):
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError:
        raise NetnsError('%s is not installed (iproute2, nftables)' %
                         argv[0]) from None
    except subprocess.TimeoutExpired:
        raise NetnsError('%s did not finish within %d s' % (
            ' '.join(argv), COMMAND_TIMEOUT)) from None
    if done.returncode:
        raise NetnsError('%s failed (exit %d): %s' % (
            ' '.join(argv), done.returncode,
            (done.stderr or done.stdout).strip()))
    return done.stdout


def namespaces(prefix):
    """Names of the network namespaces that start with ``prefix-``."""
    names = []
    for line in _run(['ip', 'netns', 'list']).splitlines():
        name = line.split()[0] if line.split() else ''
        if name.startswith(prefix + '-'):
            names.append(name)
    return sorted(names)


def links(prefix):
    """Names of the machine's links that start with ``prefix-``."""
    names = []
    for line in _run(['ip', '-o', 'link', 'show']).splitlines():
        fields = line.split(':', 2)
        if len(fields) < 3:
            continue
        name = fields[1].strip().split('@')[0]
        if name.startswith(prefix + '-'):
            names.append(name)
    return sorted(names)


def _unreachable_routes(subnet):
    return [line for line in _run(['ip', 'route', 'show', 'type',
                                   'unreachable']).splitlines()
            if line.split() and line.split()[1] == str(subnet)]


def cleanup(prefix, subnet=None):
    """Remove every namespace and link named ``prefix-*``.

    For what a run that crashed left behind; removing a namespace removes
    the veth end inside it, and its peer with it. With *subnet*, also the
    ``unreachable`` route of that /24. Returns what was removed.
    """
    removed = []
    if subnet is not None and _unreachable_routes(subnet):
        _run(['ip', 'route', 'delete', 'unreachable', str(subnet)])
        removed.append('unreachable %s' % subnet)
    for name in namespaces(prefix):
        _run(['ip', 'netns', 'delete', name])
        removed.append(name)
    for name in links(prefix):
        try:
            _run(['ip', 'link', 'delete', name])
        except NetnsError:
            if name in links(prefix):  # not gone with its peer
                raise
        removed.append(name)
    return removed


def _setns(fd):
    """Move the calling thread into the network namespace of ``fd``."""
    setns = getattr(os, 'setns', None)  # Python 3.12+
    if setns is not None:
        setns(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6',
                       use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


class Entered(object):
    """The calling thread moved into namespace ``netns``; :meth:`leave`.

    A network namespace is a property of a thread: threads and processes
    this thread starts from now on are born in ``netns``, sockets it opens
    are of ``netns``; other threads stay where they are. :meth:`leave`
    must run on the same thread.

    :raises NetnsError: the namespace does not exist or cannot be entered.
    """

    def __init__(self, netns):
        self.netns = netns
        self._thread = threading.get_ident()
        self._home = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
        try:
            fd = os.open(os.path.join('/run/netns', netns), os.O_RDONLY)
        except OSError as e:
            os.close(self._home)
            raise NetnsError('network namespace %s cannot be opened: %s' %
                             (netns, e.strerror)) from None
        try:
            _setns(fd)
        except OSError as e:
            os.close(self._home)
            raise NetnsError('cannot enter network namespace %s: %s' %
                             (netns, e.strerror)) from None
        finally:
            os.close(fd)

    def leave(self):
        """Back to the namespace the thread was in; idempotent."""
        if self._home is None:
            return
        if threading.get_ident() != self._thread:
            raise NetnsError('leave() the namespace %s from the thread '
                             'that entered it' % self.netns)
        try:
            _setns(self._home)
        finally:
            os.close(self._home)
            self._home = None


@contextlib.contextmanager
def inside(netns):
    """Run the block's thread inside ``netns``."""
    entered = Entered(netns)
    try:
        yield entered
    finally:
        entered.leave()


class MachineLock(object):
    """An exclusive lock on ``subnet`` on this machine.

    Held (``flock``) while a run or a test has namespaces with addresses
    of the subnet, so that two never share it (their addresses and the
    subnet's route would clash); the kernel drops it when its process
    dies.
    """

    def __init__(self, subnet):
        self.path = os.path.join(LOCK_DIR, 'cinder-netns-%s.lock' % (
            str(subnet).replace('/', '_')))
        self._fd = None

    def acquire(self, blocking=True, timeout=None, clock=time.monotonic,
                wait=threading.Event().wait):
        """Take it.

        :param blocking: False tries once.
        :param timeout: seconds to wait at most (tried every
            :data:`POLL_INTERVAL` s, as ``flock`` has no timed wait);
            None waits as long as it takes.
        :param clock: monotonic clock the timeout is measured on.
        :param wait: ``wait(seconds)`` between tries.
        :returns: True, or False when not taken (another process has it).
        """
        os.makedirs(LOCK_DIR, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = None if timeout is None else clock() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (
                        0 if blocking and deadline is None
                        else fcntl.LOCK_NB))
                    break
                except BlockingIOError:
                    if not blocking or clock() >= deadline:
                        os.close(fd)
                        return False
                    wait(min(POLL_INTERVAL, max(0.0, deadline - clock())))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()


class Host(object):
    """One namespace on the bridge: ``name``, ``netns`` and ``address``."""

    def __init__(self, name, netns, address, veth):
        self.name = name
        self.netns = netns
        self.address = address
        self.veth = veth
        self.cut = False

    def command(self, argv):
        """*argv* run inside this host's namespace."""
        return ['ip', 'netns', 'exec', self.netns] + list(argv)

    def __repr__(self):
        return '<Host %s %s in %s>' % (self.name, self.address, self.netns)


class Network(object):
    """A bridge and the hosts on it, all named ``<prefix>-*``.

    :param prefix: at most 8 characters, so that every name fits an
        interface name.
    :param subnet: the /24 the hosts' addresses come from (inside
        10.0.0.0/8); hosts get .1, .2, ... in the order they are added.
    """

    def __init__(self, prefix='cvaa', subnet='10.77.0.0/24'):
        if not prefix or len(prefix) > 8 or not prefix.replace(
                '-', '').isalnum():
            raise ValueError('prefix must be 1 to 8 letters or digits: %r' %
                             (prefix,))
        network = ipaddress.ip_network(subnet)
        if network.prefixlen != 24 or not network.subnet_of(
                ipaddress.ip_network('10.0.0.0/8')):
            raise ValueError('subnet must be a /24 inside 10.0.0.0/8: %s' %
                             subnet)
        self.prefix = prefix
        self.subnet = network
        self.bridge = '%s-br' % prefix
        self.hosts = {}
        self._created = False

    def create(self):
        """Make the bridge; removes leftovers of the same prefix first."""
        cleanup(self.prefix, self.subnet)
        # First, so that nothing for the hosts' addresses ever leaves by
        # the machine's default route.
        _run(['ip', 'route', 'add', 'unreachable', str(self.subnet)])
        self._created = True
        _run(['ip', 'link', 'add', self.bridge, 'type', 'bridge'])
        _run(['ip', 'link', 'set', self.bridge, 'up'])
        return self

    def add_host(self, name):
        """A new namespace ``<prefix>-<name>`` with the next address."""
        if not self._created:
            raise NetnsError('create() the network first')
        if name in self.hosts:
            raise ValueError('host %s exists already' % name)
        index = len(self.hosts) + 1
        if index > 254:
            raise NetnsError('no address left in %s' % self.subnet)
        netns = '%s-%s' % (self.prefix, name)
        outside = '%s-v%d' % (self.prefix, index)
        inside = '%s-p%d' % (self.prefix, index)
        if len(outside) > _MAX_IFNAME or len(inside) > _MAX_IFNAME:
            raise ValueError('prefix too long for interface names')
        address = str(self.subnet.network_address + index)
        _run(['ip', 'netns', 'add', netns])
        host = Host(name, netns, address, outside)
        self.hosts[name] = host
        _run(['ip', 'link', 'add', outside, 'type', 'veth', 'peer', 'name',
              inside])
        _run(['ip', 'link', 'set', inside, 'netns', netns])
        _run(['ip', 'link', 'set', outside, 'master', self.bridge])
        _run(['ip', 'link', 'set', outside, 'up'])
        _run(host.command(['ip', 'addr', 'add', '%s/%d' % (
            address, self.subnet.prefixlen), 'dev', inside]))
        _run(host.command(['ip', 'link', 'set', inside, 'up']))
        _run(host.command(['ip', 'link', 'set', 'lo', 'up']))
        return host

    def _table(self):
        return '%s_cut' % self.prefix.replace('-', '_')

    def partition(self, name, inbound=True, outbound=True, peers=None,
                  ports=None):
        """Cut host *name* off: drop what it receives and/or sends.

        :param peers: addresses to cut it from (default: every one).
        :param ports: TCP ports of those peers to cut it from (default:
            every port): what it sends to them, what it gets from them.
        Applied in one ``nft`` run: atomically.
        """
        host = self.hosts[name]
        rules = ['table inet %s {' % self._table()]
        for chain, hook, wanted, direction, iface, port in (
                ('cut_in', 'input', inbound, 'ip saddr', 'iif',
                 'tcp sport'),
                ('cut_out', 'output', outbound, 'ip daddr', 'oif',
                 'tcp dport')):
            if not wanted:
                continue
            rules.append('  chain %s {' % chain)
            rules.append('    type filter hook %s priority 0; policy accept;'
                         % hook)
            rules.append('    %s "lo" accept' % iface)
            match = ''
            if peers:
                match += '%s { %s } ' % (direction, ', '.join(peers))
            if ports:
                match += '%s { %s } ' % (port, ', '.join(
                    str(p) for p in ports))
            rules.append('    %sdrop' % match)
            rules.append('  }')
        rules.append('}')
        _run(host.command(['nft', '-f', '-']), stdin='\n'.join(rules) + '\n')
        host.cut = True

    def heal(self, name):
        """Remove the partition of host *name* (one ``nft`` run)."""
        host = self.hosts[name]
        if not host.cut:
            return
        _run(host.command(['nft', 'delete', 'table', 'inet',
                           self._table()]))
        host.cut = False

    def destroy(self):
        """Remove the hosts' namespaces, their veths and the bridge."""
        self.hosts = {}
        self._created = False
        return cleanup(self.prefix, self.subnet)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc_info):
        self.destroy()
