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
on the file backend in a temporary directory and makes it the process's
:data:`cinder.coordination.COORDINATOR`, so that code decorated with
``coordination.synchronized`` takes real locks. :meth:`is_locked` asks a
second coordinator, as another service would, whether a lock is held.
"""

import threading

import fixtures
from oslo_config import cfg

from cinder import coordination


def _new_coordinator(url):
    conf = cfg.ConfigOpts()
    coordinator = coordination.Coordinator(conf=conf)
    conf([])
    conf.set_override('backend_url', url, group='coordination')
    return coordinator


class CoordinatorFixture(fixtures.Fixture):
    """A started file-backend coordinator installed as ``COORDINATOR``."""

    def _setUp(self):
        self.lock_dir = self.useFixture(fixtures.TempDir()).path
        self.url = 'file://' + self.lock_dir
        self.coordinator = _new_coordinator(self.url)
        self.coordinator.start()
        self.addCleanup(self.coordinator.stop)
        self.useFixture(fixtures.MockPatchObject(
            coordination, 'COORDINATOR', self.coordinator))
        self._other = _new_coordinator(self.url)
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
        result = []

        def probe():
            lock = self._other.get_lock(name)
            try:
                lock.acquire(blocking=False)
            except coordination.LockAcquireFailed:
                result.append(True)
            else:
                lock.release()
                result.append(False)

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(10)
        if not result:
            raise AssertionError('lock probe of %s did not finish' % name)
        return result[0]
