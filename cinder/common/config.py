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

"""Options shared by the whole service, registered in ``[DEFAULT]``."""

import socket

from oslo_config import cfg

global_opts = [
    cfg.StrOpt('state_path',
               default='/var/lib/cinder',
               help='Top-level directory for maintaining the state of this '
                    'service. The default lock backend, '
                    '``[coordination] backend_url = file://$state_path``, '
                    'keeps its lock files here, so it must be writable by '
                    'the service and local to this host.'),
    cfg.StrOpt('host',
               default=socket.gethostname(),
               sample_default='<current_hostname>',
               help='Name of this volume service. Each service of a cluster '
                    'needs its own; it is recorded on the volumes it '
                    'creates.'),
    cfg.StrOpt('cluster',
               help='Name of the cluster this service belongs to. Services '
                    'that share a cluster name drive the same backend '
                    'Active/Active: any of them may act on any of its '
                    'volumes. Needs a volume driver that supports '
                    'Active/Active and a distributed lock backend in '
                    '[coordination] backend_url. Unset: the service works '
                    'alone (Active/Passive), as before.'),
]

volume_service_opts = [
    cfg.StrOpt('volume_driver',
               default='nfs',
               help='The volume driver: a name registered in the '
                    'cinder.volume.drivers entry point namespace (nfs, tgt) '
                    'or the dotted path of a VolumeDriver class.'),
    cfg.FloatOpt('graceful_shutdown_timeout',
                 default=60.0, min=0.0,
                 help='Seconds a stopping service waits for requests in '
                      'flight to finish before it stops its driver and '
                      'its coordinator. Requests still running after that '
                      'lose their locks and fail.'),
]

CONF = cfg.CONF
CONF.register_opts(global_opts)
CONF.register_opts(volume_service_opts)
