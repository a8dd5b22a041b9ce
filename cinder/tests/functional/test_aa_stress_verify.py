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

"""Proof that the verdict sees: damage planted in a kept run.

One clean run of cinder-aa-stress (real services, real qemu-img) is kept;
each test copies it, plants one kind of damage the verdict claims to
detect, and checks that ``cinder-aa-stress --verify`` names it.
"""

import io
import json
import os
import shutil
import subprocess
import tempfile
from unittest import mock

import testtools

from cinder.cmd import aa_stress
from cinder.stress import qemu
from cinder.volume import fenced_record


def _verify(run_dir):
    out, err = io.StringIO(), io.StringIO()
    with mock.patch('sys.stdout', out), mock.patch('sys.stderr', err):
        status = aa_stress.main(['--verify', run_dir, '--json'])
    return status, (json.loads(out.getvalue()) if out.getvalue() else None), \
        err.getvalue()


def _qemu_io(path, fmt, command):
    subprocess.run(['qemu-io', '-f', fmt, '-c', command, path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class PlantedDamageTest(testtools.TestCase):

    run_dir = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.top = tempfile.mkdtemp(prefix='cinder-verify-test-')
        # The workload is random: keep the first seed whose run ends with
        # a volume that has a snapshot and a written slot.
        for seed in (3, 4, 5, 6, 7, 8):
            run_dir = os.path.join(cls.top, 'run-%d' % seed)
            out = io.StringIO()
            with mock.patch('sys.stdout', out), \
                    mock.patch('sys.stderr', io.StringIO()):
                status = aa_stress.main(['--json', '--work-dir', run_dir,
                                         '--operations', '80',
                                         '--seed', str(seed)])
            cls.report = json.loads(out.getvalue())
            if status != 0:
                raise AssertionError('the clean run found violations: %s' %
                                     cls.report['violation_details'][:5])
            target = cls._pick(run_dir)
            if target is not None:
                cls.run_dir = run_dir
                cls.target = target
                return
        raise AssertionError('no seed left a volume with a snapshot')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def _pick(cls, run_dir):
        """(volume id, snapshot id, slot, pattern) fit for planting."""
        with open(os.path.join(run_dir, 'run-model.json')) as f:
            model = json.load(f)
        for volume_id, states in sorted(model['states'].items()):
            # One state, or several that differ in size only.
            if any(s['exists'] != 'yes' or
                   (s['content'], s['snapshots']) != (
                       states[0]['content'], states[0]['snapshots'])
                   for s in states):
                continue
            state = states[0]
            written = [i for i, s in enumerate(state['content'])
                       if s != [0]]
            if state['snapshots'] and written:
                return (volume_id, sorted(state['snapshots'])[0],
                        written[0], state['content'][written[0]][0])
        return None

    def setUp(self):
        super().setUp()
        self.copy = os.path.join(self.top, 'copy-%s' % self.id().rsplit(
            '.', 1)[-1])
        # cp keeps the images sparse; shutil.copytree would not.
        subprocess.run(['cp', '-a', self.run_dir, self.copy], check=True)
        self.addCleanup(shutil.rmtree, self.copy, True)
        self.volume_id, self.snapshot_id, self.slot, self.pattern = \
            self.target
        self.share = os.path.join(self.copy, 'share')
        self.name = 'volume-%s' % self.volume_id
        self.record = fenced_record.FencedRecord(
            os.path.join(self.share, self.name + '.info'))
        self.generation = self.record.read()
        self.info = json.loads(self.generation.text)
        with open(os.path.join(self.copy, 'run-model.json')) as f:
            self.offset = json.load(f)['slots']['offsets'][self.slot]

    def fmt(self, entry):
        return self.info['base_format'] if entry == self.name else 'qcow2'

    def write_info(self):
        """Change the info file as a damaged share would (in place)."""
        with open(self.record.path_of(self.generation), 'w') as f:
            json.dump({'format': fenced_record.FORMAT,
                       'token': self.generation.token,
                       'text': json.dumps(self.info)}, f)

    def assert_named(self, kind):
        status, report, err = _verify(self.copy)
        self.assertEqual(1, status, err or report)
        self.assertIn(kind, report['violations'],
                      report['violation_details'])
        return report

    def test_the_clean_copy_verifies_as_the_run_did(self):
        status, report, err = _verify(self.copy)
        self.assertEqual(0, status, report and report['violation_details'])
        self.assertEqual(self.report['checked'], report['checked'])
        self.assertEqual(0, report['checked']['unchecked'])
        self.assertGreater(report['checked']['snapshots'], 0)

    def test_flipped_byte_in_a_volume_slot(self):
        active = self.info['active']
        _qemu_io(os.path.join(self.share, active), self.fmt(active),
                 'write -P %d %d 1' % (self.pattern ^ 0xff, self.offset))
        self.assert_named('data-mismatch')

    def test_flipped_byte_in_a_snapshot_slot(self):
        entry = self.info[self.snapshot_id]
        path, fmt = os.path.join(self.share, entry), self.fmt(entry)
        # A value the slot does not hold (a fixed one could be its
        # pattern: the flip would change nothing).
        [held] = qemu.read_bytes(path, fmt, [self.offset + 1])
        _qemu_io(path, fmt,
                 'write -P %d %d 1' % (held ^ 0xff, self.offset + 1))
        self.assertEqual([held ^ 0xff],
                         qemu.read_bytes(path, fmt, [self.offset + 1]))
        self.assert_named('snapshot-data-mismatch')

    def test_torn_write_mixing_two_patterns(self):
        active = self.info['active']
        _qemu_io(os.path.join(self.share, active), self.fmt(active),
                 'write -z %d 1024' % self.offset)
        self.assert_named('torn-operation')

    def test_snapshot_missing_from_the_info_file(self):
        del self.info[self.snapshot_id]
        self.write_info()
        self.assert_named('snapshot-missing')

    def test_info_file_naming_a_missing_image(self):
        self.info[self.snapshot_id] = self.name + '.00000000deadbeef'
        self.write_info()
        self.assert_named('missing-image')

    def test_stray_image(self):
        subprocess.run(['qemu-img', 'create', '-f', 'qcow2',
                        os.path.join(self.share,
                                     self.name + '.00000000deadbeef'),
                        '1M'], check=True, stdout=subprocess.DEVNULL)
        self.assert_named('stray-file')

    def test_chain_with_a_wrong_backing_file(self):
        active = self.info['active']
        wrong = os.path.join(self.share, 'not-of-this-volume')
        subprocess.run(['qemu-img', 'create', '-f', 'raw', wrong, '1G'],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(['qemu-img', 'rebase', '-u', '-f', 'qcow2', '-b',
                        os.path.basename(wrong), '-F', 'raw',
                        os.path.join(self.share, active)], check=True)
        self.assert_named('chain-broken')

    def test_ledger_with_two_holders(self):
        lines = []
        for member, pid, t in (('host-1', 1, 10.0), ('host-2', 2, 10.5)):
            for event, dt in (('enter', 0.0), ('exit', 1.0)):
                entry = {'t': t + dt, 'event': event, 'lock': 'planted',
                         'member': member, 'pid': pid, 'thread': 1}
                entry['waited' if event == 'enter' else 'lost'] = (
                    0.0 if event == 'enter' else None)
                lines.append(entry)
        lines.sort(key=lambda e: e['t'])
        with open(os.path.join(self.copy, 'ledger.jsonl'), 'a') as f:
            for entry in lines:
                f.write(json.dumps(entry) + '\n')
        self.assert_named('lock-overlap')

    def test_a_directory_without_a_model(self):
        os.unlink(os.path.join(self.copy, 'run-model.json'))
        status, report, err = _verify(self.copy)
        self.assertEqual(2, status)
        self.assertIn('no saved model', err)

    def test_an_edited_model(self):
        path = os.path.join(self.copy, 'run-model.json')
        with open(path) as f:
            model = json.load(f)
        model['states'][self.volume_id][0]['size'] += 1
        with open(path, 'w') as f:
            json.dump(model, f)
        self.assert_named('model-mismatch')
