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

Only the legacy lock helpers live here now: :func:`synchronized` and
:func:`synchronized_remove`, with the signatures that upstream Cinder's
``cinder.utils`` got from oslo.concurrency
(``lockutils.synchronized_with_prefix('cinder-')`` and
``lockutils.remove_external_lock_file_with_prefix('cinder-')``). New code
uses :mod:`cinder.coordination` directly.
"""

import glob
import threading
import warnings

from oslo_log import log as logging

from cinder import coordination

LOG = logging.getLogger(__name__)

_warned = False
_warned_lock = threading.Lock()
#: (call site, ignored argument names) already warned about.
_warned_ignored = set()

#: Why each oslo.concurrency argument no longer applies to a lock taken
#: through cinder.coordination.
_NO_LONGER = {
    'external': 'the lock excludes every service on the lock backend, '
                'not only the threads of this process',
    'lock_path': 'lock files, if any, live where [coordination] '
                 'backend_url says',
    'lock_file_prefix': 'every cinder.coordination lock name starts '
                        'with cinder-',
    'semaphores': 'the lock is not taken from that set of semaphores',
    'delay': 'the lock backend decides how a waiter waits',
    'fair': 'the lock backend decides which waiter goes first',
}


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


def _check_name(helper, name):
    if not isinstance(name, str) or not name:
        raise coordination.LockNameError(
            '%s(): name must be a non-empty string, got %r' % (helper, name))


def _ignored(external=True, lock_file_prefix=None, **others):
    """The arguments given that ask for what a coordination lock won't do.

    ``external=True`` is not among them (a lock that excludes the whole
    cluster excludes the host too), nor a prefix that is Cinder's own.
    """
    ignored = []
    if not external:
        ignored.append(('external=False', 'external'))
    if lock_file_prefix is not None and \
            lock_file_prefix.rstrip('-') != 'cinder':
        ignored.append(('lock_file_prefix=%r' % (lock_file_prefix,),
                        'lock_file_prefix'))
    for arg in ('lock_path', 'semaphores', 'delay'):
        if others.get(arg) is not None:
            ignored.append((arg, arg))
    if others.get('fair'):
        ignored.append(('fair=True', 'fair'))
    return ignored


def _warn_ignored(call, name, site, where, ignored):
    """Log once per call ``site`` which arguments no longer apply."""
    key = (site, tuple(ignored))
    with _warned_lock:
        if key in _warned_ignored:
            return
        _warned_ignored.add(key)
    LOG.warning('%s(%r)%s: the lock is the cinder.coordination lock '
                'cinder-%s, and these arguments no longer apply: %s', call,
                name, where, name, '; '.join(
                    '%s (%s)' % (shown, _NO_LONGER[arg])
                    for shown, arg in ignored))


def _as_template(name):
    """The lock name template that stands for ``name`` literally."""
    return name.replace('{', '{{').replace('}', '}}')


def synchronized(name, external=True, lock_path=None, *,
                 lock_file_prefix=None, semaphores=None, delay=None,
                 fair=False, blocking=True):
    """Deprecated: run the decorated function holding the lock ``name``.

    Out-of-tree drivers written against the old host-local helper keep
    working, and become safe Active/Active: the lock is the
    :mod:`cinder.coordination` lock called ``cinder-<name>`` (the name the
    old file lock had), taken by :func:`cinder.coordination.synchronized`
    with every behaviour of that decorator. ``name`` is used literally,
    not as a template: braces in it are kept.

    Every argument of oslo.concurrency's ``synchronized`` is accepted.
    ``blocking`` applies: with False, a lock another holder has raises
    :class:`cinder.coordination.LockAcquireFailed` (not oslo.concurrency's
    ``AcquireLockFailedException``) and the function does not run.
    ``external`` and ``lock_file_prefix`` are only read to warn: the lock
    is a coordination lock whatever ``external`` says, because a lock that
    excludes less than every service of the cluster protects nothing.
    ``external=False``, a prefix other than ``cinder-``, ``lock_path``,
    ``semaphores``, ``delay`` and ``fair=True`` no longer apply: each
    function decorated with one of them logs a WARNING, once, that says
    which and why.

    The first use in a process logs one deprecation warning.

    :raises LockNameError: ``name`` is not a non-empty string.
    """
    _check_name('synchronized', name)
    ignored = _ignored(external=external, lock_file_prefix=lock_file_prefix,
                       lock_path=lock_path, semaphores=semaphores,
                       delay=delay, fair=fair)
    locked = coordination.synchronized(_as_template(name), blocking=blocking)

    def decorator(func):
        _warn_deprecated(func)
        if ignored:
            # An inner function decorated at each call has one code object.
            _warn_ignored('cinder.utils.synchronized', name,
                          getattr(func, '__code__', func),
                          ' on %s.%s' % (func.__module__, func.__qualname__),
                          ignored)
        return locked(func)

    return decorator


def synchronized_remove(name, *, lock_path=None, lock_file_prefix=None,
                        semaphores=None):
    """Deprecated: remove the lock file of the lock ``name``.

    What upstream's ``cinder.utils.synchronized_remove`` did for the file
    lock ``cinder-<name>``, routed to
    :func:`cinder.coordination.synchronized_remove`: ``name`` is one exact
    lock name (glob characters in it are matched literally), the file is
    left alone while any process holds its lock, and only the ``file://``
    backend keeps lock files at all. ``lock_path``, ``semaphores`` and a
    prefix other than ``cinder-`` no longer apply, and log a WARNING once
    per set of them.

    :returns: how many lock files were removed, 0 or 1 (upstream returned
        None).
    :raises LockNameError: ``name`` is not a non-empty string.
    :raises CoordinationError: the coordinator is not started.
    """
    _check_name('synchronized_remove', name)
    ignored = _ignored(lock_file_prefix=lock_file_prefix,
                       lock_path=lock_path, semaphores=semaphores)
    if ignored:
        _warn_ignored('cinder.utils.synchronized_remove', name, None, '',
                      ignored)
    return coordination.synchronized_remove(glob.escape(name))
