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

"""The volume manager: what a ``cinder-volume`` service does with a request.

The manager checks a request against the state of its records, takes the
locks that order it against other requests for the same resources, calls
the driver and updates the records. Every lock is a
:mod:`cinder.coordination` lock, so the ordering holds across all services
of a cluster, not only among the processes of one host.

Lock names
==========

These names are what existing deployments and out-of-tree drivers know;
they are kept as they are (``cinder-`` is added by the coordinator):

``<volume_id>-delete_volume``
    Held by :meth:`VolumeManager.delete_volume`, and by
    :meth:`VolumeManager.create_volume` for the whole copy when it clones
    that volume: a delete of the source waits until the clone is done, and
    a clone that starts after a delete finds the source gone and fails
    cleanly.
``<snapshot_id>-delete_snapshot``
    Held by :meth:`VolumeManager.delete_snapshot`, and while a volume is
    created from the snapshot or reverted to it.
``<volume_id>``
    Held by :meth:`VolumeManager.attach_volume`.
``<volume_id>-detach_volume``
    Held by :meth:`VolumeManager.detach_volume`.

When a volume or a snapshot is deleted its lock files are removed (file
backend; other backends keep nothing once a lock is released).

Errors
======

A failed operation raises; the record it was given is left with an error
status (``error``, ``error_deleting``) so the caller can see what happened.
"""

import contextlib

from oslo_log import log as logging

from cinder import coordination
from cinder import exception
from cinder import objects
from cinder.objects import snapshot as snapshot_obj
from cinder.objects import volume as volume_obj

LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def _on_failure(record, status, message, *args):
    """Mark *record* with *status* and log *message* if the body raises.

    The exception goes on to the caller.
    """
    try:
        yield
    except Exception:
        record.status = status
        LOG.exception(message, *args)
        raise


class VolumeManager(object):
    """Runs volume and snapshot operations on one backend.

    :param driver: a :class:`cinder.volume.driver.VolumeDriver`.
    :param host: this service's ``[DEFAULT] host``.
    :param cluster: its ``[DEFAULT] cluster``, or None.
    """

    #: The methods a service accepts requests for.
    RPC_METHODS = (
        'create_volume', 'delete_volume', 'extend_volume',
        'create_snapshot', 'delete_snapshot', 'revert_to_snapshot',
        'attach_volume', 'detach_volume', 'get_volume_stats',
    )

    def __init__(self, driver, host, cluster=None):
        self.driver = driver
        self.host = host
        self.cluster = cluster

    # Lifecycle -----------------------------------------------------------

    def init_host(self):
        """Set the driver up; called after the coordinator has started."""
        LOG.info('Initializing volume driver %s (version %s) on host %s',
                 self.driver.__class__.__name__, self.driver.VERSION,
                 self.host)
        self.driver.do_setup()
        self.driver.check_for_setup_error()
        self.driver.set_initialized()
        LOG.info('Volume driver %s initialized',
                 self.driver.__class__.__name__)

    def cleanup(self):
        """Let the driver let go; called before the coordinator stops."""
        self.driver.stop()
        LOG.info('Volume manager on host %s stopped', self.host)

    def get_volume_stats(self, refresh=False):
        stats = dict(self.driver.get_volume_stats(refresh=refresh))
        stats.update(host=self.host, cluster=self.cluster)
        return stats

    # Volumes -------------------------------------------------------------

    def create_volume(self, volume, snapshot=None, source_volume=None):
        """Create ``volume``: blank, from ``snapshot`` or ``source_volume``.

        :returns: the volume, ``available``.
        :raises InvalidInput: both a snapshot and a source volume given.
        """
        if snapshot is not None and source_volume is not None:
            raise exception.InvalidInput(
                'create_volume: give snapshot or source_volume, not both')
        volume.host = self.host
        volume.cluster_name = self.cluster
        volume.status = volume_obj.CREATING
        try:
            if snapshot is not None:
                volume.snapshot_id = snapshot.id
                update = self._create_from_snapshot(volume, snapshot)
            elif source_volume is not None:
                volume.source_volid = source_volume.id
                update = self._create_from_source(volume, source_volume)
            else:
                update = self.driver.create_volume(volume)
        except Exception as e:
            volume.status = volume_obj.ERROR
            LOG.exception('Creating volume %s failed', volume.id)
            self._forget_deleted_source(e, snapshot, source_volume)
            raise
        volume.update(update)
        volume.status = volume_obj.AVAILABLE
        LOG.info('Created volume %s (%d GiB)', volume.id, volume.size)
        return volume

    @coordination.synchronized('{snapshot.id}-delete_snapshot')
    def _create_from_snapshot(self, volume, snapshot):
        if volume.size < snapshot.volume_size:
            raise exception.InvalidInput(
                'create_volume: size %d GiB is smaller than snapshot %s '
                '(%d GiB)' % (volume.size, snapshot.id,
                              snapshot.volume_size))
        return self.driver.create_volume_from_snapshot(volume, snapshot)

    @coordination.synchronized('{source_volume.id}-delete_volume')
    def _create_from_source(self, volume, source_volume):
        if volume.size < source_volume.size:
            raise exception.InvalidInput(
                'create_volume: size %d GiB is smaller than source volume '
                '%s (%d GiB)' % (volume.size, source_volume.id,
                                 source_volume.size))
        return self.driver.create_cloned_volume(volume, source_volume)

    def delete_volume(self, volume):
        """Delete ``volume``; waits for clones of it to finish.

        :raises InvalidVolume: the volume is attached.
        """
        self._delete_volume(volume)
        self._remove_locks_of(volume.id)
        LOG.info('Deleted volume %s', volume.id)

    @coordination.synchronized('{volume.id}-delete_volume')
    def _delete_volume(self, volume):
        if volume.attachments:
            raise exception.InvalidVolume(
                'Volume %s is attached to %s; detach it before deleting '
                'it' % (volume.id, ', '.join(
                    sorted(str(a.attached_host) for a in
                           volume.attachments))))
        volume.status = volume_obj.DELETING
        with _on_failure(volume, volume_obj.ERROR_DELETING,
                         'Deleting volume %s failed', volume.id):
            self.driver.delete_volume(volume)
        volume.status = volume_obj.DELETED

    def extend_volume(self, volume, new_size):
        """Grow ``volume`` to ``new_size`` GiB.

        :raises InvalidInput: ``new_size`` is not larger than the volume.
        """
        if not isinstance(new_size, int) or new_size <= volume.size:
            raise exception.InvalidInput(
                'extend_volume: new_size must be an integer larger than the '
                'current size (%d GiB), got %r' % (volume.size, new_size))
        previous = volume.status
        volume.status = volume_obj.EXTENDING
        with _on_failure(volume, volume_obj.ERROR,
                         'Extending volume %s failed', volume.id):
            self.driver.extend_volume(volume, new_size)
        volume.size = new_size
        volume.status = previous
        LOG.info('Extended volume %s to %d GiB', volume.id, new_size)
        return volume

    # Snapshots -----------------------------------------------------------

    def create_snapshot(self, snapshot):
        """Create ``snapshot`` of ``snapshot.volume``.

        The driver orders it against other changes to the same volume
        with its own lock.
        """
        snapshot.status = snapshot_obj.CREATING
        with _on_failure(snapshot, snapshot_obj.ERROR,
                         'Creating snapshot %s of volume %s failed',
                         snapshot.id, snapshot.volume_id):
            update = self.driver.create_snapshot(snapshot)
        snapshot.update(update)
        snapshot.status = snapshot_obj.AVAILABLE
        LOG.info('Created snapshot %s of volume %s', snapshot.id,
                 snapshot.volume_id)
        return snapshot

    def delete_snapshot(self, snapshot):
        """Delete ``snapshot``; waits for volumes being created from it."""
        self._delete_snapshot(snapshot)
        self._remove_locks_of(snapshot.id)
        LOG.info('Deleted snapshot %s of volume %s', snapshot.id,
                 snapshot.volume_id)

    @coordination.synchronized('{snapshot.id}-delete_snapshot')
    def _delete_snapshot(self, snapshot):
        snapshot.status = snapshot_obj.DELETING
        with _on_failure(snapshot, snapshot_obj.ERROR_DELETING,
                         'Deleting snapshot %s failed', snapshot.id):
            self.driver.delete_snapshot(snapshot)
        snapshot.status = snapshot_obj.DELETED

    def revert_to_snapshot(self, volume, snapshot):
        """Make ``volume`` hold the contents of ``snapshot`` again.

        Holds the snapshot's delete lock, so the snapshot cannot be
        deleted while the volume is reverted to it.

        :raises InvalidSnapshot: the snapshot is not of this volume.
        """
        if snapshot.volume_id != volume.id:
            raise exception.InvalidSnapshot(
                'revert_to_snapshot: snapshot %s is of volume %s, not of '
                'volume %s' % (snapshot.id, snapshot.volume_id, volume.id))
        return self._revert(volume, snapshot)

    @coordination.synchronized('{snapshot.id}-delete_snapshot')
    def _revert(self, volume, snapshot):
        previous = volume.status
        volume.status = volume_obj.REVERTING
        with _on_failure(volume, volume_obj.ERROR,
                         'Reverting volume %s to snapshot %s failed',
                         volume.id, snapshot.id):
            self.driver.revert_to_snapshot(volume, snapshot)
        volume.status = previous
        LOG.info('Reverted volume %s to snapshot %s', volume.id,
                 snapshot.id)
        return volume

    # Attachments ---------------------------------------------------------

    @coordination.synchronized('{volume.id}')
    def attach_volume(self, volume, connector, instance_uuid=None,
                      mountpoint=None, mode='rw'):
        """Export ``volume`` to the host of ``connector``; record it.

        :returns: the new :class:`cinder.objects.Attachment`; it is also
            appended to ``volume.attachments``.
        :raises InvalidInput: ``connector`` has no ``host`` or ``mode`` is
            not ``rw`` or ``ro``.
        :raises InvalidVolume: the volume is not available, or is attached
            already and not ``multiattach``.
        """
        if not isinstance(connector, dict) or not connector.get('host'):
            raise exception.InvalidInput(
                'attach_volume: connector must be a dict with a "host", got '
                '%r' % (connector,))
        if mode not in ('rw', 'ro'):
            raise exception.InvalidInput(
                'attach_volume: mode must be "rw" or "ro", got %r' % (mode,))
        if volume.status not in (volume_obj.AVAILABLE, volume_obj.IN_USE):
            raise exception.InvalidVolume(
                'Volume %s is %s; only an available or in-use volume can '
                'be attached' % (volume.id, volume.status))
        if volume.attachments and not volume.multiattach:
            raise exception.InvalidVolume(
                'Volume %s is attached already and is not multiattach' %
                volume.id)
        connection_info = self.driver.initialize_connection(volume,
                                                            connector)
        attachment = objects.Attachment(
            id=volume_obj.new_id(), volume_id=volume.id,
            connector=dict(connector), instance_uuid=instance_uuid,
            mountpoint=mountpoint, mode=mode,
            connection_info=connection_info)
        volume.attachments.append(attachment)
        volume.status = volume_obj.IN_USE
        LOG.info('Attached volume %s to host %s (attachment %s)',
                 volume.id, connector['host'], attachment.id)
        return attachment

    @coordination.synchronized('{volume.id}-detach_volume')
    def detach_volume(self, volume, attachment_id):
        """Remove the export of attachment ``attachment_id``; forget it.

        :raises InvalidInput: the volume has no such attachment.
        """
        for attachment in volume.attachments:
            if attachment.id == attachment_id:
                break
        else:
            raise exception.InvalidInput(
                'detach_volume: volume %s has no attachment_id %r' %
                (volume.id, attachment_id))
        self.driver.terminate_connection(volume, attachment.connector)
        volume.attachments.remove(attachment)
        if not volume.attachments:
            volume.status = volume_obj.AVAILABLE
        LOG.info('Detached volume %s from host %s (attachment %s)',
                 volume.id, attachment.attached_host, attachment_id)
        return volume

    # Housekeeping --------------------------------------------------------

    def _forget_deleted_source(self, error, snapshot, source_volume):
        """Remove lock files a copy from a deleted source just created.

        Taking the source's locks re-created their files after the delete
        had removed them; nothing will delete that source again.
        """
        if (isinstance(error, exception.VolumeNotFound) and
                source_volume is not None and
                error.volume_id == source_volume.id):
            self._remove_locks_of(source_volume.id)
        elif (isinstance(error, exception.SnapshotNotFound) and
                snapshot is not None and error.snapshot_id == snapshot.id):
            self._remove_locks_of(snapshot.id)

    @staticmethod
    def _remove_locks_of(resource_id):
        """Remove the lock files that name a deleted resource.

        Every lock that guards a volume or snapshot has its id in its name
        (the manager's and the drivers' alike). A failure here only leaves
        a file behind, so it is logged, not raised.
        """
        try:
            coordination.synchronized_remove('*%s*' % resource_id)
        except Exception as e:
            LOG.warning('Lock files of %s were not removed: %s',
                        resource_id, e)
