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

"""cinder-lock-demo: several processes, one critical section, a verdict.

Starts ``--workers`` OS processes that each enter one critical section
``--iterations`` times through ``cinder.coordination.synchronized``. Inside
it a worker appends ``enter`` and ``exit`` lines to a ledger and bumps a
counter by read-modify-write. Afterwards the ledger must show no overlap
and the counter no lost update. ``--local-locks`` gives each worker a lock
directory of its own, which is what host-local locks on several hosts
amount to: the verdict then shows the corruption.

A worker is this module run as ``--worker URL LEDGER COUNTER N``.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from oslo_config import cfg

from cinder import coordination

LOCK_NAME = 'demo-critical-section'


def _append(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode('ascii'))
    finally:
        os.close(fd)


def _increment(path):
    try:
        with open(path) as f:
            value = int(f.read() or 0)
    except FileNotFoundError:
        value = 0
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        f.write(str(value + 1))
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def worker(url, ledger, counter, iterations):
    """Enter the critical section *iterations* times; print wait times."""
    conf = cfg.ConfigOpts()
    coordinator = coordination.Coordinator(conf=conf)
    conf([], project='cinder-lock-demo', default_config_files=[])
    conf.set_override('backend_url', url, group='coordination')
    coordinator.start()
    try:
        print('ready', flush=True)
        sys.stdin.readline()  # all workers start together
        pid = os.getpid()

        @coordination.synchronized(LOCK_NAME, coordinator=coordinator)
        def critical_section(i):
            _append(ledger, 'enter %d %d %.9f\n' % (pid, i, time.monotonic()))
            _increment(counter)
            _append(ledger, 'exit %d %d %.9f\n' % (pid, i, time.monotonic()))

        waits = []
        for i in range(iterations):
            asked = time.monotonic()
            critical_section(i)
            waits.append(time.monotonic() - asked)
        print(' '.join('%.6f' % w for w in waits), flush=True)
    finally:
        coordinator.stop()


def check_ledger(path):
    """Return the overlaps found in the ledger (empty list: none).

    Each ``enter`` must be followed by the ``exit`` of the same process and
    iteration before any other line, and no section may start before the
    previous one ended (CLOCK_MONOTONIC is system-wide on Linux).
    """
    try:
        with open(path) as f:
            entries = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []
    problems = []
    previous_exit = 0.0
    for first, second in zip(entries[::2], entries[1::2]):
        if first[0] != 'enter' or second[:3] != ['exit'] + first[1:3]:
            problems.append('interleaved: %s / %s' % (
                ' '.join(first), ' '.join(second)))
            continue
        if float(first[3]) < previous_exit:
            problems.append('overlap: pid %s entered before the previous '
                            'section ended' % first[1])
        previous_exit = float(second[3])
    if len(entries) % 2:
        problems.append('unpaired last line: %s' % ' '.join(entries[-1]))
    return problems


def run_workers(urls, iterations, workdir, timeout=300):
    """Run one worker per URL; return (problems, counter, waits per pid)."""
    ledger = os.path.join(workdir, 'ledger')
    counter = os.path.join(workdir, 'counter')
    procs = [subprocess.Popen(
        [sys.executable, '-m', 'cinder.cmd.lock_demo', '--worker', url,
         ledger, counter, str(iterations)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for url in urls]
    try:
        for proc in procs:
            if proc.stdout.readline() != 'ready\n':
                raise RuntimeError('worker %d did not start (exit %s)' % (
                    proc.pid, proc.wait(timeout)))
        for proc in procs:
            proc.stdin.write('go\n')
            proc.stdin.flush()
        waits = {}
        for proc in procs:
            out, _ = proc.communicate(timeout=timeout)
            if proc.returncode:
                raise RuntimeError('worker %d failed with exit status %d' % (
                    proc.pid, proc.returncode))
            waits[proc.pid] = [float(w) for w in out.split()]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    try:
        with open(counter) as f:
            count = int(f.read())
    except FileNotFoundError:
        count = 0
    return check_ledger(ledger), count, waits


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog='cinder-lock-demo', description=__doc__.split('\n\n')[0])
    parser.add_argument('--backend-url',
                        help='Tooz URL of the lock backend (default: '
                             'file://STATE_PATH/locks, the embedded '
                             'default of a single host)')
    parser.add_argument('--state-path',
                        help='working directory (default: a new temporary '
                             'directory)')
    parser.add_argument('--workers', type=int, default=3,
                        help='processes contending for the lock '
                             '(default: %(default)s)')
    parser.add_argument('--iterations', type=int, default=50,
                        help='critical sections per process '
                             '(default: %(default)s)')
    parser.add_argument('--local-locks', action='store_true',
                        help='give each process a lock directory of its '
                             'own, like host-local locks on several hosts; '
                             'the verdict then reports the corruption')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error('--workers must be at least 1')
    if args.iterations < 1:
        parser.error('--iterations must be at least 1')
    if args.local_locks and args.backend_url:
        parser.error('--local-locks and --backend-url exclude each other')
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['--worker']:
        url, ledger, counter, iterations = argv[1:5]
        worker(url, ledger, counter, int(iterations))
        return 0
    args = _parse(argv)
    state = args.state_path or tempfile.mkdtemp(prefix='cinder-lock-demo-')
    os.makedirs(state, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='run-', dir=state)
    if args.local_locks:
        urls = ['file://%s/locks-%d' % (workdir, n)
                for n in range(args.workers)]
    else:
        urls = [args.backend_url or 'file://%s/locks' % state] * args.workers
    print('cinder-lock-demo: %d processes x %d critical sections on one lock'
          % (args.workers, args.iterations))
    print('lock backend: %s%s' % (
        coordination.mask_url(urls[0]),
        ' (one directory per process)' if args.local_locks else ''))
    started = time.monotonic()
    problems, count, waits = run_workers(urls, args.iterations, workdir)
    elapsed = time.monotonic() - started
    print()
    print('%-8s %9s %12s %12s' % ('pid', 'sections', 'wait p50 ms',
                                  'wait max ms'))
    for pid, values in sorted(waits.items()):
        print('%-8d %9d %12.2f %12.2f' % (
            pid, len(values), statistics.median(values) * 1000,
            max(values) * 1000))
    expected = args.workers * args.iterations
    print()
    print('sections run: %d in %.2fs' % (expected, elapsed))
    print('overlapping sections: %d' % len(problems))
    for problem in problems[:5]:
        print('  ' + problem)
    print('counter: %d (expected %d, lost updates: %d)' % (
        count, expected, expected - count))
    ok = not problems and count == expected
    print('verdict: %s' % ('OK: the lock excluded every other process' if ok
                           else 'CORRUPTION: sections ran concurrently'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
