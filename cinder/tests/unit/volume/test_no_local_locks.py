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
``external=True``, only excludes processes of one host.
"""

import ast
import os

from oslotest import base

import cinder

VOLUME_DIR = os.path.join(os.path.dirname(cinder.__file__), 'volume')


def host_local_locks(source, filename):
    """Yield ``(line, what)`` for each host-local lock in ``source``."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ''] + [
                '%s.%s' % (node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Call):
            if any(k.arg == 'external' and isinstance(k.value, ast.Constant)
                   and k.value.value is True for k in node.keywords):
                yield node.lineno, 'a lock taken with external=True'
            continue
        else:
            continue
        if any(n == 'oslo_concurrency.lockutils' for n in names):
            yield node.lineno, 'an import of oslo_concurrency.lockutils'


class NoHostLocalLocksTestCase(base.BaseTestCase):

    def test_detector_sees_the_legacy_patterns(self):
        source = (
            'from oslo_concurrency import lockutils\n'
            'import oslo_concurrency.lockutils\n'
            '@utils.synchronized("x", external=True)\n'
            'def f(): pass\n')
        self.assertEqual([1, 2, 3], [line for line, _ in
                                     host_local_locks(source, 'x.py')])

    def test_volume_service_has_no_host_local_lock(self):
        found = []
        for directory, _dirs, files in os.walk(VOLUME_DIR):
            for name in files:
                if not name.endswith('.py'):
                    continue
                path = os.path.join(directory, name)
                with open(path) as f:
                    source = f.read()
                found += ['%s:%d: %s' % (os.path.relpath(path, VOLUME_DIR),
                                         line, what)
                          for line, what in host_local_locks(source, path)]
        self.assertEqual([], found,
                         'use cinder.coordination for every lock under '
                         'cinder/volume/')
