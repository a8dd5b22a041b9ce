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

"""cinder-volume-request, run as a command against a real cluster.

Two real ``cinder-volume`` services (NFS driver, one local share, the
same ``file://`` lock directory: one machine) form a cluster on a real
RabbitMQ broker. The command runs as a child process, as an operator
runs it, and keeps its records in a directory of the test.
"""

import json
import os
import subprocess
import sys
import time

import fixtures
import testtools

from cinder.stress import share
from cinder.tests.functional import broker
from cinder.tests.functional import volume_service

COMMAND_TIMEOUT = 120


class VolumeRequestTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        self.share, shares_file = volume_service.nfs_share(root)
        self.url = broker.url()
        self.state_dir = os.path.join(root, 'requests')
        self.cluster = broker.unique('cluster')
        locks = 'file://' + os.path.join(root, 'locks')
        self.services = [self.useFixture(volume_service.VolumeService(
            os.path.join(root, host), {
                'DEFAULT': {'volume_driver': 'nfs',
                            'cluster': self.cluster,
                            'nfs_shares_config': shares_file,
                            'nfs_snapshot_support': 'true'},
                'coordination': {'backend_url': locks}}, host=host))
            for host in ('host-a', 'host-b')]
        self.cluster_address = self.services[0].cluster_address
        self.config_file = os.path.join(root, 'client.conf')
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\ntransport_url = %s\n' % self.url)

    def request(self, *argv, env_url=True, where=None):
        """Run the command; (status, parsed stdout or None, stderr)."""
        env = dict(os.environ)
        env.pop('CINDER_TRANSPORT_URL', None)
        config = []
        if env_url:
            env['CINDER_TRANSPORT_URL'] = self.url
        else:
            config = ['--config-file', self.config_file]
        where = where or ['--cluster', self.cluster_address]
        result = subprocess.run(
            [sys.executable, '-m', 'cinder.cmd.volume_request'] + config +
            ['--state-dir', self.state_dir] + where + list(argv),
            capture_output=True, text=True, env=env,
            timeout=COMMAND_TIMEOUT)
        self.assertNotIn(':guest@', result.stdout + result.stderr)
        out = json.loads(result.stdout) if result.stdout.strip() else None
        return result.returncode, out, result.stderr

    def saved(self, record_id):
        with open(os.path.join(self.state_dir, record_id + '.json')) as f:
            return json.load(f)['cinder_object.data']

    def test_a_volume_through_the_cluster_from_its_saved_records(self):
        hosts = {svc.host for svc in self.services}
        # Created through the cluster, by whichever member took it; the
        # bus URL from the configuration file this time.
        status, volume, err = self.request('create-volume', '--size', '1',
                                           env_url=False)
        self.assertEqual(0, status, err)
        self.assertEqual('available', volume['status'])
        self.assertIn(volume['host'], hosts)
        self.assertEqual(self.cluster, volume['cluster_name'])
        self.assertEqual(volume, self.saved(volume['id']))
        self.assertEqual(0o700, os.stat(self.state_dir).st_mode & 0o777)

        status, snapshot, err = self.request('create-snapshot', volume['id'])
        self.assertEqual(0, status, err)
        self.assertEqual('available', snapshot['status'])
        self.assertEqual(volume['id'], snapshot['volume']['id'])

        # Sent to the member that did not create the volume: in a cluster
        # any member acts on any volume.
        other = [svc for svc in self.services
                 if svc.host != volume['host']][0]
        status, extended, err = self.request(
            'extend-volume', volume['id'], '2',
            where=['--host', other.address])
        self.assertEqual(0, status, err)
        self.assertEqual(2, extended['size'])
        self.assertEqual(2, self.saved(volume['id'])['size'])

        # Refused by the service: the error is its, the record unchanged.
        status, out, err = self.request('extend-volume', volume['id'], '1')
        self.assertEqual(1, status)
        self.assertIsNone(out)
        self.assertIn('InvalidInput', err)
        self.assertIn('larger than the current size (2 GiB)', err)
        self.assertEqual(2, self.saved(volume['id'])['size'])

        status, reverted, err = self.request('revert-to-snapshot',
                                             volume['id'], snapshot['id'])
        self.assertEqual(0, status, err)
        self.assertEqual('available', reverted['status'])

        status, gone, err = self.request('delete-snapshot', snapshot['id'])
        self.assertEqual(0, status, err)
        self.assertEqual('deleted', gone['status'])
        status, gone, err = self.request('delete-volume', volume['id'])
        self.assertEqual(0, status, err)
        self.assertEqual('deleted', gone['status'])
        self.assertEqual([], share.files_on_share(self.share))
        self.assertEqual([], os.listdir(self.state_dir))

        # Forgotten once deleted: a usage error naming the id.
        status, out, err = self.request('delete-volume', volume['id'])
        self.assertEqual(2, status)
        self.assertIn('no record %s' % volume['id'], err)

    def test_a_request_to_each_host(self):
        for svc in self.services:
            status, stats, err = self.request(
                'stats', where=['--host', svc.address])
            self.assertEqual(0, status, err)
            self.assertEqual(svc.host, stats['host'])
            self.assertEqual(self.cluster, stats['cluster'])

    def test_no_reply_is_an_unknown_outcome_not_sent_again(self):
        # No service consumes from this address: the broker drops the
        # request. The command gives up after --timeout (and the client's
        # grace), far sooner than rpc_response_timeout's 60 s.
        nobody = broker.unique('nobody') + '@nfs'
        started = time.monotonic()
        status, out, err = self.request(
            'stats', where=['--timeout', '1', '--host', nobody])
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(3, status, err)
        self.assertIsNone(out)
        self.assertIn('no reply from %s to get_volume_stats()' % nobody, err)
        self.assertIn('may or may not have run; it was not sent again', err)
