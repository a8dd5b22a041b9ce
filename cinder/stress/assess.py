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

"""The verdict of cinder-aa-stress, from a saved run model.

:func:`assess` judges a run directory and its model
(:mod:`cinder.stress.runmodel`): the same function serves the run itself
and ``--verify``. It judges

* every request: a failure needs a reason, and one that is not a lost race
  must be excused by a fault (:mod:`cinder.stress.states`);
* the ledger: no two protected critical sections of one lock overlapped
  (:mod:`cinder.stress.verdict`), and each partition's cut-off service
  declared its locks lost before another service took one, and answered
  again after the heal (:mod:`cinder.stress.partitions`);
* everything on the share: each file belongs to a volume of the model;
  each volume is in one of its possible states (snapshots listed, size,
  the data of every slot of the volume and of every snapshot), or is an
  allowed leftover of an interrupted request, named with the request.

A model of ``scope`` ``own`` (a deployed cluster's share, which holds the
operator's volumes too) has only the files of its own volumes judged:
other files are not reported (nor ever written). A model without a
ledger has the locks judged by the share alone.
"""

import collections
import os

from cinder.stress import partitions
from cinder.stress import qemu
from cinder.stress import share
from cinder.stress import states as states_mod
from cinder.stress import verdict

Violation = verdict.Violation

GiB = 1024 ** 3

#: Why a run without a ledger judges no critical section.
NO_LEDGER = ('no ledger: the locks were judged by the share alone (give '
             '--ledger, the services\' [coordination] ledger_file, when '
             'they run on this machine: ledger times are monotonic clocks, '
             'comparable only on one machine)')

#: Problems of the files that an interrupted request may leave.
_LEFTOVER_KINDS = frozenset(['stray-file', 'stray-temp-file',
                             'qemu-img-leaks'])


class Report(object):
    """The verdict: counts, waits, faults, leftovers and violations."""

    def __init__(self):
        self.ops = collections.OrderedDict()   # kind -> Counter
        self.violations = []
        self.waits = {}
        self.ledger = None
        self.faults = []
        self.fault_hits = collections.Counter()
        #: :class:`~cinder.stress.partitions.Partition` of each partition.
        self.partitions = []
        self.checked = collections.OrderedDict(
            (key, 0) for key in ('volumes', 'snapshots', 'slots', 'absent',
                                 'leftovers', 'multi_state', 'unchecked'))
        self.leftovers = []
        self.notes = []

    @property
    def ok(self):
        return not self.violations

    def violations_by_kind(self):
        return collections.Counter(v.kind for v in self.violations)

    def to_dict(self):
        return {
            'ok': self.ok,
            'operations': {kind: dict(counts)
                           for kind, counts in self.ops.items()},
            'lock_waits': self.waits,
            'faults': [{'kind': f['kind'], 'host': f['target'],
                        'note': f['note'],
                        'duration': round(f['end'] - f['start'], 3)}
                       for f in self.faults],
            'fault_hits': dict(self.fault_hits),
            'partitions': [p.to_dict() for p in self.partitions],
            'violations': {kind: n for kind, n in
                           self.violations_by_kind().items()},
            'violation_details': [{'kind': v.kind, 'detail': v.detail}
                                  for v in self.violations],
            'checked': dict(self.checked),
            'leftovers': self.leftovers,
            'overlaps_after_loss': (self.ledger.overlaps_after_loss
                                    if self.ledger else []),
            'critical_sections': (self.ledger.sections if self.ledger
                                  else None),
            'notes': self.notes,
        }


def assess(run_dir, model):
    """Judge the run in *run_dir* described by *model*.

    :returns: (:class:`Report`, the replayed states as saved in a model:
        volume id to a list of state dicts).
    """
    report = Report()
    report.faults = list(model['faults'])
    offsets = model['slots']['offsets']
    volumes, judgments, unexplained = states_mod.replay(
        model['requests'], len(offsets), report.faults)
    _judge_requests(model['requests'], judgments, report)
    for sentence in unexplained:
        report.violations.append(Violation('unexplained-success', sentence))
    if model['ledger'] is None:
        report.notes.append(NO_LEDGER)
        report.waits = verdict.percentiles([])
    else:
        _judge_ledger(os.path.join(run_dir, model['ledger']), model,
                      report)
    requests = {r['n']: r for r in model['requests']}
    _account(os.path.join(run_dir, model['share']), volumes, requests,
             model['slots'], report, own=model.get('scope') == 'own')
    saved = {volume_id: sorted((s.to_dict() for s in volume.states),
                               key=_state_key)
             for volume_id, volume in volumes.items()}
    return report, saved


def _judge_ledger(path, model, report):
    ledger = verdict.analyze_ledger(
        path, ended={int(pid): t for pid, t in model['killed'].items()})
    report.ledger = ledger
    report.violations.extend(ledger.violations)
    report.partitions, found = partitions.judge(report.faults, ledger)
    report.violations.extend(found)
    report.waits = verdict.percentiles(ledger.waits)


def _state_key(state):
    return repr(sorted(state.items()))


def _judge_requests(requests, judgments, report):
    for request in sorted(requests, key=lambda r: r['n']):
        counts = report.ops.setdefault(request['op'], collections.Counter())
        if request['ok']:
            counts['done'] += 1
            continue
        counts['failed'] += 1
        why = request['error_type']
        cause = judgments[request['n']].cause
        if cause:
            why = '%s (%s)' % (why, cause)
            report.fault_hits[cause.split(' (')[0]] += 1
        counts['failed: ' + why] += 1
        if not request['error']:
            report.violations.append(Violation(
                'failure-without-reason', 'request %d: %s on %s failed with '
                '%s and no message' % (request['n'], request['op'],
                                       request['host'],
                                       request['error_type'])))
        elif (request['error_type'] not in states_mod.CONFLICT_ERRORS and
              not cause):
            report.violations.append(Violation(
                'unexpected-failure', 'request %d: %s on %s: %s: %s' % (
                    request['n'], request['op'], request['host'],
                    request['error_type'], request['error'])))


def _account(share_dir, volumes, requests, slots, report, own=False):
    """Check that everything on the share is expected or allowed.

    With *own*, only the files of *volumes*: the rest is someone else's.
    """
    on_share, others = ({}, []) if own else share.list_share(share_dir)
    for entry in others:
        report.violations.append(Violation(
            'stray-file', '%s is on the share but is no file of a '
            'volume' % entry))
    for volume_id in sorted(set(on_share) - set(volumes)):
        report.violations.append(Violation(
            'stray-volume', 'files of volume %s, which no request made, are '
            'on the share: %s' % (volume_id,
                                  ', '.join(on_share[volume_id]))))
    for volume_id, volume in volumes.items():
        _check_volume(share_dir, volume_id, volume, requests, slots, report)


def _left_by(volume, requests):
    return ', '.join('%s request %d' % (requests[n]['op'], n)
                     for n in sorted(volume.leftovers))


def _leftover(report, volume_id, what, volume, requests):
    report.checked['leftovers'] += 1
    report.leftovers.append('volume %s: %s (left by interrupted %s)' % (
        volume_id, what, _left_by(volume, requests) or 'request'))


def _check_volume(share_dir, volume_id, volume, requests, slots, report):
    if volume.overflow:
        report.checked['unchecked'] += 1
        report.notes.append('volume %s had more than %d possible states; '
                            'not checked' % (volume_id,
                                             states_mod.MAX_STATES))
        return
    possible = volume.states
    if len(possible) > 1:
        report.checked['multi_state'] += 1
    exists = {s.exists for s in possible}
    found = share.examine_volume(share_dir, volume_id)
    if not found.files:
        if exists & {states_mod.NO, states_mod.PARTIAL}:
            report.checked['absent'] += 1
            return
        report.violations.append(Violation(
            'volume-missing', 'volume %s has no files on the share' %
            volume_id))
        return
    if states_mod.YES not in exists or not found.usable:
        if states_mod.PARTIAL in exists:
            _leftover(report, volume_id, 'files %s' % ', '.join(found.files),
                      volume, requests)
        elif states_mod.YES not in exists:
            report.violations.append(Violation(
                'leftover-files', 'deleted volume %s left %s' % (
                    volume_id, ', '.join(found.files))))
        else:
            report.violations.extend(found.problems)
        return
    report.checked['volumes'] += 1
    off_chain = {sid for sid, entry in found.info.snapshots.items()
                 if entry not in found.chain}
    for problem in found.problems:
        if problem.kind in _LEFTOVER_KINDS and volume.leftovers:
            _leftover(report, volume_id, problem.detail, volume, requests)
        elif (problem.kind == 'snapshot-off-chain' and
              off_chain <= volume.off_chain and volume.leftovers):
            _leftover(report, volume_id, problem.detail, volume, requests)
        else:
            report.violations.append(problem)
    data = _read_data(share_dir, volume_id, found, slots)
    report.checked['snapshots'] += len(data) - 1
    report.checked['slots'] += sum(len(v) for v in data.values())
    known = _known_patterns(volume_id, possible, requests)
    candidates = [s for s in possible if s.exists == states_mod.YES]
    best = None
    for state in candidates:
        mismatches = _compare(volume_id, found, data, state, known)
        if not mismatches:
            return
        if best is None or len(mismatches) < len(best):
            best = mismatches
    if len(candidates) > 1:
        best = _torn_across_states(volume_id, data, candidates, best)
    report.violations.extend(best)


def _read_data(share_dir, volume_id, found, slots):
    """Slot values of the volume (key None) and of each snapshot."""
    data = {}
    name = 'volume-%s' % volume_id
    info = found.info

    def fmt(entry):
        return info.base_format if entry == name else 'qcow2'

    data[None] = qemu.read_slots(os.path.join(share_dir, info.active),
                                 fmt(info.active), slots['offsets'],
                                 slots['length'])
    for sid, entry in sorted(info.snapshots.items()):
        if entry in found.files:
            data[sid] = qemu.read_slots(os.path.join(share_dir, entry),
                                        fmt(entry), slots['offsets'],
                                        slots['length'])
    return data


def _known_patterns(volume_id, possible, requests):
    """Every pattern this volume's slots may ever have held."""
    known = {0}
    for state in possible:
        for slot in state.content:
            known |= slot
        for _sid, content in state.snapshots:
            for slot in content:
                known |= slot
    for request in requests.values():
        args = request.get('args') or {}
        if request['op'] == 'write_data' and args.get('volume') == volume_id:
            known.add(args['pattern'])
    return known


def _hex(values):
    return ' '.join('--' if v is None else
                    '/'.join('--' if x is None else '%02x' % x for x in v)
                    if isinstance(v, tuple) else '%02x' % v for v in values)


def _allowed(content):
    return ' '.join('|'.join('%02x' % v for v in sorted(s)) for s in content)


def _compare_slots(values, content, known):
    """None if *values* fit *content*; else the kind of misfit."""
    kind = None
    for value, allowed in zip(values, content):
        if isinstance(value, tuple):
            if set(value) <= known:
                return 'torn'
            kind = 'mismatch'
        elif value not in allowed:
            kind = 'mismatch'
    return kind


def _compare(volume_id, found, data, state, known):
    """Violations of *state* by what was found; empty if it fits."""
    problems = share.compare_snapshots(volume_id, found.info,
                                       [sid for sid, _ in state.snapshots])
    if found.size is not None and found.size != state.size * GiB:
        problems.append(Violation(
            'size-mismatch', 'volume %s is %d bytes, expected %d GiB' % (
                volume_id, found.size, state.size)))
    misfit = _compare_slots(data[None], state.content, known)
    if misfit:
        problems.append(Violation(
            'torn-operation' if misfit == 'torn' else 'data-mismatch',
            'volume %s holds %s, expected %s' % (
                volume_id, _hex(data[None]), _allowed(state.content))))
    for sid, content in sorted(state.snapshots):
        if sid not in data:
            continue
        misfit = _compare_slots(data[sid], content, known)
        if misfit:
            problems.append(Violation(
                'torn-operation' if misfit == 'torn' else
                'snapshot-data-mismatch',
                'snapshot %s of volume %s holds %s, expected %s' % (
                    sid, volume_id, _hex(data[sid]), _allowed(content))))
    return problems


def _torn_across_states(volume_id, data, candidates, best):
    """Name a torn operation when each slot fits a state but none fits all.

    Such a volume is in a mix that no order of its requests produces.
    """
    values = data[None]
    if any(isinstance(v, tuple) for v in values):
        return best
    if all(any(v in s.content[i] for s in candidates)
           for i, v in enumerate(values)):
        if not any(_compare_slots(values, s.content, set()) is None
                   for s in candidates):
            return [Violation(
                'torn-operation', 'volume %s holds %s: each slot fits one '
                'of its %d possible states, but no state fits all' % (
                    volume_id, _hex(values), len(candidates)))] + [
                p for p in best if p.kind != 'data-mismatch']
    return best
