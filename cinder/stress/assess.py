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

"""The verdict of cinder-aa-stress: what was done, and what went wrong."""

import collections

from cinder.stress import share
from cinder.stress import verdict
from cinder.stress import workload as workload_mod

Violation = verdict.Violation

#: What a crash may leave beside a consistent chain: files the driver
#: deletes with the volume (see cinder/volume/drivers/remotefs.py), and
#: clusters leaked by a killed qemu-img (space, not data).
CRASH_LEFTOVERS = frozenset(['stray-file', 'qemu-img-leaks'])


class Report(object):
    """The verdict: counts, waits, faults and violations."""

    def __init__(self):
        self.ops = collections.OrderedDict()   # kind -> Counter
        self.violations = []
        self.waits = {}
        self.ledger = None
        self.faults = []
        self.fault_hits = collections.Counter()
        self.checked_volumes = 0
        self.checked_snapshots = 0
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
            'faults': [{'kind': f.kind, 'host': f.target, 'note': f.note,
                        'duration': round(f.end - f.start, 3)}
                       for f in self.faults],
            'fault_hits': dict(self.fault_hits),
            'violations': {kind: n for kind, n in
                           self.violations_by_kind().items()},
            'violation_details': [{'kind': v.kind, 'detail': v.detail}
                                  for v in self.violations],
            'checked': {'volumes': self.checked_volumes,
                        'snapshots': self.checked_snapshots},
            'notes': self.notes,
        }


def assess(cluster, load, faults=()):
    """Check everything the tool can check; return a :class:`Report`."""
    report = Report()
    report.faults = list(faults)
    model = load.model
    # Which requests ran into a fault; their resources become uncertain.
    # A killed or frozen service may have left a volume half changed (a
    # frozen one even finishes its work after it wakes up), so a later
    # request on that volume may fail on what it left: that failure is
    # the fault's too, labelled "after <fault>".
    uncertain = {}
    for outcome in load.outcomes:
        for fault in report.faults:
            if outcome.end is not None and fault.hits(outcome):
                outcome.fault = fault.kind
                for volume_id in outcome.volume_ids:
                    since, _kind = uncertain.get(volume_id, (outcome.start,
                                                             None))
                    uncertain[volume_id] = (min(since, outcome.start),
                                            fault.kind)
                break
    for outcome in load.outcomes:
        if outcome.fault or outcome.ok:
            continue
        for volume_id in outcome.volume_ids:
            if (volume_id in uncertain and
                    uncertain[volume_id][0] <= outcome.start):
                outcome.fault = 'after %s' % uncertain[volume_id][1]
                break
    for outcome in load.outcomes:
        counts = report.ops.setdefault(outcome.op, collections.Counter())
        if outcome.ok:
            counts['done'] += 1
            continue
        counts['failed'] += 1
        why = outcome.error_type
        if outcome.fault:
            why = '%s (%s)' % (why, outcome.fault)
            report.fault_hits[outcome.fault] += 1
        counts['failed: ' + why] += 1
        if not outcome.error:
            report.violations.append(Violation(
                'failure-without-reason', '%s on %s failed with %s and no '
                'message' % (outcome.op, outcome.host, outcome.error_type)))
        elif (outcome.error_type not in workload_mod.CONFLICT_ERRORS and
              not outcome.fault):
            report.violations.append(Violation(
                'unexpected-failure', '%s on %s: %s: %s' % (
                    outcome.op, outcome.host, outcome.error_type,
                    outcome.error)))
    # Critical sections.
    ledger = verdict.analyze_ledger(cluster.ledger, ended=cluster.killed)
    report.ledger = ledger
    report.violations.extend(ledger.violations)
    report.waits = verdict.percentiles(ledger.waits)
    # What is on the share.
    for record in list(model.volumes.values()):
        _check_volume(cluster.share, record, record.id in uncertain, report)
    return report


def _check_volume(share_dir, record, uncertain, report):
    if not record.exists:
        if not uncertain:
            report.violations.extend(share.audit_volume(
                share_dir, record.id, exists=False))
        return
    report.checked_volumes += 1
    expected = None if uncertain else {s.id for s in record.snapshots
                                       if s.exists}
    problems = share.audit_volume(share_dir, record.id,
                                  expected_snapshots=expected)
    if uncertain:
        problems = [p for p in problems if p.kind not in CRASH_LEFTOVERS]
    report.violations.extend(problems)
    if problems or uncertain:
        return
    image = share.active_image(share_dir, record.id)
    found = share.read_bytes(image[0], image[1],
                             workload_mod.SLOT_OFFSETS)
    if list(found) != list(record.content):
        report.violations.append(Violation(
            'data-mismatch', 'volume %s holds %s, expected %s' % (
                record.id, _hex(found), _hex(record.content))))
    for snap in record.snapshots:
        if not snap.exists:
            continue
        report.checked_snapshots += 1
        image = share.snapshot_image(share_dir, record.id, snap.id)
        found = share.read_bytes(image[0], image[1],
                                 workload_mod.SLOT_OFFSETS) \
            if image else None
        if found is None or list(found) != list(snap.content):
            report.violations.append(Violation(
                'snapshot-data-mismatch', 'snapshot %s of volume %s holds '
                '%s, expected %s' % (snap.id, record.id, _hex(found),
                                     _hex(snap.content))))


def _hex(values):
    if values is None:
        return 'nothing'
    return ' '.join('--' if v is None else '%02x' % v for v in values)
