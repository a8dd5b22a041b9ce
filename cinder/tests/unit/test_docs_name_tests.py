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

"""The tests that the guides name beside their claims exist.

The admin and configuration guides state a guarantee with the test that
shows it (``test_...``, ``...Test``, ``...TestCase``, ``...Mixin``): a
test renamed or removed must take the claim with it.
"""

import ast
import os
import re

from oslotest import base

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
GUIDES = ('doc/source/admin', 'doc/source/configuration')
#: A test's name between double back quotes, alone or after a class.
_NAMED = re.compile(
    r'``(?:[A-Za-z0-9_.]*\.)?((?:test_[a-z0-9_]+)|'
    r'(?:[A-Z][A-Za-z0-9]*(?:Test|TestCase|Mixin)))``')


def _names_in_tests():
    """Every function and class defined under cinder/tests."""
    names = set()
    for directory, _dirs, files in os.walk(os.path.join(TOP, 'cinder',
                                                        'tests')):
        for name in files:
            if not name.endswith('.py'):
                continue
            with open(os.path.join(directory, name)) as f:
                tree = ast.parse(f.read())
            names.update(node.name for node in ast.walk(tree)
                         if isinstance(node, (ast.FunctionDef,
                                              ast.ClassDef)))
    return names


def _named_in_guides():
    """{test name: [page, ...]} of every test the guides name."""
    named = {}
    for guide in GUIDES:
        for directory, _dirs, files in os.walk(os.path.join(TOP, guide)):
            for name in files:
                if not name.endswith(('.rst', '.inc')):
                    continue
                path = os.path.join(directory, name)
                with open(path) as f:
                    # A name may be split over two lines of a paragraph.
                    text = re.sub(r'\s+', ' ', f.read())
                for match in _NAMED.finditer(text):
                    named.setdefault(match.group(1), []).append(
                        os.path.relpath(path, TOP))
    return named


class GuidesNameTestsTestCase(base.BaseTestCase):

    def test_every_test_a_guide_names_exists(self):
        defined = _names_in_tests()
        named = _named_in_guides()
        self.assertGreater(len(named), 20)
        missing = {name: pages for name, pages in sorted(named.items())
                   if name not in defined}
        self.assertEqual({}, missing,
                         'tests named by the guides but defined nowhere')
