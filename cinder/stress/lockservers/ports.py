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


"""Free ports of 127.0.0.1, and which process listens on one."""

import ipaddress
import os
import random
import socket
import sys
import threading

from cinder.stress.lockservers import common
from cinder.stress.lockservers import processes

# Ports are picked at random below the kernel's ephemeral range, so that a
# server never collides with the source port of an outgoing connection.
_PORT_RANGE_FALLBACK = (15000, 32767)


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
        sock.bind((common.HOST, port))
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
                sock.bind((common.HOST, 0))
                port = sock.getsockname()[1]
            finally:
                sock.close()
            if port not in _allocated_ports:
                _allocated_ports.add(port)
                return port
    raise common.LockServerError('no free port found on %s' % common.HOST)


def _decode_address(hex_address):
    """An address of /proc/net/tcp{,6} as a string (IPv4-mapped: IPv4)."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == 'little':  # the kernel prints 32-bit host words
        raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(raw)
    return str(getattr(address, 'ipv4_mapped', None) or address)


def _listening_sockets():
    """(inode, address, port) of each listening TCP socket; None: no /proc."""
    sockets = []
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
                address, port = fields[1].rsplit(':', 1)
                sockets.append((fields[9], _decode_address(address),
                                int(port, 16)))
    return sockets if found_table else None


def _listening_inodes(port):
    """Inodes of the sockets listening on ``port``, or None without /proc."""
    sockets = _listening_sockets()
    if sockets is None:
        return None
    return {inode for inode, _address, bound in sockets if bound == port}


def listening_addresses(pid):
    """The ``(address, port)`` pairs on which process ``pid`` listens (TCP).

    ``0.0.0.0`` and ``::`` mean every interface; an IPv4-mapped IPv6
    address (a JVM's ``[::ffff:127.0.0.1]``) is given as IPv4.

    :raises LockServerError: the process's descriptors or the kernel's
        socket tables cannot be read (the process is gone, or no /proc).
    """
    sockets = _listening_sockets()
    targets = processes.open_file_targets(pid)
    if sockets is None or targets is None:
        raise common.LockServerError(
            'cannot list the listening sockets of pid %d: no such process '
            'or no /proc' % pid)
    inodes = {t[8:-1] for t in targets if t.startswith('socket:[')}
    return {(address, port) for inode, address, port in sockets
            if inode in inodes}


def pid_listens_on(pid, port):
    """Whether process ``pid`` holds the socket listening on ``port``.

    Returns True when this cannot be told (no /proc).
    """
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    targets = processes.open_file_targets(pid)
    if targets is None:
        return not os.path.isdir('/proc/self/fd')
    return any(t.startswith('socket:[') and t[8:-1] in inodes
               for t in targets)
