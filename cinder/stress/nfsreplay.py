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

"""The ``nfs-replay`` fault of cinder-aa-stress: NFS failures on the share.

A cluster started for this fault gives its services the share through the
fault-injecting file system (:mod:`cinder.stress.faultfs`), mounted over
the share directory, while the tool and the verdict use the directory
itself. Each injection arms one :data:`VARIANTS` rule for the next
matching call of whichever service makes it first, waits until it fired
(at most :data:`FIRE_WAIT` seconds), and disarms it. The variants are
taken in turn, starting from the run's seed: the same seed arms the same
failures in the same order.

Every variant is an NFS failure that the NFS driver must settle by itself
(:mod:`cinder.volume.fenced_record`): an operation the server applied and
then answered with an error, as when its reply was lost and the client's
retransmission is answered anew (``EEXIST`` for a LINK, ``ENOENT`` for a
REMOVE or a RENAME), or as a soft mount's timeout (``EIO``); or a listing
of the share served from a client's cache. A link found made is a commit
that stands, an error after a commit does not undo it, a removal that
finds nothing left is done, the head of a record is only a hint, and no
decision rests on a listing alone. So the fault excuses no failed
request (``excuses`` of :class:`cinder.stress.faults.Fault`): a request
it made fail is a violation of the verdict.
"""

import collections
import time

#: The info file generations of every volume on the share
#: (``volume-<id>.info.g<N>``, :mod:`cinder.volume.drivers.remotefs`):
#: the commit points of the NFS driver.
GENERATIONS = 'volume-*.info.g*'
#: Seconds an injection waits at most for a matching call.
FIRE_WAIT = 20.0
#: Seconds between two looks at whether a rule fired.
POLL = 0.1


class Variant(collections.namedtuple(
        'Variant', 'name op pattern mode errno count what')):
    """One NFS failure: a :mod:`cinder.stress.faultrules` rule, told.

    ``count``: the calls it fires on; ``what``: the failure, in words.
    """

    __slots__ = ()

    def arm(self, fs):
        """Arm it on *fs*; the rule's id."""
        return fs.arm(self.op, self.pattern, self.mode, errno=self.errno,
                      count=self.count)


#: The failures, in turn.
VARIANTS = (
    Variant('link-eexist', 'link', GENERATIONS, 'after', 'EEXIST', 1,
            'the LINK of an info file generation applied, then answered '
            'EEXIST (retransmitted after its reply was lost)'),
    Variant('link-eio', 'link', GENERATIONS, 'after', 'EIO', 1,
            'the LINK of an info file generation applied, then answered '
            'EIO (a soft mount that timed out)'),
    Variant('unlink-enoent', 'unlink', 'volume-*', 'after', 'ENOENT', 1,
            'the REMOVE of a file of a volume applied, then answered '
            'ENOENT (retransmitted after its reply was lost)'),
    Variant('fsyncdir-eio', 'fsyncdir', '.', 'after', 'EIO', 1,
            'a sync of the share directory applied, then answered EIO'),
    Variant('rename-enoent', 'rename', 'volume-*.info.head', 'after',
            'ENOENT', 1,
            'the RENAME onto an info file\'s head applied, then answered '
            'ENOENT (retransmitted after its reply was lost)'),
    Variant('readdir-stale', 'readdir', '.', 'stale', None, 4,
            'listings of the share answered from a copy taken when it was '
            'armed (a client\'s READDIR cache, up to acdirmax)'),
)


def variant(seed, turn):
    """The variant of the *turn*-th injection (from 0) of run *seed*."""
    return VARIANTS[(seed + turn) % len(VARIANTS)]


class Result(object):
    """What one injection did: its variant, calls it failed, when."""

    def __init__(self, chosen, start):
        self.variant = chosen
        self.start = start
        self.end = start
        self.fired = 0

    def describe(self):
        """The fault's note: what was armed, and how often it fired."""
        chosen = self.variant
        seconds = self.end - self.start
        if self.fired:
            told = 'fired %d time(s) after %.1f s' % (self.fired, seconds)
        else:
            told = 'never fired: no matching call within %.1f s' % seconds
        return '%s: %s; %s' % (chosen.name, chosen.what, told)


def inject(fs, chosen, stop, clock=time.monotonic, wait=FIRE_WAIT):
    """Arm *chosen* on *fs*, wait, disarm it; return a :class:`Result`.

    It stays armed until it fired ``count`` times, *wait* seconds passed
    or *stop* (a threading.Event: the run is over) is set. It is disarmed
    however the wait ends, and the count it fired is the one it had when
    disarmed.

    :raises FaultFSError: the file system did not arm or disarm it (a
        rule left armed is removed by the end of the mount).
    """
    rule = chosen.arm(fs)
    result = Result(chosen, clock())
    try:
        deadline = result.start + wait
        while (not stop.is_set() and clock() < deadline and
               fs.fired(rule) < chosen.count):
            stop.wait(POLL)
    finally:
        result.end = clock()
        result.fired = fs.disarm(rule)['fired']
    return result
