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

"""cinder.volume.fenced_record on a real directory (and real processes)."""

import errno
import multiprocessing
import os
from unittest import mock

import fixtures
from oslotest import base

from cinder import coordination
from cinder.coordination import backends
from cinder import exception
from cinder.volume import fenced_record
from cinder.volume import record_files


class FencedRecordTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'volume-1.info')
        self.record = fenced_record.FencedRecord(self.path)

    def files(self):
        """The generations and other files, but the head (a hint)."""
        return sorted(name for name in os.listdir(self.dir)
                      if name != 'volume-1.info.head')

    def test_each_write_appends_a_generation_and_keeps_the_last_two(self):
        gen = self.record.create(5, 'a')
        gen = self.record.write(5, 'b', gen)
        gen = self.record.write(5, 'c', gen)
        self.assertEqual((3, 5, 'c'), tuple(gen)[:3])
        self.assertEqual(gen, self.record.read())
        self.assertEqual(['volume-1.info.g2', 'volume-1.info.g3'],
                         self.files())

    def test_a_newer_claim_fences_off_the_older_writer(self):
        old = self.record.create(1, 'a')
        claimed = self.record.claim(2)
        self.assertEqual((2, 2, 'a'), tuple(claimed)[:3])
        before = self.files()
        e = self.assertRaises(coordination.FencedOff, self.record.write,
                              1, 'stale', old)
        self.assertIn('fencing token 2, newer than this writer\'s 1',
                      str(e))
        self.assertIsInstance(e, coordination.LockLost)
        self.assertEqual(before, self.files())
        self.assertEqual(claimed, self.record.read())
        self.assertEqual((3, 2, 'b'),
                         tuple(self.record.write(2, 'b', claimed))[:3])

    def test_an_older_claim_is_refused_and_changes_nothing(self):
        self.record.create(7, 'a')
        before = self.files()
        self.assertRaises(coordination.FencedOff, self.record.claim, 6)
        self.assertEqual(before, self.files())

    def test_a_claim_by_the_newest_writer_appends_nothing(self):
        gen = self.record.create(7, 'a')
        self.assertEqual(gen, self.record.claim(7))
        self.assertEqual(['volume-1.info.g1'], self.files())

    def test_two_writers_on_one_generation_only_one_appends(self):
        # Even when neither claimed first: link decides, not a check.
        gen = self.record.create(1, 'a')
        self.record.write(1, 'first', gen)
        self.assertRaises(fenced_record.RecordChanged, self.record.write,
                          1, 'second', gen)
        self.assertEqual('first', self.record.read().text)

    def test_a_stale_writer_on_a_pruned_number_is_fenced_off(self):
        stale = self.record.create(1, 'a')          # g1, then frozen
        gen = self.record.claim(2)                  # g2
        gen = self.record.write(2, 'b', gen)        # g3
        gen = self.record.write(2, 'c', gen)        # g4; g1, g2 pruned
        self.assertNotIn('volume-1.info.g2', self.files())
        # g2 is free again: the link succeeds, but g4 is newer.
        self.assertRaises(coordination.FencedOff, self.record.write,
                          1, 'stale', stale)
        self.assertEqual(['volume-1.info.g3', 'volume-1.info.g4'],
                         self.files())
        self.assertEqual((4, 2, 'c'), tuple(self.record.read())[:3])

    def test_a_removed_record_keeps_a_tombstone_against_stale_writers(self):
        stale = self.record.create(1, 'a')
        gen = self.record.claim(2)
        gen = self.record.remove(2, gen)
        self.assertIsNone(self.record.read().text)
        self.assertRaises(coordination.FencedOff, self.record.write,
                          1, 'back', stale)
        self.assertIsNone(self.record.read().text)
        self.assertEqual(['volume-1.info.g2', 'volume-1.info.g3'],
                         self.files())

    def test_a_writer_whose_temporary_file_was_removed_is_fenced_off(self):
        # Frozen between writing its temporary file and linking it, while
        # a newer holder removed the record and every leftover file.
        stale = self.record.create(1, 'a')
        newer = fenced_record.FencedRecord(self.path)

        def removed_meanwhile():
            newer.remove(2, newer.claim(2))
            for name in self.files():
                if '.tmp-' in name:
                    os.unlink(os.path.join(self.dir, name))

        e = self.assertRaises(coordination.FencedOff, self.record.write,
                              1, 'stale', stale,
                              before_append=removed_meanwhile)
        self.assertIn('newer than this writer\'s 1', str(e))
        self.assertIsNone(self.record.read().text)
        self.assertEqual(['volume-1.info.g2', 'volume-1.info.g3'],
                         self.files())

    def test_end_appends_a_tombstone_even_after_a_damaged_generation(self):
        gen = self.record.create(1, 'a')
        with open(self.record.generation_path(gen.number), 'w') as f:
            f.write('{not json')
        told = []
        tomb = self.record.end(2, before_append=lambda: told.append(1))
        self.assertEqual((2, 2, None), tuple(tomb)[:3])
        self.assertEqual([1], told)
        self.assertEqual(tomb, self.record.end(3))    # already ended

    def test_a_record_ended_before_it_existed_fences_off_its_creator(self):
        # A creator that lost its lock before its first commit, and a
        # delete by the next holder: the tombstone stops the creation.
        tomb = self.record.end(5)
        self.assertEqual((1, 5, None), tuple(tomb)[:3])
        e = self.assertRaises(coordination.FencedOff, self.record.create,
                              4, 'late')
        self.assertIn('newer than this writer\'s 4', str(e))
        self.assertEqual(tomb, self.record.read())
        self.assertEqual(['volume-1.info.g1'], self.files())

    def test_a_writer_that_finds_no_record_at_all_is_refused(self):
        # Its temporary file and every generation removed meanwhile.
        def removed_meanwhile():
            for name in os.listdir(self.dir):
                os.unlink(os.path.join(self.dir, name))

        e = self.assertRaises(fenced_record.RecordChanged,
                              self.record.create, 1, 'a',
                              before_append=removed_meanwhile)
        self.assertIn('removed every generation', str(e))
        self.assertEqual([], self.files())

    def test_end_by_an_older_writer_is_refused(self):
        self.record.create(5, 'a')
        self.assertRaises(coordination.FencedOff, self.record.end, 4)
        self.assertEqual('a', self.record.read().text)

    def test_a_file_from_before_generations_is_generation_zero(self):
        with open(self.path, 'w') as f:
            f.write('legacy')
        self.assertEqual((0, 0, 'legacy'), tuple(self.record.read())[:3])
        self.assertEqual((1, 3, 'legacy'), tuple(self.record.claim(3))[:3])
        self.assertEqual(['volume-1.info.g1'], self.files())

    def test_no_record(self):
        self.assertIsNone(self.record.read())
        self.assertIsNone(self.record.claim(1))
        self.assertEqual([], self.files())

    def test_an_ended_record_is_not_claimed(self):
        gen = self.record.remove(1, self.record.create(1, 'a'))
        self.assertEqual(gen, self.record.claim(2))
        self.assertEqual(['volume-1.info.g1', 'volume-1.info.g2'],
                         self.files())

    def test_a_failed_append_leaves_the_record_and_no_temporary_file(self):
        gen = self.record.create(1, 'a')
        for target in ('os.fsync', 'os.link'):
            with mock.patch(target, side_effect=OSError(5, 'EIO')):
                self.assertRaises(OSError, self.record.write, 1, 'b', gen)
            self.assertEqual(['volume-1.info.g1'], self.files())
            self.assertEqual(gen, self.record.read())

    def test_a_damaged_generation_is_named(self):
        with open(self.path + '.g4', 'w') as f:
            f.write('{not json')
        e = self.assertRaises(exception.VolumeDriverException,
                              self.record.read)
        self.assertIn('volume-1.info.g4', str(e))

    def test_only_its_own_generations_are_its_own(self):
        self.assertTrue(self.record.is_generation('volume-1.info.g12'))
        for name in ('volume-1.info', 'volume-1.info.g', 'volume-12.info.g1',
                     'volume-1.info.tmp-ab12cd34', 'volume-1.info.g1x'):
            self.assertFalse(self.record.is_generation(name), name)


def _link_then(error):
    """An ``os.link`` that makes the link, then raises *error*."""
    real = os.link

    def link(src, dst):
        real(src, dst)
        raise error
    return link


class CommitOutcomeTestCase(base.BaseTestCase):
    """The outcome of a commit is settled before anything is undone."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.record = fenced_record.FencedRecord(
            os.path.join(self.dir, 'volume-1.info'))
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.volume.fenced_record'))
        self.base = self.record.create(3, 'a')

    def generations(self):
        return sorted(name for name in os.listdir(self.dir)
                      if self.record.is_generation(name))

    def assertCommitted(self, gen, text):
        self.assertEqual((2, 3, text), tuple(gen)[:3])
        self.assertEqual(gen, self.record.read())
        self.assertEqual(['volume-1.info.g1', 'volume-1.info.g2'],
                         self.generations())
        self.assertFalse([n for n in os.listdir(self.dir) if '.tmp-' in n])

    def test_a_link_made_then_answered_eexist_is_committed(self):
        # An NFS server made the link, its reply was lost, and it
        # answered the retransmitted LINK with EEXIST.
        with mock.patch.object(fenced_record.os, 'link', side_effect=(
                _link_then(FileExistsError(errno.EEXIST, 'File exists')))):
            gen = self.record.write(3, 'b', self.base)
        self.assertCommitted(gen, 'b')
        self.assertIn('link(2) reported EEXIST', self.log.output)
        self.assertIn('the commit stands', self.log.output)

    def test_a_link_made_then_answered_eio_is_committed(self):
        # A soft mount's EIO after the server applied the request.
        with mock.patch.object(fenced_record.os, 'link', side_effect=(
                _link_then(OSError(errno.EIO, 'I/O error')))):
            gen = self.record.write(3, 'b', self.base)
        self.assertCommitted(gen, 'b')

    def test_a_link_not_made_fails_and_changes_nothing(self):
        with mock.patch.object(fenced_record.os, 'link', side_effect=(
                OSError(errno.EIO, 'I/O error'))):
            self.assertRaises(OSError, self.record.write, 3, 'b', self.base)
        self.assertEqual(self.base, self.record.read())
        self.assertEqual(['volume-1.info.g1'], self.generations())

    def test_another_writer_s_generation_is_still_a_lost_race(self):
        other = fenced_record.FencedRecord(self.record.path)
        real_link = os.link

        def link(src, dst):
            with mock.patch.object(fenced_record.os, 'link', real_link):
                other.write(3, 'theirs', self.base)
            raise FileExistsError(errno.EEXIST, 'File exists')
        with mock.patch.object(fenced_record.os, 'link', side_effect=link):
            self.assertRaises(fenced_record.RecordChanged, self.record.write,
                              3, 'mine', self.base)
        self.assertEqual('theirs', self.record.read().text)

    def test_a_target_that_cannot_be_read_is_in_doubt(self):
        real_open = open

        def failing_open(path, *args, **kwargs):
            if path.endswith('.g2'):
                raise OSError(errno.EIO, 'I/O error')
            return real_open(path, *args, **kwargs)
        with mock.patch.object(fenced_record.os, 'link', side_effect=(
                _link_then(OSError(errno.EIO, 'I/O error')))):
            with mock.patch('builtins.open', side_effect=failing_open):
                e = self.assertRaises(fenced_record.CommitInDoubt,
                                      self.record.write, 3, 'b', self.base)
        self.assertIn('volume-1.info.g2', str(e))
        self.assertIn('Commit in doubt: ', self.log.output)
        # Nothing undone: the generation is there, and it is the record.
        self.assertEqual('b', self.record.read().text)

    def test_errors_after_the_link_do_not_undo_the_commit(self):
        gen = self.base
        for target in ('fsync_dir', 'unlink'):
            with mock.patch.object(record_files, target, side_effect=(
                    OSError(errno.EIO, 'I/O error'))):
                gen = self.record.write(3, target, gen)
            self.assertEqual(gen, self.record.read())
            self.assertEqual(target, self.record.read().text)
        self.assertEqual(2, self.log.output.count(' is committed; '),
                         self.log.output)

    def test_a_failed_head_update_does_not_undo_the_commit(self):
        with mock.patch.object(fenced_record.record_files.os, 'symlink',
                               side_effect=OSError(errno.EIO, 'I/O error')):
            gen = self.record.write(3, 'b', self.base)
        self.assertEqual(gen, self.record.read())
        self.assertIn('pointing the head at it failed', self.log.output)

    def test_short_writes_are_completed(self):
        real_write = os.write

        def one_byte(fd, data):
            return real_write(fd, bytes(data[:1]))
        with mock.patch.object(record_files.os, 'write',
                               side_effect=one_byte):
            gen = self.record.write(3, 'x' * 100, self.base)
        self.assertEqual(gen, self.record.read())

    def test_a_write_that_writes_nothing_fails_cleanly(self):
        with mock.patch.object(record_files.os, 'write', return_value=0):
            e = self.assertRaises(OSError, self.record.write, 3, 'b',
                                  self.base)
        self.assertEqual(errno.ENOSPC, e.errno)
        self.assertEqual(self.base, self.record.read())
        self.assertEqual(['volume-1.info.g1'], sorted(
            n for n in os.listdir(self.dir) if n != 'volume-1.info.head'))


class NoListingTestCase(base.BaseTestCase):
    """The newest generation is found by name, not by a listing."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.record = fenced_record.FencedRecord(
            os.path.join(self.dir, 'volume-1.info'))
        self.gen = self.record.create(1, 'a')
        for text in 'bcd':
            self.gen = self.record.write(1, text, self.gen)

    def no_listing(self):
        return mock.patch.object(record_files.os, 'listdir',
                                 side_effect=AssertionError('listed'))

    def test_reads_claims_writes_and_checks_list_nothing(self):
        with self.no_listing():
            self.assertEqual(self.gen, self.record.read())
            gen = self.record.claim(2)
            self.record.ensure_newest(2, gen)
            gen = self.record.write(2, 'e', gen)
            self.assertEqual((6, 2, 'e'), tuple(self.record.read())[:3])

    def test_a_missing_head_is_found_by_a_listing(self):
        os.unlink(self.record.files.head_path)
        self.assertEqual(self.gen, self.record.read())

    def test_an_old_head_is_walked_past(self):
        self.record.files.set_hint(1)
        with self.no_listing():
            self.assertEqual(self.gen, self.record.read())

    def test_a_stale_listing_does_not_pass_a_stale_holder(self):
        # An NFS client may serve READDIR from its cache: a listing made
        # before the newer holder's claim must not decide.
        stale = self.record.claim(2)
        listing = os.listdir(self.dir)
        self.record.claim(3)
        with mock.patch.object(record_files.os, 'listdir',
                               return_value=listing):
            self.assertRaises(coordination.FencedOff,
                              self.record.ensure_newest, 2, stale)

    def test_a_stale_listing_still_finds_a_deleted_record_s_tombstone(self):
        # Deleted by another service (the tombstone alone is left, the
        # head removed) after this client cached its listing.
        listing = os.listdir(self.dir)
        tomb = self.record.end(2)
        for name in os.listdir(self.dir):
            if name != os.path.basename(self.record.path_of(tomb)):
                os.unlink(os.path.join(self.dir, name))
        with mock.patch.object(record_files.os, 'listdir',
                               return_value=listing):
            self.assertEqual(tomb, self.record.read())

    def test_a_stale_writer_on_a_pruned_number_is_found_without_listing(self):
        stale = self.gen                            # g4, then frozen
        gen = self.record.claim(2)                  # g5
        for text in 'xyz':
            gen = self.record.write(2, text, gen)   # g8; g4, g5 pruned
        with self.no_listing():
            self.assertRaises(coordination.FencedOff, self.record.write,
                              1, 'stale', stale)
            self.assertEqual((8, 2, 'z'), tuple(self.record.read())[:3])


def _writer(path, tokens, lock, results, rounds):
    record = fenced_record.FencedRecord(path)
    for _ in range(rounds):
        with lock:
            tokens.value += 1
            token = tokens.value
        try:
            gen = record.claim(token)
            gen = record.write(token, str(token), gen)
        except (coordination.FencedOff, fenced_record.RecordChanged):
            continue
        results.put((gen.number, token))
    results.put(None)


class ProcessesTestCase(base.BaseTestCase):
    """Writers in processes of their own, with no lock at all."""

    def test_appended_generations_have_increasing_tokens(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'volume-1.info')
        fenced_record.FencedRecord(path).create(0, '0')
        ctx = multiprocessing.get_context('fork')
        tokens, lock = ctx.Value('i', 0), ctx.Lock()
        results = ctx.Queue()
        procs = [ctx.Process(target=_writer,
                             args=(path, tokens, lock, results, 40))
                 for _ in range(4)]
        for proc in procs:
            proc.start()
        appended, done = [], 0
        while done < len(procs):
            item = results.get(timeout=60)
            if item is None:
                done += 1
            else:
                appended.append(item)
        for proc in procs:
            proc.join(60)
            self.assertEqual(0, proc.exitcode)
        appended.sort()
        numbers = [number for number, _ in appended]
        self.assertEqual(len(numbers), len(set(numbers)), appended)
        by_number = [token for _, token in appended]
        # Later generations were always written by newer writers.
        self.assertEqual(sorted(by_number), by_number, appended)
        self.assertGreater(len(appended), 0)
        last = fenced_record.FencedRecord(path).read()
        self.assertEqual(str(last.token), last.text)


class EnsureNewestTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.record = fenced_record.FencedRecord(os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'volume-1.info'))
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.volume.fenced_record'))

    def test_only_the_newest_writer_passes(self):
        gen = self.record.create(3, 'a')
        self.record.ensure_newest(3, gen)
        for other in (2, 4):
            self.assertRaises(coordination.FencedOff,
                              self.record.ensure_newest, other, gen)
        tomb = self.record.remove(3, gen)
        self.assertRaises(coordination.FencedOff, self.record.ensure_newest,
                          3, gen)
        self.assertEqual(tomb, self.record.read())          # read only

    def test_a_pruned_base_fences_off(self):
        stale = self.record.create(3, 'a')
        gen = self.record.claim(4)
        self.record.write(4, 'b', gen)                      # g1 pruned
        e = self.assertRaises(coordination.FencedOff,
                              self.record.ensure_newest, 3, stale)
        self.assertIn('token 4, not this writer\'s 3', str(e))

    def test_no_record_fences_off(self):
        e = self.assertRaises(coordination.FencedOff,
                              self.record.ensure_newest, 1, None)
        self.assertIn('token None, not this writer\'s 1', str(e))

    def test_every_refusal_is_one_warning(self):
        gen = self.record.create(5, 'a')
        self.assertRaises(coordination.FencedOff, self.record.claim, 4)
        self.assertRaises(coordination.FencedOff,
                          self.record.ensure_newest, 4, gen)
        lines = self.log.output.splitlines()
        self.assertEqual(2, len(lines), lines)
        for line in lines:
            self.assertTrue(line.startswith('Fenced off: '), line)


class TokenSourceTestCase(base.BaseTestCase):
    """Tokens of different lock backends are not compared."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'volume-1.info')
        self.log = self.useFixture(fixtures.FakeLogger(
            name='cinder.volume.fenced_record'))

    def writer(self, source):
        return fenced_record.FencedRecord(self.path, source=source)

    def test_a_writer_of_another_source_starts_a_new_count(self):
        # file:// counted to 5000; the cluster moved to Redis, which
        # starts at 1: its first claim is not refused.
        old = self.writer('file://host/locks')
        new = self.writer('redis://10.0.0.1:6379')
        old.create(5000, 'a')
        gen = new.claim(1)
        self.assertEqual((2, 1, 'a', 'redis://10.0.0.1:6379'), tuple(gen))
        self.assertIn('cannot be compared', self.log.output)
        gen = new.write(1, 'b', gen)
        self.assertEqual('b', gen.text)
        new.ensure_newest(1, gen)
        self.assertRaises(coordination.FencedOff, old.ensure_newest, 1, gen)

    def test_one_ensemble_named_two_ways_is_one_source(self):
        # Two services list the same ZooKeeper servers in another order:
        # their locks exclude each other, so their tokens must compare.
        first = self.writer(backends.make_backend(
            'zookeeper://zk1:2181?hosts=zk2:2181', 1.0).location())
        second = self.writer(backends.make_backend(
            'zookeeper://zk2?hosts=zk1', 1.0).location())
        base = first.create(7, 'a')
        e = self.assertRaises(coordination.FencedOff, second.claim, 6)
        self.assertIn('newer than this writer\'s 6', str(e))
        self.assertEqual(base, second.read())
        self.assertEqual(8, second.claim(8).token)

    def test_within_a_source_the_older_is_still_refused(self):
        a = self.writer('redis://r:1')
        a.create(7, 'a')
        self.assertRaises(coordination.FencedOff, a.claim, 6)

    def test_appends_of_two_sources_on_one_generation_still_exclude(self):
        a, b = self.writer('redis://r:1'), self.writer('zookeeper://z:2')
        base = a.create(7, 'a')
        b.write(1, 'b', base)
        self.assertRaises(fenced_record.RecordChanged, a.write, 8, 'c',
                          base)
        self.assertEqual('b', a.read().text)
