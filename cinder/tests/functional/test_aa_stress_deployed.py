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

"""cinder-aa-stress --cluster against services started separately.

Two real NFS ``cinder-volume`` services of one cluster on one share
directory, with a real broker and a real Redis, are started by the test,
as an operator's deployment would have them; the share also holds files
of the operator's that the run must neither judge nor touch. The tool
(in process, as ``cinder-aa-stress`` would run) starts nothing of its
own, drives them, judges its own volumes and removes them.
"""

import io
import json
import os
from unittest import mock
import uuid

import fixtures
import testtools

from cinder.cmd import aa_stress
from cinder.cmd import url_args
from cinder.stress import lockservers
from cinder.stress.lockservers import rabbitmq_server
from cinder.stress import share
from cinder.tests.functional import broker
from cinder.tests.functional import volume_service

#: What an operator keeps on the share besides the run's volumes: a note,
#: and the image of a volume of theirs (not a qcow2 the verdict would
#: accept: judging it would find it damaged).
OPERATOR_FILES = {
    'README.operator': b'volumes of the production cluster\n',
    'volume-%s' % uuid.UUID(int=7): b'\x00not an image of this run\n' * 64,
}


class DeployedClusterTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        self.work = os.path.join(root, 'work')
        self.share = os.path.join(root, 'share')
        os.makedirs(self.share)
        for name, data in OPERATOR_FILES.items():
            with open(os.path.join(self.share, name), 'wb') as f:
                f.write(data)
        self.operator_stat = self.stat_operator_files()
        shares_file = os.path.join(root, 'nfs_shares')
        with open(shares_file, 'w') as f:
            f.write(self.share + '\n')
        redis = self.useFixture(lockservers.LockServerFixture('redis'))
        self.ledger = os.path.join(root, 'ledger.jsonl')
        self.cluster = broker.unique('deployed')
        self.services = []
        for host in ('host-a', 'host-b'):
            self.services.append(self.useFixture(
                volume_service.VolumeService(
                    os.path.join(root, host), {
                        'DEFAULT': {'volume_driver': 'nfs',
                                    'cluster': self.cluster,
                                    'nfs_shares_config': shares_file,
                                    'nfs_snapshot_support': 'true'},
                        'coordination': {'backend_url': redis.url,
                                         'hooks': 'ledger',
                                         'ledger_file': self.ledger}},
                    host=host, debug=False)))
        # The operator's way: the URLs from the environment, not argv.
        self.useFixture(fixtures.EnvironmentVariable(url_args.ENV,
                                                     redis.url))
        self.useFixture(fixtures.EnvironmentVariable(
            url_args.TRANSPORT_ENV, broker.url()))

    def stat_operator_files(self):
        found = {}
        for name in OPERATOR_FILES:
            path = os.path.join(self.share, name)
            with open(path, 'rb') as f:
                found[name] = (f.read(), os.stat(path).st_mtime_ns)
        return found

    def run_tool(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with mock.patch('sys.stdout', out), mock.patch('sys.stderr', err):
            status = aa_stress.main(['--json', '--work-dir', self.work,
                                     '--share', self.share] + list(args))
        self.addDetail('stderr', testtools.content.text_content(
            err.getvalue()))
        self.addDetail('stdout', testtools.content.text_content(
            out.getvalue()))
        return status, out.getvalue(), err.getvalue()

    def test_validates_the_running_members_and_removes_its_volumes(self):
        status, out, err = self.run_tool(
            '--cluster', self.cluster, '--ledger', self.ledger,
            '--operations', '40', '--volumes', '3', '--workers', '4')
        report = json.loads(out)
        self.assertEqual(0, status, report['violation_details'][:5])
        self.assertTrue(report['ok'])
        self.assertEqual('own', report['scope'])
        hosts = sorted(s.host for s in self.services)
        self.assertEqual(hosts, sorted(h['host'] for h in report['hosts']))
        # Both members took requests, and the ledger was judged.
        by_member = report['requests_by_member']
        self.assertEqual(hosts, sorted(by_member))
        self.assertTrue(all(n > 0 for n in by_member.values()), by_member)
        self.assertGreater(report['critical_sections'], 0)
        self.assertGreater(report['checked']['volumes'], 0)
        # The operator's files: untouched, and named nowhere.
        self.assertEqual(self.operator_stat, self.stat_operator_files())
        for name in OPERATOR_FILES:
            self.assertNotIn(name, out)
        # The run's volumes were removed through the cluster: the share
        # holds the operator's files only.
        self.assertGreater(len(report['removed']), 0)
        self.assertEqual([], report['removal_failures'])
        self.assertEqual(sorted(OPERATOR_FILES),
                         share.files_on_share(self.share))
        # The bus password is in no output and no file of the run.
        secret = ':%s@' % rabbitmq_server.PASSWORD
        self.assertNotIn(secret, out + err)
        for name in os.listdir(self.work):
            with open(os.path.join(self.work, name)) as f:
                self.assertNotIn(secret, f.read())

    def test_a_cluster_without_a_live_member_is_refused(self):
        other = broker.unique('absent')
        status, out, err = self.run_tool('--cluster', other)
        self.assertEqual(2, status)
        self.assertEqual('', out)
        self.assertIn('--cluster %s: cluster %s has no live member at the '
                      'lock backend' % (other, other), err)
        # The running cluster is named, and nothing was started or
        # written: the share holds the operator's files only.
        self.assertIn(self.cluster, err)
        self.assertEqual(sorted(OPERATOR_FILES),
                         share.files_on_share(self.share))
        self.assertFalse(os.path.exists(self.work))
