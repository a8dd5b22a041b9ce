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


"""A standalone ZooKeeper server from Debian's jars."""

import os
import shutil
import socket

from cinder.stress.lockservers import server


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


class ZooKeeperServer(server.LockServer):
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
                 force_sync=True, heap='256m', host=None):
        super(ZooKeeperServer, self).__init__(
            port=port, data_dir=data_dir, start_timeout=start_timeout,
            stop_timeout=stop_timeout, detached=detached, host=host)
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
