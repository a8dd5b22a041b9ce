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

"""Unit tests of the scripts in tools/."""

import importlib.util
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
LOCK_INVENTORY = os.path.join(TOP, 'tools', 'lock_inventory.py')


def load_lock_inventory():
    """tools/lock_inventory.py as a module (it is not in a package)."""
    name = 'cinder_tools_lock_inventory'
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, LOCK_INVENTORY)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module
