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

"""The ``[coordination]`` options."""

from oslo_config import cfg

coordination_opts = [
    cfg.StrOpt('backend_url',
               default='file://$state_path',
               secret=True,
               help='Tooz URL of the lock backend shared by every '
                    'cinder-volume service of a backend. The default, '
                    'file://$state_path, keeps lock files on this host: '
                    'it is right for one service per backend and wrong '
                    'for Active/Active, where all services must use one '
                    'ZooKeeper (zookeeper://host:2181), Redis '
                    '(redis://:password@host:6379) or etcd '
                    '(etcd3+http://host:2379) deployment. Options of the '
                    'Tooz driver go in the query string, for example '
                    'redis://host:6379?lock_timeout=30.'),
    cfg.FloatOpt('heartbeat',
                 default=1.0,
                 min=0.01,
                 help='Seconds between heartbeats for backends whose locks '
                      'are leases (Redis, etcd, memcached). Each heartbeat '
                      'refreshes the leases of the locks this service holds '
                      'and checks that it still owns them. Keep it well '
                      'below the lease (lock_timeout, 30 s by default). No '
                      'heartbeat runs for the file and ZooKeeper '
                      'backends.'),
    cfg.FloatOpt('initial_reconnect_backoff',
                 default=0.1,
                 min=0.0,
                 help='Seconds to wait before the first retry after the '
                      'lock backend stopped answering. Each further retry '
                      'waits about twice as long, with random jitter, up '
                      'to max_reconnect_backoff.'),
    cfg.FloatOpt('max_reconnect_backoff',
                 default=60.0,
                 min=0.0,
                 help='Longest wait, in seconds, between two retries to '
                      'reach the lock backend. Must not be smaller than '
                      'initial_reconnect_backoff.'),
    cfg.FloatOpt('backend_timeout',
                 default=10.0,
                 min=0.1,
                 help='Seconds a call to the lock backend may take before '
                      'it fails with an error naming backend_url: starting '
                      'the coordinator, each request of an acquire, a '
                      'release, a heartbeat. Waiting for another holder to '
                      'release a lock is not limited by it. Without it a '
                      'stopped Redis takes about a minute to report, and an '
                      'unreachable ZooKeeper blocks forever.'),
    cfg.FloatOpt('fencing_margin',
                 default=1.0,
                 min=0.0,
                 help='Seconds before the lock lease (Redis, etcd) or '
                      'session (ZooKeeper) can end on the server at which '
                      'this service declares the locks it holds lost, when '
                      'no renewal got through since: their critical '
                      'sections then stop before another service can take '
                      'the locks, and their qemu-img processes are killed. '
                      'The deadline counts from the moment the last '
                      'successful renewal was sent, on the monotonic clock '
                      'of this host. Must be smaller than the lease minus '
                      '[coordination] heartbeat (ZooKeeper: two thirds of '
                      'the session timeout that the server negotiated, '
                      'which a read of this service renews every third); '
                      'make it cover the longest round trip to the '
                      'backend.'),
    cfg.ListOpt('hooks',
                default=[],
                advanced=True,
                help='For validation tools such as cinder-aa-stress, not '
                     'for production: names of lock hooks (entry points '
                     'of the cinder.coordination.hooks namespace) that are '
                     'told when this service enters and leaves each '
                     'critical section. The "ledger" hook appends each '
                     'section to [coordination] ledger_file. An unknown '
                     'name stops the service from starting.'),
]

CONF = cfg.CONF
CONF.register_opts(coordination_opts, group='coordination')


def list_opts():
    """Options of the lock layer, for oslo-config-generator."""
    return [('coordination', coordination_opts)]
