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

"""The interface every volume driver implements, and how one is loaded.

A driver is a class that ``[DEFAULT] volume_driver`` names, either by the
short name it is registered under in the ``cinder.volume.drivers`` entry
point namespace (``nfs``) or by its dotted path
(``cinder.volume.drivers.nfs.NfsDriver``, which is what out-of-tree drivers
use).

Locks
=====

The manager holds the locks that guard volumes and snapshots against each
other (a delete against a clone of the same source, for example). A driver
takes its own locks for what only it knows about: a chain of snapshot
files, a target table on the array, a host mapping. Every such lock is
taken with :func:`cinder.coordination.synchronized` or
:meth:`cinder.coordination.Coordinator.get_lock`, never with
oslo.concurrency's file locks: with several services on several hosts a
host-local lock excludes nothing. Each driver's docstring states what its
locks protect and why.

Active/Active
=============

:attr:`VolumeDriver.SUPPORTS_ACTIVE_ACTIVE` says whether several services
may drive one backend with this driver. A driver sets it to ``True`` only
when every lock it needs is taken through :mod:`cinder.coordination`, and
it keeps no state in the process that another service would need to see.
The service refuses to start as part of a ``[DEFAULT] cluster`` when its
driver does not declare it.
"""

import abc
import collections
import re

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import importutils
from stevedore import driver as stevedore_driver

from cinder import exception

LOG = logging.getLogger(__name__)

DRIVER_NAMESPACE = 'cinder.volume.drivers'

volume_opts = [
    cfg.StrOpt('volume_backend_name',
               help='Name this backend reports in its capabilities. '
                    'Defaults to the driver class name.'),
    cfg.IntOpt('reserved_percentage',
               default=0, min=0, max=100,
               help='Percentage of the backend capacity that is reserved '
                    'and never used for new volumes.'),
]


#: What :meth:`VolumeDriver.list_resource_ids` returns: two sets of ids.
ResourceIds = collections.namedtuple('ResourceIds', ['volumes', 'snapshots'])

_RESOURCE_FILE = re.compile(
    r'^(?P<kind>volume|snapshot)-(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-'
    r'[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:\..*)?$')


def resource_ids_in(names):
    """The :class:`ResourceIds` that the file names *names* refer to.

    ``volume-<id>``, ``volume-<id>.info`` or ``snapshot-<id>.tmp`` count;
    names that are not ``volume-<uuid>`` or ``snapshot-<uuid>``, followed
    by nothing or by a dot and a suffix, are ignored.
    """
    found = ResourceIds(set(), set())
    for name in names:
        match = _RESOURCE_FILE.match(name)
        if match:
            kind = (found.volumes if match.group('kind') == 'volume'
                    else found.snapshots)
            kind.add(match.group('id').lower())
    return found


class VolumeDriver(object, metaclass=abc.ABCMeta):
    """Base class of volume drivers.

    :param configuration: the ``oslo.config`` object to read options from
        (``cfg.CONF`` by default). The driver registers its ``OPTS`` on it.
    :param host: the ``[DEFAULT] host`` of the service running the driver.

    Methods that change a volume return a model update, a dict of
    :class:`cinder.objects.Volume` (or ``Snapshot``) fields to set, or
    ``None``. A failure raises an exception from :mod:`cinder.exception`;
    the manager then marks the resource in error.
    """

    #: Whether several services may drive one backend with this driver.
    SUPPORTS_ACTIVE_ACTIVE = False

    #: Options of this driver, registered in ``[DEFAULT]``.
    OPTS = []

    VERSION = '1.0.0'

    def __init__(self, configuration=None, host=None):
        self.configuration = configuration if configuration is not None \
            else cfg.CONF
        self.configuration.register_opts(volume_opts)
        if self.OPTS:
            self.configuration.register_opts(self.OPTS)
        self.host = host
        self._initialized = False

    @property
    def initialized(self):
        return self._initialized

    @property
    def backend_name(self):
        return (self.configuration.volume_backend_name or
                self.__class__.__name__)

    # Lifecycle -----------------------------------------------------------

    def do_setup(self):
        """Prepare the driver: read its configuration, reach its backend."""

    def check_for_setup_error(self):
        """Raise if the driver cannot work; called after :meth:`do_setup`."""

    def set_initialized(self):
        self._initialized = True

    def stop(self):
        """Release what :meth:`do_setup` acquired; called at shutdown."""

    def list_resource_ids(self):
        """The ids of the volumes and snapshots the backend holds.

        Called after :meth:`do_setup` by ``cinder-manage util
        clean_locks``, which removes the lock files named after resources
        that no longer exist. A resource the driver is unsure about must
        be listed: a missing id costs a lock file that is created again
        when needed, an extra id only leaves a file in place.

        :returns: a :class:`ResourceIds` of lowercase id strings.
        :raises NotImplementedError: the driver cannot list them.
        """
        raise NotImplementedError(
            'volume driver %s cannot list its volumes and snapshots' %
            type(self).__name__)

    def highest_fencing_token(self, source):
        """The highest fencing token of *source* kept on the storage.

        Called after :meth:`do_setup` by ``cinder-manage coordination
        advance-tokens``, which then makes the lock backend give greater
        tokens: a driver whose storage refuses writers older than the
        newest token it holds (the NFS driver's info files) returns the
        highest such token written under locks of *source*
        (:attr:`cinder.coordination.Lock.token_source`), 0 if none.

        :returns: None: this driver keeps no fencing tokens.
        """
        return None

    # Volumes -------------------------------------------------------------

    @abc.abstractmethod
    def create_volume(self, volume):
        """Create a blank volume of ``volume.size`` GiB."""

    @abc.abstractmethod
    def delete_volume(self, volume):
        """Delete a volume; a volume that is already gone is not an error."""

    @abc.abstractmethod
    def create_cloned_volume(self, volume, src_vref):
        """Create ``volume`` with the contents of volume ``src_vref``."""

    @abc.abstractmethod
    def extend_volume(self, volume, new_size):
        """Grow ``volume`` to ``new_size`` GiB."""

    # Snapshots -----------------------------------------------------------

    @abc.abstractmethod
    def create_snapshot(self, snapshot):
        """Create a snapshot of ``snapshot.volume``."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot):
        """Delete a snapshot; one that is already gone is not an error."""

    @abc.abstractmethod
    def create_volume_from_snapshot(self, volume, snapshot):
        """Create ``volume`` with the contents of ``snapshot``."""

    def revert_to_snapshot(self, volume, snapshot):
        """Make ``volume`` hold the contents of ``snapshot`` again."""
        raise NotImplementedError(
            '%s cannot revert a volume to a snapshot' %
            self.__class__.__name__)

    # Attachments ---------------------------------------------------------

    def initialize_connection(self, volume, connector):
        """Export ``volume`` to the host of ``connector``.

        ``connector`` is a dict with at least ``host``; iSCSI hosts add
        ``initiator``. Returns connection info:
        ``{'driver_volume_type': ..., 'data': {...}}``.
        """
        raise NotImplementedError(
            '%s cannot attach volumes' % self.__class__.__name__)

    def terminate_connection(self, volume, connector):
        """Undo :meth:`initialize_connection` for ``connector``'s host."""

    # Stats ---------------------------------------------------------------

    def get_volume_stats(self, refresh=False):
        """Capacity and capabilities, as reported to the scheduler."""
        return {
            'volume_backend_name': self.backend_name,
            'driver_version': self.VERSION,
            'vendor_name': 'Open Source',
            'total_capacity_gb': 'unknown',
            'free_capacity_gb': 'unknown',
            'reserved_percentage': self.configuration.reserved_percentage,
            'active_active': self.SUPPORTS_ACTIVE_ACTIVE,
        }


def load_driver(name, configuration=None, host=None):
    """Load and instantiate the volume driver ``name``.

    ``name`` is a short name from the ``cinder.volume.drivers`` entry point
    namespace or a dotted class path. An unknown name, or a class that is
    not a :class:`VolumeDriver`, raises
    :class:`cinder.exception.ConfigurationError` naming
    ``[DEFAULT] volume_driver``.
    """
    if not name:
        raise exception.ConfigurationError(
            '[DEFAULT] volume_driver is empty; set it to a driver name '
            'such as "nfs" or a class path')
    cls = driver_class(name)
    if not (isinstance(cls, type) and issubclass(cls, VolumeDriver)):
        raise exception.ConfigurationError(
            '[DEFAULT] volume_driver = %s names %r, which is not a '
            'cinder.volume.driver.VolumeDriver' % (name, cls))
    LOG.debug('Loading volume driver %s (%s.%s)', name, cls.__module__,
              cls.__qualname__)
    return cls(configuration=configuration, host=host)


def driver_class(name):
    """The class ``[DEFAULT] volume_driver = name`` names, not instantiated.

    :raises ConfigurationError: naming the option, for an unknown name.
    """
    if '.' not in name:
        try:
            return stevedore_driver.DriverManager(
                DRIVER_NAMESPACE, name, invoke_on_load=False).driver
        except Exception as exc:
            known = ', '.join(sorted(_registered_names())) or 'none'
            raise exception.ConfigurationError(
                '[DEFAULT] volume_driver = %s: no such driver (%s); '
                'registered drivers: %s; or give a class path' %
                (name, exc, known))
    try:
        return importutils.import_class(name)
    except (ImportError, ValueError, AttributeError) as exc:
        raise exception.ConfigurationError(
            '[DEFAULT] volume_driver = %s cannot be imported: %s' %
            (name, exc))


def _registered_names():
    from stevedore import extension
    mgr = extension.ExtensionManager(DRIVER_NAMESPACE, invoke_on_load=False)
    return mgr.names()
