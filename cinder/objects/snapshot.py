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

"""The Snapshot record."""

import dataclasses
import typing

from cinder.objects import volume as volume_obj

CREATING = 'creating'
AVAILABLE = 'available'
DELETING = 'deleting'
ERROR = 'error'
ERROR_DELETING = 'error_deleting'
DELETED = 'deleted'


@dataclasses.dataclass
class Snapshot(object):
    """A snapshot of ``volume``, taken when the volume had ``volume_size``.

    ``volume`` is the full parent record, because drivers need the
    parent's ``provider_location`` and ``name`` to find the snapshot.
    """

    volume: volume_obj.Volume
    id: str = dataclasses.field(default_factory=volume_obj.new_id)
    status: str = CREATING
    volume_size: typing.Optional[int] = None
    provider_location: typing.Optional[str] = None
    metadata: typing.Dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.volume_size is None:
            self.volume_size = self.volume.size

    @property
    def volume_id(self):
        return self.volume.id

    @property
    def name(self):
        return 'snapshot-%s' % self.id

    def update(self, values):
        """Apply a driver's model update; unknown fields are an error."""
        for key, value in (values or {}).items():
            if key not in _SNAPSHOT_FIELDS or key == 'volume':
                raise KeyError('Snapshot has no field %r' % key)
            setattr(self, key, value)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['volume'] = self.volume.to_dict()
        return data

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data['volume'] = volume_obj.Volume.from_dict(data['volume'])
        return cls(**data)


_SNAPSHOT_FIELDS = frozenset(f.name for f in dataclasses.fields(Snapshot))
