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

"""The records a client command created, kept in a private directory.

This tree has no database: whoever sends a request to a volume service
owns the records it sends. ``cinder-volume-request`` keeps the volumes
and snapshots it created between its runs, so that a later request
(snapshot, extend, delete) can send the record again by its id.

One JSON file per record, ``<id>.json``, holding the record as the bus
carries it (a versioned dict, :func:`cinder.messaging.serialize`). A
record is replaced atomically: it is written to a temporary file of the
same directory, synced, then renamed over the old one. A write that fails
leaves the old record as it was, and no temporary file.
"""

import json
import os
import re
import tempfile

from cinder import messaging

#: The ids this store accepts: a file name, never a path.
_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$')
_SUFFIX = '.json'


class RecordStoreError(Exception):
    """The directory or a record cannot be used; the message says why."""


class UnknownRecord(RecordStoreError):
    """No record of that id (or not of the type asked for)."""


class RecordStore(object):
    """The records under ``path``, a directory private to the user.

    :param path: the directory; created (mode 0700, parents too) by
        :meth:`open` when missing.
    """

    def __init__(self, path):
        self.path = os.path.abspath(os.path.expanduser(path))

    def open(self):
        """Create the directory if needed; check that it is one.

        :raises RecordStoreError: it cannot be created, or is not a
            directory.
        """
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
        except FileExistsError:
            pass    # not a directory: said below
        except OSError as e:
            raise RecordStoreError('state directory %s cannot be created: '
                                   '%s' % (self.path, e.strerror)) from None
        if not os.path.isdir(self.path):
            raise RecordStoreError('state directory %s is not a directory' %
                                   self.path)
        return self

    def _file(self, record_id):
        if not isinstance(record_id, str) or not _ID.match(record_id):
            raise UnknownRecord('%r is not a record id' % (record_id,))
        return os.path.join(self.path, record_id + _SUFFIX)

    def save(self, record):
        """Write ``record`` (a Volume or a Snapshot) under its id.

        :raises OSError: the write failed; the previous record of that id,
            if any, is unchanged and no temporary file is left.
        """
        final = self._file(record.id)
        text = json.dumps(messaging.serialize(record), indent=2,
                          sort_keys=True) + '\n'
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix='.%s.' % record.id,
                                   suffix='.tmp')
        try:
            with os.fdopen(fd, 'w') as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        self._sync_directory()

    def _sync_directory(self):
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self, record_id, kind=None):
        """The record of ``record_id``.

        :param kind: the class the record must be (``objects.Volume``...).
        :raises UnknownRecord: no such record, or not a ``kind``; the
            message names the id and the directory.
        :raises RecordStoreError: the file cannot be read or parsed.
        """
        path = self._file(record_id)
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise UnknownRecord('no record %s in %s (only records created '
                                'by this command, with this --state-dir, '
                                'are known)' % (record_id, self.path)
                                ) from None
        except (OSError, ValueError) as e:
            raise RecordStoreError('record %s cannot be read: %s' % (
                path, e)) from None
        try:
            record = messaging.deserialize(data)
        except Exception as e:
            raise RecordStoreError('record %s cannot be read: %s' % (
                path, e)) from None
        if not messaging.is_record(record):
            raise RecordStoreError('%s does not hold a record' % path)
        if kind is not None and not isinstance(record, kind):
            raise UnknownRecord('record %s is a %s, not a %s' % (
                record_id, type(record).__name__, kind.__name__))
        return record

    def remove(self, record_id):
        """Forget ``record_id``; no error when it is not there."""
        try:
            os.unlink(self._file(record_id))
        except FileNotFoundError:
            return
        self._sync_directory()
