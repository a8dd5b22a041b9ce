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

"""A sample out-of-tree volume driver package with legacy locks.

tools/lock_inventory.py reads it; nothing imports it (it needs
oslo.concurrency and fasteners, and stestr does not look here because
``legacy_driver`` is not a package). The tests in
cinder/tests/unit/tools/test_lock_inventory.py check every lock of it by
line number: update them when you edit these files.
"""
