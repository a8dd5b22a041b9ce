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

"""Skip, or fail in CI, a test that needs network namespaces."""

from cinder.stress import lockservers
from cinder.stress import netns


def require(test, what, also=()):
    """Skip ``test`` when namespaces cannot be made; fail it in CI.

    :param what: the subject of the message ("hosts apart need ...").
    :param also: other missing prerequisites to report with them.
    """
    lacking = netns.missing() + list(also)
    if lacking:
        message = '%s %s' % (what, ', '.join(lacking))
        if lockservers.env_flag(lockservers.REQUIRE_ENV):
            test.fail(message)
        test.skipTest(message)
