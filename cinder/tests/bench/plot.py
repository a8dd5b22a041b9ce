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

"""The benchmark's figure (PNG), drawn with matplotlib.

matplotlib is only needed here: it is in the ``bench`` tox environment, not
in the test requirements. :func:`series` prepares the numbers and needs no
matplotlib.
"""

from cinder.tests.bench import lockcycle
from cinder.tests.bench import report

LABELS = {'oslo': 'oslo.concurrency external lock',
          'tooz': 'Tooz driver, used directly',
          'cinder': 'cinder.coordination.synchronized'}


def _backends(cycles):
    present = {row['backend'] for row in cycles}
    return [b for b in report.BACKEND_ORDER if b in present] + sorted(
        present - set(report.BACKEND_ORDER))


def series(results):
    """The numbers of each panel, as plain lists (testable alone)."""
    cycles = results.get('cycles') or []
    backends = _backends(cycles)
    out = {'backends': backends, 'p50': {}, 'p99': {}, 'shares': {},
           'handoff': {}, 'scaling': {}}
    for subject in report.SUBJECT_ORDER:
        p50, p99 = [], []
        for backend in backends:
            row = report.find(cycles, subject, backend, lockcycle.SINGLE)
            p50.append(row['p50'] if row else None)
            p99.append(row['p99'] if row else None)
        out['p50'][subject] = p50
        out['p99'][subject] = p99
    for backend in backends:
        row = report.find(cycles, 'cinder', backend, lockcycle.ONE_NAME)
        if row and row['fairness']['fair_share']:
            fair = row['fairness']['fair_share']
            out['shares'][backend] = [c / fair for c in row['per_process']]
            handoff = row.get('handoff') or {}
            out['handoff'][backend] = (handoff.get('p50'),
                                       handoff.get('max'), row['wait_max'])
    for run in results.get('scaling') or []:
        steps = sorted(run['steps'], key=lambda s: s['services'])
        out['scaling'][report.run_label(run)] = (
            [s['services'] for s in steps],
            [s['ops_per_second'] for s in steps])
    return out


def _ms(values):
    return [v * 1e3 if v is not None else 0 for v in values]


def draw(results, path):
    """Write the four-panel figure of ``results`` to ``path`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    data = series(results)
    backends = data['backends']
    figure, axes = pyplot.subplots(2, 2, figsize=(12, 8.5))
    (cycle_ax, share_ax), (handoff_ax, scale_ax) = axes

    width = 0.8 / len(report.SUBJECT_ORDER)
    for i, subject in enumerate(report.SUBJECT_ORDER):
        xs = [b + (i - 1) * width for b in range(len(backends))]
        cycle_ax.bar(xs, _ms(data['p50'][subject]), width,
                     label=LABELS[subject])
    cycle_ax.set_xticks(range(len(backends)), backends)
    cycle_ax.set_yscale('log')
    cycle_ax.set_ylabel('p50 of one lock cycle (ms, log)')
    cycle_ax.set_title('Lock cycle, one client')
    cycle_ax.legend(fontsize='small')

    shared = [b for b in backends if b in data['shares']]
    for index, backend in enumerate(shared):
        shares = data['shares'][backend]
        step = 0.8 / max(1, len(shares))
        for j, value in enumerate(shares):
            share_ax.bar(index - 0.4 + (j + 0.5) * step, value, step,
                         color='C%d' % j)
    share_ax.axhline(1.0, color='grey', linewidth=0.8)
    share_ax.axhline(report.FAIR_SHARE_LIMIT, color='red', linestyle='--',
                     linewidth=0.8, label='half the fair share')
    share_ax.set_xticks(range(len(shared)), shared)
    share_ax.set_ylabel('cycles / fair share')
    share_ax.set_title('4 processes on one name: cycles of each '
                       '(synchronized)')
    share_ax.legend(fontsize='small')

    handed = [b for b in backends if b in data['handoff']]
    bars = (('hand-off p50', 0), ('hand-off max', 1),
            ('longest wait', 2))
    for label, index in bars:
        values = [data['handoff'][b][index] for b in handed]
        handoff_ax.bar([p + (index - 1) * 0.27 for p in range(len(handed))],
                       _ms(values), 0.27, label=label)
    handoff_ax.set_xticks(range(len(handed)), handed)
    handoff_ax.set_yscale('log')
    handoff_ax.set_ylabel('ms, log')
    handoff_ax.set_title('4 processes on one name: hand-off, longest '
                         'wait (synchronized)')
    handoff_ax.legend(fontsize='small')

    most = 1
    for backend, (counts, rates) in data['scaling'].items():
        base = dict(zip(counts, rates)).get(1)
        if not base:
            continue
        scale_ax.plot(counts, [r / base for r in rates], marker='o',
                      label='%s (%.1f ops/s with 1)' % (backend, base))
        most = max([most] + counts)
    if data['scaling']:
        scale_ax.plot([1, most], [1, most], color='grey', linestyle=':',
                      label='linear')
        scale_ax.plot([3], [report.SPEEDUP_LIMIT], marker='_', color='red',
                      markersize=20, linestyle='none',
                      label='target at 3 services')
        scale_ax.set_xticks(range(1, most + 1))
        scale_ax.legend(fontsize='small')
    scale_ax.set_xlabel('cinder-volume services')
    scale_ax.set_ylabel('operations per second / those of 1 service')
    scale_ax.set_title('Active/Active, non-conflicting operations')
    scale_ax.set_ylim(bottom=0)

    figure.tight_layout()
    figure.savefig(path, dpi=80)
    pyplot.close(figure)
