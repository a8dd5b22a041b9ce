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

"""A fixture running a real ``cinder-volume`` process for a test."""

import fixtures

from cinder import local_service

ServiceProcessError = local_service.ServiceProcessError


class VolumeService(fixtures.Fixture):
    """A :class:`cinder.local_service.ServiceProcess` killed at cleanup.

    Arguments are those of ``ServiceProcess``; attributes and methods not
    defined here are the process's.
    """

    def __init__(self, state_path, options, **kwargs):
        super().__init__()
        self.service = local_service.ServiceProcess(state_path, options,
                                                    **kwargs)

    def __getattr__(self, name):
        return getattr(self.service, name)

    def _setUp(self):
        self.service.prepare()
        self.addCleanup(self.service.kill)
        self.service.start()
