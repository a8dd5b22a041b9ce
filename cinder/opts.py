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

"""All options of the project, for oslo-config-generator.

``oslo-config-generator --namespace cinder`` (see
``etc/cinder/cinder-config-generator.conf``) calls :func:`list_opts`.
"""

import itertools

from cinder.common import config
from cinder import coordination
from cinder.stress import holds
from cinder.stress import ledger
from cinder.volume import driver as volume_driver
from cinder.volume.drivers import nfs
from cinder.volume.drivers import tgt_array


def list_opts():
    """Return ``[(group, [opts])]`` for every option of the project."""
    groups = {
        'DEFAULT': [config.global_opts, config.volume_service_opts,
                    volume_driver.volume_opts, nfs.nfs_opts,
                    tgt_array.tgt_array_opts],
        'coordination': [coordination.coordination_opts,
                         holds.step_hold_opts, ledger.ledger_opts],
    }
    return [(group, list(itertools.chain(*opts)))
            for group, opts in sorted(groups.items())]
