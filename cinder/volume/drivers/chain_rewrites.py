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

"""How the RemoteFS driver changes images that a volume's chain uses.

Three operations change images that already belong to a volume: deleting
its newest snapshot (*fold* the active image into the snapshot's file),
deleting an older one (*merge* the snapshot's file into its child, which
then backs onto the snapshot's own backing file) and extending it
(*grow* the active image). :class:`InPlace` rewrites those images where
they are; :class:`CopyOnWrite` writes only new files, which nobody uses
until the driver commits the info file that names them.

Each operation returns a :class:`Rewrite`, the plan the driver commits in
the volume's info file:

* ``renames``: old file name -> new file name, for the files the info
  file names (the active file and snapshot files) that are replaced;
* ``made``: new files, to remove if the info file cannot be committed;
* ``obsolete``: files nobody uses once the info file is committed, to
  delete after it.

Each step is preceded by a check: *check_rewrite* (the driver's check of
its fenced record and locks, with the step's words) before an in-place
rewrite, :func:`cinder.coordination.ensure_locks_held` with ``"create
<file>"`` before a new file is written.
"""

import collections
import os

from cinder import coordination
from cinder.image import qemu_img

Rewrite = collections.namedtuple('Rewrite', 'renames made obsolete')


class Chain(object):
    """One volume's chain, as the rewrites see it.

    :param directory: where the images are.
    :param names: the chain's file names, the active file first, the base
        last.
    :param fmt_of: callable, file name -> its format.
    :param check_rewrite: callable, called with the step's words
        (``"rewrite <file>"``) right before an image is rewritten in
        place; raises to stop the step.
    :param new_name: callable returning the name of a file that does not
        exist yet (copy-on-write only).
    """

    def __init__(self, directory, names, fmt_of, check_rewrite,
                 new_name=None):
        self.directory = directory
        self.names = list(names)
        self.fmt_of = fmt_of
        self.check_rewrite = check_rewrite
        self.new_name = new_name
        #: Files made so far: what to remove if the rewrite fails.
        self.made = []

    def path(self, name):
        return os.path.join(self.directory, name)

    def below(self, index):
        """The name of the image under ``names[index]``, or None."""
        return self.names[index + 1] if index + 1 < len(self.names) else None


class InPlace(object):
    """Rewrite the images where they are: commit, rebase, resize.

    Cheapest: only the data that moves is written. A holder frozen while
    its ``qemu-img`` runs (see the RemoteFS module doc, "Fencing") goes on
    rewriting a file the next holder may already use, until its service
    kills that ``qemu-img``.

    For a grow that window is ``qemu-img info`` and ``resize`` of the
    active image, measured by ``tox -e bench`` (its ``grow`` phase, a raw
    base of 1 GiB grown by 1, 4 and 16 GiB on a local disk): 46-57 ms
    sparse and 53-68 ms with ``falloc``, whatever the size added; but
    where ``fallocate(2)`` fails, as on NFS mounts older than 4.2,
    ``falloc`` writes every block added: 1.45 s, 5.3 s and 41 s.
    """

    copy_on_write = False

    def fold(self, chain, index):
        """Delete the newest snapshot, whose file is ``names[index]``."""
        name, active = chain.names[index], chain.names[0]
        chain.check_rewrite('rewrite %s' % name)
        qemu_img.commit(chain.path(active), fmt='qcow2')
        return Rewrite({active: name}, [], [active])

    def merge(self, chain, index):
        """Delete an older snapshot, whose file is ``names[index]``."""
        child, parent = chain.names[index - 1], chain.below(index)
        chain.check_rewrite('rewrite %s' % child)
        qemu_img.rebase(chain.path(child), parent,
                        chain.fmt_of(parent) if parent else None,
                        fmt='qcow2')
        return Rewrite({}, [], [chain.names[index]])

    def grow(self, chain, size, preallocation=None):
        """Grow the volume (its active image) to *size* bytes."""
        active = chain.names[0]
        chain.check_rewrite('rewrite %s' % active)
        qemu_img.resize(chain.path(active), size, chain.fmt_of(active),
                        preallocation=preallocation)
        return Rewrite({}, [], [])


class CopyOnWrite(object):
    """Write only new files; the info file's commit switches to them.

    Nothing the chain uses is written, so a holder that goes on after its
    lock was lost changes files that nobody uses, and its commit of the
    info file is refused: it can do no harm. The cost is copying (all
    sparse, as qcow2):

    * fold: the snapshot's own data and the active image's, then the
      active image's data again into that copy (``qemu-img commit``);
    * merge: the child's own data, the snapshot's data it needs (``qemu-img
      rebase`` of the copy), and the own data of every image above the
      child, whose headers name the image under them;
    * grow: the active image's own data.

    Two cases copy nothing, because a copy of the base would copy the
    whole volume. A snapshot whose file is the base of the chain is only
    forgotten: the file stays, as the base of the volume. A volume whose
    chain is its base alone is grown by a new qcow2 overlay of the new
    size over the base, which becomes the active image: the base is not
    written. With *preallocation* only the space added is preallocated,
    in the overlay; what the guest writes below the old size then goes
    into the overlay too, unallocated until written, as after a snapshot.

    If a step fails before the commit, the new files are removed (unless
    the lock was lost); after the commit, the files replaced are deleted.
    """

    copy_on_write = True

    def _copy(self, chain, name, backing):
        """A new qcow2 image with *name*'s own data, over *backing*.

        *backing* (a name, or None for a standalone copy) must show what
        *name*'s backing file shows.
        """
        new = chain.new_name()
        coordination.ensure_locks_held(step='create %s' % new)
        chain.made.append(new)
        qemu_img.convert(chain.path(name), chain.path(new), 'qcow2',
                         src_fmt=chain.fmt_of(name), backing_file=backing,
                         backing_fmt=(chain.fmt_of(backing) if backing
                                      else None))
        return new

    def _copy_above(self, chain, renames, index, new):
        """Copy every image above ``names[index]``, now *new*, onto it."""
        for name in reversed(chain.names[:index]):
            new = self._copy(chain, name, new)
            renames[name] = new
        return renames

    def fold(self, chain, index):
        """Delete the newest snapshot, whose file is ``names[index]``."""
        name, active = chain.names[index], chain.names[0]
        if chain.below(index) is None:
            return Rewrite({}, [], [])      # the base stays
        folded = self._copy(chain, name, chain.below(index))
        top = self._copy(chain, active, folded)
        coordination.ensure_locks_held(step='create %s' % folded)
        qemu_img.commit(chain.path(top), fmt='qcow2')
        return Rewrite({active: folded}, list(chain.made),
                       [active, name, top])

    def merge(self, chain, index):
        """Delete an older snapshot, whose file is ``names[index]``."""
        name, child = chain.names[index], chain.names[index - 1]
        parent = chain.below(index)
        if parent is None:
            return Rewrite({}, [], [])      # the base stays
        merged = self._copy(chain, child, name)
        coordination.ensure_locks_held(step='create %s' % merged)
        qemu_img.rebase(chain.path(merged), parent, chain.fmt_of(parent),
                        fmt='qcow2')
        renames = self._copy_above(chain, {child: merged}, index - 1,
                                   merged)
        return Rewrite(renames, list(chain.made), [name] + list(renames))

    def _overlay(self, chain, size, preallocation):
        """A new qcow2 overlay of *size* bytes over the base alone."""
        base = chain.names[0]
        new = chain.new_name()
        coordination.ensure_locks_held(step='create %s' % new)
        chain.made.append(new)
        # Preallocated, it is made at the base's size and then grown:
        # qemu-img creates no preallocated qcow2 image over a backing file,
        # and a resize preallocates only the space it adds.
        qemu_img.create(chain.path(new), 'qcow2',
                        None if preallocation else size, backing_file=base,
                        backing_fmt=chain.fmt_of(base))
        if preallocation:
            coordination.ensure_locks_held(step='create %s' % new)
            qemu_img.resize(chain.path(new), size, 'qcow2',
                            preallocation=preallocation)
        return Rewrite({base: new}, list(chain.made), [])

    def grow(self, chain, size, preallocation=None):
        """Grow the volume (its active image) to *size* bytes."""
        active = chain.names[0]
        if len(chain.names) == 1:
            return self._overlay(chain, size, preallocation)
        grown = self._copy(chain, active, chain.below(0))
        coordination.ensure_locks_held(step='create %s' % grown)
        qemu_img.resize(chain.path(grown), size, 'qcow2',
                        preallocation=preallocation)
        return Rewrite({active: grown}, list(chain.made), [active])
