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

"""The Volume and Attachment records."""

import dataclasses
import typing
import uuid

#: Volume states the manager moves between.
CREATING = 'creating'
AVAILABLE = 'available'
IN_USE = 'in-use'
DELETING = 'deleting'
EXTENDING = 'extending'
REVERTING = 'reverting'
ERROR = 'error'
ERROR_DELETING = 'error_deleting'
DELETED = 'deleted'


def new_id():
    return str(uuid.uuid4())


@dataclasses.dataclass
class Attachment(object):
    """One attachment of a volume to a host (and maybe an instance)."""

    id: str
    volume_id: str
    connector: dict
    instance_uuid: typing.Optional[str] = None
    mountpoint: typing.Optional[str] = None
    mode: str = 'rw'
    connection_info: typing.Optional[dict] = None

    @property
    def attached_host(self):
        return self.connector.get('host')

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)


@dataclasses.dataclass
class Volume(object):
    """A volume: ``size`` is in GiB, as in the Block Storage API.

    ``provider_location`` is the driver's own pointer to where the volume
    lives (the share of a RemoteFS volume, for example); the driver sets
    it through the model update it returns from create.
    """

    id: str = dataclasses.field(default_factory=new_id)
    size: int = 1
    status: str = CREATING
    host: typing.Optional[str] = None
    cluster_name: typing.Optional[str] = None
    provider_location: typing.Optional[str] = None
    snapshot_id: typing.Optional[str] = None
    source_volid: typing.Optional[str] = None
    multiattach: bool = False
    attachments: typing.List[Attachment] = dataclasses.field(
        default_factory=list)
    metadata: typing.Dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def name(self):
        return 'volume-%s' % self.id

    @property
    def attach_status(self):
        return 'attached' if self.attachments else 'detached'

    def update(self, values):
        """Apply a driver's model update; unknown fields are an error."""
        for key, value in (values or {}).items():
            if key not in _VOLUME_FIELDS:
                raise KeyError('Volume has no field %r' % key)
            setattr(self, key, value)

    def to_dict(self):
        data = dataclasses.asdict(self)
        return data

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data['attachments'] = [Attachment.from_dict(a) if isinstance(a, dict)
                               else a for a in data.get('attachments', [])]
        return cls(**data)


_VOLUME_FIELDS = frozenset(f.name for f in dataclasses.fields(Volume))
