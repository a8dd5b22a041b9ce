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

"""What cinder-aa-stress keeps of its volumes, snapshots and requests.

:class:`Model` holds the records the workload chooses its requests from
and the access modes it takes on a volume around each request;
:class:`Outcome` is one request as sent and answered, saved in the run
model (:mod:`cinder.stress.runmodel`).
"""

import collections
import itertools
import threading
import time

#: Access modes the tool takes on a volume around a request (see
#: :mod:`cinder.stress.workload`), and those each one waits for.
WRITE, REWRITE, READ, OTHER = 'write', 'rewrite', 'read', 'other'
_CONFLICTS = {WRITE: {WRITE, REWRITE, READ, OTHER},
              REWRITE: {WRITE, REWRITE, READ},
              READ: {WRITE, REWRITE},
              OTHER: {WRITE}}


class VolumeRecord(object):
    """A volume as the workload knows it, to choose requests.

    What it may hold is not kept here but replayed from the requests
    (:mod:`cinder.stress.states`).
    """

    def __init__(self, volume):
        self.volume = volume
        self.snapshots = []          # SnapshotRecords, oldest first
        self.exists = True
        self.attachment = None
        self.modes = collections.Counter()

    @property
    def id(self):
        return self.volume.id


class SnapshotRecord(object):
    def __init__(self, snapshot):
        self.snapshot = snapshot
        self.exists = True

    @property
    def id(self):
        return self.snapshot.id


class Outcome(object):
    """What happened to one request."""

    __slots__ = ('n', 'op', 'host', 'start', 'end', 'error_type', 'error',
                 'fault', 'volume_ids', 'args')

    _numbers = itertools.count(1)

    def __init__(self, op, host, volume_ids, args=None):
        self.n = next(self._numbers)
        self.op = op
        self.host = host
        self.volume_ids = volume_ids
        #: What the replay of :mod:`cinder.stress.states` needs to know.
        self.args = args or {}
        self.start = time.monotonic()
        self.end = None
        self.error_type = None
        self.error = None
        self.fault = None

    @property
    def ok(self):
        return self.error_type is None

    def to_dict(self):
        """The request as the saved model holds it."""
        return {'n': self.n, 'op': self.op, 'host': self.host,
                'volumes': list(self.volume_ids), 'args': dict(self.args),
                'start': self.start, 'end': self.end, 'ok': self.ok,
                'error_type': self.error_type, 'error': self.error}


class Model(object):
    """The tool's records, guarded by one lock."""

    def __init__(self):
        self.lock = threading.Condition()
        self.volumes = collections.OrderedDict()

    def live_volumes(self):
        return [v for v in self.volumes.values() if v.exists]

    def live_snapshots(self):
        return [(v, s) for v in self.volumes.values() for s in v.snapshots
                if v.exists and s.exists]

    def try_enter(self, records_modes):
        """Take the access modes, or return False if one conflicts."""
        for record, mode in records_modes:
            busy = {m for m, n in record.modes.items() if n}
            if busy & _CONFLICTS[mode]:
                return False
        for record, mode in records_modes:
            record.modes[mode] += 1
        return True

    def leave(self, records_modes):
        for record, mode in records_modes:
            record.modes[mode] -= 1
        self.lock.notify_all()
