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

"""No host-local lock is left in the volume service.

Every lock under ``cinder/volume/`` must be a :mod:`cinder.coordination`
lock: an ``oslo_concurrency.lockutils`` lock, or any lock taken with
``external=True``, only excludes processes of one host. The detector is
tools/lock_inventory.py, which pep8 also runs.
"""

import os

import fixtures
from oslotest import base

import cinder
from cinder.tests.unit import tools

CINDER_DIR = os.path.dirname(cinder.__file__)


class NoHostLocalLocksTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.inventory = tools.load_lock_inventory()

    def problems_in(self, files):
        top = self.useFixture(fixtures.TempDir()).path
        for relative, source in files.items():
            path = os.path.join(top, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(source)
        found = self.inventory.scan([os.path.join(top, 'cinder')])
        return [(p.file, p.line) for p in found.problems]

    def test_detector_sees_the_legacy_patterns(self):
        problems = self.problems_in({
            'cinder/__init__.py': '',
            'cinder/volume/__init__.py': '',
            'cinder/volume/imports.py': (
                'from oslo_concurrency import lockutils\n'
                'import oslo_concurrency.lockutils\n'),
            'cinder/volume/uses.py': (
                'from oslo_concurrency import lockutils\n'
                'from cinder import utils\n'
                '@utils.synchronized("x", external=False)\n'
                'def f(): pass\n'
                '@lockutils.synchronized("y")\n'
                'def g(): pass\n'
                '@helpers.lock("z", external=True)\n'
                'def h(): pass\n'),
            'cinder/elsewhere.py': (
                'from oslo_concurrency import lockutils\n'
                '@lockutils.synchronized("y", external=True)\n'
                'def g(): pass\n'),
        })
        self.assertEqual([('cinder/volume/imports.py', 1),
                          ('cinder/volume/imports.py', 2),
                          ('cinder/volume/uses.py', 3),
                          ('cinder/volume/uses.py', 5),
                          ('cinder/volume/uses.py', 7)], problems)

    def test_volume_service_has_no_host_local_lock(self):
        found = self.inventory.scan([CINDER_DIR])
        self.assertEqual(['cinder/volume'], found.volume_service)
        self.assertEqual([], ['%s:%d: %s' % (p.file, p.line, p.message)
                              for p in found.problems],
                         'use cinder.coordination for every lock under '
                         'cinder/volume/')
