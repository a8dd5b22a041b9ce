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

"""The tgt array driver against a real tgtd and real locks.

Two OS processes play two ``cinder-volume`` services of one backend: each
has its own driver and its own coordinator on the same lock backend, and
both attach and detach volumes of their own to the SAME connector host,
whose target, LUN numbering and ACL they therefore share. The workload
has two parts:

* hammering: both run random attaches and detaches at once;
* window rounds: one service detaches the host's last volume while the
  other attaches a volume to the host. The driver's test seam
  ``before_target_delete`` holds the detach between "no LUN left" and
  "delete the target" until the attacher either finished its attach or
  is waiting for the host lock (seen by an instrumented lock acquire), so
  the race is hit on every round, with bounded event waits only.

After each part the array (``tgtadm --op show``) must match the
bookkeeping of the workers: every volume they believe attached is a LUN
of the host target, whose ACL holds the connector's initiator; no target
is left once nothing is attached; no operation failed. With a shared lock
backend (Redis, or one file:// directory for both processes) this holds.
With per-process local locks the same workload must be caught losing a
LUN.

A third part races a revert against an attach of the same volume: one
service reverts the volume to a snapshot and is held after its copy,
before it renames the copy over the volume's file, until the other
service's attach either finished or waits for a lock (the same window
protocol). With Redis the attach waits for the volume's lock
``tgt-<volume id>`` and tgtd then serves the reverted file; with
per-process locks it does not wait, and tgtd keeps serving the replaced
file, deleted (seen in tgtd's open files).
"""

import multiprocessing
import os
import random
import traceback
import unittest
from unittest import mock
import uuid

import fixtures
from oslo_config import cfg
from oslotest import base
from testtools import content as testtools_content

from cinder.common import processes
from cinder import coordination
from cinder import exception
from cinder import objects
from cinder.stress import lockservers
from cinder.tests.functional import tgtserver
from cinder.volume.drivers import tgt_array

WAIT = 30  # bound of every wait; reached only when something is broken
HOST = 'compute-1'
INITIATOR = 'iqn.1993-08.org.debian:01:compute-1'
CONNECTOR = {'host': HOST, 'initiator': INITIATOR, 'ip': '127.0.0.1'}
PREFIX = 'iqn.2010-10.org.openstack.test'


def _make_driver(tgt_options, backend_url=None, lock_prefix='cinder-',
                 execute=None):
    """A driver (and its started coordinator, if a URL is given)."""
    conf = cfg.ConfigOpts()
    drv = tgt_array.TgtArrayDriver(configuration=conf, host='svc',
                                   execute=execute)
    coordinator = None
    if backend_url is not None:
        coordinator = coordination.Coordinator(conf=conf, prefix=lock_prefix)
    conf([], project='cinder-test', default_config_files=[])
    for key, value in tgt_options.items():
        conf.set_override(key, value)
    if coordinator is not None:
        conf.set_override('backend_url', backend_url, group='coordination')
        conf.set_override('backend_timeout', 10, group='coordination')
        coordinator.start()
    return drv, coordinator


# -- The worker process ------------------------------------------------------

class _Worker(object):
    """One volume service: runs the commands the test sends it."""

    #: The commands whose argument is a snapshot, not a volume.
    SNAPSHOT_COMMANDS = ('revert_window',)

    def __init__(self, conn, tgt_options, backend_url, lock_prefix, events):
        self.conn = conn
        #: Called after each qemu-img run of the driver, when set.
        self.copy_gate = None
        self.driver, self.coordinator = _make_driver(
            tgt_options, backend_url, lock_prefix, execute=self._execute)
        coordination.COORDINATOR = self.coordinator
        self.lock_prefix = lock_prefix
        self.window_open, self.peer_progress = events
        self._signal_contention = False
        self.contended = False
        self.contended_on = None
        self._instrument_locks()

    def _execute(self, *cmd, **kwargs):
        result = processes.execute(*cmd, **kwargs)
        gate = self.copy_gate
        if gate is not None and os.path.basename(cmd[0]) == 'qemu-img':
            gate()
        return result

    def _instrument_locks(self):
        # An acquire that would block first says so: the detach held in
        # its window then knows this attach cannot get any further.
        real_acquire = coordination.Lock.acquire
        worker = self

        def acquire(lock, blocking=True):
            if blocking is True and worker._signal_contention:
                try:
                    return real_acquire(lock, False)
                except coordination.LockAcquireFailed:
                    worker._signal_contention = False
                    worker.contended = True
                    worker.contended_on = lock.name[len(worker.lock_prefix):]
                    worker.peer_progress.set()
            return real_acquire(lock, blocking)

        coordination.Lock.acquire = acquire

    def _window(self, target):
        self.window_open.set()
        if not self.peer_progress.wait(WAIT):
            raise AssertionError('the attach never ran nor waited for a lock '
                                 'while the other service was in its window')

    def attach(self, volume):
        info = self.driver.initialize_connection(volume, CONNECTOR)
        return info['data']['target_lun']

    def detach(self, volume):
        self.driver.terminate_connection(volume, CONNECTOR)

    def detach_window(self, volume):
        self.driver.before_target_delete = self._window
        try:
            self.detach(volume)
        finally:
            self.driver.before_target_delete = None
            # No window (the target was already gone): let the attach go.
            self.window_open.set()

    def revert_window(self, snapshot):
        """Revert; the window is after the copy, before the rename."""
        def gate():
            self.copy_gate = None
            self._window(None)
        self.copy_gate = gate
        try:
            self.driver.revert_to_snapshot(snapshot.volume, snapshot)
        finally:
            self.copy_gate = None
            self.window_open.set()

    def attach_after_window(self, volume):
        if not self.window_open.wait(WAIT):
            raise AssertionError('the other service never reached its '
                                 'window')
        self._signal_contention = True
        self.contended = False
        self.contended_on = None
        try:
            return {'lun': self.attach(volume), 'waited': self.contended,
                    'waited_for': self.contended_on}
        finally:
            self._signal_contention = False
            self.peer_progress.set()

    def hammer(self, ops):
        results = []
        for op, data in ops:
            results.append(self.run(op, data))
        return results

    def run(self, op, data):
        try:
            if op == 'hammer':
                return ('ok', self.hammer(data))
            if op in self.SNAPSHOT_COMMANDS:
                return ('ok', getattr(self, op)(
                    objects.Snapshot.from_dict(data)))
            volume = objects.Volume.from_dict(data)
            return ('ok', getattr(self, op)(volume))
        except Exception as e:
            return ('error', '%s %s: %s: %s' % (
                op, data.get('id') if isinstance(data, dict) else '',
                type(e).__name__, e))

    def serve(self):
        try:
            while True:
                message = self.conn.recv()
                if message is None:
                    return
                self.conn.send(self.run(*message))
        finally:
            if self.coordinator is not None:
                self.coordinator.stop()


def worker_main(conn, tgt_options, backend_url, lock_prefix, events):
    """Entry point of a worker process (multiprocessing, spawn)."""
    try:
        worker = _Worker(conn, tgt_options, backend_url, lock_prefix, events)
    except Exception:
        conn.send(('error', traceback.format_exc()))
        return
    conn.send(('ok', 'ready'))
    worker.serve()


# -- The tests ---------------------------------------------------------------

class TgtArrayTestCase(base.BaseTestCase):
    """Shared setup: a tgtd of our own and a driver in this process."""

    def setUp(self):
        super(TgtArrayTestCase, self).setUp()
        self.tgt = self.useFixture(tgtserver.TgtServer())
        self.tgt_options = {
            'tgt_control_port': self.tgt.control_port,
            'tgt_portal': self.tgt.portal,
            'tgt_volumes_dir': self.tgt.volumes_dir,
            'tgt_target_prefix': PREFIX,
        }
        self.lock_dir = self.useFixture(fixtures.TempDir()).path
        self.driver, coordinator = _make_driver(
            self.tgt_options, 'file://' + self.lock_dir)
        self.addCleanup(coordinator.stop)
        self.useFixture(fixtures.MockPatchObject(
            coordination, 'COORDINATOR', coordinator))
        self.driver.do_setup()
        self.driver.check_for_setup_error()
        self.host_target = tgt_array.host_target_name(PREFIX, HOST)

    def targets(self):
        return tgt_array.parse_targets(self.tgt.show())

    def new_volume(self, size=1):
        volume = objects.Volume(size=size)
        self.driver.create_volume(volume)
        return volume

    def path(self, volume):
        return os.path.join(self.tgt.volumes_dir, volume.name)

    def check_array(self, attached, label):
        """Problems of the array against ``attached`` ({id: path})."""
        problems = []
        targets = self.targets()
        ours = [t for t in targets.values() if t.name.startswith(PREFIX)]
        host = [t for t in ours if t.name == self.host_target]
        for t in ours:
            if t.name != self.host_target:
                problems.append('%s: stray target %s (tid %d)' % (
                    label, t.name, t.tid))
        if len(host) > 1:
            problems.append('%s: %d targets named %s' % (
                label, len(host), self.host_target))
        if not attached:
            if host:
                problems.append('%s: stray target %s left with nothing '
                                'attached (LUNs %s)' % (
                                    label, self.host_target,
                                    sorted(host[0].volume_luns)))
            return problems
        if not host:
            problems.append('%s: no target for host %s, yet %d volume(s) '
                            'attached: LUNs lost' % (label, HOST,
                                                     len(attached)))
            return problems
        target = host[0]
        paths = [lun.backing_store for lun in target.volume_luns.values()]
        for volume_id, path in sorted(attached.items()):
            if path not in paths:
                problems.append('%s: LUN of volume %s lost' % (
                    label, volume_id))
        for path in sorted(set(paths) - set(attached.values())):
            problems.append('%s: stray LUN for %s' % (label, path))
        if INITIATOR not in target.acl:
            problems.append('%s: ACL of %s lacks %s: %s' % (
                label, target.name, INITIATOR, target.acl))
        return problems

    def reset_array(self):
        for tid in self.targets():
            self.tgt.tgtadm('--op', 'delete', '--force', '--mode', 'target',
                            '--tid', str(tid))


class SingleServiceTestCase(TgtArrayTestCase):
    """One service: what the driver does to a real tgtd."""

    def test_attach_detach_host_target_luns_acl(self):
        v1, v2, v3 = self.new_volume(), self.new_volume(), self.new_volume()
        info = self.driver.initialize_connection(v1, CONNECTOR)
        self.assertEqual('iscsi', info['driver_volume_type'])
        self.assertEqual({'target_discovered': False,
                          'target_portal': self.tgt.portal,
                          'target_iqn': self.host_target,
                          'target_lun': 1,
                          'volume_id': v1.id,
                          'access_mode': 'rw'}, info['data'])
        lun2 = self.driver.initialize_connection(v2, CONNECTOR)
        self.assertEqual(2, lun2['data']['target_lun'])
        # Another host: its own target, the next tid, its own ACL.
        other = {'host': 'compute-2', 'ip': '192.0.2.7'}
        info3 = self.driver.initialize_connection(v3, other)
        self.assertEqual(1, info3['data']['target_lun'])

        targets = self.targets()
        self.assertEqual([1, 2], sorted(targets))
        self.assertEqual(self.host_target, targets[1].name)
        self.assertEqual([INITIATOR], targets[1].acl)
        self.assertEqual({1: self.path(v1), 2: self.path(v2)},
                         {n: lun.backing_store for n, lun in
                          targets[1].volume_luns.items()})
        self.assertEqual(['192.0.2.7'], targets[2].acl)

        # A freed LUN id is reused; attaching again is idempotent.
        self.driver.terminate_connection(v1, CONNECTOR)
        self.assertEqual(1, self.driver.initialize_connection(
            v3, CONNECTOR)['data']['target_lun'])
        self.assertEqual(1, self.driver.initialize_connection(
            v3, CONNECTOR)['data']['target_lun'])

        # The last detach of a host deletes its target; its tid is free.
        self.driver.terminate_connection(v3, other)
        self.assertEqual([1], sorted(self.targets()))
        self.driver.terminate_connection(v2, CONNECTOR)
        self.driver.terminate_connection(v3, CONNECTOR)
        self.assertEqual({}, self.targets())
        # Detaching what is not attached is not an error.
        self.driver.terminate_connection(v3, CONNECTOR)

    def test_volume_files(self):
        v1 = self.new_volume(size=1)
        self.assertEqual(1 << 30, os.path.getsize(self.path(v1)))
        with open(self.path(v1), 'r+b') as f:
            f.write(b'first')
        snap = objects.Snapshot(volume=v1)
        self.driver.create_snapshot(snap)
        clone = objects.Volume(size=2)
        self.driver.create_cloned_volume(clone, v1)
        self.assertEqual(2 << 30, os.path.getsize(self.path(clone)))
        with open(self.path(v1), 'r+b') as f:
            f.write(b'later')
        self.driver.extend_volume(v1, 3)
        v1.size = 3
        self.assertEqual(3 << 30, os.path.getsize(self.path(v1)))

        self.driver.initialize_connection(v1, CONNECTOR)
        self.assertRaises(exception.InvalidVolume,
                          self.driver.revert_to_snapshot, v1, snap)
        self.assertRaises(exception.InvalidVolume,
                          self.driver.delete_volume, v1)
        self.driver.terminate_connection(v1, CONNECTOR)

        self.driver.revert_to_snapshot(v1, snap)
        for volume in (v1, clone):
            with open(self.path(volume), 'rb') as f:
                self.assertEqual(b'first', f.read(5))
        self.assertEqual(3 << 30, os.path.getsize(self.path(v1)))
        self.driver.delete_snapshot(snap)
        self.driver.delete_volume(v1)
        self.driver.delete_volume(v1)  # already gone: no error
        self.assertEqual([clone.name], os.listdir(self.tgt.volumes_dir))

    def test_stopped_tgtd_error_names_control_port(self):
        volume = self.new_volume()
        self.tgt.daemon.kill()  # keeps the volume files
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.initialize_connection, volume,
                                CONNECTOR)
        self.assertIn('tgt_control_port = %d' % self.tgt.control_port,
                      str(exc))
        self.assertRaises(exception.VolumeBackendAPIException,
                          self.driver.do_setup)


class _TwoServicesMixin(object):
    """Two services (processes) sharing one connector host."""

    hammer_ops = 30
    volumes_per_worker = 4
    window_rounds = 3

    def backend_urls(self):
        """The lock backend URL of each of the two workers."""
        raise NotImplementedError()

    def start_workers(self):
        ctx = multiprocessing.get_context('spawn')
        self.window_open = ctx.Event()
        self.peer_progress = ctx.Event()
        lock_prefix = 'test-tgt-%s-' % uuid.uuid4().hex[:8]
        self.conns = []
        for url in self.backend_urls():
            parent, child = ctx.Pipe()
            process = ctx.Process(
                target=worker_main, daemon=True,
                args=(child, self.tgt_options, url, lock_prefix,
                      (self.window_open, self.peer_progress)))
            process.start()
            self.addCleanup(self._stop_worker, process, parent)
            self.conns.append(parent)
        for conn in self.conns:
            self.assertEqual(('ok', 'ready'), self.receive(conn))

    def _stop_worker(self, process, conn):
        try:
            conn.send(None)
        except (OSError, ValueError):
            pass
        process.join(WAIT)
        if process.is_alive():
            process.kill()
            process.join(WAIT)

    def receive(self, conn):
        if not conn.poll(WAIT):
            raise AssertionError('a worker did not answer within %ss' % WAIT)
        return conn.recv()

    def run_both(self, commands):
        """Send one command to each worker at once; their replies."""
        for conn, command in zip(self.conns, commands):
            conn.send(command)
        return [self.receive(conn) for conn in self.conns]

    def run_workload(self):
        """Both parts of the workload; the problems found, in order."""
        self.start_workers()
        volumes = [[self.new_volume() for _ in range(self.volumes_per_worker)]
                   for _ in self.conns]
        problems = []
        problems += self.hammer(volumes)
        if problems:
            self.reset_array()
        problems += self.window_rounds_run(volumes)
        return problems

    def revert_while_attaching(self, volume):
        """Service 0 reverts ``volume`` while service 1 attaches it.

        The revert is held after its copy, before it replaces the volume's
        file, until the attach either finished or waits for a lock.
        Returns the lock the attach waited for, what tgtd has open of
        the volume's file (a replaced file shows as "<path> (deleted)")
        and the file's first bytes.
        """
        self.start_workers()
        path = self.path(volume)
        with open(path, 'r+b') as f:
            f.write(b'snap')
        snapshot = objects.Snapshot(volume=volume)
        self.driver.create_snapshot(snapshot)
        with open(path, 'r+b') as f:
            f.write(b'late')
        revert, attach = self.run_both([
            ('revert_window', snapshot.to_dict()),
            ('attach_after_window', volume.to_dict())])
        self.assertEqual(('ok', None), revert)
        self.assertEqual('ok', attach[0], attach[1])
        self.addCleanup(self.driver.terminate_connection, volume, CONNECTOR)
        real = os.path.realpath(path)
        opened = lockservers.open_file_targets(self.tgt.daemon.pid)
        with open(path, 'rb') as f:
            data = f.read(4)
        return {'attach waited for': attach[1]['waited_for'],
                'tgtd serves': sorted(t for t in opened or ()
                                      if t.startswith(real)),
                'file starts with': data}

    def hammer(self, volumes):
        rng = random.Random(42)
        plans = []
        for own in volumes:
            attached, ops = set(), []
            for _ in range(self.hammer_ops):
                free = [v for v in own if v.id not in attached]
                if free and (not attached or rng.random() < 0.55):
                    volume = rng.choice(free)
                    attached.add(volume.id)
                    ops.append(('attach', volume.to_dict()))
                else:
                    volume = rng.choice(
                        [v for v in own if v.id in attached])
                    attached.discard(volume.id)
                    ops.append(('detach', volume.to_dict()))
            plans.append(ops)
        replies = self.run_both([('hammer', ops) for ops in plans])
        problems, believed = [], {}
        for ops, (status, results) in zip(plans, replies):
            self.assertEqual('ok', status, results)
            for (op, data), (outcome, detail) in zip(ops, results):
                if outcome != 'ok':
                    problems.append('hammer: %s failed: %s' % (op, detail))
                elif op == 'attach':
                    believed[data['id']] = self.path(
                        objects.Volume.from_dict(data))
                else:
                    believed.pop(data['id'], None)
        problems += self.check_array(believed, 'after hammering')
        cleanup = [('hammer', [('detach', self._volume_dict(v))
                               for v in own if v.id in believed])
                   for own in volumes]
        for status, results in self.run_both(cleanup):
            problems += ['hammer cleanup: %s' % detail
                         for outcome, detail in results if outcome != 'ok']
        problems += self.check_array({}, 'after hammering and detaching')
        return problems

    @staticmethod
    def _volume_dict(volume):
        return volume.to_dict()

    def window_rounds_run(self, volumes):
        #: For each round: whether the attach had to wait for a lock
        #: held by the detach in its window.
        self.attach_waited = []
        problems = []
        believed = {}
        first = volumes[0][0]
        status, detail = self.run_both(
            [('attach', first.to_dict()), ('hammer', [])])[0]
        self.assertEqual('ok', status, detail)
        believed[first.id] = self.path(first)
        holder, held = 0, first
        for n in range(1, self.window_rounds + 1):
            attacher = 1 - holder
            incoming = volumes[attacher][n]
            commands = [None, None]
            commands[holder] = ('detach_window', held.to_dict())
            commands[attacher] = ('attach_after_window', incoming.to_dict())
            replies = self.run_both(commands)
            self.window_open.clear()
            self.peer_progress.clear()
            label = 'window round %d' % n
            detach_reply, attach_reply = replies[holder], replies[attacher]
            if detach_reply[0] != 'ok':
                problems.append('%s: detach failed: %s' % (
                    label, detach_reply[1]))
            else:
                believed.pop(held.id, None)
            if attach_reply[0] != 'ok':
                problems.append('%s: attach failed: %s' % (
                    label, attach_reply[1]))
            else:
                believed[incoming.id] = self.path(incoming)
                self.attach_waited.append(attach_reply[1]['waited'])
            problems += self.check_array(believed, label)
            if believed != {incoming.id: self.path(incoming)}:
                break  # the roles below assume the attach worked
            holder, held = attacher, incoming
        detach = [('hammer', []), ('hammer', [])]
        detach[holder] = ('detach', held.to_dict())
        status, detail = self.run_both(detach)[holder]
        if status != 'ok':
            problems.append('final detach failed: %s' % detail)
        else:
            believed.pop(held.id, None)
        problems += self.check_array(believed, 'after the window rounds')
        return problems


class RedisLocksTestCase(_TwoServicesMixin, TgtArrayTestCase):
    """Both services lock on one real Redis: the array stays consistent."""

    def backend_urls(self):
        url = lockservers.server_url('redis')
        return [url, url]

    def test_attach_waits_for_revert_of_volume(self):
        volume = self.new_volume()
        self.assertEqual({'attach waited for': 'tgt-%s' % volume.id,
                          'tgtd serves': [os.path.realpath(
                              self.path(volume))],
                          'file starts with': b'snap'},
                         self.revert_while_attaching(volume))

    def test_concurrent_attach_detach_same_host(self):
        self.assertEqual([], self.run_workload())
        # Each window round raced for real: the attach found the host
        # lock taken by the detach held in its window.
        self.assertEqual([True] * self.window_rounds, self.attach_waited)


class SharedFileLocksTestCase(_TwoServicesMixin, TgtArrayTestCase):
    """Both services lock in one file:// directory (services on one host)."""

    def backend_urls(self):
        url = 'file://' + self.useFixture(fixtures.TempDir()).path
        return [url, url]

    def test_concurrent_attach_detach_same_host(self):
        self.assertEqual([], self.run_workload())
        # Each window round raced for real: the attach found the host
        # lock taken by the detach held in its window.
        self.assertEqual([True] * self.window_rounds, self.attach_waited)


class LocalLocksTestCase(_TwoServicesMixin, TgtArrayTestCase):
    """Each service locks on its own: what two hosts with file locks do.

    The same workload must be caught breaking the array.
    """

    def backend_urls(self):
        return ['file://' + self.useFixture(fixtures.TempDir()).path
                for _ in range(2)]

    def test_concurrent_attach_detach_same_host_breaks(self):
        problems = self.run_workload()
        self.addDetail('problems', testtools_content.text_content(
            '\n'.join(problems)))
        lost = [p for p in problems
                if p.startswith('window round') and 'lost' in p]
        # Every round loses the attached volume's LUN: the detach deletes
        # the target the attach has just added it to.
        self.assertNotEqual([], lost, problems)
        self.assertIn('window round 1: no target for host %s, yet 1 '
                      'volume(s) attached: LUNs lost' % HOST, problems)
        self.assertNotIn(True, self.attach_waited)

    def test_attach_during_revert_exports_the_replaced_file(self):
        volume = self.new_volume()
        real = os.path.realpath(self.path(volume))
        # The attach did not wait: tgtd opened the file the revert then
        # replaced, and serves that deleted file, not the reverted one.
        self.assertEqual({'attach waited for': None,
                          'tgtd serves': [real + ' (deleted)'],
                          'file starts with': b'snap'},
                         self.revert_while_attaching(volume))


class TgtServerTestCase(base.BaseTestCase):
    """The fixture itself."""

    def test_missing_tgt_skips_or_fails(self):
        with mock.patch.object(tgtserver.TgtDaemon, 'missing',
                               return_value=['tgtd']):
            with mock.patch.dict(os.environ,
                                 {lockservers.REQUIRE_ENV: '1'}):
                exc = self.assertRaises(tgtserver.TgtUnavailable,
                                        tgtserver.check_available)
                self.assertIn('tools/test-setup.sh', str(exc))
            with mock.patch.dict(os.environ,
                                 {lockservers.REQUIRE_ENV: '0'}):
                self.assertRaises(unittest.SkipTest,
                                  tgtserver.check_available)

    def test_start_show_restart_stop(self):
        tgt = tgtserver.TgtServer()
        tgt.setUp()
        try:
            daemon = tgt.daemon
            control_port, portal = tgt.control_port, tgt.portal
            self.assertEqual({(lockservers.HOST, daemon.port)},
                             lockservers.listening_addresses(daemon.pid))
            self.assertTrue(os.path.exists(
                tgtserver.socket_path(control_port)))
            tgt.tgtadm('--op', 'new', '--mode', 'target', '--tid', '1',
                       '--targetname', 'iqn.2010-10.org.test:a')
            self.assertIn('Target 1: iqn.2010-10.org.test:a', tgt.show())
            self.assertTrue(os.path.isdir(tgt.volumes_dir))
            # A target does not keep it from stopping; a restart keeps the
            # control port and the portal, and starts empty.
            daemon.restart()
            self.assertEqual((control_port, portal),
                             (tgt.control_port, tgt.portal))
            self.assertEqual('', tgt.show())
        finally:
            tgt.cleanUp()
        self.assertFalse(daemon.running)
        self.assertFalse(os.path.exists(tgtserver.socket_path(control_port)))
