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


"""A single-member etcd cluster."""

import base64
import json
import os
import shutil
import urllib.error
import urllib.request

from cinder.stress.lockservers import ports
from cinder.stress.lockservers import server


class EtcdServer(server.LockServer):
    """A single-member etcd cluster, data kept across restarts.

    A restarted member serves only once it has elected itself, which takes
    one to two ``election_timeout`` (ms); etcd's default of 1000 ms is
    lowered to 500 ms, harmless with a single member.
    """

    kind = 'etcd'
    scheme = 'etcd3+http'
    binary = 'etcd'
    _extra_port_names = ('peer', 'metrics')

    def __init__(self, port=None, data_dir=None, start_timeout=None,
                 stop_timeout=10.0, detached=False, heartbeat_interval=100,
                 election_timeout=500, host=None):
        super(EtcdServer, self).__init__(
            port=port, data_dir=data_dir, start_timeout=start_timeout,
            stop_timeout=stop_timeout, detached=detached, host=host)
        self.heartbeat_interval = heartbeat_interval
        self.election_timeout = election_timeout

    @classmethod
    def missing(cls):
        return [] if shutil.which(cls.binary) else [cls.binary]

    @property
    def etcd_data_dir(self):
        return os.path.join(self.data_dir, 'etcd')

    def _command(self):
        client = 'http://%s:%d' % (self.host, self.port)
        peer = 'http://%s:%d' % (self.host, self.extra_ports['peer'])
        metrics = 'http://%s:%d' % (self.host, self.extra_ports['metrics'])
        return [shutil.which(self.binary) or self.binary,
                '--name', 'n',
                '--data-dir', self.etcd_data_dir,
                '--listen-client-urls', client,
                '--advertise-client-urls', client,
                '--listen-peer-urls', peer,
                '--initial-advertise-peer-urls', peer,
                '--initial-cluster', 'n=%s' % peer,
                '--listen-metrics-urls', metrics,
                '--heartbeat-interval', str(self.heartbeat_interval),
                '--election-timeout', str(self.election_timeout)]

    def _environ(self):
        # ETCD_* variables would configure (or conflict with) the flags.
        return {k: v for k, v in os.environ.items()
                if not k.startswith('ETCD_')}

    def _reset_data(self):
        shutil.rmtree(self.etcd_data_dir, ignore_errors=True)

    def _owns_ports(self):
        return all(ports.pid_listens_on(self._process.pid, port)
                   for port in [self.port] + list(self.extra_ports.values()))

    def ping(self, timeout=1.0):
        # No proxy: http_proxy in the environment must not apply here.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        base = 'http://%s:%d' % (self.host, self.port)
        try:
            with opener.open(base + '/health', timeout=timeout) as resp:
                health = json.loads(resp.read().decode('utf-8'))
            if health.get('health') not in (True, 'true'):
                return False
            # What etcd3gw (tooz) uses: the grpc-gateway under /v3/.
            body = json.dumps({'key': base64.b64encode(
                b'cinder-lockservers-ping').decode('ascii')}).encode('ascii')
            request = urllib.request.Request(
                base + '/v3/kv/range', data=body, method='POST',
                headers={'Content-Type': 'application/json'})
            with opener.open(request, timeout=timeout) as resp:
                return 'header' in json.loads(resp.read().decode('utf-8'))
        except (OSError, ValueError, urllib.error.URLError):
            return False
