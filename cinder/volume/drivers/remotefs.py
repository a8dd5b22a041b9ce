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

"""Volumes stored as image files on shared file systems (RemoteFS).

:class:`RemoteFSDriver` handles shares: loading them, mounting them,
measuring them and picking one for a new volume. :class:`RemoteFSSnapDriver`
adds volumes, snapshots and clones made of ``qemu-img`` images. A concrete
driver (:class:`cinder.volume.drivers.nfs.NfsDriver`) says how shares are
listed and mounted.

Files of a volume
=================

All files of a volume sit in the directory where its share
(``volume.provider_location``) is mounted, and their names start with
``volume.name`` (``volume-<id>``):

``volume-<id>``
    The image the volume was created as, raw or qcow2 (``base_format``).
``volume-<id>.<16 hex digits>``
    qcow2 overlays, made when a snapshot is taken or the volume is
    reverted. Each names its backing file by its bare file name, so the
    chain is valid wherever the share is mounted.
``volume-<id>.info.g<N>``
    The *info file*, kept as a fenced record
    (:mod:`cinder.volume.fenced_record`): its newest generation ``N``
    holds, with the fencing token of its writer, JSON where ``"active"``
    is the file the volume is read and written through, ``"base_format"``
    the format of ``volume-<id>``, and every other key is a snapshot id
    mapped to the file that holds that snapshot's image (the file that
    was active when the snapshot was taken; it is never written again).
    The newest two generations are kept; a deleted volume leaves its last
    one, an empty *tombstone*. A ``volume-<id>.info`` file written before
    generations existed is read until the first change replaces it.

A file other than ``volume-<id>`` is always qcow2, whatever its content;
formats are never guessed from an image's bytes, because a guest can write
a qcow2 header into a raw volume.

Snapshots
=========

The chain runs from the base file to the active file; each snapshot file is
the backing file of the next file up the chain.

Taking a snapshot
    A new empty overlay is made over the active file; the active file
    becomes the snapshot's file and the overlay becomes active.
Deleting the newest snapshot (its file is the active file's backing)
    The active file is folded into the snapshot's file, which becomes the
    active file; the old active file is deleted.
Deleting an older snapshot (its file is the backing of another
snapshot's file, the *child*)
    The snapshot's file is merged into the child, which then backs onto
    the snapshot file's own backing file; the snapshot's file is deleted.
Extending
    The active file grows.

How the images are changed is :mod:`cinder.volume.drivers.chain_rewrites`'
business, chosen by :meth:`RemoteFSSnapDriver._copy_on_write` (for NFS,
``[DEFAULT] nfs_copy_on_write``). Copy-on-write (the default) writes new
files only, and the commit of the info file switches the volume to them:
a snapshot's file that is the base of the chain is only forgotten (it
stays as the volume's base), a fold writes a copy of the snapshot's file
and folds a copy of the active file into it, a merge writes a copy of the
child onto the snapshot's backing file and copies every image above it,
and a volume whose chain is its base alone is grown by a new overlay of
the new size over its base (preallocated for the space added only, for a
thick volume), which becomes the active file. In place,
``qemu-img commit``, ``rebase`` (safe mode) and ``resize`` rewrite the
images the chain uses; deleting the oldest snapshot then copies the data
of the base file into the child, which becomes the new base (qcow2).
Reverting
    Only to the newest snapshot (an older one would orphan the later
    snapshots' files): a new empty overlay over the snapshot's file
    becomes active and the old active file is deleted.

Each step runs in this order: change image data, commit the info file,
delete the files that are no longer used. A crash leaves either the old
info file, whose mapping is still valid, or the new one plus unused
files, which :meth:`RemoteFSSnapDriver.delete_volume` removes with the
volume. Copy-on-write changes nothing the old info file uses. In place,
the commit of the newest snapshot's delete only changes the file of the
snapshot being deleted, and is repeated by a retry; after a crash between
the rebase and the info commit of an older snapshot's delete, that
snapshot's file is no longer in the chain: deleting the snapshot again
finishes the job, and until then deletes of other snapshots and reverts
refuse to run. An operation whose lock is lost stops right
before its next step (see :class:`RemoteFSSnapDriver`) and leaves what a
crash at that point would leave.

Fencing
=======

A lock check cannot stop a holder frozen right after the check passed.
The info file can: every operation that changes a volume first *claims*
its record with the fencing token of the volume's lock
(:meth:`cinder.coordination.Lock.token`), and each commit of the info file
appends a generation with ``link(2)``, which fails for a writer older than
the newest claim (:class:`~cinder.coordination.FencedOff`, a ``LockLost``).
So a holder that lost its lock cannot commit anything once another holder
entered, and since the info file says which files make up the volume,
files it made meanwhile are never used. With copy-on-write, every image
it writes is such a file, so a stale holder can do no harm. In place,
right before each rewrite (``commit``, ``rebase``, ``resize``) the record
is read again and a newer claim stops the step; what remains is a
rewrite that a holder began right before another holder entered, and
that the fence's kill of its ``qemu-img`` has not ended yet: at most the
rewrite's own duration, or the whole freeze of a holder frozen with its
``qemu-img``. For an extend that is ``qemu-img info`` and ``resize``:
46-68 ms for a raw base on a local disk, sparse or ``falloc``, whatever
the size added, but with ``falloc`` where ``fallocate(2)`` fails (NFS
mounts older than 4.2) every block added is written: 1.45 s for 1 GiB
added, 41 s for 16 GiB (``tox -e bench``, its ``grow`` phase). The admin
guide ("Fencing at the storage") gives the measured windows and costs.

Images are changed with ``qemu-img`` and must not be open in a running
guest meanwhile: deleting the newest snapshot, reverting and extending
rewrite the active file, which this driver does without the help of a
hypervisor (``qemu-img`` refuses images that a local QEMU holds locked).
"""

import collections
import contextlib
import glob
import json
import os
import re
import uuid

from oslo_log import log as logging

from cinder import coordination
from cinder import exception
from cinder.image import qemu_img
from cinder.volume import driver
from cinder.volume.drivers import chain_rewrites
from cinder.volume import fenced_record

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3

#: Keys of the info file that are not snapshot ids.
ACTIVE_KEY = 'active'
BASE_FORMAT_KEY = 'base_format'
FORMATS = ('raw', 'qcow2')


class VolumeInfo(object):
    """The contents of a volume's info file.

    :ivar active: name of the file the volume is used through.
    :ivar base_format: format of the file named ``volume.name``.
    :ivar snapshots: dict of snapshot id to the name of its file.
    :ivar generation: see below.
    """

    def __init__(self, active, base_format, snapshots=None):
        self.active = active
        self.base_format = base_format
        self.snapshots = dict(snapshots or {})
        #: The :class:`~cinder.volume.fenced_record.Generation` it was
        #: read as, or last written as; None for a new volume.
        self.generation = None

    def rename(self, renames):
        """Use new file names: *renames* maps old names to new ones."""
        self.active = renames.get(self.active, self.active)
        for snapshot_id, name in self.snapshots.items():
            self.snapshots[snapshot_id] = renames.get(name, name)

    def to_json(self):
        data = dict(self.snapshots)
        data[ACTIVE_KEY] = self.active
        data[BASE_FORMAT_KEY] = self.base_format
        return json.dumps(data, indent=2, sort_keys=True) + '\n'

    @classmethod
    def from_json(cls, text, path, volume_name, default_format):
        """Parse and check *text*, read from *path*.

        :raises VolumeDriverException: naming *path*, when the text is not
            an info file of the volume called *volume_name*.
        """
        try:
            data = json.loads(text)
        except ValueError as e:
            raise exception.VolumeDriverException(
                'Info file %s is not valid JSON (%s); it must be repaired '
                'or restored before the volume can be used' % (path, e))

        def bad(why):
            return exception.VolumeDriverException(
                'Info file %s is invalid: %s' % (path, why))

        if not isinstance(data, dict):
            raise bad('it holds a %s, not a JSON object' %
                      type(data).__name__)
        data = dict(data)
        active = data.pop(ACTIVE_KEY, None)
        base_format = data.pop(BASE_FORMAT_KEY, None)
        if base_format is None:
            # Written by a version that did not record it.
            base_format = default_format
        if base_format not in FORMATS:
            raise bad('"%s" is %r, not one of %s' % (
                BASE_FORMAT_KEY, base_format, ', '.join(FORMATS)))
        if not isinstance(active, str) or not is_volume_file_name(
                volume_name, active):
            raise bad('"%s" is %r, not a file of %s' % (
                ACTIVE_KEY, active, volume_name))
        for snapshot_id, name in data.items():
            if not isinstance(name, str) or not is_volume_file_name(
                    volume_name, name):
                raise bad('snapshot %s maps to %r, not a file of %s' % (
                    snapshot_id, name, volume_name))
            if name == active:
                raise bad('snapshot %s maps to the active file %s' % (
                    snapshot_id, name))
        if len(set(data.values())) != len(data):
            raise bad('two snapshots map to the same file')
        return cls(active, base_format, data)


#: An info file, of the volume called group 1: from before generations,
#: or a generation.
INFO_FILE = re.compile(r'^(volume-[^.]+)\.info(?:\.g([0-9]+))?$')


#: A file of a volume's info file's record: a generation or the head.
_RECORD_FILE = re.compile(r'^(volume-[^.]+)\.info\.(?:g[0-9]+|head)$')


def _record_file_of(name):
    """The volume name whose info file *name* is a file of, or None."""
    match = _RECORD_FILE.match(name)
    return match.group(1) if match else None


def is_volume_file_name(volume_name, name):
    """Whether *name* may be an image file of the volume *volume_name*.

    The volume's base file or ``<volume_name>.<suffix>``; never a path,
    never the info file or a temporary file.
    """
    match = re.match(r'^%s(\.[A-Za-z0-9_-]+)?$' % re.escape(volume_name),
                     name)
    return bool(match) and name != volume_name + '.info'


class RemoteFSDriver(driver.VolumeDriver):
    """Base of drivers whose volumes are files on mounted shares.

    Subclasses implement :meth:`_load_shares_config`,
    :meth:`_get_mount_point_for_share` and :meth:`_mount_share`. Shares are
    listed in ``self.shares`` (share -> mount options or None) and those
    that could be mounted in ``self._mounted_shares``, in configuration
    order.

    Nothing here takes a lock: mounting a share twice is harmless (an
    existing mount is detected) and capacity figures are read-only.
    """

    #: Start of the names of this driver's locks.
    driver_prefix = 'remotefs'
    #: ``driver_volume_type`` of the connection info.
    driver_volume_type = 'remotefs'
    #: ``storage_protocol`` reported in the stats.
    storage_protocol = 'remotefs'
    #: The option that lists the shares, for error messages.
    shares_config_option = 'shares_config'

    def __init__(self, configuration=None, host=None):
        super(RemoteFSDriver, self).__init__(configuration=configuration,
                                             host=host)
        self.shares = {}
        self._mounted_shares = []
        self._stats = None

    # Subclass hooks ------------------------------------------------------

    def _load_shares_config(self):
        """The configured shares: an ordered dict share -> mount options."""
        raise NotImplementedError()

    def _get_mount_point_for_share(self, share):
        """The local directory through which *share* is reached."""
        raise NotImplementedError()

    def _mount_share(self, share, options):
        """Make *share* reachable at its mount point; raise if it cannot."""
        raise NotImplementedError()

    # Shares --------------------------------------------------------------

    def do_setup(self):
        self.shares = self._load_shares_config()
        self._ensure_shares_mounted()

    def _ensure_shares_mounted(self):
        """Mount every configured share; fail if none can be mounted."""
        mounted = []
        errors = []
        for share in self.shares:
            try:
                self._ensure_share_mounted(share)
            except Exception as e:
                LOG.error('Share %s cannot be used: %s', share, e)
                errors.append('%s: %s' % (share, e))
            else:
                mounted.append(share)
        self._mounted_shares = mounted
        if not mounted:
            raise exception.VolumeDriverException(
                'None of the shares listed in %s could be mounted: %s' % (
                    self.shares_config_option, '; '.join(errors) or
                    'no shares'))
        LOG.info('Shares in use: %s', ', '.join(mounted))

    def _ensure_share_mounted(self, share):
        """Mount *share* unless it is; return its mount point."""
        self._mount_share(share, self.shares.get(share))
        return self._get_mount_point_for_share(share)

    def _share_dir(self, share):
        """The directory of *share*, mounting it if needed.

        Also serves shares that are no longer configured but still hold
        volumes.
        """
        if share in self._mounted_shares:
            return self._get_mount_point_for_share(share)
        path = self._ensure_share_mounted(share)
        return path

    def list_resource_ids(self):
        """Volumes with any file on a mounted share, and their snapshots.

        Shares that are no longer configured are not read; the lock files
        of their volumes count as those of deleted volumes.
        """
        found = driver.ResourceIds(set(), set())
        for share in self._mounted_shares:
            directory = self._get_mount_point_for_share(share)
            names = self._live_names(directory, os.listdir(directory))
            ids = driver.resource_ids_in(names)
            found.volumes.update(ids.volumes)
            found.snapshots.update(
                self._snapshot_ids_in(directory, names, ids.volumes))
        return found

    def _live_names(self, directory, names):
        """*names* (in *directory*) but those of deleted volumes."""
        return names

    def _snapshot_ids_in(self, directory, names, volume_ids):
        """Ids of the snapshots of *volume_ids* kept in *directory*."""
        return set()

    def _get_capacity_info(self, share):
        """(total bytes, free bytes) of *share*."""
        st = os.statvfs(self._get_mount_point_for_share(share))
        return st.f_frsize * st.f_blocks, st.f_frsize * st.f_bavail

    def _find_share(self, volume):
        """The mounted share with the most usable space for *volume*.

        Usable space is the free space less ``reserved_percentage`` of the
        share's total; the volume's full size must fit, sparse or not.
        """
        if not self._mounted_shares:
            raise exception.VolumeDriverException(
                'No share is mounted; check %s and the log of the driver '
                'setup' % self.shares_config_option)
        needed = volume.size * GiB
        reserved = self.configuration.reserved_percentage
        best = None
        seen = []
        for share in self._mounted_shares:
            try:
                total, free = self._get_capacity_info(share)
            except OSError as e:
                LOG.warning('Cannot read the capacity of share %s: %s',
                            share, e)
                seen.append('%s: unreadable (%s)' % (share, e))
                continue
            usable = free - total * reserved / 100.0
            seen.append('%s: %.2f GiB usable' % (share, max(usable, 0) / GiB))
            if usable >= needed and (best is None or usable > best[1]):
                best = (share, usable)
        if best is None:
            raise exception.VolumeDriverException(
                'No share has room for volume %s (%d GiB) with '
                'reserved_percentage = %d: %s' % (
                    volume.id, volume.size, reserved, '; '.join(seen)))
        LOG.debug('Volume %s goes to share %s', volume.id, best[0])
        return best[0]

    # Stats ---------------------------------------------------------------

    def _update_volume_stats(self):
        total = free = 0
        for share in self._mounted_shares:
            try:
                share_total, share_free = self._get_capacity_info(share)
            except OSError as e:
                LOG.warning('Cannot read the capacity of share %s: %s',
                            share, e)
                continue
            total += share_total
            free += share_free
        stats = super(RemoteFSDriver, self).get_volume_stats()
        stats.update(
            storage_protocol=self.storage_protocol,
            driver_volume_type=self.driver_volume_type,
            total_capacity_gb=round(total / float(GiB), 2),
            free_capacity_gb=round(free / float(GiB), 2),
            shares=len(self._mounted_shares),
        )
        self._stats = stats

    def get_volume_stats(self, refresh=False):
        if refresh or self._stats is None:
            self._update_volume_stats()
        return dict(self._stats)


class RemoteFSSnapDriver(RemoteFSDriver):
    """Volumes as ``qemu-img`` images on shares, with qcow2 snapshots.

    Locks
    =====

    Several ``cinder-volume`` services, on different hosts, mount the same
    shares and may act on the same volume. Each operation on a volume
    therefore holds the :mod:`cinder.coordination` lock
    ``<driver_prefix>-<volume id>`` (``nfs-<id>`` for NFS), which excludes
    every other service of the cluster. It protects:

    * the chain of image files: two operations that rewrite it at the same
      time (a snapshot being taken while another is deleted, a clone
      reading a file a delete is merging away) would corrupt it or read a
      file that vanishes;
    * the info file, which every operation reads and then replaces: without
      the lock two services would each write their own version and one
      change would be lost, leaving files that no info file mentions or
      an info file that names deleted files.

    Snapshot operations take the lock of the snapshot's volume. A clone
    (:meth:`create_cloned_volume`) holds the lock of the source and of the
    new volume, and a volume made from a snapshot the lock of the
    snapshot's volume and of the new volume, through one
    :func:`~cinder.coordination.synchronized` call, which acquires them in
    sorted order so two such calls never deadlock. These locks are the
    driver's own; the manager's (``<id>-delete_volume`` ...) order whole
    requests against each other.

    Right before each step that changes the share the driver calls
    :func:`cinder.coordination.ensure_locks_held`, with no other change in
    between: before making an image (``qemu-img create`` or ``convert``),
    before rewriting one in place (``commit``, ``rebase``, ``resize``),
    before replacing an info file and before deleting each file. If the
    lock was lost (its lease expired), another service may be in the same
    critical section, and the operation stops with
    :class:`~cinder.coordination.LockLost` before that step; it changes
    nothing more, not even to clean up after itself (files it made are
    left for :meth:`delete_volume`). A loss that happens while a step runs
    is seen at the next check.

    Subclass hooks: :meth:`_volume_format`, :meth:`_sparse_volumes` and
    :meth:`_snapshots_supported`.
    """

    #: Message for disabled snapshots; subclasses name their option.
    snapshot_support_option = 'snapshot_support'

    def _records_in(self, directory, names):
        """{volume name: (record, newest Generation)} among *names*.

        *names* is a listing of *directory*: each record is read from the
        generations it shows and lookups of names, so that reading every
        record of a share costs one listing, not one per record.

        :raises VolumeDriverException: naming a generation that cannot be
            read or parsed, rather than guessing.
        """
        found = {}
        for record, known in self._info_records(directory, names):
            volume_name = os.path.basename(record.path)[:-len('.info')]
            try:
                found[volume_name] = (record, record.read(known))
            except OSError as e:
                raise exception.VolumeDriverException(
                    'Info file %s cannot be read: %s' % (record.path, e))
        return found

    @staticmethod
    def _info_records(directory, names):
        """(record, generation numbers listed) of each info file in *names*.

        *names* is a listing of *directory*.
        """
        numbers = collections.defaultdict(list)
        for name in names:
            match = INFO_FILE.match(name)
            if match:
                known = numbers[match.group(1)]
                if match.group(2) is not None:
                    known.append(int(match.group(2)))
        return [(fenced_record.FencedRecord(
            os.path.join(directory, volume_name + '.info')), known)
            for volume_name, known in numbers.items()]

    def _live_names(self, directory, names):
        """*names* but the files of deleted volumes' info files."""
        ended = set(volume_name for volume_name, (_, generation) in
                    self._records_in(directory, names).items()
                    if generation is not None and generation.text is None)
        return [name for name in names
                if _record_file_of(name) not in ended]

    def _snapshot_ids_in(self, directory, names, volume_ids):
        """The snapshots listed by the info files among *names*.

        :raises VolumeDriverException: naming an info file that cannot be
            read or parsed, rather than guessing its snapshots.
        """
        found = set()
        for volume_name, (record, generation) in self._records_in(
                directory, names).items():
            if (volume_name[len('volume-'):].lower() not in volume_ids or
                    generation is None or generation.text is None):
                continue
            info = VolumeInfo.from_json(
                generation.text, record.path_of(generation), volume_name,
                self._volume_format())
            found.update(s.lower() for s in info.snapshots)
        return found

    # Subclass hooks ------------------------------------------------------

    def _volume_format(self):
        """Format of new volumes: ``raw`` or ``qcow2``."""
        return 'raw'

    def _sparse_volumes(self):
        """Whether new volumes are sparse files."""
        return True

    def _snapshots_supported(self):
        return True

    def _check_snapshots_supported(self, what):
        if not self._snapshots_supported():
            raise exception.VolumeDriverException(
                '%s: snapshots are disabled on this backend; set %s = True '
                'to enable them' % (what, self.snapshot_support_option))

    def _preallocation(self):
        return None if self._sparse_volumes() else 'falloc'

    # Files ---------------------------------------------------------------

    @staticmethod
    def _info_path_in(directory, volume):
        return os.path.join(directory, volume.name + '.info')

    def _record(self, directory, volume):
        """The :class:`~.fenced_record.FencedRecord` of the info file."""
        return fenced_record.FencedRecord(
            self._info_path_in(directory, volume))

    def _writer(self, directory, volume):
        """(record, token): the info file, as this lock's holder writes it.

        With the fencing token of this thread's lock on *volume*, and that
        token's source.

        :raises LockNotHeld: the lock is not held (a bug of the caller).
        :raises LockLost: the lock was lost.
        """
        lock = coordination.held_lock('%s-%s' % (self.driver_prefix,
                                                 volume.id))
        token = lock.token()
        return fenced_record.FencedRecord(
            self._info_path_in(directory, volume),
            source=lock.token_source), token

    def _claimed(self, volume, claim):
        """``claim()`` of the info file's record, a refusal explained.

        A claim refused while this thread's lock on *volume* is still
        held cannot be a newer holder's doing: the lock backend's tokens
        went back (:meth:`cinder.coordination.Lock.refused` checks the
        lock and says so).

        :raises FencedOff: a newer holder claimed the record.
        :raises FencingTokensWentBack: the lock is still held.
        """
        try:
            return claim()
        except coordination.FencedOff as refusal:
            lock = coordination.held_lock('%s-%s' % (self.driver_prefix,
                                                     volume.id))
            raise lock.refused(refusal) from None

    def highest_fencing_token(self, source):
        """The highest token of *source* on the info files of the shares.

        The newest generation of every info file (tombstones included) on
        every mounted share, each share read from one listing; only the
        generations written under tokens of *source* count. A generation
        that cannot be parsed is skipped with a WARNING: its token refuses
        no writer (a claim fails on it first, and a delete ends it as if
        its token were 0).

        :returns: the highest token, or 0 if no info file holds one.
        :raises OSError: a share cannot be listed or a file read.
        """
        highest = 0
        for share in self._mounted_shares:
            directory = self._get_mount_point_for_share(share)
            for record, known in self._info_records(directory,
                                                    os.listdir(directory)):
                try:
                    generation = record.read(known)
                except exception.VolumeDriverException as e:
                    LOG.warning('Skipping info file %s: %s', record.path, e)
                    continue
                if generation is not None and generation.source == source:
                    highest = max(highest, generation.token)
        return highest

    def volume_info_path(self, volume):
        """Path of the info file of *volume*."""
        return self._info_path_in(self._share_dir(volume.provider_location),
                                  volume)

    def local_path(self, volume):
        """Path of the active image of *volume* on this host."""
        directory, info = self._load(volume)
        return os.path.join(directory, info.active)

    def _format_of(self, volume, info, name):
        return info.base_format if name == volume.name else 'qcow2'

    def _volume_files(self, directory, volume):
        """Every file of *volume* in *directory* (images, info, temps)."""
        prefix = os.path.join(directory, glob.escape(volume.name))
        found = glob.glob(prefix) + glob.glob(prefix + '.*')
        return sorted(set(found))

    def _new_overlay_name(self, directory, volume):
        while True:
            name = '%s.%s' % (volume.name, uuid.uuid4().hex[:16])
            if not os.path.lexists(os.path.join(directory, name)):
                return name

    def _read_info(self, directory, volume, claim=False):
        """Read the info file of *volume* in *directory*.

        :param claim: claim the record for this thread's lock on the
            volume first (see the module doc), as every operation that
            changes the volume does.
        :returns: a :class:`VolumeInfo` whose ``generation`` is the one
            read (and claimed).
        :raises VolumeNotFound: the volume has no file at all, or was
            deleted.
        :raises VolumeDriverException: naming the info file, when it is
            missing although image files exist, or is unreadable.
        :raises FencedOff: *claim* and a newer holder claimed it.
        :raises FencingTokensWentBack: *claim*, and the record holds a
            newer token although the lock is still held (see
            :meth:`_claimed`).
        """
        path = self._info_path_in(directory, volume)
        record = self._record(directory, volume)
        try:
            generation = record.read()
        except OSError as e:
            raise exception.VolumeDriverException(
                'Info file %s of volume %s cannot be read: %s' % (
                    path, volume.id, e))
        if claim and generation is not None and generation.text is not None:
            # Damage is reported in the file that holds it, before a claim
            # copies it into a new generation.
            VolumeInfo.from_json(generation.text, record.path_of(generation),
                                 volume.name, self._volume_format())
            writer, token = self._writer(directory, volume)
            generation = self._claimed(volume, lambda: writer.claim(
                token, before_append=lambda: coordination.ensure_locks_held(
                    step='commit %s' % os.path.basename(record.path))))
        if generation is not None and generation.text is None:
            raise exception.VolumeNotFound(
                volume.id, 'Volume %s not found: it was deleted (%s is a '
                'tombstone)' % (volume.id,
                                record.generation_path(generation.number)))
        if generation is None:
            if self._volume_files(directory, volume):
                raise exception.VolumeDriverException(
                    'Info file %s of volume %s is missing, but files of the '
                    'volume exist; restore it before using the volume' % (
                        path, volume.id))
            raise exception.VolumeNotFound(
                volume.id, 'Volume %s not found: %s does not exist' % (
                    volume.id, path))
        info = VolumeInfo.from_json(
            generation.text, record.path_of(generation), volume.name,
            self._volume_format())
        info.generation = generation
        return info

    def _write_info(self, directory, volume, info):
        """Commit *info* as the next generation of the volume's record.

        On the generation *info* was read as (``info.generation``), or as
        the first one for a new volume. The generation is written to a
        temporary file, synced, and linked into place; if anything fails
        the temporary file is removed and the record is as it was.

        :raises LockLost: the volume's lock was lost; nothing was changed.
        :raises FencedOff: a newer holder of the lock claimed the record;
            nothing was changed.
        """
        record, token = self._writer(directory, volume)

        def check():
            coordination.ensure_locks_held(
                step='commit %s' % os.path.basename(record.path))
        if info.generation is None:
            info.generation = record.create(token, info.to_json(), check)
        else:
            info.generation = record.write(token, info.to_json(),
                                           info.generation, check)

    def _check_step(self, directory, volume, info, step):
        """Right before an in-place rewrite: still ours, here and there.

        Reads the record again (a newer holder's claim stops the step)
        and checks the locks (:func:`~cinder.coordination.ensure_locks_held`
        with *step*).

        :raises FencedOff: a newer holder claimed the record.
        :raises LockLost: a lock was lost.
        """
        record, token = self._writer(directory, volume)
        record.ensure_newest(token, info.generation)
        coordination.ensure_locks_held(step=step)

    def _copy_on_write(self):
        """Change only new files (:mod:`chain_rewrites`); see subclasses."""
        return True

    def _rewrite(self, directory, volume, info, names, operation, *args,
                 **kwargs):
        """Run *operation* (``fold``, ``merge``, ``grow``) on the chain.

        :returns: its :class:`~chain_rewrites.Rewrite`.
        :raises LockLost: the lock was lost before a step; the files made
            so far are left.
        """
        def check_rewrite(step):
            self._check_step(directory, volume, info, step)

        rewriter = (chain_rewrites.CopyOnWrite() if self._copy_on_write()
                    else chain_rewrites.InPlace())
        chain = chain_rewrites.Chain(
            directory, names, lambda name: self._format_of(volume, info, name),
            check_rewrite,
            new_name=lambda: self._new_overlay_name(directory, volume))
        with self._removed_if_failed(directory, volume, chain.made):
            return getattr(rewriter, operation)(chain, *args, **kwargs)

    @contextlib.contextmanager
    def _removed_if_failed(self, directory, volume, names):
        """Remove the files *names* of *volume* if the block fails.

        *names* (a list) is read when the block fails: a step may append
        the files it made. Nothing is removed when the lock was lost, nor
        a file that the newest generation of the info file uses (see
        :meth:`_unused`).
        """
        try:
            yield
        except coordination.LockLost:
            raise
        except Exception:
            self._remove_after_failure(directory, volume, names)
            raise

    def _commit_rewrite(self, directory, volume, info, plan):
        """Commit the info file of a rewrite, then delete what it freed.

        :raises LockLost: the lock was lost before the commit (the files
            the rewrite made are left) or before a delete.
        """
        with self._removed_if_failed(directory, volume, plan.made):
            self._write_info(directory, volume, info)
        self._delete_files(directory, volume, plan.obsolete)

    def _delete_files(self, directory, volume, names):
        """Delete files of *volume* no longer used, in the order given.

        The lock is checked right before each file is deleted. A file
        that the newest generation of the info file uses is kept
        (:meth:`_unused`).

        :raises LockLost: the lock was lost; the files not yet deleted are
            left as they are.
        """
        for name in self._unused(directory, volume, names):
            coordination.ensure_locks_held(step='delete %s' % name)
            path = os.path.join(directory, name)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            LOG.debug('Deleted %s', path)

    def _remove_after_failure(self, directory, volume, names):
        """Remove files that a failed operation made, in an except block.

        The lock is checked right before each file is removed; an error
        removing a file is logged, so that the caller re-raises its own.
        A file that the newest generation of the info file uses is kept
        (:meth:`_unused`): a commit that reported a failure may have
        been made.

        :raises LockLost: the lock was lost; this and the remaining files
            are left (:meth:`delete_volume` removes them), and the error
            being handled is the LockLost's ``__context__``.
        """
        names = self._unused(directory, volume, names)
        for index, name in enumerate(names):
            try:
                coordination.ensure_locks_held(step='delete %s' % name)
            except coordination.LockLost:
                LOG.error('Lock lost after an operation failed; leaving '
                          '%s on the share', ', '.join(names[index:]))
                raise
            path = os.path.join(directory, name)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                LOG.warning('Cannot remove %s: %s', path, e)

    def _unused(self, directory, volume, names):
        """*names* but the files the info file's newest generation uses.

        The one guard of every removal of a volume's files but the
        volume's own delete: the newest generation is read again, and
        the file it was read from, the active file, the snapshots' files
        and the chain below the active file are kept, whatever the caller
        believed about the outcome of its commit. When the newest
        generation cannot be read, nothing is removed. Each file kept is
        logged (WARNING).
        """
        used = self._in_use(directory, volume)
        if used is None:
            LOG.warning('Not removing %s: the info file of volume %s cannot '
                        'be read, and may name them', ', '.join(names),
                        volume.id)
            return []
        kept = [name for name in names if name in used]
        if kept:
            LOG.warning('Not removing %s: the newest generation of the info '
                        'file of volume %s uses them', ', '.join(kept),
                        volume.id)
        return [name for name in names if name not in used]

    def _in_use(self, directory, volume):
        """Names of the files the newest generation uses; None if unknown.

        See :meth:`_unused`. A chain that cannot be followed keeps the
        volume's base file too.
        """
        record = self._record(directory, volume)
        try:
            generation = record.read()
            if generation is None:
                return set()
            used = {os.path.basename(record.path_of(generation))}
            if generation.text is None:
                return used
            info = VolumeInfo.from_json(
                generation.text, record.path_of(generation), volume.name,
                self._volume_format())
        except (OSError, exception.VolumeDriverException):
            return None
        used.add(info.active)
        used.update(info.snapshots.values())
        try:
            used.update(name for name, _ in
                        self._chain(directory, volume, info))
        except (OSError, exception.CinderException):
            used.add(volume.name)
        return used

    def _load(self, volume, claim=False):
        """(directory, info) of an existing *volume*.

        :param claim: claim the info file's record first (see
            :meth:`_read_info`), for an operation that changes the volume.
        :raises VolumeNotFound: the volume has no share or no files, or
            was deleted.
        :raises VolumeDriverException: the info file names an active image
            that does not exist: the volume is damaged, not gone (a
            delete of a snapshot must not report success on it).
        :raises FencedOff: *claim* and a newer holder claimed it.
        """
        share = volume.provider_location
        if not share:
            raise exception.VolumeNotFound(
                volume.id, 'Volume %s not found: it has no '
                'provider_location (no share)' % volume.id)
        directory = self._share_dir(share)
        info = self._read_info(directory, volume, claim=claim)
        active = os.path.join(directory, info.active)
        if not os.path.exists(active):
            raise exception.VolumeDriverException(
                'Volume %s is damaged: its info file %s names the active '
                'image %s, which does not exist' % (
                    volume.id, info.generation and self._record(
                        directory, volume).path_of(info.generation),
                    active))
        return directory, info

    def _chain(self, directory, volume, info, top=None):
        """The images from *top* (the active file) down to the base.

        Follows the backing file names recorded in the images, checking
        that each is a file of this volume in the expected format.

        :returns: a list of (file name, :class:`qemu_img.ImageInfo`).
        """
        name = top or info.active
        chain = []
        while name is not None:
            if any(name == n for n, _ in chain):
                raise exception.VolumeDriverException(
                    'The image chain of volume %s loops at %s' % (
                        volume.id, name))
            path = os.path.join(directory, name)
            if not os.path.exists(path):
                below = chain[-1][0] if chain else None
                raise exception.VolumeDriverException(
                    'The image chain of volume %s is broken: %s%s does not '
                    'exist' % (volume.id, path,
                               ' (backing file of %s)' % below
                               if below else ''))
            image = qemu_img.info(path, self._format_of(volume, info, name))
            chain.append((name, image))
            backing = image.backing_file
            if not backing:
                break
            if name == volume.name or not is_volume_file_name(volume.name,
                                                              backing):
                raise exception.VolumeDriverException(
                    'Image %s has the backing file %r, which is not an '
                    'image of volume %s; refusing to use it' % (
                        path, backing, volume.id))
            expected = self._format_of(volume, info, backing)
            if image.backing_format and image.backing_format != expected:
                raise exception.VolumeDriverException(
                    'Image %s declares its backing file %s as %s, but it '
                    'is %s' % (path, backing, image.backing_format,
                               expected))
            name = backing
        return chain

    def _snapshot_file(self, volume, info, snapshot):
        name = info.snapshots.get(snapshot.id)
        if name is None:
            raise exception.SnapshotNotFound(
                snapshot.id, 'Snapshot %s not found: the info file of '
                'volume %s does not list it' % (snapshot.id, volume.id))
        return name

    def _off_chain_snapshots(self, info, chain_names):
        """Snapshots whose file is not in the chain (interrupted deletes)."""
        return sorted(sid for sid, name in info.snapshots.items()
                      if name not in chain_names)

    # Volumes -------------------------------------------------------------

    def _create_new_volume(self, volume, make):
        """Pick a share, make the image with *make(path, fmt)*, record it.

        *make* checks the lock right before each ``qemu-img`` call.
        Files made are removed again if a later step fails, unless the
        lock was lost: then nothing is removed.

        :raises LockLost: the lock was lost before a step; the files made
            so far are left.
        """
        share = self._find_share(volume)
        directory = self._share_dir(share)
        path = os.path.join(directory, volume.name)
        if self._volume_files(directory, volume):
            # A tombstone too: a volume id is never used again.
            raise exception.InvalidVolume(
                'Volume %s already has files on share %s (%s); not '
                'overwriting them' % (volume.id, share, path))
        fmt = self._volume_format()
        try:
            make(path, fmt)
            self._write_info(directory, volume, VolumeInfo(volume.name, fmt))
        except coordination.LockLost:
            raise
        except Exception:
            self._remove_after_failure(
                directory, volume,
                [os.path.basename(p)
                 for p in self._volume_files(directory, volume)])
            raise
        LOG.info('Created volume %s (%s, %d GiB) on share %s', volume.id,
                 fmt, volume.size, share)
        return {'provider_location': share}

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_volume(self, volume):
        """Create an empty image of ``volume.size`` GiB on a share."""
        def make(path, fmt):
            coordination.ensure_locks_held(
                step='create %s' % os.path.basename(path))
            qemu_img.create(path, fmt, volume.size * GiB,
                            preallocation=self._preallocation())
        return self._create_new_volume(volume, make)

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def delete_volume(self, volume):
        """Delete every file of the volume: chain, snapshots, info file.

        The info file's record is ended first, with a tombstone appended
        under the lock's fencing token (even if its newest generation is
        damaged): from then on no older holder can bring the volume back.
        Then the files are found by name, so leftovers of interrupted
        operations go too, and through the info file's last generation:
        a listing of the share may be stale (an NFS client's cache) and
        miss files another service made; the tombstone stays.

        :raises FencedOff: a newer holder claimed the volume; nothing was
            deleted.
        :raises FencingTokensWentBack: the info file holds a newer token
            although the lock is still held; nothing was deleted.
        """
        share = volume.provider_location
        if not share:
            LOG.info('Volume %s has no share; nothing to delete', volume.id)
            return
        directory = self._share_dir(share)
        record, token = self._writer(directory, volume)
        named = self._in_use(directory, volume) or set()
        named.add(os.path.basename(record.files.head_path))
        tombstone = self._claimed(volume, lambda: record.end(
            token, before_append=lambda: coordination.ensure_locks_held(
                step='commit %s' % os.path.basename(record.path))))
        names = set(os.path.basename(p)
                    for p in self._volume_files(directory, volume))
        names |= set(name for name in named
                     if os.path.exists(os.path.join(directory, name)))
        names.discard(os.path.basename(record.path_of(tombstone)))
        if not names:
            LOG.info('Volume %s has no files on share %s; already deleted',
                     volume.id, share)
            return
        self._delete_files(directory, volume, sorted(names))
        LOG.info('Deleted volume %s from share %s', volume.id, share)

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def extend_volume(self, volume, new_size):
        """Grow the volume to ``new_size`` GiB.

        Works with snapshots: only the active image grows, and the older
        images keep the size of their snapshot. Copy-on-write, the grown
        image is a new file (a grown copy of the active overlay, or a new
        overlay over a base alone) that the info file's commit makes
        active; in place, the active image is resized.

        :raises InvalidInput: *new_size* is smaller than the volume.
        :raises LockLost: the lock was lost before a step, or a newer
            holder claimed the volume (``FencedOff``): the images the
            volume uses are unchanged; files made are left for
            :meth:`delete_volume`.
        """
        directory, info = self._load(volume, claim=True)
        chain = self._chain(directory, volume, info)
        current = chain[0][1].virtual_size
        size = new_size * GiB
        if size < current:
            raise exception.InvalidInput(
                'Cannot extend volume %s to %d GiB: it is already %d '
                'bytes' % (volume.id, new_size, current))
        if size == current:
            return
        plan = self._rewrite(directory, volume, info, [n for n, _ in chain],
                             'grow', size,
                             preallocation=self._preallocation())
        if plan.renames:
            info.rename(plan.renames)
            self._commit_rewrite(directory, volume, info, plan)
        LOG.info('Extended volume %s to %d GiB', volume.id, new_size)

    def _copy_to_new_volume(self, volume, src_path, src_fmt, src_size):
        def make(path, fmt):
            coordination.ensure_locks_held(
                step='create %s' % os.path.basename(path))
            qemu_img.convert(src_path, path, fmt, src_fmt=src_fmt,
                             preallocation=self._preallocation())
            if volume.size * GiB > src_size:
                # Still making the new volume's own file.
                coordination.ensure_locks_held(
                    step='create %s' % os.path.basename(path))
                qemu_img.resize(path, volume.size * GiB, fmt,
                                preallocation=self._preallocation())
        return self._create_new_volume(volume, make)

    @coordination.synchronized('{self.driver_prefix}-{src_vref.id}',
                               '{self.driver_prefix}-{volume.id}')
    def create_cloned_volume(self, volume, src_vref):
        """Copy what the source volume shows into a new standalone image.

        Holds the locks of both volumes (acquired in sorted order, as
        :func:`cinder.coordination.synchronized` does for several names),
        so the source's chain cannot change during the copy.

        :raises VolumeNotFound: the source volume's files are gone.
        """
        src_dir, src_info = self._load(src_vref)
        chain = self._chain(src_dir, src_vref, src_info)
        return self._copy_to_new_volume(
            volume, os.path.join(src_dir, src_info.active),
            self._format_of(src_vref, src_info, src_info.active),
            chain[0][1].virtual_size)

    # Snapshots -----------------------------------------------------------

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def create_snapshot(self, snapshot):
        """Freeze the active image as the snapshot; use a new overlay.

        :raises LockLost: the lock was lost before the overlay was made
            (nothing changed) or before the info file was replaced (the
            unused overlay is left).
        """
        self._check_snapshots_supported('create_snapshot')
        volume = snapshot.volume
        directory, info = self._load(volume, claim=True)
        if snapshot.id in info.snapshots:
            LOG.info('Snapshot %s of volume %s already exists', snapshot.id,
                     volume.id)
            return None
        chain = self._chain(directory, volume, info)
        active = info.active
        overlay = self._new_overlay_name(directory, volume)
        overlay_path = os.path.join(directory, overlay)
        coordination.ensure_locks_held(step='create %s' % overlay)
        qemu_img.create(overlay_path, 'qcow2', chain[0][1].virtual_size,
                        backing_file=active,
                        backing_fmt=self._format_of(volume, info, active))
        info.snapshots[snapshot.id] = active
        info.active = overlay
        with self._removed_if_failed(directory, volume, [overlay]):
            self._write_info(directory, volume, info)
        LOG.info('Created snapshot %s of volume %s (file %s)', snapshot.id,
                 volume.id, active)
        return None

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def delete_snapshot(self, snapshot):
        """Merge the snapshot's file out of the chain (see the module doc).

        A snapshot, or volume, that is already gone is not an error.

        :raises LockLost: the lock was lost before a step (commit or
            rebase, info file, deleting the file no longer used); the
            steps done stay done and a retry finishes the delete.
        """
        self._check_snapshots_supported('delete_snapshot')
        volume = snapshot.volume
        try:
            directory, info = self._load(volume, claim=True)
        except exception.VolumeNotFound:
            LOG.info('Volume %s of snapshot %s is gone; nothing to delete',
                     volume.id, snapshot.id)
            return
        name = info.snapshots.get(snapshot.id)
        if name is None:
            LOG.info('Snapshot %s of volume %s is already deleted',
                     snapshot.id, volume.id)
            return
        chain = self._chain(directory, volume, info)
        names = [n for n, _ in chain]
        if name not in names:
            # An earlier delete of this snapshot rebased its child away
            # and stopped before committing the info file.
            del info.snapshots[snapshot.id]
            self._write_info(directory, volume, info)
            self._delete_files(directory, volume, [name])
            LOG.info('Finished the interrupted delete of snapshot %s',
                     snapshot.id)
            return
        pending = self._off_chain_snapshots(info, names)
        if pending:
            raise exception.InvalidSnapshot(
                'Cannot delete snapshot %s: the delete of snapshot(s) %s of '
                'volume %s was interrupted; delete them first' % (
                    snapshot.id, ', '.join(pending), volume.id))
        index = names.index(name)
        # The newest snapshot: fold the active image into its file.
        plan = self._rewrite(directory, volume, info, names,
                             'fold' if index == 1 else 'merge', index)
        del info.snapshots[snapshot.id]
        info.rename(plan.renames)
        self._commit_rewrite(directory, volume, info, plan)
        LOG.info('Deleted snapshot %s of volume %s', snapshot.id, volume.id)

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}',
                               '{self.driver_prefix}-{volume.id}')
    def create_volume_from_snapshot(self, volume, snapshot):
        """Copy the snapshot's image into a new standalone image.

        Holds the locks of the snapshot's volume and of the new volume
        (acquired in sorted order).

        :raises SnapshotNotFound: the snapshot or its volume is gone.
        """
        self._check_snapshots_supported('create_volume_from_snapshot')
        src = snapshot.volume
        try:
            src_dir, src_info = self._load(src)
        except exception.VolumeNotFound as e:
            raise exception.SnapshotNotFound(
                snapshot.id, 'Snapshot %s not found: %s' % (snapshot.id, e))
        name = self._snapshot_file(src, src_info, snapshot)
        path = os.path.join(src_dir, name)
        if not os.path.exists(path):
            raise exception.SnapshotNotFound(
                snapshot.id, 'Snapshot %s not found: its image %s does not '
                'exist' % (snapshot.id, path))
        chain = self._chain(src_dir, src, src_info, top=name)
        return self._copy_to_new_volume(
            volume, path, self._format_of(src, src_info, name),
            chain[0][1].virtual_size)

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def revert_to_snapshot(self, volume, snapshot):
        """Discard what was written since the (newest) snapshot.

        :raises LockLost: the lock was lost before the new overlay was
            made (nothing changed), before the info file was replaced (the
            unused overlay is left) or before the old active file was
            deleted (it is left; :meth:`delete_volume` removes it).
        """
        self._check_snapshots_supported('revert_to_snapshot')
        directory, info = self._load(volume, claim=True)
        name = self._snapshot_file(volume, info, snapshot)
        chain = self._chain(directory, volume, info)
        names = [n for n, _ in chain]
        pending = self._off_chain_snapshots(info, names)
        if pending:
            raise exception.InvalidSnapshot(
                'Cannot revert volume %s: the delete of snapshot(s) %s was '
                'interrupted; delete them first' % (
                    volume.id, ', '.join(pending)))
        if names[1] != name:
            later = sorted(sid for sid, n in info.snapshots.items()
                           if names.index(n) < names.index(name))
            raise exception.InvalidSnapshot(
                'Cannot revert volume %s to snapshot %s: only the newest '
                'snapshot can be reverted to, and snapshot(s) %s are '
                'newer' % (volume.id, snapshot.id, ', '.join(later)))
        old_active = info.active
        overlay = self._new_overlay_name(directory, volume)
        overlay_path = os.path.join(directory, overlay)
        coordination.ensure_locks_held(step='create %s' % overlay)
        qemu_img.create(overlay_path, 'qcow2', chain[0][1].virtual_size,
                        backing_file=name,
                        backing_fmt=self._format_of(volume, info, name))
        info.active = overlay
        with self._removed_if_failed(directory, volume, [overlay]):
            self._write_info(directory, volume, info)
        self._delete_files(directory, volume, [old_active])
        LOG.info('Reverted volume %s to snapshot %s', volume.id, snapshot.id)

    # Attachments ---------------------------------------------------------

    def _connection_options(self, share):
        return self.shares.get(share)

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def initialize_connection(self, volume, connector):
        """Tell the host where the active image is and in which format.

        The active file of the newest generation of the info file, which
        the attach claims like an operation that changes the volume (see
        the module doc): a rewrite by an older holder of the lock, which
        would replace that file, can no longer be committed. Right before
        the answer the claim is checked (:meth:`_ensure_claim_stands`):
        a holder that lost its lock meanwhile, to a newer holder that
        claimed the volume (and may have replaced and deleted that file),
        answers nothing. What a holder frozen after that check can still
        answer is in the admin guide ("Fencing at the storage").

        :raises FencedOff: a newer holder claimed the volume before the
            answer; nothing was returned.
        :raises VolumeNotFound: see :meth:`_load`.
        :raises VolumeDriverException: see :meth:`_load`.
        """
        directory, info = self._load(volume, claim=True)
        data = {
            'export': volume.provider_location,
            'name': info.active,
            'format': self._format_of(volume, info, info.active),
        }
        options = self._connection_options(volume.provider_location)
        if options:
            data['options'] = options
        self._ensure_claim_stands(directory, volume, info)
        return {'driver_volume_type': self.driver_volume_type, 'data': data}

    def _ensure_claim_stands(self, directory, volume, info):
        """Fail unless *info*, as claimed, is still the newest generation.

        A read of the claimed generation and a lookup of the next one's
        name on the share (:meth:`FencedRecord.ensure_newest
        <cinder.volume.fenced_record.FencedRecord.ensure_newest>`), no
        write.

        :raises FencedOff: another holder claimed or ended the record
            since.
        :raises LockLost: the lock was lost, as far as this service knows.
        """
        record, token = self._writer(directory, volume)
        record.ensure_newest(token, info.generation)

    def terminate_connection(self, volume, connector):
        """Nothing to undo: the host unmounts the share itself."""

    # Stats ---------------------------------------------------------------

    def _update_volume_stats(self):
        super(RemoteFSSnapDriver, self)._update_volume_stats()
        sparse = self._sparse_volumes()
        self._stats.update(
            thin_provisioning_support=sparse,
            thick_provisioning_support=not sparse,
            snapshot_support=self._snapshots_supported(),
        )
