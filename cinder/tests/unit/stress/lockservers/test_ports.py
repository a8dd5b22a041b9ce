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

"""Unit tests of what the lock server runner reads of /proc/net/tcp{,6}."""

import sys
from unittest import mock

from oslotest import base

from cinder.stress.lockservers import common
from cinder.stress.lockservers import ports


class DecodeAddressTestCase(base.BaseTestCase):

    def setUp(self):
        super(DecodeAddressTestCase, self).setUp()
        if sys.byteorder != 'little':
            self.skipTest('the samples are from a little-endian kernel')

    def test_ipv4(self):
        # As the kernel prints them: one 32-bit word in host byte order.
        self.assertEqual('127.0.0.1', ports._decode_address('0100007F'))
        self.assertEqual('0.0.0.0', ports._decode_address('00000000'))
        self.assertEqual('10.1.2.3', ports._decode_address('0302010A'))

    def test_ipv6(self):
        self.assertEqual('::', ports._decode_address('0' * 32))
        self.assertEqual('::1', ports._decode_address(
            '00000000000000000000000001000000'))

    def test_ipv4_mapped_ipv6_is_given_as_ipv4(self):
        # What a JVM bound to 127.0.0.1 shows in /proc/net/tcp6.
        self.assertEqual('127.0.0.1', ports._decode_address(
            '0000000000000000FFFF00000100007F'))


class ListeningAddressesTestCase(base.BaseTestCase):

    def test_only_the_sockets_of_the_process(self):
        sockets = [('11', '127.0.0.1', 2181), ('12', '::', 8080),
                   ('13', '0.0.0.0', 6379)]
        targets = ['/dev/null', 'socket:[11]', 'socket:[12]', 'pipe:[13]']
        with mock.patch.object(ports, '_listening_sockets',
                               return_value=sockets), \
                mock.patch.object(ports.processes, 'open_file_targets',
                                  return_value=targets):
            self.assertEqual({('127.0.0.1', 2181), ('::', 8080)},
                             ports.listening_addresses(42))

    def test_process_gone_is_an_error(self):
        with mock.patch.object(ports.processes, 'open_file_targets',
                               return_value=None):
            exc = self.assertRaises(common.LockServerError,
                                    ports.listening_addresses, 42)
        self.assertIn('pid 42', str(exc))
