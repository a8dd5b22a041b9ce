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

"""Raising the token offset of ZooKeeper and etcd while others change it.

The offset is only ever raised, by a compare-and-set that is tried again
when another run of the command changed it in between: these fakes make
each race happen at the one moment it matters. The normal path runs on
real servers in cinder/tests/functional/test_coordination.py
(``test_advance_puts_later_tokens_past_and_never_back``).
"""

import base64
from unittest import mock

from kazoo import exceptions as kazoo_exceptions
from kazoo.protocol import states as kazoo_states

from cinder import coordination
from cinder.coordination.backends import etcd
from cinder.coordination.backends import zookeeper_tokens
from cinder.tests.unit.coordination import fakes
from cinder.tests.unit.coordination import test_zookeeper

PATH = '/tooz/cinder-fencing-token-offset'


def stat(version):
    return kazoo_states.ZnodeStat(
        czxid=1, mzxid=1, ctime=0, mtime=0, version=version, cversion=0,
        aversion=0, ephemeralOwner=0, dataLength=0, numChildren=0, pzxid=1)


class ZooKeeperOffsetTestCase(test_zookeeper.ZooKeeperTestCase):
    """A znode holding the offset; kazoo's answers are scripted."""

    def setUp(self):
        super().setUp()
        self.backend = self.start().backend
        self.node = None            # (value, version) or None
        self.before_write = []      # what another run does first

    def answer(self, call):
        result = self.client.handler.async_result()
        try:
            result.set(call())
        except kazoo_exceptions.KazooException as e:
            result.set_exception(e)
        return result

    def fake_calls(self):
        def get_async(path):
            self.assertEqual(PATH, path)

            def get():
                if self.node is None:
                    raise kazoo_exceptions.NoNodeError()
                return b'%d' % self.node[0], stat(self.node[1])
            return self.answer(get)

        def create_async(path, value, makepath=False):
            self.assertTrue(makepath)
            self.other_run()

            def create():
                if self.node is not None:
                    raise kazoo_exceptions.NodeExistsError()
                self.node = (int(value), 0)
            return self.answer(create)

        def set_async(path, value, version):
            self.other_run()

            def set_():
                if self.node is None:
                    raise kazoo_exceptions.NoNodeError()
                if version != -1 and self.node[1] != version:   # -1: any
                    raise kazoo_exceptions.BadVersionError()
                self.node = (int(value), version + 1)
            return self.answer(set_)

        for name, fake in (('get_async', get_async),
                           ('create_async', create_async),
                           ('set_async', set_async)):
            self.useFixture(fakes.fixtures.MockPatchObject(
                self.client, name, side_effect=fake, create=True))

    def other_run(self):
        if self.before_write:
            self.node = self.before_write.pop(0)

    def test_absent_offset_is_created(self):
        self.fake_calls()
        self.assertEqual(('offset node %s' % PATH, 0, 500),
                         self.backend.advance_tokens(500))
        self.assertEqual((500, 0), self.node)

    def test_a_creation_by_another_run_is_read_and_raised(self):
        self.fake_calls()
        self.before_write = [(300, 0)]
        self.assertEqual((300, 500), self.backend.advance_tokens(500)[1:])
        self.assertEqual((500, 1), self.node)

    def test_a_higher_offset_set_meanwhile_is_kept(self):
        self.fake_calls()
        self.node = (100, 4)
        self.before_write = [(900, 5)]
        self.assertEqual((900, 900), self.backend.advance_tokens(500)[1:])
        self.assertEqual((900, 5), self.node)

    def test_never_lowered(self):
        self.fake_calls()
        self.node = (900, 2)
        self.assertEqual((900, 900), self.backend.advance_tokens(500)[1:])
        self.client.set_async.assert_not_called()

    def test_an_offset_that_keeps_changing_fails(self):
        self.fake_calls()
        self.node = (100, 0)
        self.before_write = [(101 + n, n + 1) for n in range(
            zookeeper_tokens.ADVANCE_ATTEMPTS)]
        e = self.assertRaises(coordination.CoordinationError,
                              self.backend.advance_tokens, 500)
        self.assertIn('the node changed at each of 10 tries', str(e))


class EtcdOffsetTestCase(fakes.CoordinationTestCase):
    """The offset key; etcd's transactions are played by a fake."""

    url = 'etcd3+http://h:1'

    def setUp(self):
        super().setUp()
        self.driver.client = mock.Mock()
        self.driver.client.transaction.side_effect = self.transaction
        self.backend = self.start().backend
        self.key = base64.b64encode(b'cinder-fencing-token-offset').decode()
        self.value = None           # (offset, mod revision) or None
        self.before_write = []

    def transaction(self, txn):
        reads = [op for op in txn['success'] if 'request_range' in op]
        if reads:
            self.assertEqual([{'request_range': {'key': self.key}}], reads)
            kvs = [] if self.value is None else [{
                'value': base64.b64encode(b'%d' % self.value[0]).decode(),
                'mod_revision': str(self.value[1])}]
            return {'succeeded': True,
                    'responses': [{'response_range': {'kvs': kvs}}]}
        if self.before_write:
            self.value = self.before_write.pop(0)
        compare, = txn['compare']
        if compare['target'] == 'CREATE':
            holds = self.value is None
        else:
            holds = (self.value is not None and
                     self.value[1] == compare['mod_revision'])
        if holds:
            put, = txn['success']
            new = int(base64.b64decode(put['request_put']['value']))
            self.value = (new, (self.value or (0, 0))[1] + 1)
        return {'succeeded': holds}

    def test_absent_offset_is_created(self):
        self.assertEqual(('offset key cinder-fencing-token-offset', 0, 500),
                         self.backend.advance_tokens(500))
        self.assertEqual((500, 1), self.value)

    def test_a_creation_by_another_run_is_read_and_raised(self):
        self.before_write = [(300, 7)]
        self.assertEqual((300, 500), self.backend.advance_tokens(500)[1:])
        self.assertEqual((500, 8), self.value)

    def test_a_higher_offset_set_meanwhile_is_kept(self):
        self.value = (100, 3)
        self.before_write = [(900, 4)]
        self.assertEqual((900, 900), self.backend.advance_tokens(500)[1:])
        self.assertEqual((900, 4), self.value)

    def test_an_offset_that_keeps_changing_fails(self):
        self.value = (100, 1)
        self.before_write = [(101 + n, n + 2)
                             for n in range(etcd.ADVANCE_ATTEMPTS)]
        e = self.assertRaises(coordination.CoordinationError,
                              self.backend.advance_tokens, 500)
        self.assertIn('the key changed at each of 10 tries', str(e))
