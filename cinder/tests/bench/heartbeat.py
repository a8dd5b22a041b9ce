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

"""CPU used by a coordinator's background threads, per backend.

A :class:`cinder.coordination.Coordinator` with default options is started
per backend; the threads that appear in the process while it starts are its
own: the heartbeat thread (Redis, etcd) or kazoo's connection and event
threads, which keep the ZooKeeper session alive (there is no heartbeat of
this project there). The file backend starts none.

The CPU time of each of those native threads is read from the kernel's
per-thread CPU clock (``clock_gettime`` on the clock id of the thread,
exact to the nanosecond, the clock ``time.thread_time()`` reads inside a
thread) at the start and the end of a window, once with no lock held and
once with one lock held (each beat then also refreshes and checks that
lock). The main thread sleeps meanwhile.
"""

import re
import threading
import time

#: Linux's clock id encoding for the CPU clock of thread ``tid``
#: (CPUCLOCK_SCHED of a single thread), as pthread_getcpuclockid() builds
#: it. Unlike pthread_getcpuclockid(), reading it for a thread that has
#: exited fails cleanly with EINVAL.
_CPUCLOCK_SCHED_THREAD = 6

#: Name of the short-lived threads of cinder.coordination's bounded calls.
BOUNDED_CALL_THREAD = 'cinder-coordination-call'


def thread_cpu_clock(native_id):
    return ((~native_id) << 3) | _CPUCLOCK_SCHED_THREAD


def thread_cpu(native_id):
    """CPU seconds used so far by the thread ``native_id`` of this process.

    None if the thread has exited.
    """
    try:
        return time.clock_gettime(thread_cpu_clock(native_id))
    except OSError:
        return None


def sample(threads):
    """``{native_id: CPU seconds}`` of ``threads`` now."""
    return {t.native_id: thread_cpu(t.native_id) for t in threads}


def used_between(first, second):
    """CPU seconds between two :func:`sample` results of one set.

    A thread that exited in between counts for nothing.
    """
    used = 0.0
    for native_id, value in first.items():
        last = second.get(native_id)
        if value is not None and last is not None:
            used += last - value
    return used


def share(cpu_seconds, wall_seconds):
    """CPU use as a percentage of one core, and milliseconds per minute."""
    if not wall_seconds:
        return None, None
    fraction = cpu_seconds / wall_seconds
    return 100.0 * fraction, 60000.0 * fraction


def thread_labels(threads):
    """Short sorted names: ``Thread-3 (zk_loop)`` becomes ``zk_loop``."""
    labels = []
    for thread in threads:
        name = thread.name
        match = re.match(r'Thread-\d+ \((.+)\)$', name)
        labels.append(match.group(1) if match else name)
    return sorted(labels)


def _coordinator(url):
    from oslo_config import cfg

    from cinder import coordination

    conf = cfg.ConfigOpts()
    coordinator = coordination.Coordinator(conf=conf)
    conf([], project='cinder-bench', default_config_files=[])
    conf.set_override('backend_url', url, group='coordination')
    return coordinator


def measure(urls, seconds):
    """Measure every backend of ``urls`` (``{backend: url}``) at once.

    Runs in a process of its own (see the runner). Returns ``{backend:
    {...}}`` with the threads measured and, for ``idle`` (no lock held)
    and ``held`` (one lock held), the CPU seconds, the wall seconds, the
    percentage of one core and the milliseconds of CPU per minute.
    """
    coordinators = {}
    threads = {}
    try:
        for backend, url in urls.items():
            before = set(threading.enumerate())
            coordinator = _coordinator(url)
            coordinator.start()
            coordinators[backend] = coordinator
            # Not the helper threads of bounded calls (the start's may
            # still be ending): they are not background work.
            threads[backend] = [
                t for t in threading.enumerate()
                if t not in before and t.is_alive() and
                t.name != BOUNDED_CALL_THREAD]
        return _windows(coordinators, threads, seconds)
    finally:
        for coordinator in coordinators.values():
            coordinator.stop()


def _windows(coordinators, threads, seconds):
    """Measure the two windows; see :func:`measure`."""
    results = {b: {'threads': thread_labels(threads[b]),
                   'heartbeat': c.backend.needs_heartbeat}
               for b, c in coordinators.items()}
    for state in ('idle', 'held'):
        locks = []
        if state == 'held':
            for coordinator in coordinators.values():
                lock = coordinator.get_lock('bench-heartbeat')
                lock.acquire()
                locks.append(lock)
        first = {b: sample(ts) for b, ts in threads.items()}
        began = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - began
        for backend, ts in threads.items():
            used = used_between(first[backend], sample(ts))
            percent, per_minute = share(used, elapsed)
            results[backend][state] = {
                'cpu': used, 'seconds': elapsed, 'percent': percent,
                'ms_per_minute': per_minute}
        for lock in locks:
            lock.release()
    return results
