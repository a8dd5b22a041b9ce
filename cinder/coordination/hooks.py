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

"""Lock hooks: code told when this process enters and leaves a section.

A hook watches the lock layer; it never takes part in it. Validation tools
use hooks to record what the services did (``cinder-aa-stress`` loads the
``ledger`` hook of :mod:`cinder.stress.ledger`, which appends every
critical section to a file); production services run none.

Hooks are named in ``[coordination] hooks`` and loaded with stevedore from
the ``cinder.coordination.hooks`` entry point namespace when the
coordinator starts, or added with
:meth:`cinder.coordination.Coordinator.add_hook`. A hook class is called
as ``Hook(conf, member_id, clock)``: the oslo.config object, this
member's id at the backend and the coordinator's monotonic clock.
"""

import logging

from stevedore import named

from cinder.coordination import exceptions

LOG = logging.getLogger('cinder.coordination')

#: The entry point namespace of lock hooks.
NAMESPACE = 'cinder.coordination.hooks'


class LockHook(object):
    """What a hook is told; each method does nothing by default.

    The methods run in the thread that holds the lock and must be quick.
    An exception they raise is logged at WARNING and otherwise ignored: a
    hook can neither keep a critical section from running nor keep a lock
    from being released.
    """

    def entered(self, lock, waited):
        """*lock* was just acquired, after *waited* seconds.

        Runs inside the critical section, before its body.
        """

    def checked(self, lock, step):
        """*lock* was confirmed held right before *step* of its section.

        *step* is the caller's words for what it does next (see
        :func:`cinder.coordination.ensure_locks_held`), for example
        ``"delete volume-1.0000000000000002"``. Not called when the check
        fails: the step does not run then.
        """

    def lost(self, lock, reason):
        """*lock*, still held, was just declared lost; *reason* says why.

        Unlike the other methods, runs in the thread that found the loss
        (the fence, the heartbeat, the backend's listener), while the
        holder (``lock.holder``, a :class:`threading.Thread`) may still
        be at work in its section: a hook may stop what it runs, for
        example its child processes. Called once per loss.
        """

    def leaving(self, lock):
        """*lock* is about to be released.

        Runs inside the critical section, after its body and before the
        backend is asked to release, so the next holder enters only after
        this returns. ``lock.lost`` says whether a loss is known by now.
        """

    def released(self, lock, lost):
        """*lock* was released; *lost* is why it was lost, or None.

        A loss found by the release itself (the backend no longer had the
        lock) shows here, and not yet in :meth:`leaving`.
        """

    def close(self):
        """The coordinator stopped.

        Locks still held were marked lost just before (``lock.lost``);
        their holders' sections end unprotected.
        """


def load(conf, member_id, clock):
    """The hooks named in ``[coordination] hooks``, created.

    :raises ConfigurationError: a name is not an installed hook, or a hook
        failed to start; the message names ``[coordination] hooks``.
    """
    names = conf.coordination.hooks
    if not names:
        return []
    missing = []

    def load_failed(manager, entry_point, error):
        if isinstance(error, exceptions.ConfigurationError):
            raise error
        raise exceptions.ConfigurationError(
            '[coordination] hooks: hook %s cannot start: %s: %s' % (
                entry_point.name, type(error).__name__, error))

    manager = named.NamedExtensionManager(
        NAMESPACE, names, name_order=True, invoke_on_load=True,
        invoke_args=(conf, member_id, clock),
        on_load_failure_callback=load_failed,
        on_missing_entrypoints_callback=missing.extend)
    if missing:
        for hook in manager:
            close_quietly(hook.obj)
        raise exceptions.ConfigurationError(
            '[coordination] hooks: no hook called %s is installed (entry '
            'point namespace %s)' % (', '.join(sorted(missing)), NAMESPACE))
    return [extension.obj for extension in manager]


def notify(hooks, event, *args):
    """Call *event* on each of *hooks*; log and ignore what they raise."""
    for hook in hooks:
        try:
            getattr(hook, event)(*args)
        except Exception:
            LOG.warning('Lock hook %s failed in %s()', type(hook).__name__,
                        event, exc_info=True)


def close_quietly(hook):
    notify((hook,), 'close')
