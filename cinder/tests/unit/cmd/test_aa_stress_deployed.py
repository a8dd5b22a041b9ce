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

"""Tests of cinder-aa-stress --cluster: its options, secrets, removal."""

import io
import os
from unittest import mock

import fixtures
from oslotest import base

from cinder.cmd import aa_stress
from cinder.cmd import aa_stress_deployed
from cinder.cmd import url_args
from cinder import exception
from cinder import objects
from cinder.stress import deployed
from cinder.stress import records

BACKEND = 'redis://:lock-s3cret@r:6379'
BUS = 'rabbit://u:bus-s3cret@b:5672/'

#: Each option refused with --cluster, as given on the command line.
REFUSED_ARGV = {
    '--services': ['--services', '2'],
    '--faults': ['--faults'],
    '--fault-interval': ['--fault-interval', '3'],
    '--lock-server': ['--lock-server', 'redis'],
    '--local-locks': ['--local-locks'],
    '--hosts netns': ['--hosts', 'netns'],
    '--debug': ['--debug'],
    '--cleanup': ['--cleanup'],
}


class OptionsTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(url_args.ENV, BACKEND))
        self.useFixture(fixtures.EnvironmentVariable(url_args.TRANSPORT_ENV,
                                                     BUS))
        self.stderr = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value
        self.share = self.useFixture(fixtures.TempDir()).path

    def error(self, argv):
        self.stderr.seek(0)
        self.stderr.truncate()
        self.assertRaises(SystemExit, aa_stress._parse, argv)
        return self.stderr.getvalue()

    def test_a_deployed_cluster_takes_its_urls_from_the_environment(self):
        args = aa_stress._parse(['--cluster', 'prod', '--share', self.share])
        self.assertEqual(('prod', BACKEND, BUS), (
            args.cluster, args.backend_url, args.transport_url))
        self.assertEqual('', self.stderr.getvalue())
        self.assertEqual(3, aa_stress._parse([]).services)

    def test_options_that_start_or_break_services_are_refused_by_name(self):
        self.assertEqual(sorted(REFUSED_ARGV), sorted(
            option for _name, option, _why in aa_stress_deployed.REFUSED))
        for option, argv in REFUSED_ARGV.items():
            error = self.error(['--cluster', 'prod', '--share', self.share] +
                               argv)
            self.assertIn('error: --cluster cannot use %s: it starts '
                          'nothing' % option, error)
        # The same options without --cluster are fine.
        self.assertEqual(2, aa_stress._parse(['--services', '2']).services)

    def test_a_deployed_cluster_needs_a_share_and_its_urls(self):
        self.assertIn('--cluster needs --share DIR',
                      self.error(['--cluster', 'prod']))
        self.assertIn('--share /nonexistent is not a directory',
                      self.error(['--cluster', 'prod', '--share',
                                  '/nonexistent']))
        for env, option in ((url_args.ENV, '--backend-url-file'),
                            (url_args.TRANSPORT_ENV, '--transport-url')):
            with fixtures.EnvironmentVariable(env):
                self.assertIn(option, self.error(
                    ['--cluster', 'prod', '--share', self.share]))

    def test_share_and_ledger_need_a_cluster(self):
        for argv in (['--share', self.share], ['--ledger', 'l.jsonl']):
            self.assertIn('error: %s needs --cluster' % argv[0],
                          self.error(argv))

    def test_a_password_on_the_command_line_is_warned_of_not_shown(self):
        aa_stress._parse(['--cluster', 'prod', '--share', self.share,
                          '--transport-url', BUS])
        self.assertIn('WARNING: the password of --transport-url',
                      self.stderr.getvalue())
        self.assertNotIn('bus-s3cret', self.stderr.getvalue())


class RefusedClusterTestCase(base.BaseTestCase):
    """main() refuses an unusable cluster; no secret in what it prints."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(url_args.ENV, BACKEND))
        self.share = self.useFixture(fixtures.TempDir()).path
        self.work = os.path.join(self.share, 'work')
        self.out = self.useFixture(fixtures.MonkeyPatch(
            'sys.stdout', io.StringIO())).new_value
        self.err = self.useFixture(fixtures.MonkeyPatch(
            'sys.stderr', io.StringIO())).new_value

    def main(self):
        return aa_stress.main(['--cluster', 'prod', '--share', self.share,
                               '--transport-url', BUS, '--work-dir',
                               self.work])

    @mock.patch.object(deployed, 'list_members', return_value={})
    def test_no_live_member(self, list_members):
        self.assertEqual(2, self.main())
        list_members.assert_called_once_with(BACKEND)
        self.assertIn('cinder-aa-stress: --cluster prod: cluster prod has '
                      'no live member', self.err.getvalue())
        self.assertEqual('', self.out.getvalue())
        self.assertFalse(os.path.exists(self.work))

    @mock.patch('cinder.volume.rpcapi.VolumeAPI')
    @mock.patch.object(deployed, 'list_members')
    def test_a_member_that_does_not_answer(self, list_members, rpc):
        list_members.return_value = {'m': {
            'host': 'a', 'cluster': 'prod', 'backend': 'nfs',
            'lock_location': 'redis://r:6379'}}
        rpc.return_value.call.side_effect = exception.RequestOutcomeUnknown(
            'a@nfs', 'get_volume_stats()', 10.0, 'no reply from %s' % BUS)
        self.assertEqual(2, self.main())
        err = self.err.getvalue()
        self.assertIn('member a of cluster prod does not answer', err)
        for secret in ('bus-s3cret', 'lock-s3cret'):
            self.assertNotIn(secret, err + self.out.getvalue())


class RemovalTestCase(base.BaseTestCase):
    """What the run removes: its own volumes on the share, nothing else."""

    def setUp(self):
        super().setUp()
        self.share = self.useFixture(fixtures.TempDir()).path
        self.load = mock.Mock(outcomes=[], model=records.Model())
        self.mine = [self.volume(), self.volume()]
        self.gone = self.volume(on_share=False)
        self.operator = objects.Volume()
        self.touch('volume-%s' % self.operator.id)
        self.touch('notes.txt')
        self.remove = self.useFixture(fixtures.MockPatchObject(
            deployed, 'remove', side_effect=self.removed)).mock

    def touch(self, name):
        open(os.path.join(self.share, name), 'w').close()

    def volume(self, on_share=True):
        volume = objects.Volume()
        self.load.model.volumes[volume.id] = records.VolumeRecord(volume)
        self.load.outcomes.append(records.Outcome('create_volume', 'h',
                                                  [volume.id]))
        if on_share:
            self.touch('volume-%s' % volume.id)
            self.touch('volume-%s.info' % volume.id)
        return volume

    def removed(self, cluster, volumes):
        for volume in volumes:
            for name in os.listdir(self.share):
                if name.startswith('volume-%s' % volume.id):
                    os.unlink(os.path.join(self.share, name))
        return [v.id for v in volumes], []

    def test_only_the_runs_volumes_on_the_share_are_removed(self):
        removed, failures = aa_stress_deployed._remove('c', self.load,
                                                       self.share)
        self.remove.assert_called_once_with('c', self.mine)
        self.assertEqual([v.id for v in self.mine], removed)
        self.assertEqual([], failures)
        self.assertEqual(sorted(['notes.txt', 'volume-%s' %
                                 self.operator.id]),
                         sorted(os.listdir(self.share)))

    def test_what_is_left_of_the_runs_volumes_is_a_failure(self):
        self.remove.side_effect = lambda c, v: ([x.id for x in v], [])
        unknown = objects.Volume()
        self.load.outcomes.append(records.Outcome('create_volume', 'h',
                                                  [unknown.id]))
        self.touch('volume-%s' % unknown.id)
        _removed, failures = aa_stress_deployed._remove('c', self.load,
                                                        self.share)
        self.assertEqual(3, len(failures), failures)
        self.assertIn('volume %s of this run is on the share, but the run '
                      'has no record of it' % unknown.id, ' '.join(failures))
        for volume in self.mine:
            self.assertIn('volume %s was deleted, but files of it are still '
                          'on the share' % volume.id, ' '.join(failures))
