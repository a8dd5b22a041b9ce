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

"""What the RemoteFS snapshot driver does when its lock is lost.

Like :mod:`cinder.tests.unit.volume.drivers.test_remotefs`, on directory
shares with the real qemu-img; the lock check is replaced by one that
reports the lock lost, either from the start or from a chosen moment: right
before one step that changes the share. After a loss nothing on the shares
may change: no file is made, rewritten, replaced or deleted.
"""

import contextlib
import errno
import hashlib
import os
import re
from unittest import mock

import fixtures

from cinder import coordination
from cinder import exception
from cinder.image import qemu_img
from cinder import objects
from cinder.tests.unit.volume.drivers import test_remotefs
from cinder.volume import fenced_record


def data_digest(path):
    """SHA-256 of the data of *path*, with the offset of each extent.

    Only the extents that hold data are read (``SEEK_DATA``/``SEEK_HOLE``),
    so a sparse 1 GiB image costs what it stores; holes read as zeroes, so
    the extents and their offsets determine the content.
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            digest.update(b'@%d:' % start)
            f.seek(start)
            left = end - start
            while left:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
            offset = end
    return digest.hexdigest()


class ShareFilesTestCase(test_remotefs.DriverTestCase):
    """A driver test that can tell what changed on its shares."""

    def share_files(self):
        """Every file of the test's shares: path -> what it holds.

        Each file by size, mtime (ns) and a digest of its data, info files
        also by their text, so that a rewrite in place shows even where it
        keeps the size.
        """
        files = {}
        for share in (self.share, self.share2):
            for name in os.listdir(share):
                path = os.path.join(share, name)
                if os.path.islink(path):            # a record's head
                    files[path] = ('->', os.readlink(path))
                    continue
                st = os.stat(path)
                state = (st.st_size, st.st_mtime_ns, data_digest(path))
                if name.endswith('.info'):
                    with open(path) as f:
                        state += (f.read(),)
                files[path] = state
        return files

    def assertShareUnchanged(self, before, after):
        diff = {}
        for what, paths in (
                ('added', set(after) - set(before)),
                ('removed', set(before) - set(after)),
                ('changed', set(p for p in set(before) & set(after)
                                if before[p] != after[p]))):
            if paths:
                diff[what] = sorted(os.path.basename(p) for p in paths)
        self.assertEqual({}, diff, 'files of the share changed')


class LockLossTestCase(ShareFilesTestCase):
    """Each step of each operation, rewrites in place.

    :class:`CopyOnWriteLockLossTestCase` covers the steps of the
    copy-on-write rewrites.
    """

    copy_on_write = False

    # Lost from the start -------------------------------------------------

    def lose_lock(self):
        return mock.patch.object(
            coordination, 'ensure_locks_held',
            side_effect=coordination.LockLost('lock lost'))

    def assertNothingChanged(self, volume, operation):
        """*operation* raises LockLost and leaves every file as it was."""
        before = self.share_files()
        with self.lose_lock() as check:
            self.assertRaises(coordination.LockLost, operation)
        self.assertTrue(check.called)
        self.assertShareUnchanged(before, self.share_files())

    def test_lost_lock_stops_create_snapshot(self):
        volume = self.create_volume()
        self.assertNothingChanged(volume, lambda: self.driver.create_snapshot(
            objects.Snapshot(volume=volume)))

    def test_lost_lock_stops_delete_of_newest_snapshot_before_commit(self):
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.write(volume, 0x22, '0')
        self.assertNothingChanged(
            volume, lambda: self.driver.delete_snapshot(snapshot))
        self.assertImageReads(self.snapshot_image(snapshot), {'0': 0x11})

    def test_lost_lock_stops_delete_of_older_snapshot(self):
        volume = self.create_volume()
        s1 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s1)
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertNothingChanged(
            volume, lambda: self.driver.delete_snapshot(s1))

    def test_lost_lock_stops_revert(self):
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.assertNothingChanged(
            volume, lambda: self.driver.revert_to_snapshot(volume, snapshot))

    def test_lost_lock_stops_delete_volume(self):
        volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertNothingChanged(
            volume, lambda: self.driver.delete_volume(volume))

    def test_real_check_passes_while_the_lock_is_held(self):
        volume = self.create_volume()
        with mock.patch.object(coordination, 'ensure_locks_held',
                               wraps=coordination.ensure_locks_held) as c:
            self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertTrue(c.called)

    # Lost right before one step ------------------------------------------

    @contextlib.contextmanager
    def lock_lost_after(self, obj, attribute, then_raise=None, when=None):
        """Lose the lock as soon as ``obj.<attribute>`` first returns.

        With *when*, the first call for whose arguments ``when`` is true.

        Until then the real check runs; from then on the check raises
        LockLost. Yields a dict whose ``files`` is set to the files of the
        shares at that moment. With *then_raise*, that first call raises
        it after losing the lock: a step that changed something and then
        failed.
        """
        lost = {}
        real_check = coordination.ensure_locks_held
        real = getattr(obj, attribute)

        def check(*args, **kwargs):
            if lost:
                raise coordination.LockLost('lock lost')
            return real_check(*args, **kwargs)

        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            if not lost and (when is None or when(*args, **kwargs)):
                lost['files'] = self.share_files()
                if then_raise is not None:
                    raise then_raise
            return result
        with mock.patch.object(coordination, 'ensure_locks_held',
                               side_effect=check), \
                mock.patch.object(obj, attribute, side_effect=call):
            yield lost

    def assertStopsAfter(self, obj, attribute, operation, then_raise=None,
                         when=None):
        """Lose the lock after *attribute*: LockLost, and no change since.

        :returns: the LockLost raised.
        """
        with self.lock_lost_after(obj, attribute, then_raise,
                                  when) as lost:
            e = self.assertRaises(coordination.LockLost, operation)
        self.assertIn('files', lost, '%s was not called' % attribute)
        self.assertShareUnchanged(lost['files'], self.share_files())
        return e

    def two_snapshots(self):
        """A volume with snapshots s1 (its base file) and s2."""
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        self.write(volume, 0x11, '128k')
        s1 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s1)
        self.write(volume, 0x22, '0')
        s2 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s2)
        self.write(volume, 0x33, '64k')
        return volume, s1, s2

    @contextlib.contextmanager
    def fsync_failing_after(self, obj, attribute):
        """``os.fsync`` fails once ``obj.<attribute>`` has been called."""
        called = []
        real = getattr(obj, attribute)
        real_fsync = os.fsync

        def call(*args, **kwargs):
            called.append(True)
            return real(*args, **kwargs)

        def fsync(fd):
            if called:
                raise OSError(errno.EIO, 'Input/output error')
            return real_fsync(fd)
        with mock.patch.object(obj, attribute, side_effect=call), \
                mock.patch.object(os, 'fsync', side_effect=fsync):
            yield

    # create_volume, create_cloned_volume, create_volume_from_snapshot

    def test_lost_before_create_of_the_image(self):
        self.assertStopsAfter(self.driver, '_volume_files',
                              lambda: self.create_volume())

    def test_lost_before_convert_into_the_new_image(self):
        source = self.create_volume()
        snapshot = objects.Snapshot(volume=source)
        self.driver.create_snapshot(snapshot)
        self.assertStopsAfter(
            self.driver, '_volume_files',
            lambda: self.driver.create_cloned_volume(objects.Volume(size=1),
                                                     source))
        self.assertStopsAfter(
            self.driver, '_volume_files',
            lambda: self.driver.create_volume_from_snapshot(
                objects.Volume(size=1), snapshot))

    def test_lost_before_resize_of_the_new_image(self):
        source = self.create_volume()
        self.assertStopsAfter(
            qemu_img, 'convert',
            lambda: self.driver.create_cloned_volume(objects.Volume(size=2),
                                                     source))

    def test_lost_before_info_file_of_the_new_volume(self):
        self.assertStopsAfter(qemu_img, 'create',
                              lambda: self.create_volume())

    def test_lost_before_cleanup_of_a_failed_create(self):
        e = self.assertStopsAfter(
            qemu_img, 'create', lambda: self.create_volume(),
            then_raise=exception.VolumeDriverException('qemu-img failed'))
        # the error that started the cleanup is not lost
        self.assertIsInstance(e.__context__, exception.VolumeDriverException)

    # extend_volume

    def test_lost_before_resize_of_the_active_image(self):
        volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertStopsAfter(self.driver, '_chain',
                              lambda: self.driver.extend_volume(volume, 2))

    # create_snapshot

    def test_lost_before_create_of_the_overlay(self):
        volume = self.create_volume()
        self.assertStopsAfter(self.driver, '_chain',
                              lambda: self.driver.create_snapshot(
                                  objects.Snapshot(volume=volume)))

    def test_lost_before_info_file_of_the_snapshot(self):
        volume = self.create_volume()
        self.assertStopsAfter(qemu_img, 'create',
                              lambda: self.driver.create_snapshot(
                                  objects.Snapshot(volume=volume)))

    def test_lost_before_cleanup_of_a_failed_snapshot(self):
        volume = self.create_volume()
        # The overlay is made, then the info file cannot be written.
        with self.fsync_failing_after(qemu_img, 'create'):
            e = self.assertStopsAfter(qemu_img, 'create',
                                      lambda: self.driver.create_snapshot(
                                          objects.Snapshot(volume=volume)))
        self.assertIsInstance(e.__context__, OSError)

    # delete_snapshot of the newest snapshot

    def test_lost_before_commit(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(self.driver, '_chain',
                              lambda: self.driver.delete_snapshot(s2))

    def test_lost_before_info_file_after_commit(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(qemu_img, 'commit',
                              lambda: self.driver.delete_snapshot(s2))

    def test_lost_before_delete_of_the_committed_overlay(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(self.driver, '_write_info',
                              lambda: self.driver.delete_snapshot(s2))

    # delete_snapshot of an older snapshot

    def test_lost_before_rebase(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(self.driver, '_chain',
                              lambda: self.driver.delete_snapshot(s1))
        self.assertImageReads(self.snapshot_image(s1),
                              {'0': 0x11, '128k': 0x11})

    def test_lost_before_info_file_after_rebase(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(qemu_img, 'rebase',
                              lambda: self.driver.delete_snapshot(s1))

    def test_lost_before_delete_of_the_rebased_away_file(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(self.driver, '_write_info',
                              lambda: self.driver.delete_snapshot(s1))

    def test_lost_before_delete_that_finishes_an_interrupted_one(self):
        volume, s1, s2 = self.two_snapshots()
        with mock.patch.object(self.driver, '_write_info',
                               side_effect=OSError('crash')):
            self.assertRaises(OSError, self.driver.delete_snapshot, s1)
        self.assertStopsAfter(self.driver, '_write_info',
                              lambda: self.driver.delete_snapshot(s1))

    # revert_to_snapshot

    def test_lost_before_create_of_the_revert_overlay(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(
            self.driver, '_chain',
            lambda: self.driver.revert_to_snapshot(volume, s2))

    def test_lost_before_info_file_of_the_revert(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(
            qemu_img, 'create',
            lambda: self.driver.revert_to_snapshot(volume, s2))

    def test_lost_before_cleanup_of_a_failed_revert(self):
        volume, s1, s2 = self.two_snapshots()
        with self.fsync_failing_after(qemu_img, 'create'):
            e = self.assertStopsAfter(
                qemu_img, 'create',
                lambda: self.driver.revert_to_snapshot(volume, s2))
        self.assertIsInstance(e.__context__, OSError)

    def test_lost_before_delete_of_the_reverted_overlay(self):
        volume, s1, s2 = self.two_snapshots()
        self.assertStopsAfter(
            self.driver, '_write_info',
            lambda: self.driver.revert_to_snapshot(volume, s2))

    # delete_volume

    def test_lost_between_two_deletes_of_a_volume(self):
        volume, s1, s2 = self.two_snapshots()
        images = self.assertChainSound(volume)
        self.assertStopsAfter(
            os, 'unlink', lambda: self.driver.delete_volume(volume),
            when=lambda path: os.path.basename(path) in images)
        # The info file was ended first: the volume is deleted, and a
        # retry removes what is left.
        self.assertIsNone(self.record(volume).read().text)
        self.assertRaises(exception.VolumeNotFound, self.driver.local_path,
                          volume)
        self.assertNotEqual([], self.live_files())
        self.driver.delete_volume(volume)
        self.assertEqual([], self.live_files())


class CopyOnWriteLockLossTestCase(ShareFilesTestCase):
    """The lock is lost right after a copy-on-write step: nothing more."""

    lock_lost_after = LockLossTestCase.lock_lost_after
    assertStopsAfter = LockLossTestCase.assertStopsAfter
    two_snapshots = LockLossTestCase.two_snapshots

    def three_snapshots(self):
        volume, s1, s2 = self.two_snapshots()
        s3 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s3)
        self.write(volume, 0x44, '192k')
        return volume, s2, s3

    def assertUnchangedChain(self, operation, volume, *stops):
        """Lose the lock after each of *stops* in turn: the chain stays.

        The copies made so far are left (for delete_volume), unused.
        """
        for stop in stops:
            info = self.info(volume)
            self.assertStopsAfter(qemu_img, stop, operation)
            self.assertEqual(info, self.info(volume))
            self.assertImageReads(self.active(volume), {
                '0': 0x22, '64k': 0x33, '128k': 0x11, '192k': 0x44})

    def test_fold(self):
        volume, s2, s3 = self.three_snapshots()
        self.assertUnchangedChain(lambda: self.driver.delete_snapshot(s3),
                                  volume, 'convert', 'commit')

    def test_merge(self):
        volume, s2, s3 = self.three_snapshots()
        self.assertUnchangedChain(lambda: self.driver.delete_snapshot(s2),
                                  volume, 'convert', 'rebase')

    def test_grow(self):
        volume, s2, s3 = self.three_snapshots()
        self.assertUnchangedChain(
            lambda: self.driver.extend_volume(volume, 2), volume,
            'convert', 'resize')

    def test_grow_of_the_base_alone(self):
        # Lost once the overlay is made (preallocated, before the overlay
        # grows): the volume is still its base alone, as it was.
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        info = self.info(volume)
        for sparse in (True, False):
            self.driver.sparse = sparse
            self.assertStopsAfter(
                qemu_img, 'create',
                lambda: self.driver.extend_volume(volume, 2))
            self.assertEqual(info, self.info(volume))
            self.assertImageReads(self.active(volume), {'0': 0x11})
            self.assertEqual(test_remotefs.GiB, qemu_img.info(
                *self.active(volume)).virtual_size)


class StepsTestCase(ShareFilesTestCase):
    """Each check before a step names the file the step changes.

    Validation tools (the ledger hook of cinder-aa-stress) rely on those
    words to say what a holder did after its lock was lost.
    """

    #: The verb of the first step that changes an existing volume's images.
    change_verb = 'create '

    def setUp(self):
        super().setUp()
        self.all_steps = []

    def assertStepsNameChanges(self, operation):
        before = self.share_files()
        with mock.patch.object(coordination, 'ensure_locks_held',
                               wraps=coordination.ensure_locks_held) as check:
            operation()
        after = self.share_files()
        steps = [c[1].get('step') for c in check.call_args_list]
        self.all_steps += steps
        self.assertNotIn(None, steps)
        named = set(word for step in steps for word in step.split()[1:])
        changed = set(p for p in set(before) | set(after)
                      if before.get(p) != after.get(p))
        # A commit names the info file; it changes its generations and
        # its head.
        unnamed = sorted(os.path.basename(p) for p in changed
                         if re.sub(r'\.(g[0-9]+|head)$', '',
                                   os.path.basename(p)) not in named)
        self.assertEqual([], unnamed, steps)
        return steps

    def test_create_and_delete_volume(self):
        volume = objects.Volume(size=1)
        self.assertStepsNameChanges(
            lambda: volume.update(self.driver.create_volume(volume)))
        self.assertStepsNameChanges(lambda: self.driver.delete_volume(volume))

    def test_extend_of_the_base_alone(self):
        volume = self.create_volume()
        steps = self.assertStepsNameChanges(
            lambda: self.driver.extend_volume(volume, 2))
        # After the claim of the info file: the grow.
        self.assertTrue(steps[1].startswith(self.change_verb), steps)
        self.assertEqual(self.copy_on_write,
                         not any(step.startswith('rewrite ')
                                 for step in steps), steps)

    def test_snapshots_revert_extend_and_copies(self):
        volume = self.create_volume()
        s1 = objects.Snapshot(volume=volume)
        s2 = objects.Snapshot(volume=volume)
        self.assertStepsNameChanges(lambda: self.driver.create_snapshot(s1))
        self.driver.create_snapshot(s2)
        s3 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s3)
        steps = self.assertStepsNameChanges(
            lambda: self.driver.delete_snapshot(s2))
        # After the claim of the info file: the merge.
        self.assertTrue(steps[1].startswith(self.change_verb), steps)
        self.assertStepsNameChanges(
            lambda: self.driver.revert_to_snapshot(volume, s3))
        steps = self.assertStepsNameChanges(
            lambda: self.driver.extend_volume(volume, 2))
        self.assertTrue(steps[1].startswith(self.change_verb), steps)
        clone = objects.Volume(size=3)
        self.assertStepsNameChanges(lambda: clone.update(
            self.driver.create_cloned_volume(clone, volume)))
        steps = self.assertStepsNameChanges(
            lambda: self.driver.delete_snapshot(s3))
        # After the claim of the info file: the fold.
        self.assertTrue(steps[1].startswith(self.change_verb), steps)
        self.assertStepsNameChanges(lambda: self.driver.delete_snapshot(s1))
        self.assertEqual(self.copy_on_write,
                         not any(step.startswith('rewrite ')
                                 for step in self.all_steps), self.all_steps)


class InPlaceStepsTestCase(StepsTestCase):
    """The same, with images rewritten in place."""

    copy_on_write = False
    change_verb = 'rewrite '


class FencedOffTestCase(ShareFilesTestCase):
    """A newer holder claimed the volume: the storage refuses the older.

    The newer holder is played by a claim with a larger fencing token
    than any this test's coordinator hands out, appended to the info file
    at the moment the older holder is frozen in a real deployment.
    """

    NEWER = 10 ** 12

    def other_holder(self, volume):
        """The info file, written as another holder of the same backend."""
        return fenced_record.FencedRecord(
            self.driver.volume_info_path(volume),
            source=self.coordinator.backend.location())

    def claim_meanwhile(self, volume, obj, attribute):
        """A newer holder claims *volume* when ``obj.<attribute>`` returns.

        :returns: a dict whose ``files`` is set to the files of the shares
            right after that claim.
        """
        claimed = {}
        real = getattr(obj, attribute)

        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            if not claimed:
                self.other_holder(volume).claim(self.NEWER)
                claimed['files'] = self.share_files()
            return result
        self.useFixture(fixtures.MockPatchObject(obj, attribute,
                                                 side_effect=call))
        return claimed

    def lock_taken_by_the_newer_holder(self):
        """From now on, this test's locks are checked as lost.

        As the newer holder's grant implies; file locks cannot be lost,
        so the check says so (else the refusal is taken for tokens that
        went back: see test_remotefs_tokens).
        """
        self.useFixture(fixtures.MockPatchObject(
            coordination.Lock, 'check', side_effect=coordination.LockLost(
                'lock was lost: another member may hold it')))

    def assertFencedOff(self, operation, claimed):
        e = self.assertRaises(coordination.FencedOff, operation)
        self.assertIsInstance(e, coordination.LockLost)
        self.assertIn('another service holds the lock now', str(e))
        self.assertShareUnchanged(claimed['files'], self.share_files())

    def test_a_commit_after_a_newer_claim_is_refused(self):
        volume = self.create_volume()
        claimed = self.claim_meanwhile(volume, qemu_img, 'create')
        self.assertFencedOff(lambda: self.driver.create_snapshot(
            objects.Snapshot(volume=volume)), claimed)
        # What the newer holder sees: the volume as it was, no snapshot.
        self.assertEqual({'active': volume.name, 'base_format': 'raw'},
                         self.info(volume))

    def test_a_rewrite_after_a_newer_claim_does_not_start(self):
        self.driver.copy_on_write = False
        volume = self.create_volume()
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        claimed = self.claim_meanwhile(volume, self.driver, '_chain')
        with mock.patch.object(qemu_img, 'commit') as commit:
            self.assertFencedOff(
                lambda: self.driver.delete_snapshot(snapshot), claimed)
        commit.assert_not_called()

    def test_copies_after_a_newer_claim_are_never_used(self):
        # Copy-on-write: the stale holder's copies are made, its commit is
        # refused, and every file the newer holder uses is as it was.
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        s1 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s1)
        self.write(volume, 0x22, '64k')
        s2 = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(s2)
        self.write(volume, 0x33, '128k')
        used = [os.path.join(self.share, name)
                for name in self.assertChainSound(volume)]
        claimed = self.claim_meanwhile(volume, self.driver, '_chain')
        with mock.patch.object(qemu_img, 'commit',
                               wraps=qemu_img.commit) as commit:
            self.assertRaises(coordination.FencedOff,
                              self.driver.delete_snapshot, s2)
        commit.assert_called_once()     # into a copy
        after = self.share_files()
        for path in used:
            self.assertEqual(claimed['files'][path], after[path], path)
        self.assertEqual({s1.id, s2.id},
                         set(self.info(volume)) - {'active', 'base_format'})

    def test_a_grow_of_the_base_alone_is_never_used_after_a_newer_claim(
            self):
        # The holder is frozen right after its last check before the grow
        # and another holder claims the volume: what it then does changes
        # no file the newer holder uses, and its commit is refused.
        volume = self.create_volume()
        self.write(volume, 0x11, '0')
        base = os.path.join(self.share, volume.name)
        claimed = {}
        real_check = coordination.ensure_locks_held

        def check(*args, step=None, **kwargs):
            real_check(*args, step=step, **kwargs)
            if not claimed and step and step.split()[0] in ('create',
                                                            'rewrite'):
                self.other_holder(volume).claim(self.NEWER)
                claimed['files'] = self.share_files()
        with mock.patch.object(coordination, 'ensure_locks_held',
                               side_effect=check):
            self.assertRaises(coordination.FencedOff,
                              self.driver.extend_volume, volume, 2)
        self.assertEqual(claimed['files'][base], self.share_files()[base])
        self.assertEqual(volume.name, self.info(volume)['active'])
        self.assertEqual(test_remotefs.GiB,
                         qemu_img.info(base, 'raw').virtual_size)

    def test_a_create_after_a_delete_by_a_newer_holder_is_refused(self):
        # The creator lost its lock while making the image; the next
        # holder deleted the volume, which had no info file yet.
        volume = objects.Volume(size=1)
        deleted = {}
        real = qemu_img.create

        def create(*args, **kwargs):
            result = real(*args, **kwargs)
            if not deleted:
                at = objects.Volume(id=volume.id, size=1,
                                    provider_location=self.share)
                self.other_holder(at).end(self.NEWER)
                deleted['files'] = self.share_files()
            return result
        with mock.patch.object(qemu_img, 'create', side_effect=create):
            self.assertFencedOff(lambda: self.driver.create_volume(volume),
                                 deleted)
        # It stays deleted: no generation of the creator was appended.
        volume.provider_location = self.share
        self.assertIsNone(self.record(volume).read().text)
        self.assertRaises(exception.VolumeNotFound, self.driver.local_path,
                          volume)

    def test_a_delete_after_a_newer_claim_deletes_nothing(self):
        volume = self.create_volume()
        self.other_holder(volume).claim(self.NEWER)
        self.lock_taken_by_the_newer_holder()
        before = self.share_files()
        self.assertFencedOff(lambda: self.driver.delete_volume(volume),
                             {'files': before})
        self.assertEqual(volume.name, self.info(volume)['active'])

    def test_a_request_of_an_older_holder_changes_nothing(self):
        volume = self.create_volume()
        self.other_holder(volume).claim(self.NEWER)
        self.lock_taken_by_the_newer_holder()
        before = {'files': self.share_files()}
        for operation in (
                lambda: self.driver.extend_volume(volume, 2),
                lambda: self.driver.create_snapshot(
                    objects.Snapshot(volume=volume))):
            self.assertFencedOff(operation, before)

    def test_after_its_claim_an_older_writer_is_refused(self):
        volume = self.create_volume()
        before = self.record(volume).read()     # an older holder read it
        stale = []
        real = qemu_img.create

        def create(*args, **kwargs):
            stale.append(self.assertRaises(
                coordination.FencedOff, self.other_holder(volume).write,
                before.token, 'stale', before))
            return real(*args, **kwargs)
        with mock.patch.object(qemu_img, 'create', side_effect=create):
            self.driver.create_snapshot(objects.Snapshot(volume=volume))
        self.assertEqual(1, len(stale))
        self.assertEqual(1, len(self.info(volume)) - 2)     # the snapshot

    def test_a_volume_written_under_another_lock_backend_is_claimed(self):
        # The cluster moved to another lock backend: its tokens count
        # anew, and the volumes written before are not fenced off.
        volume = self.create_volume()
        fenced_record.FencedRecord(
            self.driver.volume_info_path(volume),
            source='zookeeper://old:2181').claim(self.NEWER)
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        self.assertIn(snapshot.id, self.info(volume))
