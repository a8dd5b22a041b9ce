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

"""Rule matching, counting, snapshots and the control protocol."""

import errno
import json
import os
import sys
import threading

import fixtures
from oslotest import base

from cinder.stress import faultrules


class RuleSetTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.snapshots = []
        self.rules = faultrules.RuleSet(snapshot=self.snapshot)

    def snapshot(self, op, pattern):
        self.snapshots.append((op, pattern))
        return {'d/a': {'st_size': 1}}

    def test_a_rule_fires_on_its_op_and_pattern_count_times(self):
        rule = self.rules.arm('unlink', 'vol-*', 'before', count=2)
        self.assertIsNone(self.rules.take('unlink', ('other',)))
        self.assertIsNone(self.rules.take('rename', ('vol-1',)))
        self.assertIs(rule, self.rules.take('unlink', ('vol-1',)))
        self.assertIs(rule, self.rules.take('unlink', ('vol-2',)))
        self.assertIsNone(self.rules.take('unlink', ('vol-3',)))
        self.assertEqual((2, 0), (rule.fired, rule.left))

    def test_a_count_of_none_never_runs_out(self):
        rule = self.rules.arm('write', '*', 'after', count=None)
        for _ in range(100):
            self.assertIs(rule, self.rules.take('write', ('f',)))
        self.assertEqual((100, None), (rule.fired, rule.left))

    def test_two_paths_match_when_either_does_and_none_never(self):
        rule = self.rules.arm('link', 'dst', 'after', errno='EEXIST',
                              count=None)
        self.assertIs(rule, self.rules.take('link', ('src', 'dst')))
        self.assertIs(rule, self.rules.take('link', ('dst', 'src')))
        self.assertIsNone(self.rules.take('link', ('src', 'other')))
        self.assertIsNone(self.rules.take('link', (None,)))

    def test_the_glob_is_on_the_relative_path_and_star_crosses_slash(self):
        rule = self.rules.arm('getattr', '*.img', 'before', count=None)
        self.assertIs(rule, self.rules.take('getattr', ('d/v.img',)))
        self.assertIsNone(self.rules.take('getattr', ('v.IMG',)))
        root = self.rules.arm('readdir', '.', 'before', count=None)
        self.assertIs(root, self.rules.take('readdir', ('.',)))
        self.assertIsNone(self.rules.take('readdir', ('d',)))

    def test_the_first_armed_rule_with_count_left_fires(self):
        first = self.rules.arm('fsync', '*', 'before')
        second = self.rules.arm('fsync', '*', 'after')
        self.assertIs(first, self.rules.take('fsync', ('f',)))
        self.assertIs(second, self.rules.take('fsync', ('f',)))
        self.assertIsNone(self.rules.take('fsync', ('f',)))

    def test_aliases_and_errno_names(self):
        rule = self.rules.arm('lookup', 'x', 'before', errno='enoent')
        self.assertEqual(('getattr', errno.ENOENT), (rule.op, rule.errno))
        self.assertEqual('truncate', self.rules.arm(
            'ftruncate', 'x', 'after', errno=errno.EIO).op)
        self.assertEqual(errno.EIO, self.rules.arm('fsync', 'x',
                                                   'before').errno)

    def test_bad_arguments_are_refused_naming_them(self):
        for args, kwargs, named in (
                (('unlnk', 'x', 'before'), {}, "op 'unlnk'"),
                (('unlink', 'x', 'sideways'), {}, "mode 'sideways'"),
                (('unlink', 'x', 'stale'), {}, 'op unlink'),
                (('read', 'x', 'short'), {}, 'op read'),
                (('unlink', '', 'before'), {}, "pattern ''"),
                (('unlink', 'x', 'before'), {'errno': 'ENOPE'},
                 "errno 'ENOPE'"),
                (('unlink', 'x', 'before'), {'errno': -5}, 'errno -5'),
                (('unlink', 'x', 'before'), {'count': 0}, 'count 0'),
                (('unlink', 'x', 'before'), {'count': True}, 'count True'),
                (('unlink', 'x', 'before'), {'size': 3}, 'size 3'),
                (('write', 'x', 'short'), {'size': -1}, 'size -1')):
            error = self.assertRaises(faultrules.RuleError, self.rules.arm,
                                      *args, **kwargs)
            self.assertIn(named, str(error))
        self.assertEqual([], self.rules.list())

    def test_a_stale_rule_snapshots_when_armed_and_serves_from_it(self):
        rule = self.rules.arm('getattr', 'd/*', 'stale', count=None)
        self.assertEqual([('getattr', 'd/*')], self.snapshots)
        self.assertEqual({'st_size': 1}, rule.stale_attrs('d/a'))
        error = self.assertRaises(OSError, rule.stale_attrs, 'd/b')
        self.assertEqual(errno.ENOENT, error.errno)
        self.assertEqual(1, len(self.snapshots))

    def test_a_stale_rule_needs_a_snapshot(self):
        rules = faultrules.RuleSet()
        self.assertRaises(faultrules.RuleError, rules.arm, 'readdir', 'd',
                          'stale')
        self.assertEqual([], rules.list())

    def test_disarm_clear_and_describe(self):
        one = self.rules.arm('write', 'f', 'short', size=2)
        two = self.rules.arm('unlink', 'f', 'after', errno='ENOENT')
        self.rules.take('write', ('f',))
        self.assertEqual(
            {'rule': one.rule_id, 'op': 'write', 'pattern': 'f',
             'mode': 'short', 'errno': errno.EIO, 'errno_name': 'EIO',
             'count': 0, 'fired': 1, 'size': 2},
            self.rules.describe(one.rule_id))
        self.assertEqual(two.rule_id,
                         self.rules.disarm(two.rule_id)['rule'])
        self.assertRaises(faultrules.RuleError, self.rules.disarm,
                          two.rule_id)
        self.assertEqual([one.rule_id],
                         [r['rule'] for r in self.rules.list()])
        self.assertEqual(1, self.rules.clear())
        self.assertEqual([], self.rules.list())
        self.assertIsNone(self.rules.take('write', ('f',)))

    def test_concurrent_calls_fire_a_rule_exactly_count_times(self):
        rule = self.rules.arm('write', '*', 'after', count=2000)
        fired = []
        # Switch threads as often as the interpreter can.
        interval = sys.getswitchinterval()
        self.addCleanup(sys.setswitchinterval, interval)
        sys.setswitchinterval(1e-6)

        def call():
            for _ in range(400):
                if self.rules.take('write', ('f',)) is not None:
                    fired.append(1)
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual((2000, 2000, 0),
                         (len(fired), rule.fired, rule.left))


class SnapshotTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        os.mkdir(os.path.join(self.root, 'd'))
        for name in ('d/a', 'd/b', 'top'):
            with open(os.path.join(self.root, name), 'w') as f:
                f.write(name)

    def test_getattr_takes_every_matching_path(self):
        found = faultrules.snapshot_tree(self.root, 'getattr', 'd*')
        self.assertEqual(['d', 'd/a', 'd/b'], sorted(found))
        st = os.lstat(os.path.join(self.root, 'd/b'))
        self.assertEqual((st.st_ino, 3, st.st_mtime_ns), (
            found['d/b']['st_ino'], found['d/b']['st_size'],
            found['d/b']['st_mtime']))
        self.assertEqual(['.'], list(faultrules.snapshot_tree(
            self.root, 'getattr', '.')))

    def test_readdir_takes_the_listing_of_matching_directories(self):
        found = faultrules.snapshot_tree(self.root, 'readdir', '*')
        self.assertEqual(['.', 'd'], sorted(found))
        entries = found['d']['entries']
        self.assertEqual(['.', '..', 'a', 'b'], [e[0] for e in entries])
        self.assertEqual(os.lstat(os.path.join(self.root, 'd/a')).st_ino,
                         entries[2][1]['st_ino'])
        self.assertEqual(os.lstat(self.root).st_ino,
                         entries[1][1]['st_ino'])

    def test_a_listing_gives_inode_and_type_of_each_entry(self):
        entries = faultrules.listing(self.root, '.')
        self.assertEqual(['.', '..', 'd', 'top'], [e[0] for e in entries])
        root = os.lstat(self.root)
        self.assertEqual([root.st_ino, root.st_ino],
                         [e[1]['st_ino'] for e in entries[:2]])
        self.assertTrue(all(e[1]['st_ino'] and e[2] == 0 for e in entries))
        error = self.assertRaises(OSError, faultrules.listing, self.root,
                                  'nowhere')
        self.assertEqual(errno.ENOENT, error.errno)


class ProtocolTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.rules = faultrules.RuleSet()

    def ask(self, request):
        line = faultrules.handle_line(self.rules,
                                      json.dumps(request).encode() + b'\n')
        self.assertTrue(line.endswith(b'\n'))
        return json.loads(line)

    def test_arm_fired_list_disarm_clear(self):
        armed = self.ask({'cmd': 'arm', 'op': 'link', 'pattern': 'v*',
                          'mode': 'after', 'errno': 'EEXIST'})
        rule = armed['rule']['rule']
        self.assertEqual((True, errno.EEXIST, 1), (
            armed['ok'], armed['rule']['errno'], armed['rule']['count']))
        self.rules.take('link', ('v1',))
        self.assertEqual(1, self.ask({'cmd': 'fired',
                                      'rule': rule})['rule']['fired'])
        self.assertEqual([rule], [r['rule'] for r in self.ask(
            {'cmd': 'list'})['rules']])
        self.assertTrue(self.ask({'cmd': 'disarm', 'rule': rule})['ok'])
        self.assertEqual({'ok': True, 'cleared': 0},
                         self.ask({'cmd': 'clear'}))
        self.assertEqual({'ok': True}, self.ask({'cmd': 'ping'}))

    def test_errors_answer_and_change_nothing(self):
        for request, named in (
                ({'cmd': 'arm', 'op': 'x', 'pattern': 'p',
                  'mode': 'before'}, "op 'x'"),
                ({'cmd': 'fired', 'rule': 7}, 'rule 7'),
                ({'cmd': 'explode'}, "cmd 'explode'"),
                ([1, 2], 'JSON object')):
            answer = self.ask(request)
            self.assertFalse(answer['ok'])
            self.assertIn(named, answer['error'])
        answer = json.loads(faultrules.handle_line(self.rules, b'{oops\n'))
        self.assertIn('not a JSON line', answer['error'])
        self.assertEqual([], self.rules.list())

    def test_a_socket_path_too_long_is_refused_naming_the_option(self):
        path = '/tmp/' + 'x' * faultrules.MAX_SOCKET_PATH
        error = self.assertRaises(faultrules.RuleError,
                                  faultrules.ControlServer, path,
                                  self.rules)
        self.assertIn('--control', str(error))
