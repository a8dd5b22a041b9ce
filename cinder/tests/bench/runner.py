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

"""``python -m cinder.tests.bench``: the lock layer's benchmark.

Starts its own lock servers on 127.0.0.1 (as the functional tests do),
measures lock cycles, contention, the coordinator's background CPU and
Active/Active scaling, prints the tables and the targets, and writes the
results as JSON and a PNG figure when asked. See
doc/source/admin/performance.rst.
"""

import argparse
import concurrent.futures
import datetime
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time

from cinder.stress import lockservers
from cinder.stress import netns
from cinder.tests.bench import bus
from cinder.tests.bench import grow
from cinder.tests.bench import heartbeat
from cinder.tests.bench import lockcycle
from cinder.tests.bench import report
from cinder.tests.bench import rewrites
from cinder.tests.bench import scaling
from cinder.tests.bench import share
from cinder.tests.bench import subjects
from cinder.tests.bench import workers

BACKENDS = ('file', 'redis', 'zookeeper', 'etcd')
PHASES = ('cycles', 'heartbeat', 'scaling', 'bus', 'rewrites', 'grow',
          'share')
HOSTS = ('local', 'netns')

#: (full run, --quick) defaults of the options that --quick shortens.
DEFAULTS = {
    'duration': (2.0, 0.5),
    'rounds': (8, 2),
    'heartbeat_seconds': (10.0, 2.0),
    'requests': (150, 40),
    'bus_requests': (1000, 100),
    'rewrite_size': (1024, 128),
    'grow_sizes': ([1, 4], [1]),
    'share_volumes': ([100, 1000, 10000], [100, 1000]),
}

LIBRARIES = ('tooz', 'oslo.concurrency', 'redis', 'kazoo', 'etcd3gw',
             'fasteners')


def _list(choices):
    def parse(text):
        values = [v.strip() for v in text.split(',') if v.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(
                'choose from %s, not %s' % (','.join(choices), text))
        return values
    return parse


def _counts(text):
    try:
        values = sorted({int(v) for v in text.split(',')})
    except ValueError:
        raise argparse.ArgumentTypeError('a list of integers: %s' % text)
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError('counts must be at least 1')
    return values


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m cinder.tests.bench',
        description='Benchmark the lock layer: lock cycles per backend '
                    'against oslo.concurrency and raw Tooz, contention, '
                    'heartbeat CPU and Active/Active scaling.')
    parser.add_argument('--backends', type=_list(BACKENDS),
                        default=list(BACKENDS),
                        help='comma-separated, from %s (all)' %
                             ','.join(BACKENDS))
    parser.add_argument('--phases', type=_list(PHASES),
                        default=list(PHASES),
                        help='comma-separated, from %s (all)' %
                             ','.join(PHASES))
    parser.add_argument('--duration', type=float,
                        help='seconds of cycling per lock and run '
                             '(2; --quick 0.5)')
    parser.add_argument('--cycles', type=int, default=-1,
                        help='stop a process after this many cycles of a '
                             'run even before --duration (no limit)')
    parser.add_argument('--rounds', type=int,
                        help='slices the single-client runs are '
                             'interleaved in (8; --quick 2)')
    parser.add_argument('--processes', type=int, default=4,
                        help='processes of the contended runs (4)')
    parser.add_argument('--heartbeat-seconds', type=float,
                        help='length of each heartbeat CPU window '
                             '(10; --quick 2)')
    parser.add_argument('--latency', type=float, default=0.05,
                        help='seconds each volume operation takes in the '
                             'scaling runs (0.05)')
    parser.add_argument('--requests', type=int,
                        help='requests per scaling step (150; --quick 40)')
    parser.add_argument('--bus-requests', type=int,
                        help='round trips per scenario of the bus phase '
                             '(1000; --quick 100)')
    parser.add_argument('--hosts', type=_list(HOSTS),
                        help='where the services of the scaling and bus '
                             'phases run: local, netns (a network '
                             'namespace each; needs root); default both '
                             'when namespaces can be made, else local')
    parser.add_argument('--services', type=_counts, default=[1, 2, 3],
                        help='service counts of the scaling steps (1,2,3)')
    parser.add_argument('--scaling-backends', type=_list(BACKENDS),
                        help='backends of the scaling runs (--backends)')
    parser.add_argument('--rewrite-size', type=int,
                        help='MiB of the volume of the rewrites phase '
                             'and of the base of the grow phase '
                             '(1024; --quick 128)')
    parser.add_argument('--grow-sizes', type=_counts,
                        help='GiB added by each grow of the grow phase '
                             '(1,4; --quick 1)')
    parser.add_argument('--share-volumes', type=_counts,
                        help='volumes on the share of each step of the '
                             'share phase (100,1000,10000; --quick '
                             '100,1000)')
    parser.add_argument('--quick', action='store_true',
                        help='short runs, for trying the tool out')
    parser.add_argument('--json', metavar='FILE',
                        help='write the results as JSON to FILE')
    parser.add_argument('--plot', metavar='FILE.png',
                        help='draw the figure to FILE.png (matplotlib)')
    parser.add_argument('--rst', action='store_true',
                        help='print the tables as RST list-tables')
    parser.add_argument('--report', metavar='FILE',
                        help='measure nothing: print the tables (and draw '
                             'the figure with --plot) of the results '
                             'FILE that --json wrote')
    parser.add_argument('--work-dir',
                        help='where lock files, services and server data '
                             'go (default: a temporary directory)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory')
    args = parser.parse_args(argv)
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.duration <= 0 or args.heartbeat_seconds <= 0:
        parser.error('--duration and --heartbeat-seconds must be positive')
    if (args.rounds < 1 or args.processes < 1 or args.requests < 1 or
            args.bus_requests < 1):
        parser.error('--rounds, --processes, --requests and '
                     '--bus-requests must be at least 1')
    if args.latency < 0:
        parser.error('--latency must not be negative')
    if args.cycles == 0 or args.cycles < -1:
        parser.error('--cycles must be at least 1')
    if args.scaling_backends is None:
        args.scaling_backends = list(args.backends)
    if args.hosts is None:
        args.hosts = list(HOSTS) if netns_available() else ['local']
    elif 'netns' in args.hosts and not netns_available():
        parser.error('--hosts netns needs root, ip and nft')
    return args


class Progress(object):
    """Progress lines on stderr, with the time since the start."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.began = time.monotonic()

    def __call__(self, message):
        self.stream.write('[%6.1f s] %s\n' % (
            time.monotonic() - self.began, message))
        self.stream.flush()


def subject_specs(backends, urls, work_dir):
    """``{key: (kind, backend, target)}`` of every measured lock."""
    specs = {}
    for backend in backends:
        if backend == 'file':
            specs[subjects.key('oslo', 'file')] = (
                'oslo', 'file', os.path.join(work_dir, 'oslo-locks'))
            for kind in ('tooz', 'cinder'):
                specs[subjects.key(kind, 'file')] = (
                    kind, 'file',
                    'file://' + os.path.join(work_dir, '%s-locks' % kind))
        else:
            for kind in ('tooz', 'cinder'):
                specs[subjects.key(kind, backend)] = (kind, backend,
                                                      urls[backend])
    return specs


def run_cycles(args, specs, progress):
    keys = list(specs)
    rows = []
    with workers.Pool(args.processes, specs) as pool:
        progress('starting %d worker processes, connecting %d locks each'
                 % (args.processes, len(keys)))
        pool.open(keys)
        merged = lockcycle.run_single(pool, keys, args.duration,
                                      args.rounds, progress)
        for k in keys:
            kind, backend, _target = specs[k]
            rows.append(lockcycle.result(kind, backend, lockcycle.SINGLE,
                                         [merged[k]], args.duration))
        for scenario in (lockcycle.ONE_NAME, lockcycle.DISTINCT):
            for k in keys:
                kind, backend, _target = specs[k]
                progress('%d processes, %s: %s' % (
                    args.processes, scenario, k))
                replies, late = lockcycle.run_contended(
                    pool, k, args.processes, scenario, args.duration)
                if late > 0.05:
                    progress('warning: a process started %.0f ms late' % (
                        late * 1e3))
                rows.append(lockcycle.result(kind, backend, scenario,
                                             replies, args.duration))
        pool.call(range(args.processes), [('close',)] * args.processes,
                  workers.GRACE)
    return rows


def run_heartbeat(args, urls, work_dir, progress):
    targets = {}
    for backend in args.backends:
        targets[backend] = (
            'file://' + os.path.join(work_dir, 'heartbeat-locks')
            if backend == 'file' else urls[backend])
    progress('heartbeat CPU: 2 windows of %.0f s' % args.heartbeat_seconds)
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=context) as executor:
        future = executor.submit(heartbeat.measure, targets,
                                 args.heartbeat_seconds)
        return future.result(timeout=4 * args.heartbeat_seconds + 120)


def run_scaling(args, urls, work_dir, progress):
    runs = []
    for hosts in args.hosts:
        for backend in args.scaling_backends:
            directory = os.path.join(work_dir, 'scaling-%s-%s' % (backend,
                                                                  hosts))
            url = ('file://' + os.path.join(directory, 'locks')
                   if backend == 'file' else urls[backend])
            runs.append(scaling.run(backend, url, directory, args.latency,
                                    args.requests, counts=args.services,
                                    progress=progress, hosts=hosts))
    return runs


def run_bus(args, work_dir, progress):
    return [bus.run(os.path.join(work_dir, 'bus-%s' % hosts),
                    args.bus_requests, progress, hosts=hosts)
            for hosts in args.hosts]


def netns_available():
    """True when this process can make network namespaces."""
    return not netns.missing()


def _versions():
    versions = {'python': platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def start_servers(backends, progress):
    """Start a server per distributed backend; return them by name."""
    servers = {}
    needed = [b for b in backends if b != 'file']
    missing = {b: lockservers.server_class(b).missing() for b in needed}
    missing = {b: m for b, m in missing.items() if m}
    if missing:
        raise lockservers.LockServerUnavailable(
            'missing lock server binaries: %s; %s' % (
                '; '.join('%s: %s' % (b, ', '.join(m))
                          for b, m in sorted(missing.items())),
                lockservers.SETUP_HINT))
    try:
        for backend in needed:
            progress('starting a %s server on 127.0.0.1' % backend)
            server = lockservers.server_class(backend)()
            servers[backend] = server
            server.start()
    except Exception:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers):
    for server in servers.values():
        try:
            server.stop()
        except Exception as e:
            sys.stderr.write('could not stop %r: %s\n' % (server, e))


def collect(args, work_dir, progress):
    """Run the phases; return the results dict (without targets)."""
    results = {}
    needed = set(args.backends)
    if 'scaling' in args.phases:
        needed.update(args.scaling_backends)
    servers = start_servers([b for b in BACKENDS if b in needed], progress)
    try:
        urls = {b: s.url for b, s in servers.items()}
        if 'cycles' in args.phases:
            specs = subject_specs(args.backends, urls, work_dir)
            results['cycles'] = run_cycles(args, specs, progress)
        if 'heartbeat' in args.phases:
            results['heartbeat'] = run_heartbeat(args, urls, work_dir,
                                                 progress)
        if 'scaling' in args.phases:
            results['scaling'] = run_scaling(args, urls, work_dir,
                                             progress)
        if 'bus' in args.phases:
            results['bus'] = run_bus(args, work_dir, progress)
        if 'rewrites' in args.phases:
            results['rewrites'] = rewrites.run(work_dir, args.rewrite_size,
                                               progress)
        if 'grow' in args.phases:
            results['grow'] = grow.run(work_dir, args.rewrite_size,
                                       args.grow_sizes, progress)
        if 'share' in args.phases:
            results['share'] = share.run(work_dir, args.share_volumes,
                                         progress=progress)
    finally:
        stop_servers(servers)
    return results


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.plot and importlib.util.find_spec('matplotlib') is None:
        sys.stderr.write('cinder-bench: --plot needs matplotlib (the '
                         '"bench" tox environment has it)\n')
        return 2
    if args.report:
        with open(args.report) as f:
            results = json.load(f)
        return output(results, args)
    progress = Progress()
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='cinder-bench-')
    os.makedirs(work_dir, exist_ok=True)
    meta = {
        'started': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M UTC'),
        'cpus': os.cpu_count(),
        'load_before': list(os.getloadavg()),
        'versions': _versions(),
        'options': {k: v for k, v in vars(args).items()
                    if k not in ('json', 'plot', 'work_dir', 'keep',
                                 'rst', 'report')},
        'start_method': 'spawn',
    }
    began = time.monotonic()
    try:
        results = collect(args, work_dir, progress)
    except (lockservers.LockServerError, workers.WorkerError) as e:
        sys.stderr.write('cinder-bench: %s\n' % e)
        return 1
    finally:
        if not (args.keep or args.work_dir):
            shutil.rmtree(work_dir, ignore_errors=True)
    meta['seconds'] = round(time.monotonic() - began, 1)
    meta['load_after'] = list(os.getloadavg())
    results['meta'] = meta
    results['targets'] = report.evaluate(results)
    return output(results, args)


def output(results, args, out=None):
    """Print the tables; write the JSON and the figure if asked."""
    out = out or sys.stdout
    meta = results.get('meta') or {}
    out.write('\n' + report.render(results, rst=args.rst) + '\n')
    if meta:
        out.write('%d CPUs, load average %.2f before and %.2f after; '
                  '%.0f s in all; %s\n' % (
                      meta['cpus'], meta['load_before'][0],
                      meta['load_after'][0], meta['seconds'],
                      meta['started']))
    if args.json:
        _makedirs_for(args.json)
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write('\n')
        out.write('results: %s\n' % args.json)
    if args.plot:
        from cinder.tests.bench import plot
        _makedirs_for(args.plot)
        plot.draw(results, args.plot)
        out.write('figure: %s\n' % args.plot)
    return 0


def _makedirs_for(path):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
