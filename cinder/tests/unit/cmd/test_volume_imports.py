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

"""cinder-volume imports none of the test infrastructure.

The lock servers of the tests and of cinder-aa-stress
(``cinder.stress.lockservers``) and the test fixtures are not part of the
volume service: a fresh interpreter runs ``python -m cinder.cmd.volume``
(as far as ``--help``), imports ``cinder.service`` and every volume driver
of ``setup.cfg``, and lists what it imported.
"""

import configparser
import json
import os
import subprocess
import sys

from oslotest import base

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

# Packages the volume service must never import, and why.
FORBIDDEN = {
    'cinder.stress': 'the stress tool and its lock server runner',
    'cinder.lockservers': 'the lock server runner (old location)',
    'cinder.tests': 'test code',
    'pifpaf': 'a test tool that runs servers',
    'fixtures': 'a test library',
}

_CHILD = """
import contextlib, json, runpy, sys
drivers = sys.argv[1:]
sys.argv = ['cinder-volume', '--help']
with contextlib.redirect_stdout(sys.stderr):
    try:
        runpy.run_module('cinder.cmd.volume', run_name='__main__')
    except SystemExit as e:
        if e.code not in (0, None):
            raise
import cinder.service
for name in drivers:
    __import__(name)
print(json.dumps(sorted(sys.modules)))
"""


def volume_driver_modules():
    """The modules of the volume drivers that setup.cfg registers."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO_ROOT, 'setup.cfg'))
    entries = parser['entry_points']['cinder.volume.drivers']
    return sorted({line.split('=', 1)[1].strip().split(':', 1)[0]
                   for line in entries.splitlines() if line.strip()})


def forbidden(modules):
    """The modules of ``modules`` that fall under :data:`FORBIDDEN`."""
    return sorted(name for name in modules
                  if any(name == root or name.startswith(root + '.')
                         for root in FORBIDDEN))


class VolumeImportsTestCase(base.BaseTestCase):

    def imported_by_volume_service(self, drivers):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
        result = subprocess.run(
            [sys.executable, '-c', _CHILD] + drivers, cwd=REPO_ROOT,
            env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120)
        self.assertEqual(0, result.returncode, result.stderr)
        return json.loads(result.stdout)

    def test_imports_no_test_servers_nor_test_code(self):
        drivers = volume_driver_modules()
        self.assertIn('cinder.volume.drivers.nfs', drivers)
        modules = self.imported_by_volume_service(drivers)
        # The closure is the real one: the service and its drivers (the
        # command itself ran as __main__, as with "python -m").
        self.assertEqual([], sorted(
            set(['cinder.service', 'cinder.volume.manager',
                 'cinder.coordination'] + drivers) - set(modules)))
        self.assertEqual([], forbidden(modules),
                         'cinder-volume imports: %s' % '; '.join(
                             '%s (%s)' % (root, why)
                             for root, why in sorted(FORBIDDEN.items())))

    def test_forbidden_matches_packages_not_prefixes(self):
        self.assertEqual(
            ['cinder.stress', 'cinder.stress.lockservers', 'cinder.tests.x',
             'pifpaf.drivers'],
            forbidden(['cinder.stress', 'cinder.stress.lockservers',
                       'cinder.stressed', 'cinder.tests.x', 'pifpafx',
                       'pifpaf.drivers', 'cinder.service']))
