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

"""The report of a cinder-aa-stress run: a text table or JSON.

:func:`output` prints the verdict of :func:`cinder.stress.assess.assess`
with what the run was (services, backend, seed, time): as JSON with
``--json``, else as the text tables of :func:`print_report`.
"""

import json

from cinder.stress import assess


def output(report, model, elapsed, as_json, out, extra=None):
    """Print the report of a run to *out*, as JSON if *as_json*."""
    extra = extra or {}
    if as_json:
        data = report.to_dict()
        data.update(services=len(model['services']), seed=model['seed'],
                    backend=model['backend'], seconds=round(elapsed, 1))
        data.update(extra)
        json.dump(data, out, indent=2, sort_keys=True)
        out.write('\n')
    else:
        print_report(report, model, elapsed, out, extra.get('hosts'),
                     extra.get('fenced_off'), extra)


def print_report(report, model, elapsed, out, hosts=None, fenced_off=None,
                 commits=None):
    """The text tables of a run's report, written to *out*.

    :param fenced_off: steps the share refused to the services (their
        ``Fenced off:`` log lines), or None when unknown.
    :param commits: ``ambiguous_commits`` (commits whose link reported an
        error although it was made, which the services found and let
        stand) and ``commits_in_doubt`` (whose outcome they could not
        tell), from their logs; not told when absent.
    """
    w = out.write
    w('\ncinder-aa-stress: %d services, backend %s, seed %d, %.1f s\n\n' % (
        len(model['services']), model['backend'], model['seed'], elapsed))
    if hosts:
        w('%-12s %-16s %s\n' % ('service', 'namespace', 'address'))
        for row in hosts:
            w('%-12s %-16s %s\n' % (
                row['host'], row['netns'] or '-',
                row['address'] or '127.0.0.1'))
        w('\n')
    w('%-22s %6s %7s  %s\n' % ('operation', 'done', 'failed', 'why'))
    w('%s\n' % ('-' * 70))
    for kind, counts in report.ops.items():
        why = ', '.join('%s %d' % (k[len('failed: '):], n)
                        for k, n in sorted(counts.items())
                        if k.startswith('failed: '))
        w('%-22s %6d %7d  %s\n' % (
            kind, counts['done'], counts['failed'], why))
    waits = report.waits
    w('\nlock waits: %d acquires, p50 %s, p99 %s, max %s\n' % (
        waits.get('count', 0), _ms(waits.get('p50')), _ms(waits.get('p99')),
        _ms(waits.get('max'))))
    _print_ledger(report, w)
    if fenced_off is not None:
        w('fenced off by the share: %d step(s) of holders whose lock was '
          'lost\n' % fenced_off)
    commits = commits or {}
    if 'ambiguous_commits' in commits:
        w('ambiguous commits resolved: %d (a link reported an error but '
          'was made: the commit stood); commits in doubt: %d\n' % (
              commits['ambiguous_commits'],
              commits.get('commits_in_doubt', 0)))
    checked = report.checked
    w('checked: %d volumes, %d snapshots, %d data slots; %d volumes gone '
      'as expected; %d with more than one possible state; %d leftovers '
      'of interrupted requests; %d unchecked\n' % (
          checked['volumes'], checked['snapshots'], checked['slots'],
          checked['absent'], checked['multi_state'], checked['leftovers'],
          checked['unchecked']))
    for sentence in report.leftovers[:10]:
        w('  leftover: %s\n' % sentence)
    if len(report.leftovers) > 10:
        w('  ... %d more leftovers (--json lists all)\n' % (
            len(report.leftovers) - 10))
    if report.faults:
        w('\nfaults injected:\n')
        for fault in report.faults:
            w('  %-20s %-8s %5.1f s  %s\n' % (
                fault['kind'], fault['target'] or 'all',
                fault['end'] - fault['start'], fault['note']))
        for row in report.partitions:
            w('  %-20s %-8s %s\n' % (row.kind, row.host, row.describe()))
        w('requests hit by a fault: %s\n' % (', '.join(
            '%s %d' % kv for kv in sorted(report.fault_hits.items()))
            or 'none'))
    w('\nviolations: %d\n' % len(report.violations))
    for kind, count in sorted(report.violations_by_kind().items()):
        w('  %-24s %d\n' % (kind, count))
    for violation in report.violations[:10]:
        w('  - %s: %s\n' % (violation.kind, violation.detail))
    if len(report.violations) > 10:
        w('  ... %d more (--json lists all)\n' % (
            len(report.violations) - 10))
    w('\nverdict: %s\n' % (
        'VIOLATIONS FOUND' if not report.ok else
        'OK: nothing lost, no critical section overlapped'
        if report.ledger is not None else
        'OK: nothing lost (the locks judged by the share alone)'))


def _print_ledger(report, w):
    ledger = report.ledger
    if ledger is None:
        w('critical sections: not judged; %s\n' % assess.NO_LEDGER)
        return
    w('critical sections: %d; overlaps after a lost lock: %d (stale '
      'writes: %d); unterminated (killed): %d\n' % (
          ledger.sections, len(ledger.overlaps_after_loss),
          report.violations_by_kind().get('stale-write', 0),
          len(ledger.unterminated)))
    for sentence in ledger.overlaps_after_loss[:5]:
        w('  after a lost lock: %s\n' % sentence)
    if len(ledger.overlaps_after_loss) > 5:
        w('  ... %d more (--json lists all)\n' % (
            len(ledger.overlaps_after_loss) - 5))


def _ms(seconds):
    return '-' if seconds is None else '%.1f ms' % (seconds * 1000.0)
