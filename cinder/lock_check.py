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

"""Checks of the lock backend, for ``cinder-manage`` and ``cinder-status``.

:func:`check_backend` does what a ``cinder-volume`` service would do with
the same configuration: it starts a coordinator on ``[coordination]
backend_url``, takes the probe lock ``cinder-coordination-check``, checks
that a second member of the backend is kept out while it is held, and
times a few acquire and release cycles. It reports what the backend
guarantees and what is wrong with the configuration, as
:class:`Finding` objects. Every text it returns has the backend's secrets
masked: the coordinator's messages already are.
"""

import dataclasses
import statistics
import threading
import time
import typing
import urllib.parse

from cinder.common import config
from cinder import coordination
from cinder.coordination import backends

#: Levels of a finding, in the order of the exit status they give.
OK = 'ok'
WARNING = 'warning'
FAILURE = 'failure'
_RANK = {OK: 0, WARNING: 1, FAILURE: 2}

#: Name of the probe lock (the coordinator adds its ``cinder-`` prefix).
PROBE_LOCK = 'coordination-check'

_SESSION_SCHEMES = ('zookeeper', 'kazoo')
_NOT_RECOMMENDED = {
    'memcached': 'memcached is not recommended for locks: a lock is '
                 'released by a read then a delete, which is not atomic, '
                 'and the server evicts keys when its memory is full, '
                 'locks included. Use ZooKeeper, Redis or etcd.',
}


@dataclasses.dataclass
class Finding(object):
    level: str
    message: str


@dataclasses.dataclass
class BackendReport(object):
    """What :func:`check_backend` found. Times are in seconds."""

    backend: str
    cluster: typing.Optional[str] = None
    started: bool = False
    distributed: typing.Optional[bool] = None
    heartbeat: typing.Optional[float] = None
    lease: typing.Optional[float] = None
    #: The lease asked for, where the server may grant another (ZooKeeper
    #: negotiates the session timeout): then ``lease`` is the granted one.
    requested_lease: typing.Optional[float] = None
    lease_kind: typing.Optional[str] = None
    excludes_other_member: typing.Optional[bool] = None
    cycles: list = dataclasses.field(default_factory=list)
    findings: list = dataclasses.field(default_factory=list)

    @property
    def level(self):
        """The worst level of the findings, ``ok`` without any."""
        return max((f.level for f in self.findings), key=_RANK.get,
                   default=OK)

    @property
    def exit_code(self):
        """0 for ok, 1 for warnings, 2 for a failure."""
        return _RANK[self.level]

    def warn(self, message):
        self.findings.append(Finding(WARNING, message))

    def fail(self, message):
        self.findings.append(Finding(FAILURE, message))

    def as_dict(self):
        data = dataclasses.asdict(self)
        data['result'] = self.level
        data['cycle_median'] = (statistics.median(self.cycles)
                                if self.cycles else None)
        return data

    def lines(self):
        """The report as ``(label, text)`` pairs, for people."""
        rows = [('Lock backend', self.backend),
                ('Cluster', self.cluster or '(none)')]
        if self.started:
            rows.append(('Locks exclude', 'services on all hosts'
                         if self.distributed else
                         'services on this host only'))
            rows.append(('Lease', self._lease_text()))
        if self.excludes_other_member is not None:
            rows.append(('Probe lock', 'taken and released; a second member '
                         'was kept out' if self.excludes_other_member else
                         'taken, but a second member could take it too'))
        if self.cycles:
            rows.append(('Lock cycle', 'median %.2f ms, max %.2f ms '
                         '(%d acquire and release cycles)' % (
                             statistics.median(self.cycles) * 1000,
                             max(self.cycles) * 1000, len(self.cycles))))
        for finding in self.findings:
            rows.append((finding.level.upper(), finding.message))
        rows.append(('Result', self.level.upper()))
        return rows

    def summary(self):
        """One paragraph: the problems found, or what was checked."""
        if self.findings:
            return ' '.join('%s: %s' % (f.level.upper(), f.message)
                            for f in self.findings)
        text = '%s: locks exclude %s' % (
            self.backend, 'services on all hosts' if self.distributed
            else 'services on this host only')
        if self.cycles:
            text += '; a lock cycle takes %.2f ms' % (
                statistics.median(self.cycles) * 1000)
        return text

    def _lease_text(self):
        if self.lease is None and self.heartbeat is None:
            return 'none: a held lock is never lost'
        if self.lease_kind == 'session':
            return ('%s s session (negotiated by the server; %s s '
                    'requested), kept alive by the client library; a read '
                    'every third of it tells the service that the server '
                    'heard from it' % (_num(self.lease),
                                       _num(self.requested_lease)))
        lease = ('%s s lease' % _num(self.lease) if self.lease is not None
                 else 'lease of unknown length')
        if self.heartbeat is None:
            return lease + ', not renewed by a heartbeat'
        return '%s, renewed by a heartbeat every %s s' % (
            lease, _num(self.heartbeat))


def _num(value):
    return ('%g' % value) if value is not None else '?'


def _scheme(url):
    try:
        return urllib.parse.urlsplit(url).scheme.split('+')[0]
    except ValueError:
        return ''


def check_backend(conf, cycles=5, clock=time.monotonic):
    """Start a coordinator as configured in *conf* and probe it.

    :param conf: an oslo.config object holding ``[coordination]`` (it is
        registered if needed) and ``[DEFAULT] cluster``.
    :param cycles: how many acquire and release cycles to time.
    :returns: a :class:`BackendReport`; a backend that cannot be reached
        gives a report with a failure, never an exception.
    """
    first = coordination.Coordinator(conf=conf)
    conf.register_opts(config.global_opts)
    url = conf.coordination.backend_url
    report = BackendReport(backend=coordination.mask_url(url),
                           cluster=conf.cluster)
    try:
        first.start()
    except coordination.CoordinationError as e:
        report.fail('the lock backend cannot be used: %s' % e)
        return report
    try:
        _describe(first, conf, report)
        _probe(first, conf, report, cycles, clock)
    finally:
        first.stop()
    return report


def _describe(coordinator, conf, report):
    backend = coordinator.backend
    scheme = _scheme(conf.coordination.backend_url)
    report.started = True
    report.distributed = backend.distributed
    report.lease = backend.lease()
    report.requested_lease = backend.requested_lease()
    if backend.needs_heartbeat:
        report.heartbeat = conf.coordination.heartbeat
    if report.lease is not None:
        report.lease_kind = ('session' if scheme in _SESSION_SCHEMES
                             else 'lease')
    if report.cluster and not backend.distributed:
        report.warn(
            '[DEFAULT] cluster = %s is set, but [coordination] backend_url '
            '= %s keeps locks on this host only: services of the cluster '
            'on other hosts are not excluded. Use ZooKeeper, Redis or etcd '
            'for Active/Active.' % (report.cluster, report.backend))
    if report.lease != report.requested_lease:
        report.warn(
            'the server negotiated a session timeout of %s s, not the %s s '
            'requested in [coordination] backend_url: its '
            'minSessionTimeout and maxSessionTimeout bound it. Locks are '
            'freed %s s after the server last heard from their holder, '
            'and declared lost on that count. Ask for a timeout within '
            'those bounds, or change them.' % (
                _num(report.lease), _num(report.requested_lease),
                _num(report.lease)))
    if scheme in _NOT_RECOMMENDED:
        report.warn(_NOT_RECOMMENDED[scheme])
    elif scheme and not isinstance(backend, backends.BACKENDS):
        report.warn('%s:// is not a lock backend this project tests; '
                    'lost locks may go unnoticed. Use ZooKeeper, Redis or '
                    'etcd.' % scheme)
    if (report.heartbeat is not None and report.lease is not None and
            report.heartbeat * 3 > report.lease):
        report.warn('[coordination] heartbeat = %s s is more than a third '
                    'of the %s s lease: one slow beat may lose every lock '
                    'held' % (_num(report.heartbeat), _num(report.lease)))


def _probe(coordinator, conf, report, cycles, clock):
    timeout = conf.coordination.backend_timeout
    lock = coordinator.get_lock(PROBE_LOCK)
    try:
        # Waits, in case another check holds the probe lock right now.
        lock.acquire(blocking=timeout)
    except coordination.CoordinationError as e:
        report.fail('the probe lock %s could not be taken: %s' % (
            lock.name, e))
        return
    try:
        other_got_it = _other_member_gets(conf, PROBE_LOCK, report)
    finally:
        lock.release()
    if other_got_it is not None:
        report.excludes_other_member = not other_got_it
    if report.excludes_other_member is False:
        report.fail('a second member took the probe lock %s while it was '
                    'held: this backend does not exclude anything' %
                    lock.name)
    try:
        for _ in range(cycles):
            start = clock()
            lock.acquire(blocking=timeout)
            lock.release()
            report.cycles.append(clock() - start)
    except coordination.CoordinationError as e:
        report.fail('acquire and release of the probe lock failed: %s' % e)
    coordinator.remove_lock(PROBE_LOCK)


def can_take(coordinator, name, timeout):
    """Whether *coordinator* can take lock *name* at this moment.

    The lock is tried without waiting, from a thread of its own, so a lock
    that the calling thread holds counts as taken; when it could be taken
    it is released again at once.

    :raises CoordinationError: the backend failed.
    :raises TimeoutError: the try did not end within *timeout* seconds.
    """
    result = []

    def attempt():
        try:
            lock = coordinator.get_lock(name)
            try:
                lock.acquire(blocking=False)
            except coordination.LockAcquireFailed:
                result.append(False)
            else:
                lock.release()
                result.append(True)
        except Exception as e:
            result.append(e)

    thread = threading.Thread(target=attempt, name='lock-probe',
                              daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        raise TimeoutError('taking lock %s did not end within %s s' % (
            name, _num(timeout)))
    if isinstance(result[0], Exception):
        raise result[0]
    return result[0]


def _other_member_gets(conf, name, report):
    """Whether another member of the backend can take lock *name*."""
    timeout = conf.coordination.backend_timeout * 3
    other = coordination.Coordinator(conf=conf)
    try:
        other.start()
        return can_take(other, name, timeout)
    except coordination.CoordinationError as e:
        report.fail('a second member could not use the backend: %s' % e)
    except TimeoutError:
        report.fail('a second member did not answer within %s s' % (
            _num(timeout)))
    finally:
        other.stop()
    return None
