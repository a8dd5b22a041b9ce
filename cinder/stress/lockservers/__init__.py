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

And a private RabbitMQ broker (:class:`RabbitServer`), the services'
message bus, run the same way.

The functional tests, ``tools/lock-servers`` and the Active/Active
validation tool (``cinder-aa-stress``, which restarts its lock server to
inject faults) start their servers with this package. It is not for
production deployments: run lock servers there as the operating system
packages them. It lives under ``cinder.stress``, apart from what
``cinder-volume`` imports (``cinder/tests/unit/cmd/test_volume_imports.py``
checks that).

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

This package needs only the standard library, except for
:class:`LockServerFixture`, which needs ``fixtures``; ``tools/lock-servers``
uses it too. Its modules: ``common`` (errors, settings), ``ports`` and
``processes`` (free ports, /proc), ``server`` (:class:`LockServer`: start,
stop, restart, kill, pause), one module per kind of server, and ``fixture``
(the servers shared by tests, :class:`LockServerFixture`).
"""

from cinder.stress.lockservers import common
from cinder.stress.lockservers import etcd_server
from cinder.stress.lockservers import fixture
from cinder.stress.lockservers import ports
from cinder.stress.lockservers import processes
from cinder.stress.lockservers import rabbitmq_server
from cinder.stress.lockservers import redis_server
from cinder.stress.lockservers import server
from cinder.stress.lockservers import zookeeper_server

LOG = common.LOG
HOST = common.HOST
LOG_FILE_NAME = common.LOG_FILE_NAME
REQUIRE_ENV = common.REQUIRE_ENV
KEEP_DIRS_ENV = common.KEEP_DIRS_ENV
START_TIMEOUT_ENV = common.START_TIMEOUT_ENV
TMPDIR_ENV = common.TMPDIR_ENV
SETUP_HINT = common.SETUP_HINT
POLL_INTERVAL = common.POLL_INTERVAL
LockServerError = common.LockServerError
LockServerUnavailable = common.LockServerUnavailable
env_flag = common.env_flag

listening_addresses = ports.listening_addresses
pick_free_port = ports.pick_free_port

open_file_targets = processes.open_file_targets
pid_alive = processes.pid_alive
pid_cmdline = processes.pid_cmdline
pid_uses_dir = processes.pid_uses_dir
stop_pid = processes.stop_pid
wait_pid_gone = processes.wait_pid_gone

LockServer = server.LockServer
RedisServer = redis_server.RedisServer
PersistentRedisServer = redis_server.PersistentRedisServer
ZooKeeperServer = zookeeper_server.ZooKeeperServer
EtcdServer = etcd_server.EtcdServer
#: Not a lock server: the message bus of the services, for tests.
RabbitServer = rabbitmq_server.RabbitServer

SERVER_CLASSES = fixture.SERVER_CLASSES
server_class = fixture.server_class
check_available = fixture.check_available
shared_server = fixture.shared_server
url_env_name = fixture.url_env_name
server_url = fixture.server_url
LockServerFixture = fixture.LockServerFixture
