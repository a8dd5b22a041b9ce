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

"""Exceptions of the volume service.

Every exception carries a plain message. Those raised for bad input name
the option or argument at fault, so that an operator reading a log line
knows what to change.
"""


class CinderException(Exception):
    """Base class of the volume service's own errors."""

    def __init__(self, message):
        super(CinderException, self).__init__(message)
        self.msg = message


class ConfigurationError(CinderException, ValueError):
    """An option has a value the service cannot work with."""


class NotFound(CinderException):
    """A volume, snapshot or other resource does not exist."""


class VolumeNotFound(NotFound):
    def __init__(self, volume_id, message=None):
        super(VolumeNotFound, self).__init__(
            message or 'Volume %s could not be found.' % volume_id)
        self.volume_id = volume_id


class SnapshotNotFound(NotFound):
    def __init__(self, snapshot_id, message=None):
        super(SnapshotNotFound, self).__init__(
            message or 'Snapshot %s could not be found.' % snapshot_id)
        self.snapshot_id = snapshot_id


class Invalid(CinderException):
    """A request is not valid in the current state of its resources."""


class InvalidVolume(Invalid):
    pass


class InvalidSnapshot(Invalid):
    pass


class InvalidInput(Invalid, ValueError):
    pass


class VolumeDriverException(CinderException):
    """A volume driver failed to carry out an operation."""


class VolumeBackendAPIException(VolumeDriverException):
    """The storage backend refused or failed a request."""


class ServiceStartError(CinderException):
    """The volume service cannot start; the message says why."""


class RequestOutcomeUnknown(CinderException):
    """A request was sent and no reply came within the client's bound.

    It may have run, in part or whole, or not at all: the bus delivers at
    most once and says nothing of a request whose service went silent.
    It is never sent again on the caller's behalf. ``address`` names the
    service or cluster, ``request`` the method and the records' ids.
    """

    def __init__(self, address, request, waited, cause):
        super(RequestOutcomeUnknown, self).__init__(
            'no reply from %s to %s within %.1f s (%s): the request may or '
            'may not have run; it was not sent again' % (
                address, request, waited, cause))
        self.address = address
        self.request = request
