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

"""Membership of a group at the lock backend (Tooz groups).

A service joins a group with its *capabilities*, a small dict (host,
cluster, address ...), and the backend lists the members and their
capabilities to anyone who asks. A member is listed while its session or
heartbeat lasts: on ZooKeeper its ephemeral node lives as long as its
session, on Redis and etcd as long as the coordinator's heartbeat renews
it. The file backend has no liveness: a member that crashed stays listed
until it joins again or leaves; :func:`is_gone` tells such members from
live ones where it can (on this machine).

Every call is bounded by ``[coordination] backend_timeout`` and its
errors are converted at one boundary, as for locks: a backend that does
not answer raises :class:`~cinder.coordination.BackendUnavailable`.
"""

import json
import os

import tooz

from cinder.coordination import bounded
from cinder.coordination import exceptions


def machine_id():
    """This machine's id and boot: members with it share a process table.

    ``/etc/machine-id`` and the kernel's boot id; None if neither exists.
    """
    parts = []
    for path in ('/etc/machine-id', '/proc/sys/kernel/random/boot_id'):
        try:
            with open(path) as f:
                parts.append(f.read().strip())
        except OSError:
            pass
    return '/'.join(parts) or None


def is_gone(capabilities, machine=None):
    """True when the member's process is known to be gone.

    Known only for a member of this machine (same :func:`machine_id`)
    whose recorded pid no longer runs; False otherwise.
    """
    machine = machine if machine is not None else machine_id()
    pid = capabilities.get('pid')
    if not machine or capabilities.get('machine') != machine or not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError):
        return False
    return False


class Group(object):
    """The group ``name`` of a started coordinator's backend.

    :raises CoordinationError: (every method) the coordinator is not
        started.
    :raises BackendUnavailable: (every method) the backend did not answer
        within ``[coordination] backend_timeout``.
    """

    def __init__(self, coordinator, name):
        self._coordinator = coordinator
        self.name = name
        self._id = name.encode('utf-8')

    def _run(self, what, call):
        backend = self._coordinator.backend
        if backend is None:
            raise exceptions.CoordinationError(
                'the coordinator is not started')
        try:
            return bounded.run_bounded(
                '%s group %s' % (what, self.name), backend,
                lambda: call(backend.driver))
        except Exception as e:
            raise backend.translate('%s group %s' % (what, self.name),
                                    e) from None

    def _ensure(self, driver):
        try:
            driver.create_group(self._id).get()
        except tooz.coordination.GroupAlreadyExist:
            pass

    def join(self, capabilities):
        """Join with ``capabilities`` (JSON-serializable dict).

        Joins again (with the new capabilities) if this member was in.
        """
        data = json.dumps(capabilities, sort_keys=True).encode('utf-8')

        def join(driver):
            self._ensure(driver)
            try:
                driver.join_group(self._id, capabilities=data).get()
            except tooz.coordination.MemberAlreadyExist:
                # Not every driver updates capabilities (file does not).
                driver.leave_group(self._id).get()
                driver.join_group(self._id, capabilities=data).get()
            return True

        self._run('Joining', join)

    def leave(self):
        """Leave the group; nothing if this member was not in it."""

        def leave(driver):
            try:
                driver.leave_group(self._id).get()
            except (tooz.coordination.MemberNotJoined,
                    tooz.coordination.GroupNotCreated):
                pass
            return True

        self._run('Leaving', leave)

    def members(self):
        """``{member id: capabilities}`` of the members listed now.

        A member whose capabilities cannot be read (it left meanwhile)
        is left out; unreadable capabilities are ``{}``.
        """

        def members(driver):
            try:
                ids = driver.get_members(self._id).get()
            except tooz.coordination.GroupNotCreated:
                return {}
            found = {}
            for member in ids:
                try:
                    raw = driver.get_member_capabilities(self._id,
                                                         member).get()
                except tooz.coordination.MemberNotJoined:
                    continue
                found[_text(member)] = _decode(raw)
            return found

        return self._run('Listing', members)


def _text(member_id):
    if isinstance(member_id, bytes):
        return member_id.decode('utf-8', 'replace')
    return str(member_id)


def _decode(raw):
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw.decode('utf-8') if isinstance(raw, bytes)
                           else raw)
    except (ValueError, TypeError, AttributeError):
        return {}
    return value if isinstance(value, dict) else {}
