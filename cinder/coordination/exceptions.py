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

"""The errors of the lock layer.

Everything the backends raise is converted at one boundary,
:meth:`cinder.coordination.backends.base.Backend.translate`, into one of
these.
"""

import tooz
from tooz import coordination as tooz_coordination


class CoordinationError(tooz.ToozError):
    """Base class of the errors raised by this module."""


class BackendUnavailable(CoordinationError):
    """The lock backend could not be reached or did not answer in time."""


class LockAcquireFailed(CoordinationError,
                        tooz_coordination.LockAcquireFailed):
    """A non-blocking or timed acquire did not get the lock.

    Raised instead of returning ``False`` on every backend, so code never
    runs without the lock it asked for.
    """


class LockLost(CoordinationError):
    """A lock this process held was taken away or cannot be confirmed."""


class FencedOff(LockLost):
    """The storage refused a write: a newer holder of the lock wrote first.

    Raised by storage that checks fencing tokens
    (:mod:`cinder.volume.fenced_record`); nothing was written.
    """


class FencingTokensWentBack(CoordinationError):
    """A store refused the token of a lock that is still held.

    Raised instead of :class:`FencedOff` by
    :meth:`~cinder.coordination.Lock.refused` when the lock is confirmed
    after the refusal: no later grant can have written the newer token,
    so the backend now gives tokens lower than it gave before (it lost
    or was restored from older data). Not a :class:`LockLost`: the lock
    is held, and no other service is in its critical section. Nothing
    was written. ``cinder-manage coordination advance-tokens`` puts the
    backend's tokens past those on the storage.
    """


class LockNotHeld(CoordinationError):
    """A lock was released (or checked) by someone who does not hold it."""


class LockNameError(CoordinationError, ValueError):
    """A lock name or lock name template is invalid."""


class ConfigurationError(CoordinationError, ValueError):
    """A ``[coordination]`` option has a value that cannot work."""
