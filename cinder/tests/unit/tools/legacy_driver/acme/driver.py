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

"""Acme volume driver, as written before Active/Active (test fixture)."""

import threading

from oslo_concurrency import lockutils

from acme import client
from cinder import coordination
from cinder import utils
from cinder.volume import driver

synchronized = lockutils.synchronized_with_prefix('acme-')


class AcmeDriver(driver.VolumeDriver):
    """Drives an Acme array through its REST API."""

    driver_prefix = 'acme'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._client = client.Client(self.configuration.san_ip)
        self._stats_lock = threading.Lock()
        self._stats = {}

    @lockutils.synchronized('acme-array', external=True)
    def create_volume(self, volume):
        return self._client.create(volume.id, volume.size)

    @lockutils.synchronized('acme-stats')
    def get_volume_stats(self, refresh=False):
        with self._stats_lock:
            return dict(self._stats)

    def delete_volume(self, volume):
        with lockutils.lock('acme-%s' % volume.id, external=True,
                            lock_path='/var/lock/acme'):
            self._client.delete(volume.id)

    @synchronized('mapping', external=True)
    def initialize_connection(self, volume, connector):
        return self._client.map(volume.id, connector['host'])

    @utils.synchronized('acme-host-mapping', external=True)
    def terminate_connection(self, volume, connector, **kwargs):
        self._client.unmap(volume.id, connector['host'])

    @coordination.synchronized('{self.driver_prefix}-{volume.id}',
                               '{snapshot.id}-delete_snapshot')
    def create_volume_from_snapshot(self, volume, snapshot):
        return self._client.copy(snapshot.id, volume.id)

    def extend_volume(self, volume, new_size):
        with coordination.COORDINATOR.get_lock(
                f'{self.driver_prefix}-{volume.id}-extend'):
            self._client.extend(volume.id, new_size)
