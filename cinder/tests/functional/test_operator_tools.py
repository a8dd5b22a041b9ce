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
import io
import json
import os
import stat
import subprocess
import sys
import time
import traceback
import uuid

import fixtures
from oslo_config import cfg
import redis
import requests
import testtools

from cinder.cmd import aa_stress
from cinder.cmd import volume_demo
from cinder import coordination
from cinder import messaging
from cinder import objects
from cinder.stress import lockservers
from cinder.tests.functional import volume_service
from cinder.volume import fenced_record

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

    def test_zookeeper_session_timeout_negotiated_by_the_server(self):
        server = self.useFixture(lockservers.LockServerFixture(
            'zookeeper', max_session_timeout=4000)).server
        rc, report, err = self.check(server.url + '?timeout=60')
        self.assertEqual(1, rc, err)
        self.assertEqual(4, report['lease'])
        self.assertEqual(60, report['requested_lease'])
        self.assertIn('the server negotiated a session timeout of 4 s, not '
                      'the 60 s requested', report['findings'][0]['message'])

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
        self.assertIn('(connection refused)', out)
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
        self.assertIn('(authentication failed)',
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
        # The service's log is not a lock file.
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


#: A token greater than any the test servers gave: a record that holds it
#: is what a backend whose tokens went back meets.
HIGH = 10 ** 12
ADVANCE = ('coordination', 'advance-tokens')


class AdvanceTokensMixin(object):
    """``coordination advance-tokens`` beside a running service.

    A real ``cinder-volume`` with the NFS driver on a local share and a
    real lock backend. The tokens going back is played by a claim of a
    volume's info file under a token of the service's own source greater
    than any the backend gave; for Redis, also by the real thing.
    """

    #: The lock server, or None for the file backend.
    kind = None

    def service(self, url=None):
        self.share, shares_file = volume_service.nfs_share(
            os.path.join(self.dir, 'nfs'))
        options = {'DEFAULT': {'volume_driver': 'nfs',
                               'nfs_shares_config': shares_file,
                               'nfs_snapshot_support': 'true'}}
        if url is not None:
            options['coordination'] = {'backend_url': url,
                                       'backend_timeout': 5}
        return self.useFixture(volume_service.VolumeService(
            os.path.join(self.dir, 'state'), options))

    def record(self, volume, source=None):
        return fenced_record.FencedRecord(
            os.path.join(self.share, volume.name + '.info'), source=source)

    def assertRefused(self, svc, volume):
        """Each change and delete of *volume* fails, naming the way out."""
        for method, args in (
                ('create_snapshot',
                 {'snapshot': objects.Snapshot(volume=volume)}),
                ('delete_volume', {'volume': volume})):
            e = self.assertRaises(messaging.RemoteError, svc.call, method,
                                  **args)
            self.assertEqual('FencingTokensWentBack', e.exc_type, e)
            self.assertIn('went back', e.remote_message)
            self.assertIn('"cinder-manage coordination advance-tokens" is '
                          'run once', e.remote_message)
        self.assertEqual(2, len([
            line for line in svc.log().splitlines()
            if ' ERROR cinder.coordination ' in line and
            'Fencing tokens of lock backend' in line]))

    def assertAdvanced(self, svc, volume, highest):
        rc, out, err = self.manage(svc.config_file, *ADVANCE + ('--dry-run',))
        self.assertEqual(1, rc, out + err)
        self.assertIn('Highest on storage: %d\n' % highest, out)
        self.assertIn('BEHIND', out)
        rc, out, err = self.manage(svc.config_file, *ADVANCE)
        self.assertEqual(0, rc, out + err)
        self.assertIn('Advanced:', out)
        self.assertIn('Result:             OK', out)
        self.assertNoSecret(out, err)
        # The next requests go through, with tokens past the old ones.
        snapshot = objects.Snapshot(volume=volume)
        svc.call('create_snapshot', snapshot=snapshot)
        newest = self.record(volume).read()
        self.assertIn(snapshot.id, json.loads(newest.text))
        self.assertGreater(newest.token, highest)
        svc.call('delete_volume', volume=volume)
        self.assertIsNone(self.record(volume).read().text)
        rc, out, err = self.manage(svc.config_file, *ADVANCE)
        self.assertEqual(0, rc, out + err)
        self.assertIn('nothing to do', out)

    def test_a_request_refused_for_its_token_until_the_command_runs(self):
        url = lockservers.server_url(self.kind) if self.kind else None
        svc = self.service(url)
        volume = objects.Volume(size=1)
        svc.call('create_volume', volume=volume)
        source = self.record(volume).read().source
        self.record(volume, source).claim(HIGH)
        self.assertRefused(svc, volume)
        self.assertAdvanced(svc, volume, HIGH)


class FileAdvanceTokensTest(AdvanceTokensMixin, ToolTestCase):
    pass


class RedisAdvanceTokensTest(AdvanceTokensMixin, ToolTestCase):
    kind = 'redis'

    @staticmethod
    def give_tokens(url, count):
        conf = cfg.ConfigOpts()
        coordinator = coordination.Coordinator(conf=conf)
        conf([])
        conf.set_override('backend_url', url, 'coordination')
        coordinator.start()
        try:
            for _ in range(count):
                with coordinator.get_lock('elsewhere') as lock:
                    lock.token()
        finally:
            coordinator.stop()

    def test_a_redis_restarted_without_persistence(self):
        server = self.useFixture(lockservers.LockServerFixture(
            'redis')).server
        url = server.url.replace('redis://', 'redis://:%s@' % PASSWORD)
        redis.Redis(host='127.0.0.1', port=server.port).config_set(
            'requirepass', PASSWORD)
        svc = self.service(url)
        # Other services' grants: the counter is far past what the
        # requests below and the command's probes take after the restart.
        self.give_tokens(url, 300)
        volume = objects.Volume(size=1)
        svc.call('create_volume', volume=volume)
        svc.call('create_snapshot', snapshot=objects.Snapshot(volume=volume))
        highest = self.record(volume).read().token
        self.assertGreater(highest, 300)
        # Redis restarts and loses every key, the token counter included,
        # and so does the service: nothing remembers the tokens given.
        self.assertEqual(0, svc.terminate())
        server.restart()
        redis.Redis(host='127.0.0.1', port=server.port).config_set(
            'requirepass', PASSWORD)
        svc.start()
        self.assertRefused(svc, volume)
        # A new volume has no older token to be refused by.
        svc.call('create_volume', volume=objects.Volume(size=1))
        self.assertAdvanced(svc, volume, highest)
        self.assertNoSecret(svc.log())


class ZooKeeperAdvanceTokensTest(AdvanceTokensMixin, ToolTestCase):
    kind = 'zookeeper'


class EtcdAdvanceTokensTest(AdvanceTokensMixin, ToolTestCase):
    kind = 'etcd'


#: A password as written in the user-info of a URL, one percent-encoded
#: there (Tooz hands it to the client as written, ``%40`` and all; the
#: operator meant ``@``), one in the query string, ``+`` encoded, and one
#: with an unencoded ``#`` (urllib then reads a host and a fragment).
RAW_PW = 'Raw-S3cret-pw'
ENC_PW, ENC_PW_DECODED = 'Enc%40S3cret', 'Enc@S3cret'
QUERY_PW, QUERY_PW_DECODED = 'Qry%2BS3cret', 'Qry+S3cret'
HASH_PW = 'Hsh1#Hsh2x'
ALL_SECRETS = (RAW_PW, ENC_PW, ENC_PW_DECODED, QUERY_PW, QUERY_PW_DECODED,
               HASH_PW) + tuple(HASH_PW.split('#'))
FAKE_DRIVER = 'cinder.tests.unit.fake_driver.FakeDriver'


class SecretsTest(ToolTestCase):
    """No output path of any command carries a password of backend_url.

    Real Redis with passwords, real ``cinder-volume`` processes, the real
    tools; each URL is tried where the server takes its password and where
    it refuses it, so that the success and the error paths both run:
    logs (the service's log file at DEBUG, standard error), tracebacks
    (of the raised errors, with their causes and contexts), RPC error
    replies, the output of every tool, and the files they write.
    """

    def setUp(self):
        super().setUp()
        server = self.useFixture(lockservers.LockServerFixture('redis'))
        self.port = server.server.port
        self.admin = redis.Redis(host='127.0.0.1', port=self.port)
        self.addCleanup(self.admin.close)
        self.host = '127.0.0.1:%d' % self.port
        self.urls = [
            'redis://:%s@%s' % (RAW_PW, self.host),
            'redis://:%s@%s?password=%s&lock_timeout=30' % (
                ENC_PW, self.host, QUERY_PW),
        ]
        #: URLs that cannot work, for the error paths only.
        self.bad_urls = ['redis://:%s@%s?password=%s' % (
            HASH_PW, self.host, QUERY_PW)]
        self.accept_passwords()

    def accept_passwords(self, *passwords):
        """The server takes these, by default those the URLs carry."""
        passwords = passwords or (RAW_PW, ENC_PW)
        self.admin.execute_command('ACL', 'SETUSER', 'default', 'resetpass',
                                   *['>' + p for p in passwords])
        # Drop the connections authenticated before (not this one).
        self.admin.execute_command('CLIENT', 'KILL', 'TYPE', 'normal')

    def assertNoSecret(self, *texts):
        for text in texts:
            for secret in ALL_SECRETS:
                self.assertNotIn(secret, text)

    def assertPrivate(self, path):
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode), path)

    def service(self, url, name):
        state = os.path.join(self.dir, name)
        return volume_service.VolumeService(
            state, {'DEFAULT': {'volume_driver': FAKE_DRIVER},
                    'coordination': {'backend_url': url,
                                     'backend_timeout': 3,
                                     'heartbeat': 0.2}}).service

    def service_outputs(self, svc):
        return svc.log(), svc.stderr_tail(max_bytes=1 << 20)

    def test_cinder_volume_log_stderr_rpc_replies_and_config_file(self):
        for index, url in enumerate(self.urls):
            svc = self.service(url, 'svc-%d' % index)
            svc.prepare()
            self.addCleanup(svc.kill)
            svc.start()
            self.assertPrivate(svc.config_file)
            volume = objects.Volume(size=1)
            svc.call('create_volume', volume=volume)
            # The server stops taking the password: the next lock fails.
            self.accept_passwords('another-pw')
            e = self.assertRaises(messaging.RemoteError, svc.call,
                                  'delete_volume', volume=volume)
            self.assertIn('[coordination] backend_url', str(e))
            self.assertNoSecret(str(e), e.remote_message)
            self.accept_passwords()
            self.assertEqual(0, svc.terminate())
            log, stderr = self.service_outputs(svc)
            self.assertIn('Request delete_volume(volume=%s) failed' %
                          volume.id, log)
            self.assertIn('Traceback', log)
            self.assertNoSecret(log, stderr)

    def test_cinder_volume_that_cannot_start(self):
        self.accept_passwords('another-pw')
        for index, url in enumerate(self.urls + self.bad_urls):
            svc = self.service(url, 'svc-%d' % index)
            svc.prepare()
            self.addCleanup(svc.kill)
            e = self.assertRaises(volume_service.ServiceProcessError,
                                  svc.start)
            self.assertEqual(1, svc.returncode)
            self.assertIn('cinder-volume: cannot start', str(e))
            self.assertNoSecret(str(e), *self.service_outputs(svc))
            self.assertPrivate(svc.config_file)

    def test_tracebacks_of_raised_errors(self):
        def coordinator(url):
            conf = cfg.ConfigOpts()
            coord = coordination.Coordinator(conf=conf)
            conf([])
            conf.set_override('backend_url', url, 'coordination')
            conf.set_override('backend_timeout', 3, 'coordination')
            return coord

        for url in self.urls:
            coord = coordinator(url)
            coord.start()
            self.addCleanup(coord.stop)
            lock = coord.get_lock('secrets-test')
            self.accept_passwords('another-pw')
            errors = [self.assertRaises(coordination.CoordinationError,
                                        lock.acquire)]
            errors.append(self.assertRaises(coordination.CoordinationError,
                                            coordinator(url).start))
            self.accept_passwords()
            for error in errors:
                self.assertNoSecret(
                    str(error), ''.join(traceback.format_exception(error)))
        for url in self.bad_urls:
            error = self.assertRaises(coordination.CoordinationError,
                                      coordinator(url).start)
            self.assertNoSecret(
                str(error), ''.join(traceback.format_exception(error)))

    def test_cinder_manage_and_cinder_status(self):
        for accepted in ((RAW_PW, ENC_PW), ('another-pw',)):
            self.accept_passwords(*accepted)
            for index, url in enumerate(self.urls + self.bad_urls):
                # lock_path: cinder-status's upgrade check names the URL.
                config_file = self.conf(
                    name='tool-%d.conf' % index,
                    coordination={'backend_url': url, 'backend_timeout': 3},
                    oslo_concurrency={'lock_path': self.dir})
                for args in (('coordination', 'check'),
                             ('coordination', 'check', '--json'),
                             ('--debug', 'coordination', 'check'),
                             ('util', 'clean_locks'),
                             ('coordination', 'advance-tokens')):
                    rc, out, err = self.manage(config_file, *args)
                    self.assertIn('127.0.0.1:%d' % self.port, out + err)
                    self.assertNotIn('Traceback', err)
                    self.assertNoSecret(out, err)
                rc, out, err = self.status(config_file, 'upgrade', 'check')
                self.assertIn('Lock backend', out)
                self.assertNotIn('Traceback', out + err)
                self.assertNoSecret(out, err)

    def run_in_process(self, main, *args):
        out, err = io.StringIO(), io.StringIO()
        with fixtures.MonkeyPatch('sys.stdout', out), \
                fixtures.MonkeyPatch('sys.stderr', err):
            status = main(list(args))
        return status, out.getvalue(), err.getvalue()

    def test_stress_tool_and_demo(self):
        for index, url in enumerate(self.urls):
            work = os.path.join(self.dir, 'stress-%d' % index)
            status, out, err = self.run_in_process(
                aa_stress.main, '--backend-url', url, '--services', '1',
                '--operations', '5', '--volumes', '1', '--work-dir', work)
            self.assertEqual(0, status, out + err)
            self.assertIn('redis://:***@%s' % self.host, out)
            self.assertNoSecret(out, err)
            self.assertPrivate(os.path.join(work, 'host-1', 'cinder.conf'))

            work = os.path.join(self.dir, 'demo-%d' % index)
            status, out, err = self.run_in_process(
                volume_demo.main, '--backend-url', url, '--work-dir', work)
            self.assertEqual(0, status, out + err)
            self.assertNoSecret(out, err)
            self.assertPrivate(os.path.join(work, 'state', 'cinder.conf'))
        self.accept_passwords('another-pw')
        status, out, err = self.run_in_process(
            volume_demo.main, '--backend-url', self.urls[1],
            '--work-dir', os.path.join(self.dir, 'demo-fails'))
        self.assertEqual(1, status)
        self.assertIn('cinder-volume did not start', out + err)
        self.assertNoSecret(out, err)


#: Bound on a failure that must come at once, far below the 10 s
#: backend_timeout of these tests; a timeout would take the whole 10 s.
AT_ONCE = 5.0


class FailureCauseTest(testtools.TestCase):
    """A backend that cannot be used is reported with the real cause.

    Against real servers: a server that answered (wrong or missing
    password, connection refused, a name that does not resolve) fails
    the start at once, naming the cause, the option and what to check; a
    silent server (SIGSTOP) fails after ``backend_timeout``, as timed
    out.
    """

    timeout = 10

    def coordinator(self, url, timeout=None):
        conf = cfg.ConfigOpts()
        coord = coordination.Coordinator(conf=conf)
        conf([])
        conf.set_override('backend_url', url, 'coordination')
        conf.set_override('backend_timeout', timeout or self.timeout,
                          'coordination')
        self.addCleanup(coord.stop)
        return coord

    def start_fails(self, url, timeout=None):
        coord = self.coordinator(url, timeout)
        start = time.monotonic()
        e = self.assertRaises(coordination.BackendUnavailable, coord.start)
        elapsed = time.monotonic() - start
        self.addDetail('elapsed', testtools.content.text_content(
            '%.3f s' % elapsed))
        self.assertIn('[coordination] backend_url', str(e))
        self.assertIn(coordination.mask_url(url), str(e))
        return str(e), elapsed

    def assertCause(self, cause, check, url):
        message, elapsed = self.start_fails(url)
        self.assertIn('(%s)' % cause, message)
        self.assertIn('Check %s' % check, message)
        self.assertLess(elapsed, AT_ONCE, message)
        return message

    def redis_with_password(self):
        server = self.useFixture(lockservers.LockServerFixture('redis'))
        redis.Redis(host='127.0.0.1', port=server.server.port).config_set(
            'requirepass', PASSWORD)
        return '127.0.0.1:%d' % server.server.port

    def test_redis_wrong_and_missing_password(self):
        host = self.redis_with_password()
        for url in ('redis://:wrong-%s@%s' % (PASSWORD, host),
                    'redis://%s' % host):
            message = self.assertCause('authentication failed',
                                       'the user name and password', url)
            self.assertNotIn(PASSWORD, message)
        coord = self.coordinator('redis://:%s@%s' % (PASSWORD, host))
        coord.start()

    def test_connection_refused(self):
        port = lockservers.pick_free_port()
        for scheme in ('redis', 'zookeeper', 'etcd3+http'):
            self.assertCause('connection refused', 'that the server runs',
                             '%s://127.0.0.1:%d' % (scheme, port))

    def test_name_not_resolved(self):
        for scheme in ('redis', 'zookeeper', 'etcd3+http'):
            self.assertCause('name not resolved', 'the host name',
                             '%s://no-such-host.invalid:2379' % scheme)

    def test_etcd_with_authentication_enabled(self):
        # Tooz's etcd driver cannot log in: such a server never works.
        server = self.useFixture(lockservers.LockServerFixture('etcd'))
        base_url = 'http://127.0.0.1:%d/v3/auth/' % server.server.port
        for path, body in (('user/add', {'name': 'root',
                                         'password': PASSWORD}),
                           ('role/add', {'name': 'root'}),
                           ('user/grant', {'user': 'root', 'role': 'root'}),
                           ('enable', {})):
            requests.post(base_url + path, json=body,
                          timeout=10).raise_for_status()
        self.assertCause('authentication failed',
                         'that authentication is disabled', server.url)

    def test_silent_server_times_out(self):
        for kind in ('redis', 'zookeeper', 'etcd'):
            server = self.useFixture(lockservers.LockServerFixture(kind))
            with server.server.frozen():
                message, elapsed = self.start_fails(server.url, timeout=2)
            self.assertIn('(timed out)', message)
            self.assertIn('[coordination] backend_timeout', message)
            self.assertIn('Check that the server runs', message)
            self.assertGreaterEqual(elapsed, 2.0)


class ToolLoggingTest(ToolTestCase):
    """The tools log to their own standard error, each line once.

    They read the service's configuration file, whose ``log_file`` and
    ``debug`` are the service's: a tool writes to a log file only when
    ``--log-file`` is on its command line, and shows other libraries'
    lines only with ``--debug``.
    """

    def setUp(self):
        super().setUp()
        self.service_log = os.path.join(self.dir, 'cinder-volume.log')

    def service_conf(self, **coordination_options):
        return self.conf(DEFAULT={'log_file': self.service_log,
                                  'debug': 'true'},
                         coordination=coordination_options)

    def zookeeper_behind_a_closed_port(self):
        """A working URL whose first server refuses: kazoo logs that."""
        server = self.useFixture(lockservers.LockServerFixture('zookeeper'))
        return 'zookeeper://127.0.0.1:%d?hosts=127.0.0.1:%d&' \
               'randomize_hosts=false' % (lockservers.pick_free_port(),
                                          server.server.port)

    def assertEachLineOnce(self, text):
        for line in text.splitlines():
            message = line.split(': ', 2)[-1]
            self.assertEqual(1, line.count(message[:40]), line)

    def test_no_library_lines_without_debug(self):
        config_file = self.service_conf(
            backend_url=self.zookeeper_behind_a_closed_port())
        rc, out, err = self.status(config_file, 'upgrade', 'check')
        self.assertEqual(0, rc, out + err)
        self.assertEqual('', err)
        rc, out, err = self.manage(config_file, 'coordination', 'check')
        self.assertEqual(0, rc, out + err)
        self.assertEqual('', err)
        self.assertFalse(os.path.exists(self.service_log))
        # Asked for: they show, on the tool's standard error.
        rc, out, err = self.manage(config_file, '--debug', 'coordination',
                                   'check')
        self.assertEqual(0, rc, out + err)
        self.assertIn('kazoo.client', err)
        self.assertIn('Connection dropped', err)
        self.assertEachLineOnce(err)
        self.assertFalse(os.path.exists(self.service_log))

    def test_warnings_go_to_stderr_once_not_to_the_service_log(self):
        # A heartbeat slower than a third of the lease: the coordinator
        # warns at each start.
        config_file = self.service_conf(
            backend_url=lockservers.server_url('redis'), heartbeat=20)
        for command in (self.manage, self.status):
            args = (('coordination', 'check') if command == self.manage
                    else ('upgrade', 'check'))
            rc, out, err = command(config_file, *args)
            self.assertEqual(1, rc, out + err)
            self.assertIn('WARNING', err)
            self.assertIn('should be a third of the lock lease', err)
            self.assertEachLineOnce(err)
        self.assertFalse(os.path.exists(self.service_log))

    def test_log_file_on_the_command_line(self):
        tool_log = os.path.join(self.dir, 'tool.log')
        config_file = self.service_conf(
            backend_url=lockservers.server_url('redis'), heartbeat=20)
        rc, out, err = self.manage(config_file, '--log-file', tool_log,
                                   'coordination', 'check')
        self.assertEqual(1, rc, out + err)
        self.assertEqual('', err)
        with open(tool_log) as f:
            self.assertIn('should be a third of the lock lease', f.read())
        self.assertFalse(os.path.exists(self.service_log))

    def test_cinder_volume_logs_its_start_failure_once(self):
        svc = volume_service.VolumeService(
            os.path.join(self.dir, 'svc'),
            {'coordination': {'backend_url': 'nosuch://h'}}).service
        svc.prepare()
        self.addCleanup(svc.kill)
        self.assertRaises(volume_service.ServiceProcessError, svc.start)
        lines = [line for line in svc.log().splitlines()
                 if 'cinder-volume cannot start' in line]
        self.assertEqual(1, len(lines), svc.log())
        self.assertEqual(1, lines[0].count('unknown lock backend'), lines[0])


class ConfigFileTest(ToolTestCase):
    """A configuration file that cannot be read: one line, the status.

    As documented: cinder-volume and cinder-manage exit 2 (bad command
    line), cinder-status 255 (no check could run).
    """

    COMMANDS = (('cinder.cmd.volume', (), 2),
                ('cinder.cmd.manage', ('coordination', 'check'), 2),
                ('cinder.cmd.status', ('upgrade', 'check'), 255))

    def assertCleanFailure(self, config_file, expected):
        for module, args, status in self.COMMANDS:
            rc, out, err = run_tool(module, config_file, *args)
            self.assertEqual(status, rc, '%s: %s%s' % (module, out, err))
            self.assertNotIn('Traceback', out + err)
            self.assertEqual(1, len(err.splitlines()), err)
            prog = 'cinder-' + module.rsplit('.', 1)[1]
            self.assertTrue(err.startswith(prog + ': '), err)
            self.assertIn(expected, err)

    def test_missing_config_file(self):
        missing = os.path.join(self.dir, 'no-such.conf')
        self.assertCleanFailure(missing, missing)

    def test_config_file_that_does_not_parse(self):
        broken = os.path.join(self.dir, 'broken.conf')
        with open(broken, 'w') as f:
            f.write('[DEFAULT\nstate_path = %s\n' % self.dir)
        self.assertCleanFailure(broken, broken)
