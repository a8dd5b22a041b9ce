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

"""Removal of leftover lock files, for ``cinder-manage util clean_locks``.

With the file backend every lock name is a file ``cinder-<name>`` in the
lock directory, and names that carry the id of a volume or a snapshot
outlive it when a service missed the removal (it crashed, or an older
release did not remove them). :func:`clean_lock_files` removes them.

A lock file is only ever removed through
:meth:`cinder.coordination.Coordinator.remove_lock`, which leaves a file
alone while any process holds its lock, so running this while the
services run is safe. Only empty regular files whose name starts with the
coordinator's prefix are lock files: the request socket, logs or anything
else an operator keeps in ``$state_path`` are never touched.
"""

import dataclasses
import glob
import os
import re
import stat

#: A volume or snapshot id inside a lock name.
_RESOURCE_ID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
                          r'[0-9a-f]{4}-[0-9a-f]{12}')


class NotAFileBackend(Exception):
    """The configured backend keeps no lock files."""


@dataclasses.dataclass
class CleanupResult(object):
    """Names of the lock files, by what happened to them."""

    directory: str
    removed: list = dataclasses.field(default_factory=list)
    in_use: list = dataclasses.field(default_factory=list)
    existing: list = dataclasses.field(default_factory=list)
    backend_wide: list = dataclasses.field(default_factory=list)


def lock_files(directory, prefix):
    """Sorted names of the lock files in *directory*."""
    names = []
    for entry in os.scandir(directory):
        if not entry.name.startswith(prefix):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            names.append(entry.name)
    return sorted(names)


def resource_ids_in(name):
    """The volume and snapshot ids a lock name mentions."""
    return set(_RESOURCE_ID.findall(name.lower()))


def clean_lock_files(coordinator, existing=None, dry_run=False):
    """Remove lock files of deleted resources, or all of them.

    :param coordinator: a started coordinator on the file backend.
    :param existing: a :class:`cinder.volume.driver.ResourceIds` of the
        volumes and snapshots that exist: files that name none of them are
        removed, files that name one or no id at all (backend-wide locks)
        are kept. ``None`` removes every lock file: only when no service
        uses the directory.
    :param dry_run: report what would be removed, remove nothing.
    :raises NotAFileBackend: the coordinator's backend has no lock files.
    """
    backend = coordinator.backend
    directory = getattr(backend, 'directory', None)
    if backend is None or backend.distributed or directory is None:
        raise NotAFileBackend(
            'lock backend %s keeps no lock files' % (
                backend.masked_url if backend is not None else '(none)'))
    keep = None
    if existing is not None:
        keep = {i.lower() for i in existing.volumes | existing.snapshots}
    result = CleanupResult(directory)
    prefix = coordinator.prefix
    for name in lock_files(directory, prefix):
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
        elif os.path.lexists(os.path.join(directory, name)):
            result.in_use.append(name)
    return result
