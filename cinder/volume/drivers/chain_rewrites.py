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
they are.

Each operation returns a :class:`Rewrite`, the plan the driver commits in
the volume's info file:

* ``renames``: old file name -> new file name, for the files the info
  file names (the active file and snapshot files) that are replaced;
* ``made``: new files, to remove if the info file cannot be committed;
* ``obsolete``: files nobody uses once the info file is committed, to
  delete after it.

Each step is preceded by a check: *check_rewrite* (the driver's check of
its fenced record and locks, with the step's words) before an in-place
rewrite.
"""

import collections
import os

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
    """

    def __init__(self, directory, names, fmt_of, check_rewrite):
        self.directory = directory
        self.names = list(names)
        self.fmt_of = fmt_of
        self.check_rewrite = check_rewrite

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
