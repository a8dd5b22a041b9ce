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

"""Removal of what locks of deleted resources leave behind.

For ``cinder-manage util clean_locks``. Lock names that carry the id of a
volume or a snapshot outlive it when a service missed the removal (it
crashed, or an older release did not remove them). With the file backend
each lock name leaves a file ``cinder-<name>`` in the lock directory;
:func:`clean_leftovers` removes those of deleted resources, asking the
backend (:class:`cinder.coordination.backends.base.Backend`) what is
left and removing it through
:meth:`cinder.coordination.Coordinator.remove_lock`, which leaves the
leftovers of a lock alone while any process holds it, so running this
while the services run is safe.
"""

import dataclasses
import glob
import re

#: A volume or snapshot id inside a lock name.
_RESOURCE_ID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
                          r'[0-9a-f]{4}-[0-9a-f]{12}')


class NotAFileBackend(Exception):
    """The configured backend keeps no lock files."""


@dataclasses.dataclass
class CleanupResult(object):
    """Names of the locks whose leftovers were found, by their fate.

    ``directory`` is where the leftovers are, ``kind`` what one is called
    (``lock file``).
    """

    directory: str
    removed: list = dataclasses.field(default_factory=list)
    in_use: list = dataclasses.field(default_factory=list)
    existing: list = dataclasses.field(default_factory=list)
    backend_wide: list = dataclasses.field(default_factory=list)
    kind: str = 'lock file'


def resource_ids_in(name):
    """The volume and snapshot ids a lock name mentions."""
    return set(_RESOURCE_ID.findall(name.lower()))


def clean_lock_files(coordinator, existing=None, dry_run=False):
    """Remove lock files of deleted resources, or all of them.

    :func:`clean_leftovers` on the file backend only.

    :raises NotAFileBackend: the coordinator's backend has no lock files.
    """
    backend = coordinator.backend
    directory = getattr(backend, 'directory', None)
    if backend is None or backend.distributed or directory is None:
        raise NotAFileBackend(
            'lock backend %s keeps no lock files' % (
                backend.masked_url if backend is not None else '(none)'))
    return clean_leftovers(coordinator, existing, dry_run)


def clean_leftovers(coordinator, existing=None, dry_run=False):
    """Remove the leftovers of locks of deleted resources, or all of them.

    :param coordinator: a started coordinator.
    :param existing: a :class:`cinder.volume.driver.ResourceIds` of the
        volumes and snapshots that exist: leftovers of locks whose name
        names none of them are removed, those that name one or no id at
        all (backend-wide locks) are kept. ``None`` removes the leftovers
        of every lock: only when no service uses the backend.
    :param dry_run: report what would be removed, remove nothing.
    :raises OSError: the lock directory cannot be read or changed.
    """
    backend = coordinator.backend
    keep = None
    if existing is not None:
        keep = {i.lower() for i in existing.volumes | existing.snapshots}
    result = CleanupResult(backend.leftovers_place(),
                           kind=backend.leftover_kind)
    prefix = coordinator.prefix
    for name in backend.list_lock_names(prefix):
        if keep is not None:
            ids = resource_ids_in(name)
            if not ids:
                result.backend_wide.append(name)
                continue
            if ids & keep:
                result.existing.append(name)
                continue
        if dry_run:
            result.removed.append(name)
        elif coordinator.remove_lock(glob.escape(name[len(prefix):])):
            result.removed.append(name)
        elif backend.has_leftover(name):
            result.in_use.append(name)
    return result
