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


"""Redis servers: one that forgets on restart, one that keeps every key."""

import shutil
import socket

from cinder.stress.lockservers import common
from cinder.stress.lockservers import server


class RedisServer(server.LockServer):
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
                # Protected mode answers DENIED to every client not on
                # the loopback; a namespace's address is reached from the
                # namespaces on its bridge only.
                '--protected-mode',
                'yes' if self.host == common.HOST else 'no',
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
