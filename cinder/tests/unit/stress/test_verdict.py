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

"""Unit tests of cinder.stress.verdict.

Ledgers are synthetic; images are real, made with qemu-img and qemu-io in
temporary directories.
"""

import json
import os
import struct
import subprocess
from unittest import mock

import fixtures
from oslotest import base

from cinder.stress import verdict

MiB = 1024 ** 2
GiB = 1024 ** 3

A = ('host-a', 101, 1)
B = ('host-b', 202, 2)
C = ('host-c', 303, 3)


class _Ledger(object):
    """Builds a ledger file line by line."""

    def __init__(self, path):
        self.path = path
        self.lines = []

    def _add(self, t, event, lock, holder, **extra):
        member, pid, thread = holder
        entry = {'t': t, 'event': event, 'lock': lock, 'member': member,
                 'pid': pid, 'thread': thread}
        entry.update(extra)
        self.lines.append(json.dumps(entry))

    def enter(self, t, holder, lock='vol-1', waited=0.0):
        self._add(t, 'enter', lock, holder, waited=waited)

    def exit(self, t, holder, lock='vol-1', lost=None):
        self._add(t, 'exit', lock, holder, lost=lost)

    def lost(self, t, holder, lock='vol-1',
             lost='the backend no longer had it at release'):
        self._add(t, 'lost', lock, holder, lost=lost)

    def raw(self, text):
        self.lines.append(text)

    def write(self, trailing_newline=True):
        with open(self.path, 'w') as f:
            f.write('\n'.join(self.lines))
            if trailing_newline:
                f.write('\n')
        return self.path


class LedgerTestCase(base.BaseTestCase):

    def setUp(self):
        super(LedgerTestCase, self).setUp()
        directory = self.useFixture(fixtures.TempDir()).path
        self.ledger = _Ledger(os.path.join(directory, 'ledger'))

    def analyze(self, ended=None, trailing_newline=True):
        return verdict.analyze_ledger(self.ledger.write(trailing_newline),
                                      ended=ended)

    def test_sequential_sections_do_not_overlap(self):
        self.ledger.enter(1.0, A, waited=0.5)
        self.ledger.exit(2.0, A)
        self.ledger.enter(2.5, B, waited=1.25)
        self.ledger.exit(3.0, B)
        self.ledger.enter(3.0, A, waited=0.0)   # touching is not overlap
        self.ledger.exit(4.0, A)
        report = self.analyze()
        self.assertEqual(3, report.sections)
        self.assertEqual([0.5, 1.25, 0.0], report.waits)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)
        self.assertEqual([], report.unterminated)
        self.assertEqual(0, report.malformed)

    def test_overlap_of_protected_sections_is_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual(2, report.sections)
        self.assertEqual(1, len(report.violations))
        violation = report.violations[0]
        self.assertEqual('lock-overlap', violation.kind)
        for text in ('vol-1', 'host-a', 'host-b', '101', '202', '1.000000',
                     '1.500000', '2.000000', '3.000000'):
            self.assertIn(text, violation.detail)
        self.assertEqual([], report.overlaps_after_loss)

    def test_section_inside_another_is_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(2.0, B)
        self.ledger.exit(3.0, B)
        self.ledger.exit(4.0, A)
        report = self.analyze()
        self.assertEqual(['lock-overlap'],
                         [v.kind for v in report.violations])

    def test_threads_of_one_process_are_different_holders(self):
        self.ledger.enter(1.0, ('host-a', 101, 1))
        self.ledger.enter(1.5, ('host-a', 101, 2))
        self.ledger.exit(2.0, ('host-a', 101, 1))
        self.ledger.exit(3.0, ('host-a', 101, 2))
        report = self.analyze()
        self.assertEqual(1, len(report.violations))

    def test_overlap_on_different_locks_is_fine(self):
        self.ledger.enter(1.0, A, lock='vol-1')
        self.ledger.enter(1.5, B, lock='vol-2')
        self.ledger.exit(2.0, A, lock='vol-1')
        self.ledger.exit(3.0, B, lock='vol-2')
        report = self.analyze()
        self.assertEqual(2, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)

    def test_overlap_after_a_lost_exit_is_reported_not_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A, lost='session expired')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual([], report.violations)
        self.assertEqual(1, len(report.overlaps_after_loss))
        self.assertIn('session expired', report.overlaps_after_loss[0])
        self.assertIn('host-b', report.overlaps_after_loss[0])

    def test_lost_line_after_exit_unprotects_the_section(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.lost(2.1, A)
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual([], report.violations)
        self.assertEqual(1, len(report.overlaps_after_loss))
        self.assertIn('no longer had it', report.overlaps_after_loss[0])

    def test_lost_line_applies_to_its_own_lock_only(self):
        self.ledger.enter(0.5, A, lock='vol-2')
        self.ledger.exit(0.6, A, lock='vol-2')
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.lost(2.1, A, lock='vol-2')
        self.ledger.exit(3.0, B)
        report = self.analyze()
        self.assertEqual(1, len(report.violations))
        self.assertEqual([], report.overlaps_after_loss)

    def test_lost_line_after_the_next_enter_does_not_apply(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, B)
        self.ledger.exit(2.0, A)
        self.ledger.enter(4.0, A)
        self.ledger.lost(4.1, A)
        self.ledger.exit(3.0, B)
        self.ledger.exit(5.0, A)
        report = self.analyze()
        self.assertEqual(1, len(report.violations))
        self.assertEqual(1, len(report.unmatched))

    def test_unterminated_section_killed_before_next_enter_is_fine(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze(ended={101: 2.0})
        self.assertEqual(2, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)
        self.assertEqual(1, len(report.unterminated))
        self.assertIn('host-a', report.unterminated[0])
        self.assertIn('killed at 2.000000', report.unterminated[0])

    def test_unterminated_section_not_killed_is_a_violation(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze(ended={999: 2.0})
        self.assertEqual(1, len(report.violations))
        self.assertIn('never left', report.violations[0].detail)
        self.assertEqual(1, len(report.unterminated))
        self.assertIn('never left', report.unterminated[0])

    def test_unterminated_section_killed_after_next_enter_is_reported(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze(ended={101: 3.5})
        self.assertEqual([], report.violations)
        self.assertEqual(1, len(report.overlaps_after_loss))
        self.assertIn('killed at 3.500000', report.overlaps_after_loss[0])

    def test_malformed_partial_last_line_is_counted(self):
        self.ledger.enter(1.0, A)
        self.ledger.exit(2.0, A)
        self.ledger.enter(3.0, B)
        self.ledger.raw('{"t": 4.0, "event": "ex')
        report = self.analyze(ended={202: 5.0}, trailing_newline=False)
        self.assertEqual(1, report.malformed)
        self.assertEqual(2, report.sections)
        self.assertEqual(1, len(report.unterminated))
        self.assertEqual([], report.violations)

    def test_lines_that_are_not_ledger_entries_are_malformed(self):
        self.ledger.raw('[1, 2]')
        self.ledger.raw('{"t": 1.0, "event": "enter"}')
        self.ledger.raw('{"t": "x", "event": "enter", "lock": "l", '
                        '"member": "m", "pid": 1, "thread": 1}')
        self.ledger.raw('{"t": 1.0, "event": "enter", "lock": "l", '
                        '"member": ["m"], "pid": 1, "thread": 1}')
        self.ledger.enter(1.0, A)
        self.ledger.exit(2.0, A)
        report = self.analyze()
        self.assertEqual(4, report.malformed)
        self.assertEqual(1, report.sections)

    def test_exit_without_enter_is_unmatched(self):
        self.ledger.exit(2.0, A)
        report = self.analyze()
        self.assertEqual(0, report.sections)
        self.assertEqual(1, len(report.unmatched))

    def test_same_thread_reentering_sequentially_is_fine(self):
        for start in range(10):
            self.ledger.enter(float(start), A)
            self.ledger.exit(start + 0.9, A)
        self.ledger.enter(10.0, B)
        self.ledger.exit(11.0, B)
        report = self.analyze()
        self.assertEqual(11, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.unterminated)

    def test_nested_sections_of_one_holder_do_not_conflict(self):
        self.ledger.enter(1.0, A)
        self.ledger.enter(1.5, A)
        self.ledger.exit(2.0, A)
        self.ledger.exit(3.0, A)
        self.ledger.enter(2.5, B, lock='vol-2')
        self.ledger.exit(3.5, B, lock='vol-2')
        report = self.analyze()
        self.assertEqual(3, report.sections)
        self.assertEqual([], report.violations)
        self.assertEqual([], report.overlaps_after_loss)
        self.assertEqual([], report.unterminated)

    def test_exit_written_by_another_thread_of_the_process(self):
        # The coordinator writes the exits of held locks from the thread
        # that stops it.
        self.ledger.enter(1.0, ('host-a', 101, 1))
        self.ledger.exit(2.0, ('host-a', 101, 99),
                         lost='the coordinator was stopped')
        self.ledger.enter(3.0, B)
        self.ledger.exit(4.0, B)
        report = self.analyze()
        self.assertEqual(2, report.sections)
        self.assertEqual([], report.unterminated)
        self.assertEqual([], report.unmatched)
        self.assertEqual([], report.violations)

    def test_one_report_per_overlapping_section(self):
        # A section nobody left overlaps all later ones: one violation
        # each, not one per pair.
        self.ledger.enter(0.0, A)
        for i in range(1, 201):
            holder = B if i % 2 else C
            self.ledger.enter(float(i), holder)
            self.ledger.exit(i + 0.5, holder)
        report = self.analyze()
        self.assertEqual(201, report.sections)
        self.assertEqual(200, len(report.violations))
        for violation in report.violations:
            self.assertIn('host-a', violation.detail)

    def test_large_ledger(self):
        # 100,000 lines: 20 holders taking 50 locks in turn, and one
        # overlap hidden in the middle.
        holders = [('host-%d' % (i % 3), 1000 + i, i) for i in range(20)]
        for i in range(50000):
            holder = holders[i % len(holders)]
            lock = 'vol-%d' % (i % 50)
            self.ledger.enter(i / 100.0, holder, lock=lock, waited=0.001)
            self.ledger.exit((i + 40) / 100.0, holder, lock=lock)
        self.ledger.enter(100.0, ('intruder', 1, 1), lock='vol-7')
        self.ledger.exit(100.2, ('intruder', 1, 1), lock='vol-7')
        report = self.analyze()
        self.assertEqual(50001, report.sections)
        self.assertEqual(50001, len(report.waits))
        self.assertEqual(1, len(report.violations))
        self.assertIn('intruder', report.violations[0].detail)


class PercentilesTestCase(base.BaseTestCase):

    def test_empty(self):
        self.assertEqual({'p50': None, 'p99': None, 'max': None,
                          'count': 0}, verdict.percentiles([]))

    def test_nearest_rank(self):
        values = list(range(100, 0, -1))
        self.assertEqual({'p50': 50, 'p99': 99, 'max': 100, 'count': 100},
                         verdict.percentiles(values))
        self.assertEqual({'p50': 5, 'p99': 10, 'max': 10, 'count': 10},
                         verdict.percentiles(range(1, 11)))
        self.assertEqual({'p50': 3, 'p99': 5, 'max': 5, 'count': 5},
                         verdict.percentiles([5, 1, 4, 2, 3]))
        self.assertEqual({'p50': 0.25, 'p99': 0.25, 'max': 0.25,
                          'count': 1}, verdict.percentiles([0.25]))


def _run(*cmd, cwd=None):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, cwd=cwd)


class _ImageTestCase(base.BaseTestCase):

    def setUp(self):
        super(_ImageTestCase, self).setUp()
        self.share = self.useFixture(fixtures.TempDir()).path

    def path(self, name):
        return os.path.join(self.share, name)

    def create(self, name, fmt, size=4 * MiB, backing=None,
               backing_fmt=None):
        cmd = ['qemu-img', 'create', '-f', fmt]
        if backing is not None:
            cmd += ['-b', backing, '-F', backing_fmt]
        _run(*(cmd + [self.path(name), str(size)]))

    def write(self, name, fmt, byte, offset, length=MiB):
        _run('qemu-io', '-f', fmt, '-c',
             'write -P 0x%02x %d %d' % (byte, offset, length),
             self.path(name))


class AuditTestCase(_ImageTestCase):

    volume_id = '0d3b5a2c-1111-4e2f-9a7b-123456789abc'

    def setUp(self):
        super(AuditTestCase, self).setUp()
        self.name = 'volume-%s' % self.volume_id

    def make_volume(self, base_format='raw', snapshots=('snap-1', 'snap-2')):
        """A volume with one overlay per snapshot; returns its info."""
        self.create(self.name, base_format)
        self.write(self.name, base_format, 0x11, 0)
        info = {'base_format': base_format}
        below, below_fmt = self.name, base_format
        for number, snapshot_id in enumerate(snapshots):
            overlay = '%s.%016x' % (self.name, number + 1)
            self.create(overlay, 'qcow2', backing=below,
                        backing_fmt=below_fmt)
            info[snapshot_id] = below
            below, below_fmt = overlay, 'qcow2'
        info['active'] = below
        self.write_info(info)
        return info

    def write_info(self, info):
        with open(self.path(self.name + '.info'), 'w') as f:
            json.dump(info, f)

    def audit(self, **kwargs):
        return verdict.audit_volume(self.share, self.volume_id, **kwargs)

    def kinds(self, violations):
        return sorted(v.kind for v in violations)

    def test_good_chain(self):
        info = self.make_volume()
        # A temporary info file and another volume's files are not strays.
        with open(self.path(self.name + '.info.tmp-0123abcd'), 'w') as f:
            f.write('{}')
        self.create('volume-%s0' % self.volume_id, 'raw')
        self.create(self.name + 'x', 'raw')
        self.assertEqual([], self.audit(
            expected_snapshots=['snap-1', 'snap-2']))
        self.assertEqual([], self.audit())
        self.assertEqual((self.path(info['active']), 'qcow2'),
                         verdict.active_image(self.share, self.volume_id))
        self.assertEqual((self.path(self.name), 'raw'),
                         verdict.snapshot_image(self.share, self.volume_id,
                                                'snap-1'))
        self.assertEqual((self.path(info['snap-2']), 'qcow2'),
                         verdict.snapshot_image(self.share, self.volume_id,
                                                'snap-2'))
        self.assertIsNone(verdict.snapshot_image(self.share, self.volume_id,
                                                 'snap-3'))

    def test_good_chain_on_a_qcow2_base_without_snapshots(self):
        self.make_volume(base_format='qcow2', snapshots=())
        self.assertEqual([], self.audit(expected_snapshots=set()))
        self.assertEqual((self.path(self.name), 'qcow2'),
                         verdict.active_image(self.share, self.volume_id))

    def test_stray_file(self):
        self.make_volume()
        stray = '%s.%016x' % (self.name, 99)
        self.create(stray, 'qcow2')
        violations = self.audit()
        self.assertEqual(['stray-file'], self.kinds(violations))
        self.assertIn(stray, violations[0].detail)

    def test_snapshot_missing_and_unexpected(self):
        self.make_volume()
        violations = self.audit(expected_snapshots=['snap-1', 'snap-9'])
        self.assertEqual(['snapshot-missing', 'snapshot-unexpected'],
                         self.kinds(violations))
        by_kind = dict(violations)
        self.assertIn('snap-9', by_kind['snapshot-missing'])
        self.assertIn('snap-2', by_kind['snapshot-unexpected'])

    def test_snapshot_off_chain(self):
        info = self.make_volume(snapshots=('snap-1',))
        orphan = '%s.%016x' % (self.name, 77)
        self.create(orphan, 'qcow2')
        info['snap-2'] = orphan
        self.write_info(info)
        self.assertEqual(['snapshot-off-chain', 'stray-file'],
                         self.kinds(self.audit()))

    def test_corrupted_qcow2(self):
        info = self.make_volume()
        active = self.path(info['active'])
        self.write(info['active'], 'qcow2', 0x22, MiB)
        # Zero the first refcount block: every used cluster then has
        # refcount 0, which qemu-img check reports as corruption.
        with open(active, 'r+b') as f:
            f.seek(48)
            (table,) = struct.unpack('>Q', f.read(8))
            f.seek(table)
            (block,) = struct.unpack('>Q', f.read(8))
            f.seek(block)
            f.write(b'\0' * 512)
        violations = self.audit()
        self.assertEqual(['qemu-img-check'], self.kinds(violations))
        self.assertIn(info['active'], violations[0].detail)
        self.assertIn('exit 2', violations[0].detail)

    def test_garbled_header(self):
        info = self.make_volume()
        with open(self.path(info['snap-2']), 'r+b') as f:
            f.write(b'\0' * 16)
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))

    def test_broken_backing_link(self):
        info = self.make_volume()
        os.unlink(self.path(info['snap-2']))
        violations = self.audit(expected_snapshots=['snap-1', 'snap-2'])
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn(info['snap-2'], violations[0].detail)

    def test_backing_file_named_by_path(self):
        self.make_volume(snapshots=())
        overlay = '%s.%016x' % (self.name, 5)
        self.create(overlay, 'qcow2', backing=self.path(self.name),
                    backing_fmt='raw')
        self.write_info({'base_format': 'raw', 'active': overlay,
                         'snap-1': self.name})
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('bare file name', violations[0].detail)

    def test_backing_file_in_another_directory(self):
        os.mkdir(self.path('elsewhere'))
        below = os.path.join('elsewhere', '%s.%016x' % (self.name, 1))
        self.create(below, 'qcow2')
        overlay = '%s.%016x' % (self.name, 2)
        self.create(overlay, 'qcow2', backing=self.path(below),
                    backing_fmt='qcow2')
        self.write_info({'base_format': 'raw', 'active': overlay})
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('not a file of the volume on the share',
                      violations[0].detail)

    def test_backing_file_of_another_volume(self):
        self.create('volume-other', 'qcow2')
        overlay = self.name
        self.create(overlay, 'qcow2', backing='volume-other',
                    backing_fmt='qcow2')
        self.write_info({'base_format': 'qcow2', 'active': overlay})
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('volume-other, not a file of the volume',
                      violations[0].detail)

    def test_backing_format_not_recorded(self):
        info = self.make_volume(base_format='qcow2', snapshots=('snap-1',))
        # Rename the backing format header extension to an unknown one:
        # qemu then probes the backing file's format.
        with open(self.path(info['active']), 'r+b') as f:
            header = f.read(4096)
            f.seek(header.index(b'\xe2\x79\x2a\xca'))
            f.write(b'\x12\x34\x56\x78')
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('records backing format None', violations[0].detail)

    def test_backing_loop(self):
        info = self.make_volume(base_format='qcow2', snapshots=('snap-1',))
        _run('qemu-img', 'rebase', '-u', '-f', 'qcow2', '-b',
             info['active'], '-F', 'qcow2', self.path(self.name))
        violations = self.audit()
        self.assertEqual(['chain-broken'], self.kinds(violations))
        self.assertIn('loop', violations[0].detail)

    def test_wrong_base_format_in_info(self):
        self.make_volume(snapshots=())
        self.write_info({'base_format': 'qcow2', 'active': self.name})
        self.assertEqual(['chain-broken'], self.kinds(self.audit()))

    def test_info_unreadable(self):
        self.make_volume()
        with open(self.path(self.name + '.info'), 'w') as f:
            f.write('{"active": ')
        self.assertEqual(['info-unreadable'], self.kinds(self.audit()))
        self.assertIsNone(verdict.active_image(self.share, self.volume_id))
        os.unlink(self.path(self.name + '.info'))
        self.assertEqual(['info-unreadable'], self.kinds(self.audit()))
        self.assertIsNone(verdict.snapshot_image(self.share, self.volume_id,
                                                 'snap-1'))

    def test_info_without_base_format_is_unreadable(self):
        self.make_volume(snapshots=())
        self.write_info({'active': self.name})
        self.assertEqual(['info-unreadable'], self.kinds(self.audit()))

    def test_deleted_volume_leaves_no_files(self):
        self.create('volume-%s0' % self.volume_id, 'raw')
        self.assertEqual([], self.audit(exists=False))
        with open(self.path(self.name + '.info.tmp-0123abcd'), 'w') as f:
            f.write('{}')
        violations = self.audit(exists=False)
        self.assertEqual(['leftover-files'], self.kinds(violations))
        self.assertIn('.info.tmp-0123abcd', violations[0].detail)

    def test_deleted_volume_with_its_chain_left(self):
        self.make_volume()
        violations = self.audit(exists=False)
        self.assertEqual(['leftover-files'], self.kinds(violations))
        self.assertIn(self.name + '.info', violations[0].detail)


class ReadBytesTestCase(_ImageTestCase):

    def test_raw(self):
        self.create('raw', 'raw')
        self.write('raw', 'raw', 0x5a, MiB)
        self.write('raw', 'raw', 0xa5, 3 * MiB)
        self.assertEqual(
            [0, 0x5a, 0xa5, None, 0x5a, 0],
            verdict.read_bytes(self.path('raw'), 'raw',
                               [0, MiB, 3 * MiB + 5, 4 * MiB, MiB + MiB - 1,
                                2 * MiB]))

    def test_qcow2_with_backing(self):
        self.create('base', 'raw')
        self.write('base', 'raw', 0x11, 0)
        self.write('base', 'raw', 0x33, 2 * MiB)
        self.create('top', 'qcow2', backing='base', backing_fmt='raw')
        self.write('top', 'qcow2', 0x22, MiB)
        self.write('top', 'qcow2', 0x44, 2 * MiB)
        offsets = [0, MiB, 2 * MiB, 3 * MiB]
        self.assertEqual([0x11, 0x22, 0x44, 0],
                         verdict.read_bytes(self.path('top'), 'qcow2',
                                            offsets))
        self.assertEqual([0x11, 0, 0x33, 0],
                         verdict.read_bytes(self.path('base'), 'raw',
                                            offsets))

    def test_offsets_beyond_4_gib(self):
        self.create('big', 'qcow2', size=8 * GiB)
        self.write('big', 'qcow2', 0xc3, 5 * GiB)
        self.assertEqual([0xc3, 0, 0xc3],
                         verdict.read_bytes(self.path('big'), 'qcow2',
                                            [5 * GiB, 6 * GiB,
                                             5 * GiB + MiB - 1]))

    def test_unreadable_image(self):
        self.assertEqual([None, None],
                         verdict.read_bytes(self.path('missing'), 'raw',
                                            [0, MiB]))
        self.assertEqual([], verdict.read_bytes(self.path('missing'), 'raw',
                                                []))


class CheckExitCodeTestCase(base.BaseTestCase):

    def test_leaked_clusters_are_their_own_kind(self):
        with mock.patch.object(verdict, '_run',
                               return_value=(3, 'leaked clusters', '')):
            self.assertEqual('qemu-img-leaks',
                             verdict._check_image('/x')[0])
        with mock.patch.object(verdict, '_run',
                               return_value=(2, '', 'corrupt')):
            self.assertEqual('qemu-img-check',
                             verdict._check_image('/x')[0])
        with mock.patch.object(verdict, '_run', return_value=(0, '', '')):
            self.assertEqual((None, None), verdict._check_image('/x'))
