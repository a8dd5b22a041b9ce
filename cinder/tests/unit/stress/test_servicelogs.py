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

"""Tests of the commits counted in the services' logs."""

import errno
import os
from unittest import mock

import fixtures
from oslotest import base

from cinder import coordination
from cinder.stress import servicelogs
from cinder.volume import fenced_record


def _link_then(error):
    """An ``os.link`` that makes the link, then raises *error*."""
    real = os.link

    def link(src, dst):
        real(src, dst)
        raise error
    return link


class CountTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def write_log(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_each_kind_in_every_log_is_counted(self):
        a = self.write_log('a.log', '\n'.join([
            'INFO ok', 'WARNING Fenced off: x', 'WARNING Fenced off: y',
            'WARNING Commit of v.info.g3: link(2) reported EEXIST (File '
            'exists), but the file holds this writer\'s generation: the '
            'link was made (its reply was lost); the commit stands']))
        b = self.write_log('b.log', '\n'.join([
            'ERROR ... FencedOff: x (the traceback, not counted)',
            'ERROR Commit in doubt: Whether v.info.g4 was committed ...',
            'ERROR ... CommitInDoubt: Whether v.info.g4 (not counted)']))
        missing = os.path.join(self.dir, 'never-started.log')
        self.assertEqual({'fenced_off': 2, 'ambiguous_commits': 1,
                          'commits_in_doubt': 1},
                         dict(servicelogs.count([a, b, missing])))

    def test_the_markers_are_what_the_driver_logs(self):
        # Each commit outcome, logged by the fenced records themselves.
        log = self.useFixture(fixtures.FakeLogger(
            name='cinder.volume.fenced_record'))
        share = os.path.join(self.dir, 'share')
        os.mkdir(share)
        record = fenced_record.FencedRecord(
            os.path.join(share, 'volume-1.info'))
        base_gen = record.create(3, 'a')
        with mock.patch.object(fenced_record.os, 'link', side_effect=(
                _link_then(FileExistsError(errno.EEXIST, 'File exists')))):
            base_gen = record.write(3, 'b', base_gen)
        with mock.patch.object(fenced_record.os, 'link', side_effect=(
                _link_then(OSError(errno.EIO, 'I/O error')))):
            base_gen = record.write(3, 'c', base_gen)
        real_open = open

        def failing_open(path, *args, **kwargs):
            if path.endswith('.g4'):
                raise OSError(errno.EIO, 'I/O error')
            return real_open(path, *args, **kwargs)
        with mock.patch.object(fenced_record.os, 'link', side_effect=(
                _link_then(OSError(errno.EIO, 'I/O error')))):
            with mock.patch('builtins.open', side_effect=failing_open):
                self.assertRaises(fenced_record.CommitInDoubt,
                                  record.write, 3, 'd', base_gen)
        self.assertRaises(coordination.FencedOff, record.write, 2, 'e',
                          record.read())
        path = self.write_log('service.log', log.output)
        self.assertEqual({'fenced_off': 1, 'ambiguous_commits': 2,
                          'commits_in_doubt': 1},
                         dict(servicelogs.count([path])))
