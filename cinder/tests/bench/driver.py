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

"""A volume driver whose storage backend is a fixed delay, for benchmarks.

Set ``volume_driver = cinder.tests.bench.driver.LatencyDriver``. Volumes
and snapshots exist only in the caller's records; each operation waits
``[DEFAULT] bench_latency`` seconds, as a call to a storage array would,
with at most ``[DEFAULT] bench_parallel`` operations at a time in one
service (the service's capacity). So the operations per second of a
cluster depend on how many services share the work and on what the lock
layer costs, not on the CPUs of the machine.

Like the RemoteFS drivers, it takes a lock per volume for each operation
through :mod:`cinder.coordination`, inside the service's capacity: the
lock cycle is part of each operation's cost. Not for production.
"""

import threading
import time

from oslo_config import cfg

from cinder import coordination
from cinder.volume import driver

OPTS = [
    cfg.FloatOpt('bench_latency',
                 default=0.05,
                 min=0.0,
                 help='LatencyDriver: seconds each volume or snapshot '
                      'operation takes.'),
    cfg.IntOpt('bench_parallel',
               default=1,
               min=1,
               help='LatencyDriver: operations one service runs at a '
                    'time; more wait for a free slot.'),
]


class LatencyDriver(driver.VolumeDriver):
    """Operations that only take time (and the driver's volume lock)."""

    SUPPORTS_ACTIVE_ACTIVE = True
    OPTS = OPTS
    VERSION = '1.0.0'
    driver_prefix = 'bench'

    def __init__(self, *args, **kwargs):
        super(LatencyDriver, self).__init__(*args, **kwargs)
        self._slots = None

    def do_setup(self):
        self._slots = threading.BoundedSemaphore(
            self.configuration.bench_parallel)

    def _work(self, lock_name):
        with self._slots:
            lock = coordination.COORDINATOR.get_lock(lock_name)
            with lock:
                time.sleep(self.configuration.bench_latency)

    def _volume_work(self, volume):
        self._work('%s-%s' % (self.driver_prefix, volume.id))

    def create_volume(self, volume):
        self._volume_work(volume)
        return {'provider_location': 'bench'}

    def delete_volume(self, volume):
        self._volume_work(volume)

    def create_cloned_volume(self, volume, src_vref):
        self._volume_work(src_vref)
        return {'provider_location': 'bench'}

    def extend_volume(self, volume, new_size):
        self._volume_work(volume)

    def create_snapshot(self, snapshot):
        self._volume_work(snapshot.volume)
        return {'provider_location': 'bench'}

    def delete_snapshot(self, snapshot):
        self._volume_work(snapshot.volume)

    def create_volume_from_snapshot(self, volume, snapshot):
        self._volume_work(snapshot.volume)
        return {'provider_location': 'bench'}

    def revert_to_snapshot(self, volume, snapshot):
        self._volume_work(volume)
