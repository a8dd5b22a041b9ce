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


"""Which servers there are, the servers shared by tests, the fixture."""

import os
import threading
import unittest

try:
    import fixtures
except ImportError:  # pragma: no cover - tools/lock-servers without a venv
    fixtures = None

from cinder.stress.lockservers import common
from cinder.stress.lockservers import etcd_server
from cinder.stress.lockservers import redis_server
from cinder.stress.lockservers import zookeeper_server

LOG = common.LOG


SERVER_CLASSES = {
    'redis': redis_server.RedisServer,
    'zookeeper': zookeeper_server.ZooKeeperServer,
    'etcd': etcd_server.EtcdServer,
}


def server_class(kind):
    try:
        return SERVER_CLASSES[kind]
    except KeyError:
        raise ValueError('unknown lock server kind %r (known: %s)' % (
            kind, ', '.join(sorted(SERVER_CLASSES))))


def check_available(kind):
    """Skip the test, or fail if servers are required, without binaries.

    :raises unittest.SkipTest: the server is not installed.
    :raises LockServerUnavailable: the same, with
        ``CINDER_TEST_REQUIRE_SERVERS`` set.
    """
    cls = server_class(kind)
    missing = cls.missing()
    if not missing:
        return cls
    message = '%s lock server not available (missing: %s)' % (
        kind, ', '.join(missing))
    if common.env_flag(common.REQUIRE_ENV):
        raise common.LockServerUnavailable('%s; %s is set: %s' % (
            message, common.REQUIRE_ENV, common.SETUP_HINT))
    raise unittest.SkipTest('%s; %s' % (message, common.SETUP_HINT))


_shared = {}
_shared_lock = threading.Lock()


def shared_server(kind):
    """The server of ``kind`` shared by all tests of this process.

    Started on first use, restarted if it died, stopped at interpreter exit.
    Tests must not stop, kill, restart or pause it: use
    :class:`LockServerFixture` for that.
    """
    cls = check_available(kind)
    with _shared_lock:
        server = _shared.get(kind)
        if server is None:
            server = _shared[kind] = cls()
        if server.paused:  # left frozen by a misbehaving test
            LOG.warning('shared %s server was paused; resuming it', kind)
            server.resume()
        if not server.running:
            try:
                server.start()
            except Exception:
                server.stop()
                del _shared[kind]
                raise
        return server


def url_env_name(kind):
    """The variable tools/lock-servers writes the URL of ``kind`` to."""
    return 'CINDER_TEST_%s_URL' % kind.upper()


def server_url(kind):
    """A tooz URL of a server of ``kind`` that tests may share.

    ``$CINDER_TEST_<KIND>_URL`` if set (servers started beforehand with
    tools/lock-servers), else the URL of :func:`shared_server`.
    """
    server_class(kind)
    url = os.environ.get(url_env_name(kind))
    if url:
        return url
    return shared_server(kind).url


if fixtures is not None:
    _FixtureBase = fixtures.Fixture
else:  # pragma: no cover
    _FixtureBase = object


class LockServerFixture(_FixtureBase):
    """A dedicated server of ``kind`` for one test.

    For destructive tests (restart, kill, pause).  Attributes after setUp:
    ``server`` (the :class:`LockServer`) and ``url``.  Keyword arguments go
    to the server class (e.g. ``tick_time`` for ZooKeeper).
    """

    def __init__(self, kind, **server_kwargs):
        if fixtures is None:  # pragma: no cover
            raise ImportError('LockServerFixture needs the fixtures package')
        super(LockServerFixture, self).__init__()
        self.kind = kind
        self.server_kwargs = server_kwargs
        self.server = None

    def setUp(self):
        # Before Fixture.setUp, which would wrap SkipTest into
        # MultipleExceptions and so turn a skip into an error.
        check_available(self.kind)
        super(LockServerFixture, self).setUp()

    def _setUp(self):
        self.server = server_class(self.kind)(**self.server_kwargs)
        self.addCleanup(self.server.stop)
        self.server.start()

    @property
    def url(self):
        return self.server.url
