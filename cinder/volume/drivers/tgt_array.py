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

"""A Linux SCSI target (tgtd) used the way an iSCSI storage array is.

One ``tgtd`` plays the array. Every ``cinder-volume`` service of the
backend manages it through its management channel (``tgtadm``), as it would
call an array's management API, and keeps the volumes as sparse raw files
in one directory that the array serves them from.

Attachments follow the host-object model of most arrays rather than one
target per volume: each connector host gets one target,
``<tgt_target_prefix>:host-<host>``, whose ACL admits that host's
initiator, and every volume attached to the host is a LUN of that target.
So the resources a detach and an attach touch are shared by all volumes of
a host, and the target table is shared by all hosts. See
:class:`TgtArrayDriver` for the locks this needs.
"""

import dataclasses
import errno
import hashlib
import os
import re
import subprocess
import typing
import uuid

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log as logging

from cinder.common import config
from cinder.common import processes
from cinder import coordination
from cinder import exception
from cinder.volume import driver

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3

tgt_array_opts = [
    cfg.IntOpt('tgt_control_port',
               default=0, min=0, max=32767,
               help='Management channel of the tgtd that serves as the '
                    'array: the number tgtd was started with as '
                    '"--control-port" (-C), which selects its socket '
                    '/var/run/tgtd/socket.<N>. 0 is tgtd\'s default.'),
    cfg.StrOpt('tgt_portal',
               default='127.0.0.1:3260',
               help='host:port of the iSCSI portal the array serves '
                    'targets on, as initiators must reach it. It is '
                    'returned to the attaching host as target_portal.'),
    cfg.StrOpt('tgt_volumes_dir',
               default='$state_path/tgt-volumes',
               help='Directory holding the volume and snapshot files. It '
                    'must exist and be the same directory, at the same '
                    'path, for tgtd and for every cinder-volume service of '
                    'the backend; the driver does not create it.'),
    cfg.StrOpt('tgt_target_prefix',
               default='iqn.2010-10.org.openstack',
               help='Prefix of the target names (IQNs) the driver creates: '
                    'the target of a connector host is '
                    '<tgt_target_prefix>:host-<host>. Letters, digits, '
                    '".", "-" and ":" only.'),
    cfg.StrOpt('tgtadm_path',
               default='tgtadm',
               help='The tgtadm command. On a host other than the array '
                    'host this can be a wrapper that runs tgtadm there, '
                    'passing its arguments, exit status and output '
                    'through unchanged.'),
]

#: tgtd's limit on a target name, in bytes.
MAX_TARGET_NAME = 223

_TARGET_LINE = re.compile(r'^Target\s+(\d+):\s*(.*?)\s*$')
_LUN_LINE = re.compile(r'^LUN:\s*(\d+)\s*$')
_NEXUS_LINE = re.compile(r'^I_T nexus:\s*(\d+)')
_INITIATOR_LINE = re.compile(r'^Initiator:\s*(\S+)')
_PREFIX_OK = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.:-]*$')
_NAME_UNSAFE = re.compile(r'[^a-z0-9.-]+')

# What tgtadm prints (after "tgtadm: ") when it cannot reach tgtd.
_UNREACHABLE_HINTS = ('failed to send request', 'failed to receive',
                      "can't connect", 'transport endpoint',
                      'connection refused')
_TGTADM_UNREACHABLE_EXIT = 107  # ENOTCONN
#: Seconds a tgtadm call may take: a hung tgtd must not keep a host lock
#: forever.
TGTADM_TIMEOUT = 60


@dataclasses.dataclass
class Lun(object):
    """One logical unit of a target, as ``tgtadm --op show`` lists it."""

    lun: int
    type: str = ''
    backing_store: typing.Optional[str] = None
    attributes: typing.Dict[str, str] = dataclasses.field(
        default_factory=dict)


@dataclasses.dataclass
class Target(object):
    """One target of the array, as ``tgtadm --op show`` lists it."""

    tid: int
    name: str
    luns: typing.Dict[int, Lun] = dataclasses.field(default_factory=dict)
    acl: typing.List[str] = dataclasses.field(default_factory=list)
    sessions: int = 0
    initiators: typing.List[str] = dataclasses.field(default_factory=list)

    @property
    def volume_luns(self):
        """The LUNs that carry a backing store (LUN 0 is the controller)."""
        return {n: lun for n, lun in self.luns.items()
                if n != 0 and lun.backing_store}

    def lun_of(self, path):
        """The LUN id whose backing store is ``path``, or None."""
        wanted = os.path.normpath(path)
        for n, lun in sorted(self.volume_luns.items()):
            if os.path.normpath(lun.backing_store) == wanted:
                return n
        return None


def parse_targets(text):
    """Parse ``tgtadm --lld iscsi --op show --mode target``.

    Returns ``{tid: Target}``. The format is a tree shown by indentation;
    this parser relies on the line contents instead (``Target N: name``
    opens a target, ``... information:`` opens a section, ``LUN: N`` opens
    a LUN), so it copes with other indentation, with sections it does not
    know (skipped) and with backing-store paths containing spaces or
    colons. Lines it cannot place are ignored.
    """
    targets = {}
    target = None
    section = None
    lun = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _TARGET_LINE.match(raw.rstrip())
        if match and not raw[:1].isspace():
            target = Target(tid=int(match.group(1)), name=match.group(2))
            targets[target.tid] = target
            section = lun = None
            continue
        if target is None:
            continue
        if line.endswith('information:'):
            section = line[:-len('information:')].strip().lower()
            lun = None
            continue
        if section == 'lun':
            match = _LUN_LINE.match(line)
            if match:
                lun = Lun(lun=int(match.group(1)))
                target.luns[lun.lun] = lun
                continue
            if lun is None:
                continue
            key, sep, value = line.partition(':')
            if not sep:
                continue
            key, value = key.strip(), value.strip()
            lun.attributes[key] = value
            if key == 'Type':
                lun.type = value
            elif key == 'Backing store path':
                lun.backing_store = (None if value in ('', 'None')
                                     else value)
        elif section == 'acl':
            target.acl.append(line)
        elif section == 'i_t nexus':
            if _NEXUS_LINE.match(line):
                target.sessions += 1
                continue
            match = _INITIATOR_LINE.match(line)
            if match:
                target.initiators.append(match.group(1))
    return targets


def host_target_name(prefix, host):
    """The name of the target of connector host ``host``.

    tgtd accepts letters, digits, ``.``, ``-`` and ``:`` in a name. A host
    name that is not already lower case letters, digits, dots and dashes
    is folded to those and given a hash of the original, so that two
    hosts never share a target (they do not share a host lock).
    """
    safe = _NAME_UNSAFE.sub('-', host.lower()).strip('.-') or 'host'
    digest = hashlib.sha256(host.encode('utf-8')).hexdigest()[:12]
    if safe != host:
        safe = '%s-%s' % (safe, digest)
    name = '%s:host-%s' % (prefix, safe)
    if len(name.encode('utf-8')) > MAX_TARGET_NAME:
        room = MAX_TARGET_NAME - len('%s:host--%s' % (prefix, digest))
        name = '%s:host-%s-%s' % (prefix, safe[:max(room, 0)], digest)
    return name


def lowest_free(used, start=1):
    """The smallest integer >= ``start`` not in ``used``."""
    n = start
    used = set(used)
    while n in used:
        n += 1
    return n


class TgtadmError(exception.VolumeBackendAPIException):
    """tgtadm failed; ``reason`` is its message without the prefix."""

    def __init__(self, message, reason='', exit_code=None):
        super(TgtadmError, self).__init__(message)
        self.reason = reason
        self.exit_code = exit_code


class TgtArrayDriver(driver.VolumeDriver):
    """Volumes of a tgtd "array" shared by several volume services.

    The array state (targets, LUNs, ACLs) lives in tgtd only and is read
    again with ``tgtadm --op show`` by every operation that depends on it;
    the driver keeps no copy another service could not see. That is what
    makes it Active/Active, together with three locks taken through
    :mod:`cinder.coordination` (so they hold across hosts with a
    distributed lock backend).

    ``{driver_prefix}-{volume.id}`` (``tgt-<volume id>``)
        The volume's own lock, shared by every change of the volume's
        files and by every export of the volume. Held for their whole run
        by :meth:`initialize_connection` (the attach that makes tgtd open
        the file), :meth:`create_volume`, :meth:`delete_volume`,
        :meth:`extend_volume` and :meth:`revert_to_snapshot`; by
        :meth:`create_snapshot` and :meth:`delete_snapshot` (the lock of
        the snapshot's volume); by :meth:`create_cloned_volume` (the
        source's and the new volume's) and by
        :meth:`create_volume_from_snapshot` (the snapshot's volume's and
        the new volume's). A method that needs two volumes takes both
        through one :func:`~cinder.coordination.synchronized` call, which
        acquires them in sorted order, so two such calls never deadlock.
        The manager's locks do not order an attach (``<volume id>``)
        against a revert (``<snapshot id>-delete_snapshot``). Without this
        lock, with services on two hosts, an attach could add the LUN
        after a revert found the volume unexported and before it replaced
        the file: tgtd would keep serving the replaced file (open, and
        deleted) while the volume's file holds the snapshot's data, and a
        delete could likewise remove the file of a LUN just added.
        :meth:`terminate_connection` does not take it: a detach only
        removes an export, which neither a revert nor a delete (both
        refuse an exported volume) needs to wait for, and it does not
        wait behind a long copy. The functional test
        ``RedisLocksTestCase.test_attach_waits_for_revert_of_volume``
        (``cinder/tests/functional/test_tgt_array.py``) holds a revert of
        one service after its copy and shows the attach of another
        service wait for this lock and then export the reverted file.

    ``{driver_prefix}-host-{connector[host]}`` (``tgt-host-<host>``)
        Held by :meth:`initialize_connection` (inside the volume lock) and
        :meth:`terminate_connection` for their whole run. It guards the
        resources of one connector host: its target, the LUN numbering on
        it and its ACL. Without it, with services on two hosts:

        * a detach of the host's last volume B lists no LUN left and
          deletes the target while an attach of volume A adds A's LUN to
          that same target: A's attach reports success and A has no path;
        * two attaches to the host both pick the lowest free LUN id; one
          fails (or, had the array reused ids, gets the other's LUN);
        * two first attaches both find no target and both create one.

    ``{driver_prefix}-targets`` (``tgt-targets``)
        Backend-wide: held while a target is created (choosing the lowest
        unused tid and creating the target are one step for everybody)
        and while one is deleted (which frees a tid and a name). Without
        it two services attaching to two different hosts pick the same tid
        and one attach fails.

    Order: volume locks, then the host lock, then the targets lock. The
    targets lock is only ever taken inside a host lock, and the host lock
    only alone or inside one volume lock, never the other way round, so
    the locks cannot deadlock. Right before each step that changes the
    array or a file the driver calls
    :func:`cinder.coordination.ensure_locks_held` with the step's words
    (``create volume-<id>.tmp-<hex>``, ``replace volume-<id>``...), so a
    service that lost its lock fails instead of racing another one.

    Copies (:meth:`create_cloned_volume`, :meth:`create_snapshot`,
    :meth:`create_volume_from_snapshot`, :meth:`revert_to_snapshot`) write
    to a temporary file ``<destination>.tmp-<random hex>``, a name no
    other call of any service uses, and rename it into place. A failed
    copy removes that file and nothing else, even when it failed because
    its lock was lost.

    Fencing: unlike the NFS driver's info file, tgtd offers no change
    that it would refuse to an older fencing token (no conditional
    operation at all), and neither do the plain files of
    ``tgt_volumes_dir``, so a holder frozen between its lock check and its
    step, and woken after another service took its lock, still makes that
    one change (creates or deletes a target, adds or removes a LUN,
    renames, truncates or deletes a volume file); its next check then
    fails. The window is one ``tgtadm`` call or one file system call.
    An array whose API takes a condition (a generation, an ETag) could
    close it as the NFS driver does.

    The manager's locks order whole requests on top of these (a delete
    waits for clones of the volume and for volumes made from its
    snapshots).

    :param execute: runs a command like
        :func:`oslo_concurrency.processutils.execute`; for tests. The
        default, :func:`cinder.common.processes.execute`, registers each
        ``tgtadm`` and ``qemu-img`` run, so that a stopping service can
        kill it.
    """

    SUPPORTS_ACTIVE_ACTIVE = True
    OPTS = tgt_array_opts
    VERSION = '1.0.0'

    driver_prefix = 'tgt'

    def __init__(self, configuration=None, host=None, execute=None):
        super(TgtArrayDriver, self).__init__(configuration=configuration,
                                             host=host)
        # tgt_volumes_dir defaults to a path under $state_path.
        self.configuration.register_opts(config.global_opts)
        self._execute = execute or processes.execute
        #: Test seam: called with the :class:`Target` after the last LUN
        #: of a host target was found gone and before the target is
        #: deleted, inside the host lock.
        self.before_target_delete = None

    # Configuration ---------------------------------------------------------

    @property
    def volumes_dir(self):
        return self.configuration.tgt_volumes_dir

    def _channel(self):
        port = self.configuration.tgt_control_port
        return 'tgt_control_port = %d (socket /var/run/tgtd/socket.%d)' % (
            port, port)

    def do_setup(self):
        conf = self.configuration
        if not _PREFIX_OK.match(conf.tgt_target_prefix or ''):
            raise exception.ConfigurationError(
                'tgt_target_prefix = %r is not a valid target name prefix: '
                'use letters, digits, ".", "-" and ":", for example '
                'iqn.2010-10.org.openstack' % conf.tgt_target_prefix)
        host, sep, port = (conf.tgt_portal or '').rpartition(':')
        if not sep or not host or not port.isdigit():
            raise exception.ConfigurationError(
                'tgt_portal = %r is not host:port, for example '
                '192.0.2.10:3260' % conf.tgt_portal)
        if not os.path.isdir(self.volumes_dir):
            raise exception.ConfigurationError(
                'tgt_volumes_dir = %s does not exist or is not a directory; '
                'create it (on the array host, shared at the same path '
                'with every volume service of the backend)' %
                self.volumes_dir)
        self._show()

    def check_for_setup_error(self):
        self._show()
        if not os.access(self.volumes_dir, os.W_OK | os.X_OK):
            raise exception.ConfigurationError(
                'tgt_volumes_dir = %s is not writable by this service' %
                self.volumes_dir)
        try:
            out = self._tgtadm('--op', 'show', '--mode', 'portal')
        except exception.VolumeBackendAPIException as e:
            LOG.warning('Cannot list the portals of tgtd: %s', e)
            return
        portals = [line.split(':', 1)[1].strip().rsplit(',', 1)[0]
                   for line in out.splitlines()
                   if line.strip().startswith('Portal:')]
        if self.configuration.tgt_portal not in portals:
            LOG.warning('tgt_portal = %s is not one of the portals tgtd '
                        'listens on (%s); initiators must reach the array '
                        'at tgt_portal', self.configuration.tgt_portal,
                        ', '.join(portals) or 'none')

    # tgtadm ----------------------------------------------------------------

    def _tgtadm(self, *args):
        conf = self.configuration
        cmd = [conf.tgtadm_path]
        if conf.tgt_control_port:
            cmd += ['-C', str(conf.tgt_control_port)]
        cmd += ['--lld', 'iscsi'] + list(args)
        try:
            out, _err = self._execute(*cmd, timeout=TGTADM_TIMEOUT)
        except processes.ChildKilled as e:
            raise TgtadmError(
                'tgtadm %s was killed: %s' % (' '.join(args), e.reason),
                reason='killed: %s' % e.reason,
                exit_code=e.exit_code) from None
        except subprocess.TimeoutExpired:
            raise TgtadmError(
                'tgtd did not answer tgtadm %s within %d s on its '
                'management channel, %s' % (
                    ' '.join(args), TGTADM_TIMEOUT, self._channel()),
                reason='timeout') from None
        except processutils.ProcessExecutionError as e:
            reason = (e.stderr or e.stdout or '').strip()
            if reason.startswith('tgtadm:'):
                reason = reason[len('tgtadm:'):].strip()
            lowered = reason.lower()
            if (e.exit_code == _TGTADM_UNREACHABLE_EXIT or
                    any(h in lowered for h in _UNREACHABLE_HINTS)):
                raise TgtadmError(
                    'tgtd is not reachable on its management channel, '
                    '%s: %s. Is tgtd running with --control-port %d?' % (
                        self._channel(), reason or 'exit code %s' %
                        e.exit_code, conf.tgt_control_port),
                    reason=reason, exit_code=e.exit_code) from None
            raise TgtadmError(
                'tgtadm %s failed (exit code %s): %s' % (
                    ' '.join(args), e.exit_code, reason or 'no message'),
                reason=reason, exit_code=e.exit_code) from None
        except OSError as e:
            raise exception.VolumeBackendAPIException(
                'cannot run tgtadm_path = %s: %s' % (
                    conf.tgtadm_path, e)) from None
        return out

    def _show(self):
        """The array's targets, read now: ``{tid: Target}``."""
        return parse_targets(self._tgtadm('--op', 'show', '--mode',
                                          'target'))

    @staticmethod
    def _by_name(targets, name):
        for target in targets.values():
            if target.name == name:
                return target
        return None

    # Paths -----------------------------------------------------------------

    def _path(self, name):
        return os.path.join(self.volumes_dir, name)

    def local_path(self, volume):
        return self._path(volume.name)

    def list_resource_ids(self):
        """Volumes and snapshots with a file in ``tgt_volumes_dir``."""
        try:
            names = os.listdir(self.volumes_dir)
        except OSError as e:
            raise exception.VolumeDriverException(
                'tgt_volumes_dir = %s cannot be listed: %s' % (
                    self.volumes_dir, e))
        return driver.resource_ids_in(names)

    def _exports_of(self, path, targets=None):
        targets = self._show() if targets is None else targets
        return [(t, n) for t in targets.values()
                for n, lun in t.volume_luns.items()
                if os.path.normpath(lun.backing_store) ==
                os.path.normpath(path)]

    def _refuse_if_exported(self, volume, what):
        exports = self._exports_of(self.local_path(volume))
        if exports:
            raise exception.InvalidVolume(
                'cannot %s volume %s: it is exported as %s; detach it '
                'first' % (what, volume.id, ', '.join(
                    'LUN %d of target %s' % (n, t.name)
                    for t, n in exports)))

    # Files -----------------------------------------------------------------

    def _create_sparse(self, path, size_gb):
        coordination.ensure_locks_held(
            step='create %s' % os.path.basename(path))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise exception.VolumeBackendAPIException(
                'cannot create %s: it already exists' % path) from None
        try:
            os.ftruncate(fd, size_gb * GiB)
        finally:
            os.close(fd)

    @staticmethod
    def _temp_path(dst):
        """A temporary name for a copy to ``dst``, unique to this call.

        Random, not the process id: services on other hosts (another pid
        namespace) share the directory and may have the same pid.
        """
        return '%s.tmp-%s' % (dst, uuid.uuid4().hex)

    def _copy(self, src, dst, size_gb, replace=False):
        """Copy ``src`` to ``dst`` of at least ``size_gb`` GiB.

        qemu-img writes a sparse copy to a temporary name of this call's
        own (:meth:`_temp_path`); the rename makes the file appear whole
        or not at all. The caller holds the volume locks of ``src`` and
        ``dst``; they are checked before the copy and before the rename.

        :param replace: rename over an existing ``dst`` (a revert);
            otherwise ``dst`` must not exist.
        :raises VolumeBackendAPIException: ``src`` is missing, ``dst``
            exists without ``replace``, or qemu-img failed.
        :raises LockLost: a lock was lost before the copy or the rename;
            ``dst`` is unchanged. Whatever fails, the temporary file is
            removed, and no other file.
        """
        if not os.path.exists(src):
            raise exception.VolumeBackendAPIException(
                'source file %s does not exist' % src)
        if not replace and os.path.exists(dst):
            raise exception.VolumeBackendAPIException(
                'cannot create %s: it already exists' % dst)
        tmp = self._temp_path(dst)
        try:
            coordination.ensure_locks_held(
                step='create %s' % os.path.basename(tmp))
            self._execute('qemu-img', 'convert', '-f', 'raw', '-O', 'raw',
                          src, tmp)
            if os.path.getsize(tmp) < size_gb * GiB:
                os.truncate(tmp, size_gb * GiB)
            coordination.ensure_locks_held(step='%s %s' % (
                'replace' if replace else 'create', os.path.basename(dst)))
            os.rename(tmp, dst)
        except processutils.ProcessExecutionError as e:
            # A run the stopping service killed has no stderr; its
            # description says why.
            raise exception.VolumeBackendAPIException(
                'copying %s to %s failed: %s' % (
                    src, dst, (e.stderr or e.description or '').strip())
            ) from None
        finally:
            self._unlink(tmp)

    @staticmethod
    def _unlink(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True

    # Volumes ---------------------------------------------------------------

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_volume(self, volume):
        self._create_sparse(self.local_path(volume), volume.size)

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def delete_volume(self, volume):
        """Delete the volume's file.

        :raises InvalidVolume: the volume is a LUN of a target; it stays.
        """
        path = self.local_path(volume)
        if not os.path.exists(path):
            LOG.info('Volume %s: %s is already gone', volume.id, path)
            return
        self._refuse_if_exported(volume, 'delete')
        coordination.ensure_locks_held(
            step='delete %s' % os.path.basename(path))
        self._unlink(path)

    @coordination.synchronized('{self.driver_prefix}-{src_vref.id}',
                               '{self.driver_prefix}-{volume.id}')
    def create_cloned_volume(self, volume, src_vref):
        self._copy(self.local_path(src_vref), self.local_path(volume),
                   volume.size)

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def extend_volume(self, volume, new_size):
        """Grow the volume's file.

        :raises InvalidInput: ``new_size`` is smaller than the file.
        """
        path = self.local_path(volume)
        if os.path.getsize(path) > new_size * GiB:
            raise exception.InvalidInput(
                'cannot shrink volume %s to %d GiB' % (volume.id, new_size))
        coordination.ensure_locks_held(
            step='rewrite %s' % os.path.basename(path))
        os.truncate(path, new_size * GiB)

    # Snapshots -------------------------------------------------------------

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def create_snapshot(self, snapshot):
        self._copy(self.local_path(snapshot.volume),
                   self._path(snapshot.name), snapshot.volume_size)

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def delete_snapshot(self, snapshot):
        path = self._path(snapshot.name)
        coordination.ensure_locks_held(
            step='delete %s' % os.path.basename(path))
        if not self._unlink(path):
            LOG.info('Snapshot %s is already gone', snapshot.id)

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}',
                               '{self.driver_prefix}-{volume.id}')
    def create_volume_from_snapshot(self, volume, snapshot):
        self._copy(self._path(snapshot.name), self.local_path(volume),
                   volume.size)

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}',
                               '{self.driver_prefix}-{volume.id}')
    def revert_to_snapshot(self, volume, snapshot):
        """Replace the volume's file by a copy of the snapshot's.

        Holds the volume's lock, which an attach takes too, from the
        export check to the rename: no service can export the volume in
        between.

        :raises InvalidVolume: the volume is a LUN of a target; tgtd keeps
            an exported file open, so replacing it would leave the LUN on
            the old data. Nothing changed.
        """
        self._refuse_if_exported(volume, 'revert')
        self._copy(self._path(snapshot.name), self.local_path(volume),
                   max(volume.size, snapshot.volume_size), replace=True)

    # Attachments -----------------------------------------------------------

    @staticmethod
    def _connector_host(connector):
        host = (connector or {}).get('host')
        if not host or not isinstance(host, str):
            raise exception.InvalidInput(
                'connector %r has no "host": the tgt array driver maps '
                'volumes to hosts' % (connector,))
        return host

    @staticmethod
    def _acl_entry(connector):
        """What to bind the host target to: ``(tgtadm option, value)``."""
        if connector.get('initiator'):
            return '--initiator-name', connector['initiator']
        if connector.get('ip'):
            return '--initiator-address', connector['ip']
        raise exception.InvalidInput(
            'connector of host %s has neither "initiator" (iSCSI IQN) nor '
            '"ip": the host target needs one for its ACL' %
            connector.get('host'))

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def initialize_connection(self, volume, connector):
        """Export ``volume`` as a LUN of the target of connector's host.

        Holds the volume's lock, then the host's: no change of the
        volume's file runs while tgtd is given it.
        """
        self._connector_host(connector)
        self._acl_entry(connector)
        path = self.local_path(volume)
        if not os.path.exists(path):
            raise exception.VolumeNotFound(
                volume.id, 'volume %s has no file %s in tgt_volumes_dir' % (
                    volume.id, path))
        return self._attach(volume, connector)

    @coordination.synchronized('{self.driver_prefix}-host-{connector[host]}')
    def _attach(self, volume, connector):
        host = connector['host']
        name = host_target_name(self.configuration.tgt_target_prefix, host)
        path = self.local_path(volume)
        target = self._by_name(self._show(), name)
        created = False
        if target is None:
            target = self._create_target(name)
            created = True
        try:
            lun = target.lun_of(path)
            if lun is None:
                option, value = self._acl_entry(connector)
                if value not in target.acl:
                    coordination.ensure_locks_held(
                        step='bind %s to %s' % (value, name))
                    self._tgtadm('--op', 'bind', '--mode', 'target',
                                 '--tid', str(target.tid), option, value)
                lun = lowest_free(target.luns, start=1)
                coordination.ensure_locks_held(
                    step='export %s as LUN %d of %s' % (
                        os.path.basename(path), lun, name))
                self._tgtadm('--op', 'new', '--mode', 'logicalunit',
                             '--tid', str(target.tid), '--lun', str(lun),
                             '--backing-store', path)
                LOG.info('Volume %s is LUN %d of target %s (tid %d) of '
                         'host %s', volume.id, lun, name, target.tid, host)
            else:
                LOG.info('Volume %s already is LUN %d of target %s',
                         volume.id, lun, name)
        except Exception:
            if created:
                self._drop_if_empty(name)
            raise
        return {
            'driver_volume_type': 'iscsi',
            'data': {
                'target_discovered': False,
                'target_portal': self.configuration.tgt_portal,
                'target_iqn': name,
                'target_lun': lun,
                'volume_id': volume.id,
                'access_mode': 'rw',
            },
        }

    def terminate_connection(self, volume, connector, **kwargs):
        """Remove ``volume``'s LUN; delete the host target once empty."""
        self._connector_host(connector)
        self._detach(volume, connector)

    @coordination.synchronized('{self.driver_prefix}-host-{connector[host]}')
    def _detach(self, volume, connector):
        host = connector['host']
        name = host_target_name(self.configuration.tgt_target_prefix, host)
        path = self.local_path(volume)
        target = self._by_name(self._show(), name)
        if target is None:
            LOG.info('Host %s has no target %s: volume %s is not exported '
                     'to it', host, name, volume.id)
            return
        luns = [n for n, lun in sorted(target.volume_luns.items())
                if os.path.normpath(lun.backing_store) ==
                os.path.normpath(path)]
        if not luns:
            LOG.info('Volume %s is not a LUN of target %s', volume.id, name)
        for lun in luns:
            coordination.ensure_locks_held(
                step='remove LUN %d of %s' % (lun, name))
            try:
                self._tgtadm('--op', 'delete', '--mode', 'logicalunit',
                             '--tid', str(target.tid), '--lun', str(lun))
            except TgtadmError as e:
                if "can't find the logical unit" not in e.reason:
                    raise
            LOG.info('Removed LUN %d (volume %s) from target %s', lun,
                     volume.id, name)
        self._drop_if_empty(name)

    def _drop_if_empty(self, name):
        """Delete target ``name`` if it has no volume LUN left.

        Runs inside the host lock of the target's host.
        """
        target = self._by_name(self._show(), name)
        if target is None or target.volume_luns:
            return
        if self.before_target_delete is not None:
            self.before_target_delete(target)
        self._delete_target(target)

    @coordination.synchronized('{self.driver_prefix}-targets')
    def _create_target(self, name):
        """Create target ``name`` with the lowest unused tid.

        Runs inside the host lock of the target's host.
        """
        targets = self._show()
        existing = self._by_name(targets, name)
        if existing is not None:
            return existing
        tid = lowest_free(targets, start=1)
        coordination.ensure_locks_held(
            step='create target %s (tid %d)' % (name, tid))
        self._tgtadm('--op', 'new', '--mode', 'target', '--tid', str(tid),
                     '--targetname', name)
        LOG.info('Created target %s (tid %d)', name, tid)
        return Target(tid=tid, name=name)

    @coordination.synchronized('{self.driver_prefix}-targets')
    def _delete_target(self, target):
        """Delete ``target`` and with it its ACL.

        Runs inside the host lock of the target's host. ``--force``: an
        initiator may still be logged in to the empty target.
        """
        coordination.ensure_locks_held(
            step='delete target %s (tid %d)' % (target.name, target.tid))
        try:
            self._tgtadm('--op', 'delete', '--force', '--mode', 'target',
                         '--tid', str(target.tid))
        except TgtadmError as e:
            if "can't find the target" not in e.reason:
                raise
        LOG.info('Deleted target %s (tid %d): no LUN left', target.name,
                 target.tid)

    # Stats -----------------------------------------------------------------

    def get_volume_stats(self, refresh=False):
        stats = super(TgtArrayDriver, self).get_volume_stats(refresh)
        stats.update(vendor_name='Linux SCSI target framework',
                     storage_protocol='iSCSI',
                     thin_provisioning_support=True)
        try:
            st = os.statvfs(self.volumes_dir)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
            return stats
        stats.update(total_capacity_gb=round(
            st.f_blocks * st.f_frsize / GiB, 2),
            free_capacity_gb=round(st.f_bavail * st.f_frsize / GiB, 2))
        return stats
