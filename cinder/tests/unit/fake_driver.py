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

"""A volume driver for unit tests of the manager and the service.

It keeps volumes in a dict, records every call, and lets a test run code
inside a call (``hooks``) to look at locks while the driver works.
"""

from cinder import exception
from cinder.volume import driver


class FakeDriver(driver.VolumeDriver):
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args, **kwargs):
        super(FakeDriver, self).__init__(*args, **kwargs)
        self.calls = []
        self.volumes = {}
        self.snapshots = {}
        #: method name -> callable run inside that driver call.
        self.hooks = {}
        #: method name -> exception raised by that driver call.
        self.failures = {}
        self.events = []

    def _call(self, method, *ids):
        self.calls.append((method,) + ids)
        hook = self.hooks.get(method)
        if hook is not None:
            hook()
        failure = self.failures.get(method)
        if failure is not None:
            raise failure

    def do_setup(self):
        self._call('do_setup')

    def check_for_setup_error(self):
        self._call('check_for_setup_error')

    def stop(self):
        self._call('stop')

    def create_volume(self, volume):
        self._call('create_volume', volume.id)
        self.volumes[volume.id] = volume.size
        return {'provider_location': 'fake:%s' % volume.id}

    def delete_volume(self, volume):
        self._call('delete_volume', volume.id)
        self.volumes.pop(volume.id, None)

    def create_cloned_volume(self, volume, src_vref):
        self._call('create_cloned_volume', volume.id, src_vref.id)
        if src_vref.id not in self.volumes:
            raise exception.VolumeNotFound(src_vref.id)
        self.volumes[volume.id] = volume.size

    def extend_volume(self, volume, new_size):
        self._call('extend_volume', volume.id, new_size)
        self.volumes[volume.id] = new_size

    def create_snapshot(self, snapshot):
        self._call('create_snapshot', snapshot.id, snapshot.volume_id)
        self.snapshots[snapshot.id] = snapshot.volume_id
        return {'provider_location': 'fake:%s' % snapshot.id}

    def delete_snapshot(self, snapshot):
        self._call('delete_snapshot', snapshot.id)
        self.snapshots.pop(snapshot.id, None)

    def create_volume_from_snapshot(self, volume, snapshot):
        self._call('create_volume_from_snapshot', volume.id, snapshot.id)
        if snapshot.id not in self.snapshots:
            raise exception.SnapshotNotFound(snapshot.id)
        self.volumes[volume.id] = volume.size

    def revert_to_snapshot(self, volume, snapshot):
        self._call('revert_to_snapshot', volume.id, snapshot.id)

    def initialize_connection(self, volume, connector):
        self._call('initialize_connection', volume.id, connector['host'])
        return {'driver_volume_type': 'fake', 'data': {'id': volume.id}}

    def terminate_connection(self, volume, connector):
        self._call('terminate_connection', volume.id, connector['host'])


class NotActiveActiveDriver(FakeDriver):
    SUPPORTS_ACTIVE_ACTIVE = False


class NotADriver(object):
    pass
