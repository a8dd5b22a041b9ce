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

"""Unit tests of the local service runner's kill."""

import socket
import subprocess
import sys

import fixtures
from oslotest import base

from cinder import local_service
from cinder import rpc


class KillTestCase(base.BaseTestCase):

    def test_socket_still_held_elsewhere_is_not_taken_for_the_service(self):
        state = self.useFixture(fixtures.TempDir()).path
        service = local_service.ServiceProcess(state, {})
        # Stands in for the service: killing it is what is tested.
        service.process = subprocess.Popen(
            [sys.executable, '-c', 'import time; time.sleep(60)'])
        self.addCleanup(service.process.wait)
        self.addCleanup(service.process.kill)
        # Another process still holding the request socket, as a dying
        # child of the killed service may.
        holder = socket.socket(socket.AF_UNIX)
        self.addCleanup(holder.close)
        holder.bind(service.socket)
        holder.listen(8)
        self.assertTrue(rpc._is_listening(service.socket))

        self.assertEqual(-9, service.kill())

        # A service started now binds a socket of its own at the path,
        # and start() waits for it, not for the dying holder.
        self.assertFalse(rpc._is_listening(service.socket))
        server = rpc.Server(service.socket, object(), [])
        server.start()
        self.addCleanup(server.stop)
        self.assertTrue(rpc._is_listening(service.socket))
