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

"""What cinder-aa-stress finds in the volumes' files on a RemoteFS share.

:func:`audit_volume` compares a volume's info file, its ``qemu-img``
backing chain and the files present on the share;
:mod:`cinder.stress.qemu` reads the data patterns the workload wrote. See
the docstring of :mod:`cinder.volume.drivers.remotefs` for the layout.
"""

import json
import os
import re

from cinder.stress import qemu
from cinder.stress import verdict
from cinder.volume.drivers import remotefs
from cinder.volume import fenced_record

Violation = verdict.Violation

#: A file of a volume: ``volume-<id>`` and what follows it.
_VOLUME_FILE = re.compile(r'^volume-([0-9a-f-]{36})(?:\.|$)')

#: Exit codes of ``qemu-img check``.
_CHECK_EXIT_CODES = {
    1: 'the check could not be completed',
    2: 'the image is corrupted',
    3: 'the image has leaked clusters',
    63: 'the format does not support checks',
}


def _volume_name(volume_id):
    return 'volume-%s' % volume_id


def _files_of(share_dir, name):
    """Names of every file of volume *name* in *share_dir*, sorted.

    But the tombstone of a deleted volume's info file: the one file that
    deleting a volume leaves, on purpose (see
    :mod:`cinder.volume.fenced_record`).
    """
    tombstone = _tombstone(share_dir, name)
    return sorted(entry for entry in os.listdir(share_dir)
                  if (entry == name or entry.startswith(name + '.')) and
                  entry != tombstone)


def _record(share_dir, name):
    return fenced_record.FencedRecord(os.path.join(share_dir,
                                                   name + '.info'))


def _tombstone(share_dir, name):
    """File name of the tombstone of volume *name*, or None."""
    record = _record(share_dir, name)
    try:
        generation = record.read()
    except Exception:
        return None                     # reported by examine_volume
    if generation is None or generation.text is not None:
        return None
    return os.path.basename(record.generation_path(generation.number))


def _is_info_or_temp(name, entry):
    """Whether *entry* is a file of the info file of *name*.

    One of its generations, one from before generations, or a temporary
    file of one.
    """
    info = name + '.info'
    return entry == info or entry.startswith(info + '.')


def _is_temp(name, entry):
    return entry.startswith(name + '.info.tmp-')


def _format_of(name, info, entry):
    return info.base_format if entry == name else 'qcow2'


def _load_info(share_dir, name):
    """(VolumeInfo, None) or (None, why it cannot be used)."""
    record = _record(share_dir, name)
    try:
        generation = record.read()
    except (OSError, UnicodeDecodeError) as e:
        return None, 'info file %s cannot be read: %s' % (record.path, e)
    except Exception as e:
        return None, str(e)
    if generation is None or generation.text is None:
        return None, 'info file %s does not exist%s' % (
            record.path, '' if generation is None else
            ' (the volume was deleted)')
    path = record.generation_path(generation.number)
    try:
        return remotefs.VolumeInfo.from_json(generation.text, path, name,
                                             None), None
    except Exception as e:
        return None, str(e)


def active_image(share_dir, volume_id):
    """(path, format) of the volume's active image, or None.

    None when the info file cannot be read or is invalid.
    """
    name = _volume_name(volume_id)
    info, _why = _load_info(share_dir, name)
    if info is None:
        return None
    return (os.path.join(share_dir, info.active),
            _format_of(name, info, info.active))


def snapshot_image(share_dir, volume_id, snapshot_id):
    """(path, format) of the file holding a snapshot's image, or None.

    None when the info file cannot be read or does not list the snapshot.
    """
    name = _volume_name(volume_id)
    info, _why = _load_info(share_dir, name)
    if info is None or snapshot_id not in info.snapshots:
        return None
    entry = info.snapshots[snapshot_id]
    return os.path.join(share_dir, entry), _format_of(name, info, entry)


def _read_chain(share_dir, name, info):
    """((file names, virtual size of the top), None) or (None, problem)."""
    active = os.path.join(share_dir, info.active)
    cmd = ['qemu-img', 'info', '--force-share', '--backing-chain',
           '--output=json', '-f', _format_of(name, info, info.active),
           active]
    try:
        code, out, err = qemu.run(cmd)
    except OSError as e:
        return None, 'cannot run qemu-img: %s' % e
    if code != 0:
        return None, '%s failed (exit %s): %s' % (
            ' '.join(cmd), code, (err or out).strip())
    try:
        chain = json.loads(out)
    except ValueError as e:
        return None, 'qemu-img info printed no valid JSON (%s): %r' % (
            e, out[:200])
    if not isinstance(chain, list) or not chain:
        return None, 'qemu-img info printed no chain: %r' % out[:200]
    size = chain[0].get('virtual-size') if isinstance(chain[0], dict) \
        else None
    share = os.path.abspath(share_dir)
    names = []
    for depth, image in enumerate(chain):
        filename = image.get('filename') if isinstance(image, dict) \
            else None
        if not isinstance(filename, str):
            return None, 'qemu-img info gave no file name at depth %d' % (
                depth)
        where = os.path.abspath(os.path.join(share_dir, filename))
        entry = os.path.basename(where)
        if (os.path.dirname(where) != share or
                not remotefs.is_volume_file_name(name, entry)):
            return None, 'chain of %s reaches %s, not a file of the volume ' \
                'on the share' % (info.active, filename)
        expected = _format_of(name, info, entry)
        if image.get('format') != expected:
            return None, '%s is opened as %s, not %s' % (
                entry, image.get('format'), expected)
        names.append(entry)
    for depth, image in enumerate(chain):
        entry = names[depth]
        backing = image.get('backing-filename')
        if depth == len(chain) - 1:
            if backing is not None:
                return None, 'backing file %s of %s is missing from the ' \
                    'chain' % (backing, entry)
            continue
        if backing is None:
            return None, '%s has no backing file but the chain goes on' % (
                entry)
        if '/' in backing:
            return None, '%s names its backing file by a path (%s), not ' \
                'a bare file name' % (entry, backing)
        expected = _format_of(name, info, names[depth + 1])
        recorded = image.get('backing-filename-format')
        if recorded != expected:
            return None, '%s records backing format %s for %s, not %s' % (
                entry, recorded, backing, expected)
    return (names, size), None


def _check_image(path):
    """(None, None) if ``qemu-img check`` passes on qcow2 *path*.

    Otherwise (kind, why): ``qemu-img-leaks`` for leaked clusters only
    (exit 3: space lost, no data harmed; what a killed ``qemu-img`` may
    leave), ``qemu-img-check`` for anything else.
    """
    cmd = ['qemu-img', 'check', '--force-share', '-f', 'qcow2', path]
    try:
        code, out, err = qemu.run(cmd)
    except OSError as e:
        return 'qemu-img-check', 'cannot run qemu-img: %s' % e
    if code == 0:
        return None, None
    kind = 'qemu-img-leaks' if code == 3 else 'qemu-img-check'
    return kind, '%s: exit %s (%s): %s' % (
        ' '.join(cmd), code, _CHECK_EXIT_CODES.get(code, 'failed'),
        ' '.join((out + err).split())[:500])


class Examination(object):
    """What :func:`examine_volume` found of one volume on the share.

    :ivar files: names of every file of the volume, sorted.
    :ivar info: the :class:`~cinder.volume.drivers.remotefs.VolumeInfo`,
        or None when the info file is missing or cannot be used.
    :ivar chain: file names from the active file down to the base, or
        None when the chain cannot be followed.
    :ivar size: virtual size in bytes of the active image, or None.
    :ivar problems: list of :class:`Violation` of the files themselves:
        ``info-unreadable``, ``chain-broken``, ``qemu-img-check``,
        ``qemu-img-leaks``, ``snapshot-off-chain``, ``missing-image``,
        ``stray-file``, ``stray-temp-file``, ``chain-file-missing``.
    """

    def __init__(self, files):
        self.files = files
        self.info = None
        self.chain = None
        self.size = None
        self.problems = []

    @property
    def usable(self):
        """Whether the volume can be read: an info file and a chain."""
        return self.chain is not None


def examine_volume(share_dir, volume_id):
    """Check the files of volume *volume_id* in *share_dir*.

    Nothing is compared with what the volume should hold; see
    :func:`audit_volume` and :mod:`cinder.stress.assess` for that.

    :returns: an :class:`Examination`.
    """
    name = _volume_name(volume_id)
    found = Examination(_files_of(share_dir, name))
    if not found.files:
        return found
    problems = found.problems
    info, why = _load_info(share_dir, name)
    if info is None:
        problems.append(Violation('info-unreadable', 'volume %s: %s' % (
            volume_id, why)))
        return found
    found.info = info
    read, why = _read_chain(share_dir, name, info)
    if read is None:
        problems.append(Violation('chain-broken', 'volume %s: %s' % (
            volume_id, why)))
        return found
    found.chain, found.size = read
    chain = found.chain
    for entry in chain:
        if _format_of(name, info, entry) != 'qcow2':
            continue
        kind, why = _check_image(os.path.join(share_dir, entry))
        if why is not None:
            problems.append(Violation(kind, 'volume %s: %s' % (
                volume_id, why)))
    for snapshot_id, entry in sorted(info.snapshots.items()):
        if entry not in found.files:
            problems.append(Violation(
                'missing-image', 'volume %s: the info file names %s for '
                'snapshot %s, which is not on the share' % (
                    volume_id, entry, snapshot_id)))
        elif entry not in chain:
            problems.append(Violation(
                'snapshot-off-chain', 'volume %s: file %s of snapshot %s is '
                'not in the chain %s' % (volume_id, entry, snapshot_id,
                                         ' <- '.join(reversed(chain)))))
    images = set(entry for entry in found.files
                 if not _is_info_or_temp(name, entry))
    for entry in sorted(images - set(chain)):
        problems.append(Violation(
            'stray-file', 'volume %s: %s is on the share but not in the '
            'chain %s' % (volume_id, entry, ' <- '.join(reversed(chain)))))
    for entry in found.files:
        if _is_temp(name, entry):
            problems.append(Violation(
                'stray-temp-file', 'volume %s: %s is an info file never '
                'linked into place' % (volume_id, entry)))
    for entry in sorted(set(chain) - images):
        problems.append(Violation(
            'chain-file-missing', 'volume %s: chain file %s is not on the '
            'share' % (volume_id, entry)))
    return found


def audit_volume(share_dir, volume_id, expected_snapshots=None,
                 exists=True):
    """Check the files of volume *volume_id* in *share_dir*.

    :param expected_snapshots: ids of the snapshots the volume must have,
        or None not to compare.
    :param exists: False if the volume was deleted: then the only check is
        that none of its files is left.
    :returns: a list of :class:`Violation`, empty when all is consistent.
    """
    found = examine_volume(share_dir, volume_id)
    if not exists:
        if found.files:
            return [Violation('leftover-files', 'deleted volume %s left %s '
                              'in %s' % (volume_id, ', '.join(found.files),
                                         share_dir))]
        return []
    if not found.files:
        return [Violation('info-unreadable', 'volume %s: no files on the '
                          'share' % volume_id)]
    problems = []
    if expected_snapshots is not None and found.info is not None:
        problems.extend(compare_snapshots(volume_id, found.info,
                                          expected_snapshots))
    return problems + found.problems


def compare_snapshots(volume_id, info, expected):
    """Violations where *info* lists other snapshots than *expected*."""
    problems = []
    expected = set(expected)
    recorded = set(info.snapshots)
    for snapshot_id in sorted(expected - recorded):
        problems.append(Violation(
            'snapshot-missing', 'volume %s: snapshot %s is not in the '
            'info file' % (volume_id, snapshot_id)))
    for snapshot_id in sorted(recorded - expected):
        problems.append(Violation(
            'snapshot-unexpected', 'volume %s: info file lists '
            'snapshot %s (file %s), which should not exist' % (
                volume_id, snapshot_id, info.snapshots[snapshot_id])))
    return problems


def list_share(share_dir):
    """(dict of volume id to its file names, other file names) on a share."""
    volumes = {}
    others = []
    for entry in sorted(os.listdir(share_dir)):
        match = _VOLUME_FILE.match(entry)
        if match:
            volumes.setdefault(match.group(1), []).append(entry)
        else:
            others.append(entry)
    for volume_id in list(volumes):
        tombstone = _tombstone(share_dir, _volume_name(volume_id))
        if tombstone is not None:
            volumes[volume_id].remove(tombstone)
            if not volumes[volume_id]:
                del volumes[volume_id]
    return volumes, others


def files_on_share(share_dir):
    """Names of the files in *share_dir*, sorted, but tombstones.

    A deleted volume leaves one file on purpose, the tombstone of its
    info file (see :mod:`cinder.volume.fenced_record`): a share whose
    volumes were all deleted holds nothing else of theirs.
    """
    volumes, others = list_share(share_dir)
    return sorted(others + [name for names in volumes.values()
                            for name in names])
