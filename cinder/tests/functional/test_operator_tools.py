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

"""cinder-manage and cinder-status as an operator runs them.

Each test writes a real ``cinder.conf`` and runs the command in a child
process against real lock servers and, for ``clean_locks``, a real
``cinder-volume`` with the NFS driver on a local share.
"""

import configparser
import json
import os
import subprocess
import sys
import uuid

import fixtures
import redis
import testtools

from cinder import objects
from cinder.stress import lockservers
from cinder.tests.functional import volume_service

PASSWORD = 'Sup3rS3cret-pw'
#: oslo.upgradecheck's result codes, as its JSON output gives them.
WARNING, FAILURE = 1, 2


def write_conf(path, sections):
    parser = configparser.ConfigParser(interpolation=None)
    for section, values in sections.items():
        if section != 'DEFAULT':
            parser.add_section(section)
        for key, value in values.items():
            parser.set(section, key, str(value))
    with open(path, 'w') as f:
        parser.write(f)
    return path


def run_tool(module, config_file, *args):
    """Run ``python -m <module> --config-file F args``; (rc, out, err)."""
    proc = subprocess.run(
        [sys.executable, '-m', module, '--config-file', config_file] +
        list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


class ToolTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def conf(self, name='cinder.conf', **sections):
        sections.setdefault('DEFAULT', {}).setdefault('state_path', self.dir)
        return write_conf(os.path.join(self.dir, name), sections)

    def manage(self, config_file, *args):
        return run_tool('cinder.cmd.manage', config_file, *args)

    def status(self, config_file, *args):
        return run_tool('cinder.cmd.status', config_file, *args)

    def assertNoSecret(self, *texts):
        for text in texts:
            self.assertNotIn(PASSWORD, text)


class CoordinationCheckTest(ToolTestCase):
    """``cinder-manage coordination check`` on each backend."""

    def check(self, url, **default):
        config_file = self.conf(DEFAULT=default,
                                coordination={'backend_url': url,
                                              'backend_timeout': 3})
        rc, out, err = self.manage(config_file, 'coordination', 'check',
                                   '--json')
        self.assertNoSecret(out, err)
        return rc, json.loads(out), err

    def test_zookeeper(self):
        rc, report, err = self.check(lockservers.server_url('zookeeper'),
                                     cluster='c1')
        self.assertEqual(0, rc, err)
        self.assertEqual('ok', report['result'])
        self.assertTrue(report['distributed'])
        self.assertTrue(report['excludes_other_member'])
        self.assertEqual('session', report['lease_kind'])
        self.assertIsNone(report['heartbeat'])
        self.assertEqual(5, len(report['cycles']))

    def test_etcd(self):
        rc, report, err = self.check(lockservers.server_url('etcd'))
        self.assertEqual(0, rc, err)
        self.assertEqual('lease', report['lease_kind'])
        self.assertEqual(1.0, report['heartbeat'])
        self.assertTrue(report['excludes_other_member'])

    def test_file_backend_in_a_cluster_warns(self):
        rc, report, err = self.check('file://' + self.dir, cluster='c1')
        self.assertEqual(1, rc, err)
        self.assertFalse(report['distributed'])
        self.assertTrue(report['excludes_other_member'])
        self.assertIn('keeps locks on this host only',
                      report['findings'][0]['message'])

    def test_unreachable_backend_fails_naming_the_option(self):
        port = lockservers.pick_free_port()
        config_file = self.conf(coordination={
            'backend_url': 'redis://:%s@127.0.0.1:%d' % (PASSWORD, port),
            'backend_timeout': 2})
        rc, out, err = self.manage(config_file, 'coordination', 'check')
        self.assertEqual(2, rc, out + err)
        self.assertIn('[coordination] backend_url', out)
        self.assertIn('redis://:***@127.0.0.1:%d' % port, out)
        self.assertIn('Result:', out)
        self.assertTrue(out.rstrip().endswith('FAILURE'), out)
        self.assertNoSecret(out, err)

    def test_redis_password_checked_and_masked(self):
        server = self.useFixture(lockservers.LockServerFixture('redis'))
        redis.Redis(host='127.0.0.1', port=server.server.port).config_set(
            'requirepass', PASSWORD)
        host = '127.0.0.1:%d' % server.server.port

        rc, report, err = self.check('redis://:wrong-%s@%s' % (PASSWORD,
                                                               host))
        self.assertEqual(2, rc, err)
        self.assertIn('redis://:***@%s' % host,
                      report['findings'][0]['message'])

        rc, report, err = self.check('redis://:%s@%s' % (PASSWORD, host))
        self.assertEqual(0, rc, err)
        self.assertEqual('redis://:***@%s' % host, report['backend'])
        self.assertEqual(30, report['lease'])

    def test_unknown_backend_scheme(self):
        config_file = self.conf(coordination={'backend_url': 'nosuch://x'})
        rc, out, err = self.manage(config_file, 'coordination', 'check')
        self.assertEqual(2, rc, out + err)
        self.assertIn('nosuch://x', out)


class UpgradeCheckTest(ToolTestCase):
    """``cinder-status upgrade check``."""

    def test_ready_cluster_on_zookeeper(self):
        config_file = self.conf(
            DEFAULT={'cluster': 'c1', 'volume_driver': 'nfs'},
            coordination={
                'backend_url': lockservers.server_url('zookeeper')})
        rc, out, err = self.status(config_file, 'upgrade', 'check')
        self.assertEqual(0, rc, out + err)
        text = ' '.join(out.replace('|', ' ').split())
        self.assertIn('Check: Lock backend Result: Success', text)
        self.assertIn('locks exclude services on all hosts', text)
        self.assertIn('volume driver nfs supports Active/Active', text)

    def test_failures_and_warnings(self):
        old_locks = os.path.join(self.dir, 'old-locks')
        config_file = self.conf(
            DEFAULT={'cluster': 'c1',
                     'volume_driver': 'cinder.tests.unit.fake_driver.'
                                      'NotActiveActiveDriver'},
            oslo_concurrency={'lock_path': old_locks})
        rc, out, err = self.status(config_file, 'upgrade', 'check',
                                   '--json')
        self.assertEqual(2, rc, out + err)
        results = {r['check']: r for r in json.loads(out)['checks']}
        self.assertEqual(WARNING, results['Lock backend']['result'])
        self.assertIn('keeps locks on this host only',
                      results['Lock backend']['details'])
        self.assertEqual(FAILURE,
                         results['Volume driver in a cluster']['result'])
        self.assertIn('does not support Active/Active',
                      results['Volume driver in a cluster']['details'])
        directory = results['Lock directory during upgrade']
        self.assertEqual(WARNING, directory['result'])
        self.assertIn('lock_path = %s' % old_locks, directory['details'])

    def test_unreachable_backend_fails_masked(self):
        port = lockservers.pick_free_port()
        config_file = self.conf(coordination={
            'backend_url': 'etcd3+http://root:%s@127.0.0.1:%d' % (
                PASSWORD, port),
            'backend_timeout': 2})
        rc, out, err = self.status(config_file, 'upgrade', 'check')
        self.assertEqual(2, rc, out + err)
        self.assertIn('Failure', out)
        self.assertNoSecret(out, err)


class CleanLocksTest(ToolTestCase):
    """``cinder-manage util clean_locks`` beside a running service."""

    def setUp(self):
        super().setUp()
        share = os.path.join(self.dir, 'share')
        os.mkdir(share)
        shares_file = os.path.join(self.dir, 'nfs_shares')
        with open(shares_file, 'w') as f:
            f.write(share + '\n')
        self.state = os.path.join(self.dir, 'state')
        self.svc = self.useFixture(volume_service.VolumeService(
            self.state, {'DEFAULT': {'volume_driver': 'nfs',
                                     'nfs_shares_config': shares_file,
                                     'nfs_snapshot_support': 'true'}}))

    def lock_files(self):
        return sorted(n for n in os.listdir(self.state)
                      if n.startswith('cinder-') and
                      os.path.isfile(os.path.join(self.state, n)) and
                      os.path.getsize(os.path.join(self.state, n)) == 0)

    def plant(self, name):
        open(os.path.join(self.state, 'cinder-' + name), 'w').close()

    def hold(self, name):
        """Hold lock *name* from another process until cleanup."""
        proc = subprocess.Popen(
            [sys.executable, '-c',
             'import fcntl, sys\n'
             'f = open(sys.argv[1], "a")\n'
             'fcntl.lockf(f, fcntl.LOCK_EX)\n'
             'print("held", flush=True)\n'
             'sys.stdin.read()\n',
             os.path.join(self.state, 'cinder-' + name)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.stdin.close)
        self.assertEqual('held\n', proc.stdout.readline())

    def test_online_removes_only_locks_of_deleted_resources(self):
        volume = objects.Volume(size=1)
        self.svc.call('create_volume', volume=volume)
        snapshot = objects.Snapshot(volume=volume)
        self.svc.call('create_snapshot', snapshot=snapshot)
        # What a crashed service leaves: locks of resources now gone.
        gone_volume, gone_snapshot, busy = (str(uuid.uuid4())
                                            for _ in range(3))
        leftovers = ['%s-delete_volume' % gone_volume, 'nfs-' + gone_volume,
                     '%s-delete_snapshot' % gone_snapshot]
        for name in leftovers:
            self.plant(name)
        kept = ['%s-delete_volume' % volume.id, 'nfs-' + volume.id,
                '%s-delete_snapshot' % snapshot.id, 'tgt-targets']
        for name in kept + ['%s-detach_volume' % busy]:
            self.plant(name)
        self.hold('%s-detach_volume' % busy)
        log_size = os.path.getsize(self.svc.log_file)
        self.assertGreater(log_size, 0)

        rc, out, err = self.manage(self.svc.config_file, 'util',
                                   'clean_locks', '--dry-run')
        self.assertEqual(0, rc, out + err)
        self.assertIn('Would remove 4 lock file(s)', out)
        self.assertEqual(len(leftovers) + len(kept) + 1,
                         len([n for n in self.lock_files()
                              if n[len('cinder-'):] in leftovers + kept +
                              ['%s-detach_volume' % busy]]))

        rc, out, err = self.manage(self.svc.config_file, 'util',
                                   'clean_locks')
        self.assertEqual(0, rc, out + err)
        remaining = self.lock_files()
        for name in leftovers:
            self.assertNotIn('cinder-' + name, remaining)
            self.assertIn('removed cinder-' + name, out)
        for name in kept + ['%s-detach_volume' % busy]:
            self.assertIn('cinder-' + name, remaining)
        self.assertIn('Kept 1 lock file(s) in use', out)
        # The service's socket and log are not lock files.
        self.assertTrue(os.path.exists(self.svc.socket))
        self.assertGreaterEqual(os.path.getsize(self.svc.log_file), log_size)
        # The service still works on the volume whose locks were kept.
        self.svc.call('delete_snapshot', snapshot=snapshot)
        self.svc.call('delete_volume', volume=volume)

    def test_offline_removes_every_lock_file(self):
        volume = objects.Volume(size=1)
        self.svc.call('create_volume', volume=volume)
        self.plant('tgt-targets')
        self.assertEqual(0, self.svc.terminate())
        self.assertNotEqual([], self.lock_files())

        rc, out, err = self.manage(self.svc.config_file, 'util',
                                   'clean_locks', '--services-offline')
        self.assertEqual(0, rc, out + err)
        self.assertEqual([], self.lock_files())
        self.assertIn('removed cinder-nfs-%s' % volume.id, out)
        self.assertTrue(os.path.getsize(self.svc.log_file))

    def test_offline_with_a_lock_held_fails(self):
        self.assertEqual(0, self.svc.terminate())
        name = '%s-delete_volume' % uuid.uuid4()
        self.plant(name)
        self.hold(name)
        rc, out, err = self.manage(self.svc.config_file, 'util',
                                   'clean_locks', '--services-offline')
        self.assertEqual(1, rc, out + err)
        self.assertIn('is a cinder-volume still running?', out)
        self.assertIn('cinder-' + name, self.lock_files())

    def test_distributed_backend_has_nothing_to_clean(self):
        config_file = self.conf(coordination={
            'backend_url': lockservers.server_url('redis')})
        rc, out, err = self.manage(config_file, 'util', 'clean_locks')
        self.assertEqual(0, rc, out + err)
        self.assertIn('leaves nothing to clean: a release deletes', out)
