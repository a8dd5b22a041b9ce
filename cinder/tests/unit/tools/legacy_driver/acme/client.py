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

"""REST client of the Acme driver (test fixture)."""

import threading

import fasteners
import oslo_concurrency.lockutils as lu

from cinder.utils import synchronized

_sessions_lock = threading.RLock()


class Client(object):
    """One session with an Acme array."""

    def __init__(self, address):
        self.address = address

    @synchronized('acme-login', external=False)
    def login(self):
        return self._call('login')

    def create(self, volume_id, size):
        with fasteners.InterProcessLock('/var/lock/acme/create.lock'):
            return self._call('create', volume_id, size)

    def map(self, volume_id, host):
        with lu.external_lock('acme-map-' + host):
            return self._call('map', volume_id, host)

    def _call(self, *args):
        with lu.lock('acme-rest'):
            return args
