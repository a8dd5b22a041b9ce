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

"""The critical-section ledger of validation tools."""

import json
import os
import threading
import time


class Ledger(object):
    """Append-only record of critical sections, for validation tools.

    Each line is a JSON object: ``t`` (``time.monotonic()``, comparable
    between processes of one host), ``event`` (``enter`` right after an
    acquire, ``exit`` right before the release, both inside the critical
    section), ``lock``, ``member``, ``pid``, ``thread``, on ``enter``
    ``waited`` (seconds the acquire took) and, on ``exit``,
    ``lost`` (the reason the lock was lost, or null). A loss found after
    the ``exit`` line was written (by the release itself, or by the
    heartbeat just before it) adds a third line, ``lost``: the section
    before it was not protected to its end. One ``os.write`` of
    one line on a file opened with ``O_APPEND``, so lines of several
    processes never interleave.
    """

    def __init__(self, path, member_id, clock=time.monotonic):
        self.path = path
        self.member_id = member_id
        self._clock = clock
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                           0o600)

    def record(self, event, lock_name, lost=None, waited=None):
        entry = {'t': self._clock(), 'event': event, 'lock': lock_name,
                 'member': self.member_id, 'pid': os.getpid(),
                 'thread': threading.get_ident()}
        if event == 'enter':
            entry['waited'] = waited
        else:
            entry['lost'] = lost
        os.write(self._fd, (json.dumps(entry) + '\n').encode('utf-8'))

    def close(self):
        os.close(self._fd)
