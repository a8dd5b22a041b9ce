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

"""Skip, or fail in CI, a test that needs network namespaces.

And hold the subnet the test's namespaces take their addresses from:
every namespace test and ``--hosts netns`` run on this machine uses one
/24 and takes it in turn (:class:`cinder.stress.netns.MachineLock`).
"""

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


#: Seconds a test waits for the subnet: longer than the longest run that
#: may hold it (a ``--hosts netns --faults`` run of the other stestr
#: worker takes about three minutes), shorter than forever.
SUBNET_WAIT = 900


def hold_subnet(test, subnet, timeout=SUBNET_WAIT):
    """Take ``subnet`` on this machine for the rest of ``test``.

    Call it in ``setUp`` *before* ``super().setUp()``: the test's own
    timeout (``OS_TEST_TIMEOUT``, started there) then counts from when
    the test has the subnet, not from when it began to wait behind a long
    run of another worker. Fails the test, naming the lock file, if the
    subnet is not free within ``timeout`` seconds.
    """
    lock = netns.MachineLock(subnet)
    if not lock.acquire(timeout=timeout):
        test.fail('the subnet %s was not free within %d s: another run '
                  'holds %s' % (subnet, timeout, lock.path))
    test.addCleanup(lock.release)
