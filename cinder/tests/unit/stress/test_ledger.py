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

"""Tests of the critical-section ledger, the ``ledger`` lock hook."""

import json
import os
import threading

import fixtures
from oslotest import base

from cinder import coordination
from cinder.stress import ledger
from cinder.tests.unit.coordination import fakes


class LedgerTestCase(fakes.CoordinationTestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'ledger')
        self.conf.register_opts(ledger.ledger_opts, group='coordination')
        self.fixture.config(group='coordination', hooks=['ledger'],
                            ledger_file=self.path)

    def entries(self):
        with open(self.path) as f:
            return [json.loads(line) for line in f]

    def test_records_enter_and_exit_inside_the_section(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        self.clock.now = 5.0
        real_acquire = self.driver.get_lock(b'cinder-v1').acquire

        def slow_acquire(blocking=True):
            self.clock.now = 5.25
            return real_acquire(blocking)

        self.driver.locks[b'cinder-v1'].acquire = slow_acquire
        lock.acquire()
        self.clock.now = 7.5
        lock.release()
        enter, exit_ = self.entries()
        self.assertEqual(('enter', 'cinder-v1', 5.25, 0.25, 'test-member'),
                         (enter['event'], enter['lock'], enter['t'],
                          enter['waited'], enter['member']))
        self.assertEqual(('exit', 'cinder-v1', 7.5, None),
                         (exit_['event'], exit_['lock'], exit_['t'],
                          exit_['lost']))
        self.assertEqual(os.getpid(), exit_['pid'])

    def test_exit_is_written_before_the_backend_release(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        seen = []
        real_release = self.driver.locks[b'cinder-v1'].release

        def release():
            seen.append([e['event'] for e in self.entries()])
            return real_release()

        self.driver.locks[b'cinder-v1'].release = release
        lock.release()
        self.assertEqual([['enter', 'exit']], seen)

    def test_steps_are_recorded_inside_their_section(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        self.clock.now += 1.0
        coordination.ensure_locks_held([lock], step='delete volume-1.info')
        lock.release()
        [enter, step, exit_] = self.entries()
        self.assertEqual(('step', 'cinder-v1', 'delete volume-1.info'),
                         (step['event'], step['lock'], step['step']))
        self.assertLess(enter['t'], step['t'])
        self.assertEqual('exit', exit_['event'])

    def test_lost_lock_and_stop_are_recorded(self):
        coordinator = self.start()
        lost = coordinator.get_lock('v1')
        lost.acquire()
        self.driver.locks[b'cinder-v1'].acquired = False
        self.assertRaises(coordination.LockLost, lost.release)
        held = coordinator.get_lock('v2')
        held.acquire()
        coordinator.stop()
        self.assertRaises(coordination.LockLost, held.release)
        events = [(e['event'], e['lock'], e.get('lost'))
                  for e in self.entries()]
        self.assertEqual([
            ('enter', 'cinder-v1', None),
            ('exit', 'cinder-v1', None),
            ('lost', 'cinder-v1', 'the backend no longer had it at release'),
            ('enter', 'cinder-v2', None),
            ('declared', 'cinder-v2', 'the coordinator was stopped'),
            ('exit', 'cinder-v2', 'the coordinator was stopped')], events)
        # The declaration names the holder's thread, not the one that
        # found the loss.
        declared = [e for e in self.entries() if e['event'] == 'declared']
        self.assertEqual(threading.get_ident(), declared[0]['thread'])

    def test_loss_seen_between_exit_and_release_is_recorded(self):
        coordinator = self.start()
        lock = coordinator.get_lock('v1')
        lock.acquire()
        [hook] = coordinator._hooks
        real_leaving = hook.leaving

        def exit_then_heartbeat(held_lock):
            real_leaving(held_lock)
            # The heartbeat marks the lock lost right after the exit line
            # was written, before the release looks at it.
            coordinator._mark_lost(held_lock, 'lease expired')

        self.useFixture(fixtures.MockPatchObject(
            hook, 'leaving', side_effect=exit_then_heartbeat))
        self.assertRaises(coordination.LockLost, lock.release)
        self.assertEqual([('enter', None), ('exit', None),
                          ('lost', 'lease expired')],
                         [(e['event'], e.get('lost'))
                          for e in self.entries()])

    def test_unwritable_ledger_names_the_option(self):
        self.fixture.config(group='coordination',
                            ledger_file='/nonexistent-dir/ledger')
        exc = self.assertRaises(coordination.ConfigurationError, self.start)
        self.assertIn('[coordination] ledger_file', str(exc))
        self.get_coordinator.assert_not_called()

    def test_ledger_hook_without_a_file_names_both_options(self):
        self.fixture.config(group='coordination', ledger_file=None)
        exc = self.assertRaises(coordination.ConfigurationError, self.start)
        self.assertIn('[coordination] hooks = ledger needs [coordination] '
                      'ledger_file', str(exc))
        self.get_coordinator.assert_not_called()

    def test_no_ledger_without_the_hook(self):
        self.fixture.config(group='coordination', hooks=[])
        coordinator = self.start()
        with coordinator.get_lock('v1'):
            pass
        self.assertFalse(os.path.exists(self.path))


class FollowTestCase(base.BaseTestCase):

    def test_reads_whole_lines_since_an_offset(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'l')
        self.assertEqual(0, ledger.size(path))
        self.assertEqual(([], 0), ledger.read_from(path, 0))
        with open(path, 'w') as f:
            f.write('{"event": "enter"}\nnot json\n[1]\n{"event": "st')
        entries, offset = ledger.read_from(path, 0)
        self.assertEqual([{'event': 'enter'}], entries)
        self.assertEqual(len('{"event": "enter"}\nnot json\n[1]\n'),
                         offset)
        # The line being written is read once it is whole.
        with open(path, 'a') as f:
            f.write('ep"}\n')
        self.assertEqual(([{'event': 'step'}], ledger.size(path)),
                         ledger.read_from(path, offset))
