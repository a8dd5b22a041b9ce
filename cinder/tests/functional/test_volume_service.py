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

"""cinder-volume as an operator runs it: start, serve, stop on a signal."""

import json
import os
import signal
import subprocess
import threading

import fixtures
import testtools

from cinder import messaging
from cinder import objects
from cinder.tests.functional import qemu_gate
from cinder.tests.functional import volume_service
from cinder.volume import fenced_record

FAKE_DRIVER = 'cinder.tests.unit.fake_driver.FakeDriver'


class VolumeServiceLifecycleTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def service(self, **options):
        opts = {'DEFAULT': {'volume_driver': FAKE_DRIVER}}
        for key, value in options.items():
            section, _, name = key.rpartition('__')
            opts.setdefault(section or 'DEFAULT', {})[name] = value
        return volume_service.VolumeService(
            os.path.join(self.dir, 'state'), opts)

    def assert_in_order(self, log, *lines):
        positions = []
        for line in lines:
            self.assertIn(line, log)
            positions.append(log.index(line))
        self.assertEqual(sorted(positions), positions, log)

    def test_starts_serves_and_stops_on_sigterm(self):
        svc = self.useFixture(self.service())
        volume = objects.Volume()
        svc.call('create_volume', volume=volume)
        self.assertEqual('available', volume.status)
        self.assertEqual(0, svc.terminate(signal.SIGTERM))
        log = svc.log()
        self.assert_in_order(
            log, 'Coordinator started: lock backend file://',
            'Initializing volume driver FakeDriver',
            'cinder-volume started on host %s' % svc.host,
            'Caught SIGTERM, stopping',
            'Volume manager on host %s stopped' % svc.host,
            'Coordinator stopped',
            'cinder-volume stopped on host %s' % svc.host)

    def test_sigint_stops_too(self):
        svc = self.useFixture(self.service())
        self.assertEqual(0, svc.terminate(signal.SIGINT))
        self.assertIn('Caught SIGINT, stopping', svc.log())

    def test_failed_coordinator_start_stops_the_service(self):
        svc = self.service(
            coordination__backend_url='redis://:s3cret@127.0.0.1:1',
            coordination__backend_timeout='2')
        svc.prepare()
        self.addCleanup(svc.kill)
        error = self.assertRaises(volume_service.ServiceProcessError,
                                  svc.start)
        self.assertIn('exited with 1', str(error))
        self.assertIn('cannot start: the lock coordinator cannot start',
                      str(error))
        self.assertIn('backend_url', str(error))
        self.assertNotIn('s3cret', str(error) + svc.log())
        self.assertNotIn('Initializing volume driver', svc.log())


class NfsVolumeServiceTest(testtools.TestCase):
    """The service as the README runs it: NFS, local share, file locks."""

    def test_nfs_on_a_local_share_with_default_file_locks(self):
        root, share, shares_file = _local_share(self)
        state = os.path.join(root, 'state')
        svc = self.useFixture(volume_service.VolumeService(state, {
            'DEFAULT': {'volume_driver': 'nfs',
                        'nfs_shares_config': shares_file,
                        'nfs_snapshot_support': 'true'}}))
        volume = objects.Volume(size=1)
        svc.call('create_volume', volume=volume)
        snapshot = objects.Snapshot(volume=volume)
        svc.call('create_snapshot', snapshot=snapshot)
        clone = objects.Volume(size=1)
        svc.call('create_volume', volume=clone, snapshot=snapshot)
        self.assertEqual(share, volume.provider_location)
        info = json.loads(fenced_record.FencedRecord(os.path.join(
            share, volume.name + '.info')).read().text)
        self.assertIn(snapshot.id, info)
        subprocess.run(['qemu-img', 'check', '-f', 'qcow2', '--force-share',
                        os.path.join(share, info['active'])], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(['qemu-img', 'compare', '-f', 'raw', '-F', 'raw',
                        os.path.join(share, clone.name),
                        os.path.join(share, info[snapshot.id])], check=True,
                       stdout=subprocess.DEVNULL)
        # The manager's and the driver's locks are files under state_path,
        # the default backend_url (file://$state_path).
        stats = svc.call('get_volume_stats')
        self.assertEqual(0, svc.terminate(signal.SIGTERM))
        log = svc.log()
        lines = ['Coordinator started: lock backend file://%s,' % state,
                 'locks exclude services on this host only',
                 'Initializing volume driver NfsDriver',
                 'Volume driver NfsDriver initialized',
                 'cinder-volume started on host %s' % svc.host,
                 'Lock "cinder-nfs-%s" acquired by "cinder.' % volume.id,
                 'Caught SIGTERM, stopping',
                 'Volume manager on host %s stopped' % svc.host,
                 'Coordinator stopped (lock backend file://%s)' % state,
                 'cinder-volume stopped on host %s' % svc.host]
        positions = [log.index(line) for line in lines]
        self.assertEqual(sorted(positions), positions, log)
        self.assertTrue(stats['active_active'])


class StopPastTheTimeoutTest(testtools.TestCase):
    """A stop that gives up on a request running the real qemu-img."""

    def test_stop_kills_a_qemu_img_that_outlives_the_graceful_timeout(self):
        # A clone's qemu-img convert is held (the shim waits before it
        # runs the real one) past graceful_shutdown_timeout. The stop must
        # kill it, let the request fail saying so and release its lock,
        # and only then stop the coordinator.
        root, share, shares_file = _local_share(self)
        gate = self.useFixture(qemu_gate.QemuImgGate())
        svc = self.useFixture(volume_service.VolumeService(
            os.path.join(root, 'state'), {
                'DEFAULT': {'volume_driver': 'nfs',
                            'nfs_shares_config': shares_file,
                            'graceful_shutdown_timeout': '1'}},
            env=gate.env))
        source = objects.Volume(size=1)
        svc.call('create_volume', volume=source)
        gate.arm('convert', 'clone')
        clone = objects.Volume(size=1)
        outcome = []

        def clone_it():
            try:
                svc.client(timeout=120).call('create_volume', volume=clone,
                                             source_volume=source)
                outcome.append('succeeded')
            except Exception as e:
                outcome.append(e)

        cloning = threading.Thread(target=clone_it)
        cloning.start()
        self.addCleanup(cloning.join, 120)
        held = gate.wait_until_held('clone')
        self.assertEqual('convert', held[0])
        self.assertEqual(0, svc.terminate(signal.SIGTERM))
        cloning.join(120)
        error = outcome[0]
        self.assertIsInstance(error, messaging.RemoteError)
        self.assertIn('qemu-img convert', str(error))
        self.assertIn('was killed: cinder-volume on host %s is stopping '
                      'and the request was still running after [DEFAULT] '
                      'graceful_shutdown_timeout = 1.0 s' % svc.host,
                      str(error))
        log = svc.log()
        lines = [
            'Caught SIGTERM, stopping',
            '1 volume request(s) still running after 1.0 s: '
            'create_volume(source_volume=%s, volume=%s)' % (source.id,
                                                            clone.id),
            'Killed 1 child process(es) of the volume requests still '
            'running: qemu-img convert',
            'Creating volume %s failed' % clone.id,
            'Volume manager on host %s stopped' % svc.host,
            'Coordinator stopped',
            'cinder-volume stopped on host %s' % svc.host]
        positions = [log.index(line) for line in lines]
        self.assertEqual(sorted(positions), positions, log)
        self.assertNotIn('after their child processes were killed', log)
        self.assertNotIn('was LOST', log)
        # Nothing of the clone is left running, and the source is intact.
        self.assertEqual([], _processes_with(os.path.join(share, clone.name)))
        self.assertIn(source.name, os.listdir(share))


def _local_share(test):
    """A temporary directory with a share and the nfs_shares file."""
    root = test.useFixture(fixtures.TempDir()).path
    share = os.path.join(root, 'share')
    os.makedirs(share)
    shares_file = os.path.join(root, 'nfs_shares')
    with open(shares_file, 'w') as f:
        f.write(share + '\n')
    return root, share, shares_file


def _processes_with(text):
    """Pids of the processes whose command line contains ``text``."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                cmdline = f.read().replace(b'\0', b' ')
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(pid))
    return found
