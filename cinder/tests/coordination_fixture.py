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

"""A real coordinator for tests of code that takes cinder locks.

:class:`CoordinatorFixture` starts a :class:`cinder.coordination.Coordinator`
and makes it the process's :data:`cinder.coordination.COORDINATOR`, so that
code decorated with ``coordination.synchronized`` takes real locks.
:meth:`is_locked` asks a second coordinator, as another service would,
whether a lock is held.

The backend is the file backend in a temporary directory, unless a URL is
given or the environment variable ``CINDER_TEST_COORDINATION_URL`` names
one: driver maintainers run their driver's tests against a real Redis,
ZooKeeper or etcd that way, without changing them.
"""

import os
import urllib.parse
import uuid

import fixtures
from oslo_config import cfg

from cinder import coordination
from cinder import lock_check


#: The environment variable that gives the fixture a backend URL.
URL_ENV = 'CINDER_TEST_COORDINATION_URL'


def _new_coordinator(url, prefix):
    conf = cfg.ConfigOpts()
    coordinator = coordination.Coordinator(conf=conf, prefix=prefix)
    conf([])
    conf.set_override('backend_url', url, group='coordination')
    return coordinator


class CoordinatorFixture(fixtures.Fixture):
    """A started coordinator installed as ``COORDINATOR``.

    :param url: the backend's URL. By default ``$CINDER_TEST_COORDINATION_URL``
        if set, else the file backend in a temporary directory.
    :param use_env: False for tests that need the file backend (they look
        at lock files): the environment variable is then ignored.

    Attributes: ``url``; ``coordinator``; ``lock_dir``, the directory of
    the file backend (None with a lock server); ``requested``, the names
    of the locks requested through the coordinator, without prefix.

    With a lock server, the prefix of the lock names is unique to the
    fixture, so that tests running in parallel on one server never see
    each other's locks. With the file backend it is ``cinder-``, as in
    the service.
    """

    def __init__(self, url=None, use_env=True):
        super().__init__()
        self._url = url
        self._use_env = use_env

    def _setUp(self):
        self.url = self._url or (self._use_env and os.environ.get(URL_ENV))
        self.lock_dir = None
        prefix = 'cinder-'
        if not self.url:
            self.lock_dir = self.useFixture(fixtures.TempDir()).path
            self.url = 'file://' + self.lock_dir
        elif self.url.startswith('file:'):
            self.lock_dir = urllib.parse.urlsplit(self.url).path
        else:
            prefix = 'cinder-test-%s-' % uuid.uuid4().hex[:12]
        self.coordinator = _new_coordinator(self.url, prefix)
        self.coordinator.start()
        self.addCleanup(self.coordinator.stop)
        self.useFixture(fixtures.MockPatchObject(
            coordination, 'COORDINATOR', self.coordinator))
        self._other = _new_coordinator(self.url, prefix)
        self._other.start()
        self.addCleanup(self._other.stop)
        self.requested = []
        real_get_lock = self.coordinator.get_lock

        def recording_get_lock(name):
            self.requested.append(name)
            return real_get_lock(name)

        self.useFixture(fixtures.MockPatchObject(
            self.coordinator, 'get_lock', side_effect=recording_get_lock))

    def is_locked(self, name):
        """True if lock ``name`` (without prefix) is held by anyone.

        The probe runs in its own thread with another coordinator, so a
        lock held by the calling thread counts as held.
        """
        try:
            return not lock_check.can_take(self._other, name, 10)
        except TimeoutError:
            raise AssertionError('lock probe of %s did not finish' % name)
