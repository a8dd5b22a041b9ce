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

"""A frozen holder wakes up and commits: the share refuses it.

Two real ``cinder-volume`` processes of one cluster share one NFS share
(a local directory) and a real lock server with a short lease. Service
A takes a snapshot and is held by a lock hook
(``step-hold`` of :mod:`cinder.stress.holds`) right after the check of its
commit passed, then frozen with ``SIGSTOP``: no heartbeat, no fence. Its
lock expires on the server, service B takes it, snapshots the volume and
commits. A is woken and released: its commit must be refused by the
share (``FencedOff``), and the chain, the info file and every byte must
be as B left them. Without the fencing of the info file, A's commit
would replace B's and lose B's snapshot.

The same frozen holder, in the middle of a snapshot delete that would
make a copy of the active file the volume's, is fenced off by an attach
on service B: the attach claims the info file, so the file it hands out
stays the volume's, with what the host wrote into it.

The file backend is not here: its locks cannot be lost while their
holder lives, frozen or not.
"""

import json
import os
import subprocess

import fixtures
from oslo_config import cfg
import testtools

from cinder import coordination
from cinder import lock_check
from cinder import objects
from cinder.stress import holds
from cinder.stress import lockservers
from cinder.tests.functional import qemu_gate
from cinder.tests.functional import test_active_active
from cinder.tests.functional import volume_service
from cinder.volume import fenced_record

MiB = 1024 * 1024
Request = test_active_active.Request


class FrozenHolderMixin(object):

    #: Lock server kind, and the URL query that gives its locks a short
    #: lease (or session) so that a frozen holder loses them soon.
    kind = None
    lease_query = None

    def setUp(self):
        super().setUp()
        lockservers.check_available(self.kind)
        root = self.useFixture(fixtures.TempDir()).path
        self.share, shares_file = volume_service.nfs_share(root)
        hold_dir = os.path.join(root, 'holds')
        os.makedirs(hold_dir)
        self.holds = holds.StepHolds(hold_dir)
        # Whatever happens to the test, never leave a step held.
        self.addCleanup(self.holds.release_all)
        self.url = lockservers.server_url(self.kind) + self.lease_query
        self.services = {}
        for host, hooks in (('host-a', 'step-hold'), ('host-b', '')):
            self.services[host] = self.useFixture(
                volume_service.VolumeService(
                    os.path.join(root, host), {
                        'DEFAULT': {'volume_driver': 'nfs',
                                    'cluster': 'cluster1',
                                    'nfs_shares_config': shares_file,
                                    'nfs_snapshot_support': 'true'},
                        'coordination': {'backend_url': self.url,
                                         'fencing_margin': '0.5',
                                         'hooks': hooks,
                                         'step_hold_dir': hold_dir}},
                    host=host, new_session=True))
        self.a = self.services['host-a']
        self.b = self.services['host-b']

    # Helpers -------------------------------------------------------------

    def info(self, volume):
        return json.loads(fenced_record.FencedRecord(os.path.join(
            self.share, volume.name + '.info')).read().text)

    def image(self, volume, name):
        fmt = (self.info(volume)['base_format'] if name == volume.name
               else 'qcow2')
        return os.path.join(self.share, name), fmt

    def write(self, volume, pattern, offset):
        path, fmt = self.image(volume, self.info(volume)['active'])
        test_active_active.run('qemu-io', '-f', fmt, '-c',
                               'write -P %d %d %d' % (pattern, offset, MiB),
                               path)

    def reads(self, image, pattern, offset):
        path, fmt = image
        out = subprocess.run(
            ['qemu-io', '-r', '-U', '-f', fmt, '-c',
             'read -P %d %d %d' % (pattern, offset, MiB), path],
            capture_output=True, text=True)
        return out.returncode == 0 and 'failed' not in out.stdout

    def lock_is_free(self, name):
        """Can another member take lock ``name`` now (it is let go)?"""
        conf = cfg.ConfigOpts()
        probe = coordination.Coordinator(conf=conf)   # registers its options
        conf([])
        conf.set_override('backend_url', self.url, group='coordination')
        probe.start()
        try:
            return lock_check.can_take(probe, name, timeout=30)
        finally:
            probe.stop()

    def assertChainSound(self, volume):
        info = self.info(volume)
        name, chain = info['active'], []
        while name:
            chain.append(name)
            path, fmt = self.image(volume, name)
            if fmt == 'qcow2':
                test_active_active.run('qemu-img', 'check', '-U', '-f', fmt,
                                       path)
            out = test_active_active.run('qemu-img', 'info', '-U',
                                         '--output=json', '-f', fmt, path)
            name = json.loads(out.stdout).get('backing-filename')
        snapshots = set(info) - {'active', 'base_format'}
        self.assertLessEqual({info[s] for s in snapshots}, set(chain))
        return snapshots

    # The scenario --------------------------------------------------------

    def test_a_frozen_holder_s_commit_is_refused(self):
        volume = objects.Volume(size=1)
        self.b.call('create_volume', volume=volume)
        self.write(volume, 0x11, 0)
        first = objects.Snapshot(volume=volume)
        self.b.call('create_snapshot', snapshot=first)
        self.write(volume, 0x22, MiB)

        # A: held after the check of its commit (the first commit step
        # is the claim of the info file), then frozen.
        self.holds.arm('commit', 'stale', skip=1)
        stale = Request(self.a, 'create_snapshot',
                        snapshot=objects.Snapshot(volume=volume))
        held = self.holds.wait_until_held('stale', 60)
        self.assertIsNotNone(held, 'service A reached no commit in 60 s')
        self.assertEqual('commit %s.info' % volume.name, held['step'])
        self.a.pause()
        qemu_gate.wait_for(
            lambda: self.lock_is_free('nfs-%s' % volume.id), 60,
            'the frozen holder\'s lock to be free on the server')

        newer = objects.Snapshot(volume=volume)
        self.b.call('create_snapshot', snapshot=newer)
        self.write(volume, 0x33, 2 * MiB)

        self.a.resume()
        self.holds.release('stale')
        stale.wait()
        self.assertIsNotNone(stale.error, 'the stale commit went through')
        self.assertIn('FencedOff: %s' % os.path.join(
            self.share, volume.name + '.info'), self.a.log())

        # Everything as B left it: its snapshot, the chain, the data.
        self.assertEqual({first.id, newer.id}, self.assertChainSound(volume))
        info = self.info(volume)
        active = self.image(volume, info['active'])
        for pattern, offset in ((0x11, 0), (0x22, MiB), (0x33, 2 * MiB)):
            self.assertTrue(self.reads(active, pattern, offset),
                            'the volume lost 0x%x at %d' % (pattern, offset))
        self.assertTrue(self.reads(self.image(volume, info[first.id]),
                                   0x11, 0))
        self.assertTrue(self.reads(self.image(volume, info[newer.id]),
                                   0x22, MiB))
        # B goes on with the volume.
        self.b.call('delete_snapshot', snapshot=first)
        self.assertEqual({newer.id}, self.assertChainSound(volume))

    def test_an_attach_fences_off_a_frozen_rewrite(self):
        volume = objects.Volume(size=1)
        self.b.call('create_volume', volume=volume)
        zero = objects.Snapshot(volume=volume)
        self.b.call('create_snapshot', snapshot=zero)
        self.write(volume, 0x11, 0)
        newest = objects.Snapshot(volume=volume)
        self.b.call('create_snapshot', snapshot=newest)
        self.write(volume, 0x22, MiB)

        # A deletes the newest snapshot with copy-on-write, and is held
        # after the check of the commit that would make its copy the
        # active file (the first commit step is its claim), then frozen.
        self.holds.arm('commit', 'stale', skip=1)
        stale = Request(self.a, 'delete_snapshot', snapshot=newest)
        held = self.holds.wait_until_held('stale', 60)
        self.assertIsNotNone(held, 'service A reached no commit in 60 s')
        self.assertEqual('commit %s.info' % volume.name, held['step'])
        self.a.pause()
        qemu_gate.wait_for(
            lambda: self.lock_is_free('nfs-%s' % volume.id), 60,
            'the frozen holder\'s lock to be free on the server')

        # B attaches the volume; the host writes into the file it got.
        attachment = self.b.call('attach_volume', volume=volume,
                                 connector={'host': 'compute-1'})
        name = attachment.connection_info['data']['name']
        test_active_active.run(
            'qemu-io', '-f', 'qcow2', '-c',
            'write -P %d %d %d' % (0x33, 2 * MiB, MiB),
            os.path.join(self.share, name))

        self.a.resume()
        self.holds.release('stale')
        stale.wait()
        self.assertIsNotNone(stale.error, 'the stale delete succeeded')

        # The file the attach returned is still the volume's active file,
        # with what the host wrote.
        self.assertEqual(name, self.info(volume)['active'],
                         'the stale commit replaced the attached file')
        self.assertEqual({zero.id, newest.id}, self.assertChainSound(volume))
        active = self.image(volume, name)
        for pattern, offset in ((0x11, 0), (0x22, MiB), (0x33, 2 * MiB)):
            self.assertTrue(self.reads(active, pattern, offset),
                            'the volume lost 0x%x at %d' % (pattern, offset))
        self.assertIn('FencedOff: %s' % os.path.join(
            self.share, volume.name + '.info'), self.a.log())


class RedisFrozenHolderTest(FrozenHolderMixin, testtools.TestCase):
    kind = 'redis'
    lease_query = '?lock_timeout=3'


class EtcdFrozenHolderTest(FrozenHolderMixin, testtools.TestCase):
    kind = 'etcd'
    lease_query = '?lock_timeout=3'


class ZooKeeperFrozenHolderTest(FrozenHolderMixin, testtools.TestCase):
    kind = 'zookeeper'
    lease_query = '?timeout=4'
