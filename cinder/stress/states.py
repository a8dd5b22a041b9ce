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

"""The states a run may have left each volume in.

:func:`replay` goes through the requests of a run in the order their
replies came and keeps, for every volume, the set of :class:`State` some
ordering of the completed and interrupted requests allows:

* a request that succeeded changed every possible state (and rules out
  those in which it could not have succeeded: a revert to a snapshot
  that is not there);
* a request that failed because it lost a race (a conflict error) changed
  nothing;
* any other failed request was *interrupted*: it may have done all of its
  work or none of it, so the states before and after it are both kept,
  and for a create or a delete also a *partial* volume (files without a
  usable info file or chain). Interrupted requests that make files also
  make leftovers possible: the volume's :attr:`Volume.leftovers` names
  them.

The tool keeps its own requests from making states ambiguous (a write
excludes every request on its volume, a revert every reader), so the
order of the replies is an order in which the effects may have happened.

A failed request is also judged here, against the states of its volumes
when it ran: it is excused when a fault hit it, when it overlapped an
interrupted request on one of its volumes (whose holder may still have
been at work), or when one of its volumes may have been partial.
"""

import collections

#: Failures that only mean a request lost a race against another one.
CONFLICT_ERRORS = frozenset(['VolumeNotFound', 'SnapshotNotFound',
                             'InvalidVolume', 'InvalidSnapshot'])

#: More possible states than this for one volume: it is not checked.
MAX_STATES = 256

YES, NO, PARTIAL = 'yes', 'no', 'partial'

#: Operations whose interruption may leave files beside the chain.
_LEAVES_FILES = frozenset([
    'create_volume', 'clone_volume', 'volume_from_snapshot',
    'delete_volume', 'retry_delete_volume', 'create_snapshot',
    'delete_snapshot', 'retry_delete_snapshot', 'revert_to_snapshot',
    'extend_volume'])


class State(collections.namedtuple('State',
                                   'exists content snapshots size')):
    """One possible state of a volume.

    :ivar exists: ``yes``, ``no`` or ``partial`` (some files of an
        interrupted create or delete).
    :ivar content: per data slot, the frozenset of patterns it may hold.
    :ivar snapshots: frozenset of (snapshot id, content) of its snapshots.
    :ivar size: size in GiB.
    """

    __slots__ = ()

    def snapshot(self, snapshot_id):
        for sid, content in self.snapshots:
            if sid == snapshot_id:
                return content
        return None

    def without(self, snapshot_id):
        return frozenset(s for s in self.snapshots if s[0] != snapshot_id)

    def to_dict(self):
        return {'exists': self.exists,
                'content': [sorted(s) for s in self.content],
                'snapshots': {sid: [sorted(s) for s in content]
                              for sid, content in sorted(self.snapshots)},
                'size': self.size}

    @classmethod
    def from_dict(cls, data):
        return cls(data['exists'],
                   tuple(frozenset(s) for s in data['content']),
                   frozenset((sid, tuple(frozenset(s) for s in content))
                             for sid, content in data['snapshots'].items()),
                   data['size'])


def absent(slots):
    return State(NO, tuple(frozenset([0]) for _ in range(slots)),
                 frozenset(), 0)


def union(contents):
    """The per-slot union of *contents* (tuples of frozensets)."""
    contents = list(contents)
    return tuple(frozenset().union(*slot) for slot in zip(*contents))


class Volume(object):
    """What the replay knows about one volume.

    :ivar states: set of :class:`State`.
    :ivar leftovers: request numbers (interrupted requests) that may have
        left files of this volume beside its chain.
    :ivar off_chain: snapshot ids whose interrupted delete may have left
        their file out of the chain.
    :ivar overflow: True once the states outgrew :data:`MAX_STATES`.
    """

    def __init__(self, slots):
        self.states = {absent(slots)}
        self.leftovers = set()
        self.off_chain = set()
        self.overflow = False
        #: The last interrupted request that may have left it partial.
        self.partial_by = None
        #: (request, states before it) of every request applied to it.
        self.log = []

    def states_since(self, start):
        """Every state it had at some time from *start* on."""
        found = set(self.states)
        for request, before in reversed(self.log):
            if request['end'] <= start:
                break
            found |= before
        return found


class Judgment(object):
    """How one failed request is judged: excused by ``cause``, or not."""

    __slots__ = ('cause',)

    def __init__(self, cause=None):
        self.cause = cause


def _effect(op, args, state, volumes, start):
    """The state after *op* succeeded on *state*, or None if it could not.

    *state* is a state of ``args['volume']``; *volumes* the replay's
    :class:`Volume` objects, for the sources of copies.
    """
    if op in ('create_volume', 'clone_volume', 'volume_from_snapshot'):
        if state.exists == YES:
            return None
        if op == 'create_volume':
            content = tuple(frozenset([0]) for _ in state.content)
        else:
            # Any state the source had while the copy ran.
            sources = volumes[args['source']].states_since(start)
            if op == 'clone_volume':
                found = [s.content for s in sources if s.exists == YES]
            else:
                found = [s.snapshot(args['snapshot']) for s in sources
                         if s.exists == YES]
                found = [c for c in found if c is not None]
            if not found:
                return None
            content = union(found)
        return State(YES, content, frozenset(), args['size'])
    if op in ('delete_volume', 'retry_delete_volume'):
        return absent(len(state.content))
    if op in ('delete_snapshot', 'retry_delete_snapshot') and \
            state.exists != YES:
        return state    # the volume is gone: nothing left to delete
    if state.exists != YES:
        return None
    if op == 'create_snapshot':
        return state._replace(snapshots=state.without(args['snapshot']) |
                              {(args['snapshot'], state.content)})
    if op in ('delete_snapshot', 'retry_delete_snapshot'):
        return state._replace(snapshots=state.without(args['snapshot']))
    if op == 'extend_volume':
        return state._replace(size=max(state.size, args['size']))
    if op == 'revert_to_snapshot':
        content = state.snapshot(args['snapshot'])
        if content is None:
            return None
        return state._replace(content=content)
    if op == 'write_data':
        content = list(state.content)
        content[args['slot']] = frozenset([args['pattern']])
        return state._replace(content=tuple(content))
    return state    # attach, detach: nothing on the share changes


def _sizes(op, args, after, request, volumes, extends):
    """*after* in each size a copy may have.

    A copy is made in the requested size or in the source's, if larger;
    an extend of the source may run at the same time (the tool lets it),
    so each size the source had or got meanwhile is possible.
    """
    if after is None or op not in ('clone_volume', 'volume_from_snapshot'):
        return [after]
    source = args['source']
    sizes = {after.size}
    sizes.update(max(after.size, s.size) for s in volumes[source].states
                 if s.exists == YES)
    sizes.update(max(after.size, other['args']['size'])
                 for other in extends.get(source, ())
                 if other['start'] <= request['end'] and
                 request['start'] <= other['end'])
    return [after._replace(size=size) for size in sorted(sizes)]


def _interrupted(op, args, state, after):
    """States an interrupted *op* may leave, from *state*."""
    found = {state}
    if after is not None:
        found.add(after)
    if op in ('create_volume', 'clone_volume', 'volume_from_snapshot',
              'delete_volume', 'retry_delete_volume'):
        found.add(absent(len(state.content))._replace(exists=PARTIAL))
    if op in ('delete_snapshot', 'retry_delete_snapshot'):
        content = state.snapshot(args['snapshot'])
        if content is not None and state.exists == YES:
            # Deleting the newest snapshot folds the volume into the
            # snapshot's file before the info file drops it: cut short,
            # each slot of the snapshot holds its own or the volume's data.
            doomed = union([content, state.content])
            found.add(state._replace(snapshots=state.without(
                args['snapshot']) | {(args['snapshot'], doomed)}))
    if op == 'write_data' and after is not None:
        found.add(state._replace(content=union([state.content,
                                                after.content])))
    return found


def _apply(request, interrupted, before, volumes, extends):
    """The states *request* leaves from the states *before*."""
    op, args = request['op'], request.get('args') or {}
    new = set()
    for state in before:
        after = _effect(op, args, state, volumes, request['start'])
        for variant in _sizes(op, args, after, request, volumes, extends):
            if interrupted:
                new |= _interrupted(op, args, state, variant)
            elif variant is not None:
                new.add(variant)
    return new


def _reordered(request, volume, volumes, extends):
    """States if *request* took effect before replies that came first.

    Requests on one volume may run at the same time (a copy and a
    snapshot delete, say); their replies may come in another order than
    their effects. A success no state allows is applied again before the
    requests whose replies came while it ran; empty if that fails too.
    """
    for index, (other, before) in enumerate(volume.log):
        if other['end'] > request['start']:
            break
    else:
        return set()
    new = _apply(request, False, before, volumes, extends)
    if not new:
        return new
    # The log holds successes and interrupted requests only.
    for other, _before in volume.log[index:]:
        new = _apply(other, not other['ok'], new, volumes, extends) or new
    return new


def replay(requests, slots, faults=()):
    """Possible states of every volume after *requests*.

    :param requests: request dicts of the saved model (see
        :mod:`cinder.stress.runmodel`), in any order.
    :param faults: fault dicts (``kind``, ``host``, ``start``, ``end``).
    :returns: (dict of volume id to :class:`Volume`, dict of request
        number to :class:`Judgment` for every failed request, list of
        sentences on successes that no possible state explains).
    """
    volumes = collections.OrderedDict()
    judgments = {}
    unexplained = []
    ordered = sorted(requests, key=lambda r: (r['end'], r['n']))
    # Windows of the requests a fault cut short, by volume: a request
    # overlapping one may meet its holder still at work.
    windows = collections.defaultdict(list)
    extends = collections.defaultdict(list)
    for request in ordered:
        _hit(request, faults)
        if request['op'] == 'extend_volume':
            extends[request['args']['volume']].append(request)
        if request['fault'] and \
                request.get('error_type') not in CONFLICT_ERRORS:
            for volume_id in request.get('volumes', ()):
                windows[volume_id].append(request)
    for request in ordered:
        args = request.get('args') or {}
        target = args.get('volume')
        involved = [v for v in request.get('volumes', ()) if v]
        for volume_id in involved:
            if volume_id not in volumes:
                volumes[volume_id] = Volume(slots)
        if not request['ok']:
            judgments[request['n']] = _judge(request, involved, volumes,
                                             windows)
        if target is None:
            continue
        volume = volumes[target]
        op = request['op']
        interrupted = (not request['ok'] and
                       request.get('error_type') not in CONFLICT_ERRORS)
        if not request['ok'] and not interrupted:
            continue
        new = _apply(request, interrupted, volume.states, volumes, extends)
        if not new and not interrupted:
            new = _reordered(request, volume, volumes, extends)
        volume.log.append((request, volume.states))
        if interrupted:
            if op in _LEAVES_FILES:
                volume.leftovers.add(request['n'])
            if op in ('delete_snapshot', 'retry_delete_snapshot'):
                volume.off_chain.add(args['snapshot'])
            if any(st.exists == PARTIAL for st in new):
                volume.partial_by = request
        if not new:
            unexplained.append(
                'request %d (%s on %s) succeeded, but no possible state of '
                'volume %s allows it' % (request['n'], op, request['host'],
                                         target))
            new = {_effect(op, args, st, volumes, request['start']) or st
                   for st in volume.states}
        if len(new) > MAX_STATES:
            volume.overflow = True
            new = set(list(new)[:MAX_STATES])
        volume.states = new
    return volumes, judgments, unexplained


def _hit(request, faults):
    """Set ``request['fault']``: the kind of fault that hit it, or None.

    A fault hits a failed request that ran between its start and its end,
    or, for a fault after which the tool waited for the service to answer
    again (``recovered``), until that answer. A fault that excuses nothing
    (``excuses`` false: its failures the services settle by themselves)
    hits no request.
    """
    request['fault'] = None
    if request['ok']:
        return
    for fault in faults:
        if fault['host'] is not None and fault['host'] != request['host']:
            continue
        if not fault.get('excuses', True):
            continue
        # Until the service the fault hit answered again (a partition's
        # heal, a frozen holder's thaw), it is still recovering from it.
        end = max(fault['end'], fault.get('recovered') or fault['end'])
        if request['start'] <= end and fault['start'] <= request['end']:
            request['fault'] = fault['kind']
            return


def _judge(request, involved, volumes, windows):
    if request['fault']:
        return Judgment(request['fault'])
    for volume_id in involved:
        for other in windows.get(volume_id, ()):
            if other['start'] <= request['end'] and \
                    request['start'] <= other['end']:
                return Judgment('after %s (request %d)' % (other['fault'],
                                                           other['n']))
        volume = volumes[volume_id]
        if volume.partial_by is not None and any(
                st.exists == PARTIAL for st in volume.states):
            cause = volume.partial_by
            return Judgment('after %s (request %d)' % (
                cause['fault'] or cause.get('error_type'), cause['n']))
    return Judgment()
