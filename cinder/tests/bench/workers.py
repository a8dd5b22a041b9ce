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

"""Processes that run lock cycles, and the pool that drives them.

The workers are started with multiprocessing's ``spawn`` method: each is a
fresh interpreter that inherits no thread, socket or lock of the parent
(which runs the lock servers' bookkeeping and, with ``fork``, would hand
copies of its client connections and locked mutexes to the children). The
start-up cost, about a second, is paid once: the workers stay up for the
whole run, with every subject connected.

Start barrier: for each run the parent first has every participating
worker warm up (a few cycles on a name of its own), waits until all have
answered, then sends them one common start time and end time on the
system-wide monotonic clock. Each worker sleeps until the start time and
cycles until the end time, so the processes of a run contend over the
same window.
"""

import array
import multiprocessing
import os
import threading
import time
import traceback

from cinder.tests.bench import subjects as subjects_mod

#: Seconds a worker may take to answer beyond the run's own length.
GRACE = 60.0


class WorkerError(Exception):
    pass


def _serve(conn, specs):
    """A worker's main loop: answer the parent's commands until quit."""
    opened = {}
    while True:
        try:
            command = conn.recv()
        except EOFError:
            break
        op = command[0]
        try:
            if op == 'quit':
                break
            elif op == 'open':
                for key in command[1]:
                    if key not in opened:
                        kind, backend, target = specs[key]
                        subject = subjects_mod.make(kind, backend, target)
                        subject.open()
                        opened[key] = subject
                reply = None
            elif op == 'warm':
                _key, name, cycles = command[1:]
                subject = opened[_key]
                for _ in range(cycles):
                    subject.cycle(name)
                reply = None
            elif op == 'run':
                reply = _run(opened[command[1]], *command[2:])
            elif op == 'close':
                for subject in opened.values():
                    subject.close()
                opened.clear()
                reply = None
            else:
                raise ValueError('unknown command %r' % (op,))
        except Exception:
            conn.send(('error', 'worker %d: %s' % (os.getpid(),
                                                   traceback.format_exc())))
        else:
            conn.send(('ok', reply))
    for subject in opened.values():
        try:
            subject.close()
        except Exception:
            pass


def _run(subject, name, start_at, end_at, max_cycles):
    """Cycle on ``name`` from ``start_at`` until ``end_at``.

    Returns three arrays of ``time.monotonic()`` values (as bytes): before
    each cycle, inside it, after it; how late the first cycle started; and
    how many threads the process started while it cycled.
    """
    before = array.array('d')
    inside = array.array('d')
    after = array.array('d')
    cycle = subject.cycle
    clock = time.monotonic
    delay = start_at - clock()
    if delay > 0:
        time.sleep(delay)
    late = clock() - start_at
    count = 0
    started = []
    real_start = threading.Thread.start

    def counting_start(thread):
        started.append(thread.name)
        return real_start(thread)

    threading.Thread.start = counting_start
    try:
        now = clock()
        while now < end_at and count != max_cycles:
            before.append(now)
            inside.append(cycle(name))
            now = clock()
            after.append(now)
            count += 1
    finally:
        threading.Thread.start = real_start
    return {'before': before.tobytes(), 'inside': inside.tobytes(),
            'after': after.tobytes(), 'late': late, 'pid': os.getpid(),
            'threads_started': len(started)}


def decode(data):
    """The arrays of a run's result, as lists of floats."""
    out = {}
    for field in ('before', 'inside', 'after'):
        values = array.array('d')
        values.frombytes(data[field])
        out[field] = values.tolist()
    out['threads_started'] = data.get('threads_started', 0)
    return out


class Pool(object):
    """``size`` worker processes, each with every subject of ``specs``.

    :param specs: ``{key: (kind, backend, target)}``.
    """

    def __init__(self, size, specs):
        self.size = size
        self.specs = dict(specs)
        self._context = multiprocessing.get_context('spawn')
        self._workers = []

    def start(self):
        for _ in range(self.size):
            parent, child = self._context.Pipe()
            process = self._context.Process(
                target=_serve, args=(child, self.specs), daemon=True,
                name='cinder-bench-worker')
            process.start()
            child.close()
            self._workers.append((process, parent))

    def stop(self):
        for process, conn in self._workers:
            try:
                conn.send(('quit',))
            except (OSError, ValueError):
                pass
        for process, conn in self._workers:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)
            conn.close()
        self._workers = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def call(self, indexes, commands, timeout):
        """Send ``commands[i]`` to worker ``indexes[i]``; gather replies."""
        for index, command in zip(indexes, commands):
            self._workers[index][1].send(command)
        replies = []
        deadline = time.monotonic() + timeout
        for index in indexes:
            process, conn = self._workers[index]
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise WorkerError('worker %d (pid %s) did not answer within '
                                  '%.0f s' % (index, process.pid, timeout))
            status, value = conn.recv()
            if status != 'ok':
                raise WorkerError(value)
            replies.append(value)
        return replies

    def open(self, keys, indexes=None, timeout=120.0):
        indexes = list(range(self.size)) if indexes is None else indexes
        self.call(indexes, [('open', list(keys))] * len(indexes), timeout)

    def run(self, key, names, duration, max_cycles=-1, warm=20,
            settle=0.05):
        """One run of ``key`` on worker ``i`` with lock ``names[i]``.

        All workers of the run warm up first (on a name of their own),
        then cycle over one common window of ``duration`` seconds.
        """
        indexes = list(range(len(names)))
        self.call(indexes, [('warm', key, 'warm-%d' % i, warm)
                            for i in indexes], GRACE)
        start_at = time.monotonic() + settle
        end_at = start_at + duration
        return self.call(indexes, [('run', key, name, start_at, end_at,
                                    max_cycles) for name in names],
                         duration + settle + GRACE)
