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

import os

import fixtures

from cinder import local_service
from cinder.tests.functional import broker

ServiceProcessError = local_service.ServiceProcessError


class VolumeService(fixtures.Fixture):
    """A :class:`cinder.local_service.ServiceProcess` killed at cleanup.

    Arguments are those of ``ServiceProcess``; attributes and methods not
    defined here are the process's. Without ``[DEFAULT] transport_url``
    in ``options`` the service uses the test process's broker
    (:mod:`cinder.tests.functional.broker`), under a host name made
    unique to the test.
    """

    def __init__(self, state_path, options, **kwargs):
        super().__init__()
        options = {section: dict(values)
                   for section, values in options.items()}
        defaults = options.setdefault('DEFAULT', {})
        if 'transport_url' not in defaults:
            defaults['transport_url'] = broker.url()
            kwargs['host'] = broker.unique(kwargs.get('host', 'host-a'))
        self.service = local_service.ServiceProcess(state_path, options,
                                                    **kwargs)

    def __getattr__(self, name):
        return getattr(self.service, name)

    def _setUp(self):
        self.service.prepare()
        self.addCleanup(self.service.kill)
        self.service.start()


def nfs_share(root):
    """A share directory under *root* and an ``nfs_shares`` file naming it.

    What the NFS driver mounts, for services on one machine: (share
    directory, path of the shares file for ``nfs_shares_config``).
    """
    share = os.path.join(root, 'share')
    os.makedirs(share)
    shares_file = os.path.join(root, 'nfs_shares')
    with open(shares_file, 'w') as f:
        f.write(share + '\n')
    return share, shares_file
