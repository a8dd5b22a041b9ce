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

"""Helpers kept for out-of-tree code.

Only the legacy lock decorator lives here now; new code uses
:mod:`cinder.coordination` directly.
"""

import functools
import threading
import warnings

from oslo_log import log as logging

from cinder import coordination

LOG = logging.getLogger(__name__)

_warned = False
_warned_lock = threading.Lock()


def _warn_deprecated(func):
    global _warned
    with _warned_lock:
        if _warned:
            return
        _warned = True
    message = ('cinder.utils.synchronized() is deprecated and now takes a '
               'cinder.coordination lock (first used by %s.%s); use '
               'cinder.coordination.synchronized() instead' %
               (func.__module__, func.__qualname__))
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    LOG.warning('%s', message)


def synchronized(name, external=True, lock_path=None):
    """Deprecated: run the decorated function holding the lock ``name``.

    Out-of-tree drivers written against the old host-local helper keep
    working, and become safe Active/Active: the lock is a
    :mod:`cinder.coordination` lock called ``cinder-<name>`` (the name the
    old file lock had), whatever ``external`` says, because a lock that
    excludes less than every service of the cluster protects nothing.
    ``lock_path`` is ignored: file locks live in ``[coordination]
    backend_url``. ``name`` is used literally, not as a template.

    The first use in a process logs one deprecation warning.
    """
    if not isinstance(name, str) or not name:
        raise coordination.LockNameError(
            'synchronized(): name must be a non-empty string, got %r' %
            (name,))

    def decorator(func):
        _warn_deprecated(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with coordination.COORDINATOR.get_lock(name):
                return func(*args, **kwargs)

        return wrapper

    return decorator
