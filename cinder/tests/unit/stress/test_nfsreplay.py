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

"""Tests of the nfs-replay fault: its rules, their turn, its wait."""

import threading

import fixtures
from oslotest import base

from cinder.stress import faultfs
from cinder.stress import faultrules
from cinder.stress import nfsreplay
from cinder.volume import record_files


class FakeFS(object):
    """The control of a mount: rules armed, fired as *fires* says.

    *fires*: rule id -> the ``fired`` counts successive looks return (the
    last one then stays).
    """

    def __init__(self, fires=None, clock=None, fail_fired=False):
        self.fires = fires or {}
        self.armed = {}
        self.disarmed = []
        self.calls = []
        self.clock = clock
        self.fail_fired = fail_fired

    def arm(self, op, pattern, mode='before', errno=None, count=1):
        rule = len(self.armed) + len(self.disarmed) + 1
        self.calls.append(('arm', op, pattern, mode, errno, count))
        self.armed[rule] = list(self.fires.get(rule, [0]))
        return rule

    def fired(self, rule):
        if self.clock is not None:
            self.clock.now += 1.0
        if self.fail_fired:
            raise faultfs.FaultFSError('the control socket closed')
        counts = self.armed[rule]
        return counts.pop(0) if len(counts) > 1 else counts[0]

    def disarm(self, rule):
        self.calls.append(('disarm', rule))
        counts = self.armed.pop(rule)
        self.disarmed.append(rule)
        return {'rule': rule, 'fired': counts[-1]}


class Clock(object):

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class VariantsTestCase(base.BaseTestCase):

    def test_each_variant_is_a_rule_the_file_system_takes(self):
        rules = faultrules.RuleSet(snapshot=lambda op, pattern: {})
        for variant in nfsreplay.VARIANTS:
            fs = FakeFS()
            variant.arm(fs)
            _arm, op, pattern, mode, errno, count = fs.calls[0]
            rule = rules.arm(op, pattern, mode, errno, count)
            if mode == 'stale':
                # Listings from a client's cache, for a few calls.
                self.assertEqual(('readdir', 4), (rule.op, rule.left))
                continue
            self.assertEqual(1, rule.left, variant.name)
            # Applied, then failed: the outcome the driver must settle.
            self.assertEqual('after', rule.mode, variant.name)

    def test_the_rules_match_the_files_the_driver_commits_with(self):
        files = record_files.GenerationFiles(
            '/share/volume-0c5e1d2a-3b4f-4e5a-9c8d-7e6f5a4b3c2d.info')
        tmp = files.temporary_path().split('/')[-1]
        generation = files.generation_path(7).split('/')[-1]
        head = files.head_path.split('/')[-1]
        rules = {v.name: faultrules.Rule(1, v.op, v.pattern, v.mode, 5, 1)
                 for v in nfsreplay.VARIANTS}
        # The commit's link, from the temporary file to the generation.
        for name in ('link-eexist', 'link-eio'):
            self.assertTrue(rules[name].matches('link', [tmp, generation]))
            self.assertFalse(rules[name].matches('link', [tmp, tmp]))
        # The head is pointed at the generation by a rename.
        self.assertTrue(rules['rename-enoent'].matches('rename',
                                                       [tmp, head]))
        self.assertFalse(rules['rename-enoent'].matches('rename',
                                                        [tmp, generation]))
        self.assertTrue(rules['unlink-enoent'].matches('unlink', [tmp]))
        self.assertTrue(rules['fsyncdir-eio'].matches('fsyncdir', ['.']))

    def test_the_turns_go_through_every_variant_from_the_seed(self):
        count = len(nfsreplay.VARIANTS)
        for seed in (0, 1, 7):
            turns = [nfsreplay.variant(seed, turn) for turn in range(count)]
            self.assertEqual(set(nfsreplay.VARIANTS), set(turns))
            # The same seed, the same failures in the same order.
            self.assertEqual(turns, [nfsreplay.variant(seed, turn)
                                     for turn in range(count)])
        self.assertNotEqual(nfsreplay.variant(0, 0),
                            nfsreplay.variant(1, 0))
        # The seed of the CI runs starts with a commit's link.
        self.assertEqual('link', nfsreplay.variant(1, 0).op)


class InjectTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.clock = Clock()
        self.stop = threading.Event()
        self.variant = nfsreplay.VARIANTS[0]
        # Each look advances the clock by a second instead.
        self.useFixture(fixtures.MockPatchObject(nfsreplay, 'POLL', 0))

    def inject(self, fs, wait=20.0):
        return nfsreplay.inject(fs, self.variant, self.stop,
                                clock=self.clock, wait=wait)

    def test_armed_until_it_fired_then_disarmed(self):
        fs = FakeFS({1: [0, 0, 1]}, self.clock)
        result = self.inject(fs)
        self.assertEqual(
            [('arm', 'link', nfsreplay.GENERATIONS, 'after', 'EEXIST', 1),
             ('disarm', 1)], fs.calls)
        self.assertEqual(1, result.fired)
        self.assertEqual((100.0, 103.0), (result.start, result.end))
        self.assertEqual('link-eexist: %s; fired 1 time(s) after 3.0 s' % (
            self.variant.what), result.describe())

    def test_a_rule_that_never_fires_is_disarmed_after_the_wait(self):
        fs = FakeFS(clock=self.clock)
        result = self.inject(fs, wait=5.0)
        self.assertEqual(('disarm', 1), fs.calls[-1])
        self.assertEqual(0, result.fired)
        self.assertEqual(105.0, result.end)
        self.assertIn('; never fired: no matching call within 5.0 s',
                      result.describe())

    def test_the_count_is_the_one_at_the_disarm(self):
        # It fired between the last look and the disarm.
        fs = FakeFS({1: [0, 1]}, self.clock)
        self.stop.set()
        result = self.inject(fs)
        self.assertEqual(('disarm', 1), fs.calls[-1])
        self.assertEqual(1, result.fired)

    def test_disarmed_when_the_file_system_fails_a_look(self):
        fs = FakeFS({1: [0, 1]}, self.clock, fail_fired=True)
        self.assertRaises(faultfs.FaultFSError, self.inject, fs)
        self.assertEqual(('disarm', 1), fs.calls[-1])
