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

"""The real NFS driver on a share that fails as an NFS share fails.

Each test mounts the fault-injecting file system
(:mod:`cinder.stress.faultfs`) over a backing directory, gives the
mount to :class:`cinder.volume.drivers.nfs.NfsDriver` as its directory
share, with a ``file://`` coordinator, arms one of NFS's failure modes
and runs requests through the unchanged driver. What the share holds is
then read in the backing directory, behind the mount, as the file server
has it. A test takes one to three seconds (one mount, two for the
stale listing, and some ten ``qemu-img`` runs).

The failure modes: a LINK applied and answered ``EEXIST`` (its reply was
lost and the retransmission found the name) or ``EIO`` (a soft mount);
``EIO`` after the fact from the directory sync and from the unlink that
removes an old generation; a LINK answered ``EIO`` whose target then
cannot be read; a LINK refused before it is applied; a short write; a
directory listing served from a stale cache while a newer holder claims
the volume (through a second mount: another client of the same server);
an unlink of an image answered ``EIO`` after the fact.

FUSE expresses each of them: the driver has no seam for these tests.
One test places the newer holder's claim at a chosen moment by wrapping
:func:`cinder.image.qemu_img.info`, which still runs.

Not injected: a lookup answered from a stale *negative* cache. The
driver cannot tell such an answer from a true one; it requires
``lookupcache=positive``, which forbids it, and warns at start when a
share is mounted without it
(``MountTestCase.test_options_that_weaken_fencing_are_warned_about`` in
the unit tests).
"""

import errno
import json
import logging
import os
import re
import shutil
import subprocess

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from cinder import coordination
from cinder import exception
from cinder.image import qemu_img
from cinder import objects
from cinder.stress import faultfs
from cinder.tests.functional import test_faultfs
from cinder.tests.unit.volume.drivers import test_remotefs_lock_loss
from cinder.volume.drivers import nfs
from cinder.volume import fenced_record

#: A fencing token larger than any the test's coordinator hands out.
NEWER = 10 ** 12
#: The images of a volume (base and overlays), not its info file's files.
IMAGE = re.compile(r'^volume-[0-9a-f-]+(\.[0-9a-f]{16})?$')


class ShareFaultTestCase(base.BaseTestCase):
    """The NFS driver with a faultfs mount of ``backing`` as its share."""

    #: nfs_copy_on_write of the driver.
    copy_on_write = True

    def setUp(self):
        super().setUp()
        test_faultfs.require(self, also=[] if shutil.which('qemu-img') and
                             shutil.which('qemu-io') else
                             ['qemu-img and qemu-io (Debian qemu-utils)'])
        self.root = self.useFixture(fixtures.TempDir()).path
        self.backing = os.path.join(self.root, 'backing')
        self.share = os.path.join(self.root, 'share')
        for path in (self.backing, self.share,
                     os.path.join(self.root, 'locks')):
            os.mkdir(path)
        self.fs = faultfs.FaultFS.start(self.backing, self.share)
        self.addCleanup(self.fs.stop)
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.volume', level=logging.WARNING))
        self.driver = self.make_driver()

    def make_driver(self):
        conf = cfg.ConfigOpts()
        fixture = self.useFixture(config_fixture.Config(conf))
        self.coordinator = coordination.Coordinator(conf=conf)
        fixture.config(group='coordination', backend_url='file://' +
                       os.path.join(self.root, 'locks'))
        self.coordinator.start()
        self.addCleanup(self.coordinator.stop)
        self.useFixture(fixtures.MockPatchObject(
            coordination, 'COORDINATOR', self.coordinator))
        driver = nfs.NfsDriver(configuration=conf)
        shares_file = os.path.join(self.root, 'nfs_shares')
        with open(shares_file, 'w') as f:
            f.write('%s\n' % self.share)
        fixture.config(nfs_shares_config=shares_file,
                       nfs_snapshot_support=True,
                       nfs_copy_on_write=self.copy_on_write,
                       state_path=self.root)
        driver.do_setup()
        driver.check_for_setup_error()
        return driver

    # Helpers -------------------------------------------------------------

    def create_volume(self):
        volume = objects.Volume(size=1)
        volume.update(self.driver.create_volume(volume))
        return volume

    def record(self, volume, directory=None):
        """The volume's info file, through the mount (or *directory*)."""
        return fenced_record.FencedRecord(os.path.join(
            directory or self.share, volume.name + '.info'))

    def info(self, volume):
        """The newest generation of the info file, as a dict."""
        return json.loads(self.record(volume).read().text)

    def qemu(self, *args):
        done = subprocess.run(list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=60)
        self.assertEqual(0, done.returncode, done.stdout)
        return done.stdout

    def io(self, volume, command):
        """Run qemu-io *command* on the volume's active image."""
        active = self.info(volume)['active']
        fmt = 'raw' if active == volume.name else 'qcow2'
        self.qemu('qemu-io', '-f', fmt, '-c', command,
                  os.path.join(self.share, active))

    def images(self):
        """The image files in the backing directory."""
        return sorted(name for name in os.listdir(self.backing)
                      if IMAGE.match(name))

    def backing_files(self):
        """Every file behind the mount: name -> what it holds."""
        files = {}
        for name in os.listdir(self.backing):
            path = os.path.join(self.backing, name)
            if os.path.islink(path):
                files[name] = ('->', os.readlink(path))
                continue
            st = os.stat(path)
            files[name] = (st.st_size, st.st_mtime_ns,
                           test_remotefs_lock_loss.data_digest(path))
        return files

    def assertChainSound(self, volume, reads):
        """The chain passes qemu-img check and reads *reads*; no strays.

        :param reads: {offset: byte} of 64 KiB blocks the volume shows.
        """
        info = self.info(volume)
        chain = []
        name = info['active']
        while name:
            self.assertNotIn(name, chain)
            chain.append(name)
            fmt = 'raw' if name == volume.name else 'qcow2'
            path = os.path.join(self.share, name)
            if fmt == 'qcow2':
                self.qemu('qemu-img', 'check', '-f', fmt, path)
            name = qemu_img.info(path, fmt).backing_file
        snapshots = set(info) - {'active', 'base_format'}
        self.assertLessEqual(set(info[s] for s in snapshots), set(chain))
        self.assertEqual(sorted(chain), self.images())
        for offset, byte in sorted(reads.items()):
            self.io(volume, 'read -P 0x%02x %d 64k' % (byte, offset))

    def assertNoTemporaryFiles(self):
        self.assertEqual([], [name for name in os.listdir(self.backing)
                              if '.tmp-' in name])


class CommitOutcomeTest(ShareFaultTestCase):
    """A commit the file server made, whatever it answered, stands."""

    def assertCommitStands(self, op, pattern, code, fired, logged):
        """Snapshot with every *op* on *pattern* failing after the fact.

        *pattern* is formatted with the volume's name; the rule fires
        *fired* times and the driver logs *logged*.

        The claim and the commit of create_snapshot each append a
        generation. The snapshot is taken, nothing it uses is removed,
        and it is deleted later as any other.
        """
        volume = self.create_volume()
        self.io(volume, 'write -P 0x11 0 64k')
        rule = self.fs.arm(op, pattern.format(volume.name), 'after',
                           errno=code, count=None)
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.assertEqual(fired, self.fs.disarm(rule)['fired'])
        self.assertIn(logged, self.log.output)
        info = self.info(volume)
        self.assertEqual(volume.name, info[snapshot.id])
        self.assertNotEqual(volume.name, info['active'])
        self.assertChainSound(volume, {0: 0x11})
        self.assertNoTemporaryFiles()
        self.io(volume, 'write -P 0x22 64k 64k')
        self.driver.delete_snapshot(snapshot)
        self.assertEqual({'active', 'base_format'}, set(self.info(volume)))
        self.assertChainSound(volume, {0: 0x11, 65536: 0x22})

    def test_a_link_applied_then_answered_eexist_stands(self):
        self.assertCommitStands('link', '{}.info.g*', 'EEXIST', 2,
                                'the commit stands')

    def test_a_link_applied_then_answered_eio_stands(self):
        self.assertCommitStands('link', '{}.info.g*', 'EIO', 2,
                                'the commit stands')

    def test_a_directory_sync_answered_eio_does_not_undo_it(self):
        self.assertCommitStands('fsyncdir', '.', 'EIO', 2,
                                'syncing the directory failed')

    def test_a_prune_answered_eio_does_not_undo_it(self):
        # The commit's generation (3) removes the first one.
        self.assertCommitStands('unlink', '{}.info.g*', 'EIO', 1,
                                'removing older generations failed')

    def test_a_commit_in_doubt_keeps_what_it_may_name(self):
        volume = self.create_volume()
        self.io(volume, 'write -P 0x11 0 64k')
        # The link of the commit is made but answered EIO, and its target
        # cannot be read back once.
        commit = '%s.info.g%d' % (volume.name,
                                  self.record(volume).read().number + 2)
        rules = [self.fs.arm('link', commit, 'after', errno='EIO'),
                 self.fs.arm('open', commit, 'before', errno='EIO')]
        snapshot = objects.Snapshot(volume=volume)
        error = self.assertRaises(
            (OSError, exception.VolumeDriverException),
            self.driver.create_snapshot, snapshot)
        fired = [self.fs.disarm(rule)['fired'] for rule in rules]
        # It was committed, and what it names is there.
        self.assertEqual(volume.name, self.info(volume)[snapshot.id])
        self.assertChainSound(volume, {0: 0x11})
        self.assertIn('Not removing %s.' % volume.name, self.log.output)
        self.assertIsInstance(error, fenced_record.CommitInDoubt)
        self.assertEqual([1, 1], fired)
        self.assertNoTemporaryFiles()
        self.driver.delete_snapshot(snapshot)
        self.assertEqual({'active', 'base_format'}, set(self.info(volume)))
        self.assertChainSound(volume, {0: 0x11})

    def test_a_link_refused_changes_nothing_and_the_next_one_works(self):
        volume = self.create_volume()
        self.io(volume, 'write -P 0x11 0 64k')
        before = (self.info(volume), self.images())
        # The claim appends the generation after the newest, the commit
        # the one after that: the commit's link is refused.
        commit = '%s.info.g%d' % (volume.name,
                                  self.record(volume).read().number + 2)
        rule = self.fs.arm('link', commit, 'before', errno='EIO')
        snapshot = objects.Snapshot(volume=volume)
        error = self.assertRaises(OSError, self.driver.create_snapshot,
                                  snapshot)
        self.assertEqual(errno.EIO, error.errno)
        self.assertEqual(1, self.fs.fired(rule))
        self.assertEqual(before, (self.info(volume), self.images()))
        self.assertFalse(os.path.lexists(os.path.join(self.backing,
                                                      commit)))
        self.assertNoTemporaryFiles()
        self.driver.create_snapshot(snapshot)
        self.assertEqual(volume.name, self.info(volume)[snapshot.id])
        self.assertChainSound(volume, {0: 0x11})

    def test_a_short_write_still_writes_the_generation_whole(self):
        volume = self.create_volume()
        record = self.record(volume, self.backing)
        # Every write of a temporary file takes at most 64 bytes.
        rule = self.fs.arm('write', '%s.info.tmp-*' % volume.name, 'short',
                           count=None, size=64)
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.assertEqual(volume.name, self.info(volume)[snapshot.id])
        generations = [name for name in os.listdir(self.backing)
                       if record.is_generation(name)]
        self.assertEqual(2, len(generations), generations)
        for name in generations:
            with open(os.path.join(self.backing, name), 'rb') as f:
                content = f.read()
            self.assertGreater(len(content), 64)
            self.assertEqual(fenced_record.FORMAT,
                             json.loads(content)['format'])
        # More than one short write for each of the two generations.
        self.assertGreater(self.fs.disarm(rule)['fired'], 4)
        self.assertChainSound(volume, {})


class StaleListingTest(ShareFaultTestCase):
    """A listing from a client's cache does not hide a newer claim."""

    copy_on_write = False

    def test_an_in_place_step_is_refused_after_a_newer_claim(self):
        volume = self.create_volume()
        self.io(volume, 'write -P 0x11 0 64k')
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.io(volume, 'write -P 0x22 0 64k')
        # The newer holder is another service: another client of the
        # file server, with a cache of its own.
        other = os.path.join(self.root, 'other')
        os.mkdir(other)
        other_fs = faultfs.FaultFS.start(self.backing, other)
        self.addCleanup(other_fs.stop)
        newer = fenced_record.FencedRecord(
            os.path.join(other, volume.name + '.info'),
            source=self.coordinator.backend.location())
        claimed = {}
        real = qemu_img.info

        def info(*args, **kwargs):
            # Called first after this holder's claim (it follows the
            # chain): its client's listings stay as they are now, and
            # the newer holder claims the volume.
            if not claimed:
                self.fs.arm('readdir', '.', 'stale', count=None)
                claimed['generation'] = newer.claim(NEWER)
                claimed['files'] = self.backing_files()
            return real(*args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(qemu_img, 'info',
                                                 side_effect=info))
        self.assertRaises(coordination.FencedOff,
                          self.driver.delete_snapshot, snapshot)
        # No qemu-img commit ran: the newer holder's images are as it
        # claimed them.
        self.assertEqual(claimed['files'], self.backing_files())
        newest = os.path.basename(newer.path_of(claimed['generation']))
        self.assertNotIn(newest, os.listdir(self.share))    # still stale
        self.assertIn(newest, os.listdir(self.backing))
        self.fs.clear()
        self.assertEqual(NEWER, self.record(volume).read().token)
        self.assertEqual(volume.name, self.info(volume)[snapshot.id])


class DeleteTest(ShareFaultTestCase):
    """A delete of a volume that fails half way is finished by the next."""

    def test_an_unlink_answered_eio_after_the_fact(self):
        volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        base = os.path.join(self.share, volume.name)
        rule = self.fs.arm('unlink', volume.name, 'after', errno='EIO')
        error = self.assertRaises(OSError, self.driver.delete_volume,
                                  volume)
        self.assertEqual((errno.EIO, base), (error.errno, error.filename))
        self.assertEqual(1, self.fs.fired(rule))
        # Removed, and the volume is deleted: its record is a tombstone.
        self.assertFalse(os.path.lexists(os.path.join(self.backing,
                                                      volume.name)))
        self.assertIsNone(self.record(volume).read().text)
        self.assertNotEqual([], self.images())      # the overlay is left
        self.driver.delete_volume(volume)
        tombstone = self.record(volume).read()
        self.assertIsNone(tombstone.text)
        self.assertEqual([os.path.basename(
            self.record(volume).path_of(tombstone))],
            os.listdir(self.backing))
        self.assertNotIn(volume.id, self.driver.list_resource_ids().volumes)
        self.assertRaises(exception.VolumeNotFound, self.driver.local_path,
                          volume)
