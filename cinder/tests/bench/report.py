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

"""The benchmark's tables and targets, from its JSON-ready results.

``results`` is the dict the runner writes as JSON:

* ``cycles``: rows of :func:`cinder.tests.bench.lockcycle.result`;
* ``heartbeat``: ``{backend: ...}`` of
  :func:`cinder.tests.bench.heartbeat.measure`;
* ``scaling``: results of :func:`cinder.tests.bench.scaling.run`;
* ``grow``: the result of :func:`cinder.tests.bench.grow.run`.

Any of them may be missing (a phase not run); the targets it feeds are then
reported as not measured.
"""

from cinder.tests.bench import lockcycle

MET = 'met'
MISSED = 'MISSED'
NOT_MEASURED = 'not measured'

RUN_LABELS = {lockcycle.SINGLE: '1 client',
              lockcycle.ONE_NAME: '4, one name',
              lockcycle.DISTINCT: '4, own names'}

BACKEND_ORDER = ('file', 'redis', 'zookeeper', 'etcd')
SUBJECT_ORDER = ('oslo', 'tooz', 'cinder')

# Targets of the benchmark (see doc/source/admin/performance.rst).
OVERHEAD_LIMIT = 0.10
FAIR_SHARE_LIMIT = 0.5
FAIRNESS_BACKENDS = ('zookeeper', 'redis')
OVERHEAD_BACKENDS = ('file', 'redis', 'zookeeper', 'etcd')
#: Backends whose calls run in helper threads: none may start per cycle.
THREAD_BACKENDS = ('zookeeper',)
#: Threads started per cycle of a single client, at most.
THREADS_PER_CYCLE_LIMIT = 0.01
SPEEDUP_LIMIT = 2.5
HEARTBEAT_LIMIT = 0.5  # percent of one core
#: How much more a snapshot cycle (and clean_locks per volume) may cost on
#: the largest share of the share phase than on the smallest.
SHARE_FLAT_LIMIT = 1.5


# Formatting ------------------------------------------------------------------

def fmt_time(seconds):
    """``31 µs``, ``3.12 ms``, ``45.0 ms``, ``1.20 s``; ``-`` for None."""
    if seconds is None:
        return '-'
    if seconds < 1e-5:
        return '%.1f µs' % (seconds * 1e6)
    if seconds < 1e-3:
        return '%.0f µs' % (seconds * 1e6)
    if seconds < 1e-2:
        return '%.2f ms' % (seconds * 1e3)
    if seconds < 1.0:
        return '%.1f ms' % (seconds * 1e3)
    return '%.2f s' % seconds


def fmt_rate(per_second):
    if per_second is None:
        return '-'
    if per_second < 100:
        return '%.1f' % per_second
    return '%.0f' % per_second


def fmt_ratio(value, percent=False):
    if value is None:
        return '-'
    if percent:
        return '%+.1f%%' % (100.0 * value)
    return '%.2f' % value


def render_text(title, headers, rows):
    """A plain text table with a title line."""
    widths = [max(len(str(c)) for c in column)
              for column in zip(headers, *rows)]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    lines = [title, '', (fmt % tuple(headers)).rstrip(),
             '  '.join('-' * w for w in widths)]
    lines += [(fmt % tuple(str(c) for c in row)).rstrip() for row in rows]
    return '\n'.join(lines) + '\n'


def render_rst(title, headers, rows):
    """An RST ``list-table`` (cells on lines of their own, for doc8)."""
    lines = ['.. list-table:: %s' % title, '   :header-rows: 1', '']
    for row in [headers] + list(rows):
        first = True
        for cell in row:
            lines.append('   %s %s' % ('* -' if first else '  -',
                                       str(cell) or '\\'))
            first = False
    return '\n'.join(lines) + '\n'


# Tables --------------------------------------------------------------------

def _order(row):
    backend = row['backend']
    return (BACKEND_ORDER.index(backend) if backend in BACKEND_ORDER
            else len(BACKEND_ORDER), backend,
            SUBJECT_ORDER.index(row['subject']),
            lockcycle.SCENARIOS.index(row['scenario']))


def find(cycles, subject, backend, scenario):
    for row in cycles:
        if (row['subject'], row['backend'], row['scenario']) == (
                subject, backend, scenario):
            return row
    return None


def cycle_table(results):
    """Every lock cycle run: throughput, latency, cycles per process."""
    headers = ['Backend', 'Lock', 'Processes', 'Cycles/s', 'p50', 'p99',
               'max', 'Cycles per process']
    rows = []
    for row in sorted(results.get('cycles', ()), key=_order):
        rows.append([
            row['backend'], row['subject'], RUN_LABELS[row['scenario']],
            fmt_rate(row['throughput']), fmt_time(row['p50']),
            fmt_time(row['p99']), fmt_time(row['max']),
            ' '.join(str(c) for c in row['per_process'])])
    return 'Lock cycle (get, acquire, release)', headers, rows


def contention_table(results):
    """Four processes on one name: fairness, waits and hand-offs."""
    headers = ['Backend', 'Lock', 'Min share', 'Longest wait',
               'Hand-off p50', 'Hand-off p99', 'Hand-off max',
               'Same holder again']
    rows = []
    for row in sorted(results.get('cycles', ()), key=_order):
        if row['scenario'] != lockcycle.ONE_NAME:
            continue
        handoff = row.get('handoff') or {}
        total = row['cycles']
        again = handoff.get('same_holder')
        rows.append([
            row['backend'], row['subject'],
            fmt_ratio(row['fairness']['min_share']),
            fmt_time(row['wait_max']), fmt_time(handoff.get('p50')),
            fmt_time(handoff.get('p99')), fmt_time(handoff.get('max')),
            '-' if again is None or total < 2 else
            '%.0f%%' % (100.0 * again / (total - 1))])
    return ('Contention: 4 processes on one name', headers, rows)


def heartbeat_table(results):
    headers = ['Backend', 'Threads measured', 'No lock held',
               'One lock held']
    rows = []
    beats = results.get('heartbeat') or {}
    for backend in sorted(beats, key=lambda b: (
            BACKEND_ORDER.index(b) if b in BACKEND_ORDER else 99, b)):
        data = beats[backend]
        cells = []
        for state in ('idle', 'held'):
            s = data.get(state) or {}
            if s.get('percent') is None:
                cells.append('-')
            else:
                cells.append('%.3f%% (%.1f ms/min)' % (
                    s['percent'], s['ms_per_minute']))
        rows.append([backend, ', '.join(data['threads']) or 'none'] + cells)
    return ('Background CPU of a coordinator (% of one core)', headers,
            rows)


def scaling_table(results):
    runs = results.get('scaling') or []
    counts = sorted({s['services'] for r in runs for s in r['steps']})
    headers = (['Backend'] + ['%d service%s' % (c, '' if c == 1 else 's')
                              for c in counts] +
               ['Speed-up %d vs 1' % max(counts or [1]), 'Errors'])
    rows = []
    for run in runs:
        by_count = {s['services']: s for s in run['steps']}
        cells = [fmt_rate(by_count[c]['ops_per_second'])
                 if c in by_count else '-' for c in counts]
        ratio = speedup(run, max(counts or [1]))
        errors = sum(s['errors'] for s in run['steps'])
        rows.append([run_label(run)] + cells +
                    [fmt_ratio(ratio), str(errors)])
    latency = runs[0]['latency'] if runs else None
    title = 'Active/Active: operations per second'
    if latency is not None:
        title += ' (%s each)' % fmt_time(latency)
    return title, headers, rows


def bus_table(results):
    runs = results.get('bus') or []
    headers = ['Hosts', 'Scenario', 'Requests', 'p50', 'p99', 'Max']
    rows = []
    for run in runs:
        for row in run['scenarios']:
            rows.append([run['hosts'], row['scenario'], str(row['count']),
                         fmt_time(row['p50']), fmt_time(row['p99']),
                         fmt_time(row['max'])])
    title = 'A volume request through the message bus (RabbitMQ)'
    return title, headers, rows


def rewrites_table(results):
    measured = results.get('rewrites') or {}
    by_key = {(r['operation'], r['way']): r
              for r in measured.get('rows', ())}
    headers = ['Rewrite', 'In place', 'Copy-on-write', 'Time ratio']
    rows = []
    for operation in ('fold', 'merge', 'grow'):
        cells = []
        for way in ('in place', 'copy-on-write'):
            row = by_key.get((operation, way))
            cells.append('%s, %.1f MiB' % (fmt_time(row['seconds']),
                                           row['written_mib'])
                         if row else '-')
        first = by_key.get((operation, 'in place'))
        second = by_key.get((operation, 'copy-on-write'))
        ratio = ('%.1f' % (second['seconds'] / first['seconds'])
                 if first and second and first['seconds'] else '-')
        if first or second:
            rows.append([operation] + cells + [ratio])
    title = ('RemoteFS chain rewrites, %s MiB volume: time and data '
             'written' % measured.get('size_mib', '?'))
    return title, headers, rows


def grow_table(results):
    """Extending a base alone: in place (the window) and copy-on-write."""
    measured = results.get('grow') or {}
    cells = {}
    for row in measured.get('rows', ()):
        key = (row['format'], '+%d GiB' % row['added_gib'], row['mode'])
        cells.setdefault(key, {})[row['way']] = fmt_time(row['seconds'])
    headers = ['Base', 'Added', 'Preallocation', 'In place (window)',
               'Copy-on-write']
    rows = [list(key) + [ways.get('in place', '-'),
                         ways.get('copy-on-write', '-')]
            for key, ways in cells.items()]
    title = ('Extending a volume whose chain is its base alone (%s MiB): '
             'time' % measured.get('base_mib', '?'))
    return title, headers, rows


def share_table(results):
    measured = results.get('share') or {}
    headers = ['Volumes on the share', 'Snapshot create + delete p50',
               'max', 'Info file claim + commit p50', 'clean_locks',
               'clean_locks per volume']
    rows = [[str(r['volumes']), fmt_time(r['snapshot_p50']),
             fmt_time(r['snapshot_max']), fmt_time(r.get('record_p50')),
             fmt_time(r['clean_seconds']), fmt_time(r['clean_per_volume'])]
            for r in measured.get('rows', ())]
    title = ('NFS driver on a share of many volumes (%s snapshot cycles '
             'each)' % measured.get('repeats', '?'))
    return title, headers, rows


def run_label(run):
    """``redis``, or ``redis, hosts apart`` for a run in namespaces."""
    if run.get('hosts', 'local') == 'local':
        return run['backend']
    return '%s, hosts apart' % run['backend']


def speedup(run, services, base=1):
    """Operations per second of ``services`` over those of ``base``."""
    rates = {s['services']: s['ops_per_second'] for s in run['steps']}
    if not rates.get(base) or rates.get(services) is None:
        return None
    return rates[services] / rates[base]


# Targets ---------------------------------------------------------------------

def _target(name, measured, limit, ok, detail=''):
    if measured is None:
        status = NOT_MEASURED
    else:
        status = MET if ok else MISSED
    return {'target': name, 'measured': measured, 'limit': limit,
            'status': status, 'detail': detail}


def _versus(ours, theirs):
    if ours is None or theirs is None:
        return ''
    return '%s vs %s' % (fmt_time(ours), fmt_time(theirs))


def _p50(cycles, subject, backend):
    row = find(cycles, subject, backend, lockcycle.SINGLE)
    return row['p50'] if row else None


def evaluate(results):
    """Each target: what it asks, what was measured, met or missed."""
    cycles = results.get('cycles') or []
    targets = []
    for backend in OVERHEAD_BACKENDS:
        raw = _p50(cycles, 'tooz', backend)
        ours = _p50(cycles, 'cinder', backend)
        overhead = ours / raw - 1 if raw and ours else None
        targets.append(_target(
            'synchronized adds <= %d%% to raw tooz at p50 (%s)' % (
                100 * OVERHEAD_LIMIT, backend),
            overhead, OVERHEAD_LIMIT,
            overhead is not None and overhead <= OVERHEAD_LIMIT,
            _versus(ours, raw)))
    for backend in THREAD_BACKENDS:
        row = find(cycles, 'cinder', backend, lockcycle.SINGLE)
        per_cycle = None
        detail = ''
        if row and row.get('cycles') and 'threads_started' in row:
            per_cycle = row['threads_started'] / float(row['cycles'])
            detail = '%d thread(s) started in %d cycles' % (
                row['threads_started'], row['cycles'])
        targets.append(_target(
            'no thread started per acquire (%s)' % backend, per_cycle,
            THREADS_PER_CYCLE_LIMIT,
            per_cycle is not None and per_cycle <= THREADS_PER_CYCLE_LIMIT,
            detail))
    oslo = _p50(cycles, 'oslo', 'file')
    ours = _p50(cycles, 'cinder', 'file')
    ratio = ours / oslo if oslo and ours else None
    targets.append(_target(
        'file:// synchronized no slower than oslo external lock at p50',
        ratio, 1.0, ratio is not None and ratio <= 1.0,
        _versus(ours, oslo)))
    for backend in FAIRNESS_BACKENDS:
        row = find(cycles, 'cinder', backend, lockcycle.ONE_NAME)
        share = row['fairness']['min_share'] if row else None
        targets.append(_target(
            'no process under half its fair share (%s)' % backend,
            share, FAIR_SHARE_LIMIT,
            share is not None and share >= FAIR_SHARE_LIMIT,
            'cycles per process: %s' % ' '.join(
                str(c) for c in row['per_process']) if row else ''))
    for run in results.get('scaling') or []:
        ratio = speedup(run, 3)
        targets.append(_target(
            '3 services >= %.1f x 1 service (%s)' % (SPEEDUP_LIMIT,
                                                     run_label(run)),
            ratio, SPEEDUP_LIMIT,
            ratio is not None and ratio >= SPEEDUP_LIMIT))
    beats = results.get('heartbeat') or {}
    for backend in sorted(beats, key=lambda b: (
            BACKEND_ORDER.index(b) if b in BACKEND_ORDER else 99, b)):
        data = beats[backend]
        values = [data[s]['percent'] for s in ('idle', 'held')
                  if (data.get(s) or {}).get('percent') is not None]
        worst = max(values) if values else None
        targets.append(_target(
            'heartbeat below %.1f%% of one core (%s)' % (HEARTBEAT_LIMIT,
                                                         backend),
            worst, HEARTBEAT_LIMIT,
            worst is not None and worst < HEARTBEAT_LIMIT,
            'threads: %s' % (', '.join(data['threads']) or 'none')))
    share = results.get('share') or {}
    rows = share.get('rows') or []
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        ratio = share.get('ratio')
        targets.append(_target(
            'snapshot cost flat: %d volumes <= %.1f x %d volumes' % (
                last['volumes'], SHARE_FLAT_LIMIT, first['volumes']),
            ratio, SHARE_FLAT_LIMIT,
            ratio is not None and ratio <= SHARE_FLAT_LIMIT,
            _versus(last['snapshot_p50'], first['snapshot_p50'])))
        record = share.get('record_ratio')
        targets.append(_target(
            'info file cost flat: %d volumes <= %.1f x %d volumes' % (
                last['volumes'], SHARE_FLAT_LIMIT, first['volumes']),
            record, SHARE_FLAT_LIMIT,
            record is not None and record <= SHARE_FLAT_LIMIT,
            _versus(last.get('record_p50'), first.get('record_p50'))))
        per = (last['clean_per_volume'] / first['clean_per_volume']
               if first['clean_per_volume'] else None)
        targets.append(_target(
            'clean_locks linear: per volume at %d <= %.1f x at %d' % (
                last['volumes'], SHARE_FLAT_LIMIT, first['volumes']),
            per, SHARE_FLAT_LIMIT,
            per is not None and per <= SHARE_FLAT_LIMIT,
            _versus(last['clean_per_volume'], first['clean_per_volume'])))
    return targets


def fmt_target_value(target):
    measured = target['measured']
    if measured is None:
        return '-'
    name = target['target']
    if name.startswith('synchronized adds'):
        return fmt_ratio(measured, percent=True)
    if name.startswith('heartbeat'):
        return '%.3f%%' % measured
    if name.startswith('no thread started'):
        return '%.3f' % measured
    return '%.2f' % measured


def targets_table(targets):
    headers = ['Target', 'Measured', 'Result', 'Detail']
    rows = [[t['target'], fmt_target_value(t), t['status'], t['detail']]
            for t in targets]
    return 'Targets', headers, rows


def tables(results):
    """Every table of ``results``, as ``(title, headers, rows)``."""
    out = [cycle_table(results), contention_table(results)]
    if results.get('heartbeat'):
        out.append(heartbeat_table(results))
    if results.get('scaling'):
        out.append(scaling_table(results))
    if results.get('bus'):
        out.append(bus_table(results))
    if results.get('rewrites'):
        out.append(rewrites_table(results))
    if results.get('grow'):
        out.append(grow_table(results))
    if results.get('share'):
        out.append(share_table(results))
    out.append(targets_table(results.get('targets') or evaluate(results)))
    return [t for t in out if t[2]]


def render(results, rst=False):
    """All tables as one text, plain or RST."""
    renderer = render_rst if rst else render_text
    return '\n'.join(renderer(*table) for table in tables(results))
