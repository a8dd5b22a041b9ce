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

"""The NFS volume driver: volumes are image files on NFS exports.

The exports are listed in the file named by ``nfs_shares_config``, one a
line::

    # comment
    192.168.0.10:/srv/cinder
    nfs.example.com:/export/cinder vers=4.1,noatime
    /srv/local-volumes

An ``host:/export`` share is mounted with ``mount -t nfs`` at
``<nfs_mount_point_base>/<md5 of the share>``, with the options given on
its line or else ``nfs_mount_options``, unless something is mounted there
already. A share that starts with ``/`` is a local directory used as it
is, without mounting: for tests and single-host setups (or a file system
mounted by other means).

How volumes, snapshots and clones are laid out, and what the driver's locks
protect, is described in :mod:`cinder.volume.drivers.remotefs`.
"""

import collections
import hashlib
import os
import re
import time

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log as logging

from cinder.common import config
from cinder import exception
from cinder.image import qemu_img
from cinder.volume.drivers import remotefs

LOG = logging.getLogger(__name__)

nfs_opts = [
    cfg.StrOpt('nfs_shares_config',
               default='/etc/cinder/nfs_shares',
               help='File that lists the NFS shares, one a line: '
                    '"host:/export [mount options]", or an absolute '
                    'directory path used without mounting. Lines starting '
                    'with # are comments.'),
    cfg.StrOpt('nfs_mount_point_base',
               default='$state_path/mnt',
               help='Directory under which NFS shares are mounted, each at '
                    'a sub-directory named after the MD5 hash of the '
                    'share.'),
    cfg.StrOpt('nfs_mount_options',
               help='Mount options (as for mount -o) for shares whose line '
                    'in nfs_shares_config gives none.'),
    cfg.IntOpt('nfs_mount_attempts',
               default=3, min=1,
               help='How many times mounting a share is tried before the '
                    'share is given up.'),
    cfg.BoolOpt('nfs_sparsed_volumes',
                default=True,
                help='Create volumes as sparse files, which take no space '
                     'until written. False allocates the whole size when '
                     'a volume is created.'),
    cfg.BoolOpt('nfs_qcow2_volumes',
                default=False,
                help='Create volumes as qcow2 images instead of raw '
                     'files.'),
    cfg.BoolOpt('nfs_snapshot_support',
                default=False,
                help='Enable snapshots, volumes from snapshots and revert '
                     'on this backend. Snapshots are qcow2 overlay files; '
                     'the hosts that attach the volumes must be able to '
                     'use qcow2 images.'),
    cfg.BoolOpt('nfs_copy_on_write',
                default=True,
                help='Delete snapshots and extend volumes by writing new '
                     'image files only, which the volume uses once its info '
                     'file is committed, instead of rewriting the images '
                     'its chain uses in place. A service that lost its '
                     'lock while it worked (a frozen host, a cut-off '
                     'network) then changes nothing another service uses. '
                     'It costs copies: deleting the newest snapshot copies '
                     'the snapshot\'s data and the volume\'s changes since, '
                     'deleting an older one copies every image above it, '
                     'extending copies the active overlay (a volume '
                     'without one gets a new overlay over its base). False '
                     'rewrites in place: faster, '
                     'but a frozen holder\'s qemu-img may write on after '
                     'another service took the volume.'),
]

_REMOTE_SHARE = re.compile(r'^(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):/\S*$')


def list_opts():
    """Options of this driver, for oslo-config-generator."""
    return [('DEFAULT', nfs_opts)]


def mount_option_problems(options):
    """What the NFS mount *options* (a list) do to the driver's fencing.

    :returns: one sentence per problem, saying which option to use.
    """
    problems = []
    values = dict(option.partition('=')[::2] for option in options)
    if values.get('lookupcache') not in ('none', 'pos', 'positive'):
        problems.append(
            'mounted without lookupcache=positive (or none): the client '
            'may answer a lookup of a name it saw missing from its cache, '
            'for up to acdirmax seconds, and a service could miss a newer '
            'holder\'s commit of an info file meanwhile; mount with '
            'lookupcache=positive')
    if 'soft' in values or 'softerr' in values:
        problems.append(
            'mounted soft: a request that times out fails with an error '
            'although the server may still apply it, and image writes can '
            'be lost; mount with hard')
    if 'nocto' in values:
        problems.append(
            'mounted nocto: an open does not ask the server whether a '
            'file it saw is still there; remove nocto')
    return problems


class NfsDriver(remotefs.RemoteFSSnapDriver):
    """Volumes as raw or qcow2 files on NFS shares; Active/Active capable.

    Locks
    =====

    Several ``cinder-volume`` services on different hosts may mount the
    same NFS shares and serve the same volumes. Every operation on a volume
    holds the :mod:`cinder.coordination` lock ``nfs-<volume id>`` (a clone
    or a volume made from a snapshot holds the source volume's lock as
    well), which protects the volume's chain of image files and its info
    file against the other services. All locks go through
    :mod:`cinder.coordination`, and the driver keeps no state another
    service needs (the info files on the share are the only record), so it
    supports Active/Active given a distributed lock backend. See
    :class:`cinder.volume.drivers.remotefs.RemoteFSSnapDriver` for the
    details.

    Mounting takes no lock: a service mounts shares at its own mount
    points, and an existing mount is detected.
    """

    SUPPORTS_ACTIVE_ACTIVE = True
    OPTS = nfs_opts
    VERSION = '2.0.0'

    driver_prefix = 'nfs'
    driver_volume_type = 'nfs'
    storage_protocol = 'nfs'
    shares_config_option = 'nfs_shares_config'
    snapshot_support_option = 'nfs_snapshot_support'

    #: Seconds between two mount attempts.
    mount_retry_delay = 1.0
    #: Where the mounted file systems are listed.
    proc_mounts = '/proc/mounts'

    def __init__(self, configuration=None, host=None):
        super(NfsDriver, self).__init__(configuration=configuration,
                                        host=host)
        # nfs_mount_point_base refers to $state_path.
        self.configuration.register_opts(config.global_opts)

    # Configuration -------------------------------------------------------

    def _volume_format(self):
        return 'qcow2' if self.configuration.nfs_qcow2_volumes else 'raw'

    def _sparse_volumes(self):
        return self.configuration.nfs_sparsed_volumes

    def _snapshots_supported(self):
        return self.configuration.nfs_snapshot_support

    def _copy_on_write(self):
        return self.configuration.nfs_copy_on_write

    def check_for_setup_error(self):
        """Fail unless qemu-img can be run and a share is mounted."""
        try:
            qemu_img.version()
        except exception.VolumeDriverException as e:
            raise exception.VolumeDriverException(
                'The NFS driver needs qemu-img (package qemu-utils or '
                'qemu-img): %s' % e)
        if not self._mounted_shares:
            raise exception.VolumeDriverException(
                'No NFS share is mounted; check %s' %
                self.shares_config_option)

    def _load_shares_config(self):
        """Parse ``nfs_shares_config``: share -> mount options or None.

        :raises ConfigurationError: naming the option and the file, when
            the file is missing, unreadable, lists no share or has a line
            that is not a share.
        """
        path = self.configuration.nfs_shares_config
        if not path:
            raise exception.ConfigurationError(
                'nfs_shares_config is empty; set it to the file that lists '
                'the NFS shares')
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            raise exception.ConfigurationError(
                'nfs_shares_config = %s: the file does not exist; create '
                'it with one "host:/export" share a line' % path)
        except OSError as e:
            raise exception.ConfigurationError(
                'nfs_shares_config = %s: the file cannot be read: %s' % (
                    path, e))
        shares = collections.OrderedDict()
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split(None, 1)
            share = parts[0]
            options = parts[1].strip() if len(parts) > 1 else None
            if options and options.startswith('-o'):
                options = options[2:].strip() or None
            if not (share.startswith('/') or _REMOTE_SHARE.match(share)):
                raise exception.ConfigurationError(
                    'nfs_shares_config = %s, line %d: %r is not a share; '
                    'write "host:/export [options]" or an absolute '
                    'directory' % (path, number, share))
            if share in shares:
                LOG.warning('nfs_shares_config = %s, line %d: share %s is '
                            'listed twice; the first line wins', path,
                            number, share)
                continue
            shares[share] = options
        if not shares:
            raise exception.ConfigurationError(
                'nfs_shares_config = %s lists no share' % path)
        return shares

    def _connection_options(self, share):
        if self._is_directory_share(share):
            return None
        return self.shares.get(share) or self.configuration.nfs_mount_options

    # Mounting ------------------------------------------------------------

    @staticmethod
    def _is_directory_share(share):
        return share.startswith('/')

    def _get_mount_point_for_share(self, share):
        if self._is_directory_share(share):
            return share
        digest = hashlib.md5(share.encode('utf-8'),
                             usedforsecurity=False).hexdigest()
        return os.path.join(self.configuration.nfs_mount_point_base, digest)

    def _mount_entries(self):
        """(mount point, type, options) of each line of ``/proc/mounts``.

        Mount points unescaped, options as a list.
        """
        try:
            with open(self.proc_mounts) as f:
                lines = f.read().splitlines()
        except OSError as e:
            LOG.warning('Cannot read %s: %s', self.proc_mounts, e)
            return []
        entries = []
        for line in lines:
            fields = line.split()
            if len(fields) >= 2:
                path = re.sub(r'\\([0-7]{3})',
                              lambda m: chr(int(m.group(1), 8)), fields[1])
                entries.append((path, fields[2] if len(fields) > 2 else '',
                                fields[3].split(',') if len(fields) > 3
                                else []))
        return entries

    def _mounted_paths(self):
        """Mount points listed in ``/proc/mounts``, unescaped."""
        return set(path for path, _, _ in self._mount_entries())

    def _is_mounted(self, mount_point):
        mount_point = os.path.realpath(mount_point)
        return any(os.path.realpath(p) == mount_point
                   for p in self._mounted_paths())

    def _ensure_share_mounted(self, share):
        mount_point = super()._ensure_share_mounted(share)
        if not self._is_directory_share(share):
            self._warn_about_mount_options(share, mount_point)
        return mount_point

    def _warn_about_mount_options(self, share, mount_point):
        """Log a WARNING for each option that weakens fencing.

        The options the kernel shows in ``/proc/mounts`` for the NFS
        mount at *mount_point*; see "Mount and export options" in the
        driver's documentation. The export's options (``sync``) are the
        server's and cannot be seen from here.
        """
        mount_point = os.path.realpath(mount_point)
        for path, fstype, options in self._mount_entries():
            if (os.path.realpath(path) != mount_point or
                    not fstype.startswith('nfs')):
                continue
            for problem in mount_option_problems(options):
                LOG.warning('Share %s (mounted at %s): %s', share,
                            mount_point, problem)

    def _mount_share(self, share, options):
        mount_point = self._get_mount_point_for_share(share)
        if self._is_directory_share(share):
            if not os.path.isdir(share):
                raise exception.VolumeDriverException(
                    'Share %s (from nfs_shares_config) is not a '
                    'directory' % share)
            return
        os.makedirs(mount_point, exist_ok=True)
        if self._is_mounted(mount_point):
            LOG.debug('Share %s is already mounted at %s', share,
                      mount_point)
            return
        options = options or self.configuration.nfs_mount_options
        cmd = ['mount', '-t', 'nfs']
        if options:
            cmd += ['-o', options]
        cmd += [share, mount_point]
        attempts = self.configuration.nfs_mount_attempts
        for attempt in range(1, attempts + 1):
            try:
                processutils.execute(*cmd)
            except processutils.ProcessExecutionError as e:
                if 'already mounted' in (e.stderr or ''):
                    return
                error = (e.stderr or e.description or '').strip()
            except OSError as e:
                error = str(e)
            else:
                LOG.info('Mounted share %s at %s', share, mount_point)
                return
            LOG.warning('Mounting share %s at %s failed (attempt %d of '
                        '%d): %s', share, mount_point, attempt, attempts,
                        error)
            if attempt < attempts and self.mount_retry_delay:
                time.sleep(self.mount_retry_delay)
        raise exception.VolumeBackendAPIException(
            'Cannot mount NFS share %s at %s after %d attempt(s) '
            '(nfs_mount_attempts): %s' % (share, mount_point, attempts,
                                          error))
