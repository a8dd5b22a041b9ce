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


"""What every part of the lock server runner shares: errors, settings."""

import logging
import os

# One logger for the whole runner, whichever module logs.
LOG = logging.getLogger('cinder.stress.lockservers')

HOST = '127.0.0.1'
LOG_FILE_NAME = 'server.log'
REQUIRE_ENV = 'CINDER_TEST_REQUIRE_SERVERS'
KEEP_DIRS_ENV = 'CINDER_TEST_KEEP_SERVER_DIRS'
START_TIMEOUT_ENV = 'CINDER_TEST_SERVER_START_TIMEOUT'
TMPDIR_ENV = 'CINDER_TEST_SERVER_TMPDIR'
SETUP_HINT = 'run tools/test-setup.sh to install the lock servers'

POLL_INTERVAL = 0.02
KILL_TIMEOUT = 10.0


class LockServerError(Exception):
    """A lock server could not be started or controlled."""


class LockServerUnavailable(LockServerError):
    """The binaries of a lock server are not installed."""


def env_flag(name):
    """Whether the environment variable ``name`` is set to a true value."""
    value = os.environ.get(name, '').strip()
    return bool(value) and value != '0'


def tmp_root():
    # Not tempfile.gettempdir(): fixtures.NestedTempfile (used by oslotest)
    # points it to a per-test directory that is removed when the test ends,
    # which would take a shared server's data directory with it.
    for name in (TMPDIR_ENV, 'TMPDIR', 'TEMP', 'TMP'):
        path = os.environ.get(name)
        if path and os.path.isdir(path):
            return path
    return '/tmp'
