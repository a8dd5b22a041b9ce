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

"""Two cinder-volume services, one NFS share, one lock server.

Each test runs two real ``cinder-volume`` processes (``host-a``,
``host-b``) of one cluster on one share, with the real NFS driver and the
real ``qemu-img``, and makes them race on one volume. The interleaving is
decided by the test, not by luck: a ``qemu-img`` shim
(:mod:`cinder.tests.functional.qemu_gate`) holds the first service inside
its critical section, just before its copy or chain rewrite starts, while
the second service is sent a conflicting request.

Whether the second service can get in is then a question for the lock
backend *as the second service sees it*; the test asks it (a probe lock
on the second service's ``backend_url``):

* the lock is held there: the second request must wait, so the first is
  released at once and the second follows it;
* it is free there: the second request runs to its end first, then the
  first is released, which is the interleaving locks exist to prevent.

Afterwards the verdict looks only at what is on the share and at what the
services replied: data, ``qemu-img check``, the info file against the
chain on disk. With a shared Redis or ZooKeeper server the verdict must be
clean. With per-process local locks (each service has its own
``file://`` lock directory, which is what host-local locks on two hosts
amount to) the same scenario must show corruption: that is what proves
the verdict can see it.
"""

import json
import os
import re
import subprocess
import threading

import fixtures
from oslo_config import cfg
import testtools.content

from cinder import coordination
from cinder import objects
from cinder.stress import lockservers
from cinder.stress import share
from cinder.tests.functional import qemu_gate
from cinder.tests.functional import volume_service
from cinder.volume import fenced_record

MiB = 1024 * 1024
REQUEST_TIMEOUT = 120


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


class Request(object):
    """A request sent to a service in a thread of its own."""

    def __init__(self, service, method, **args):
        self.method = method
        self.error = None
        self.result = None
        self._thread = threading.Thread(target=self._run,
                                        args=(service, method, args))
        self._thread.start()

    def _run(self, service, method, args):
        try:
            self.result = service.client(timeout=REQUEST_TIMEOUT).call(
                method, **args)
        except Exception as e:
            self.error = e

    def wait(self, timeout=REQUEST_TIMEOUT):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError('%s did not finish within %s s' %
                                 (self.method, timeout))
        return self

    @property
    def done(self):
        return not self._thread.is_alive()


class ActiveActiveMixin(object):
    """The scenarios; subclasses choose the lock backend."""

    #: 'redis' or 'zookeeper' for a shared lock server; None gives each
    #: service its own file:// lock directory.
    lock_kind = None

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        self.share = os.path.join(root, 'share')
        os.makedirs(self.share)
        shares_file = os.path.join(root, 'nfs_shares')
        with open(shares_file, 'w') as f:
            f.write(self.share + '\n')
        self.gate = self.useFixture(qemu_gate.QemuImgGate())
        shared_url = (lockservers.server_url(self.lock_kind)
                      if self.lock_kind else None)
        self.services = {}
        self.urls = {}
        for host in ('host-a', 'host-b'):
            state = os.path.join(root, host)
            url = shared_url or 'file://' + os.path.join(state, 'locks')
            self.urls[host] = url
            self.services[host] = self.useFixture(
                volume_service.VolumeService(state, {
                    'DEFAULT': {'volume_driver': 'nfs',
                                'cluster': 'cluster1',
                                'nfs_shares_config': shares_file,
                                'nfs_snapshot_support': 'true'},
                    'coordination': {'backend_url': url}},
                    host=host, env=self.gate.env))
        self.a = self.services['host-a']
        self.b = self.services['host-b']

    # Helpers -------------------------------------------------------------

    def held_as_seen_by(self, host, name):
        """Is lock ``name`` held, on the backend ``host`` uses?"""
        conf = cfg.ConfigOpts()
        probe = coordination.Coordinator(conf=conf)
        conf([])
        conf.set_override('backend_url', self.urls[host],
                          group='coordination')
        probe.start()
        try:
            lock = probe.get_lock(name)
            try:
                lock.acquire(blocking=False)
            except coordination.LockAcquireFailed:
                return True
            lock.release()
            return False
        finally:
            probe.stop()

    def release_when_decided(self, gate_name, waiter_host, lock_name,
                             request):
        """Let the held run go once ``request`` cannot overtake it anymore.

        If ``waiter_host`` sees ``lock_name`` held, ``request`` must wait
        for it: release at once. Otherwise ``request`` runs unhindered:
        let it finish first. With host-local locks a lock ``waiter_host``
        sees held can only be ``request``'s own, which waits for nothing:
        it is let finish first too, so that the race the locks do not
        prevent is always lost, whatever the request's own timing.
        """
        if not (self.lock_kind and
                self.held_as_seen_by(waiter_host, lock_name)):
            request.wait()
        self.gate.release(gate_name)

    def record(self, volume):
        return fenced_record.FencedRecord(
            os.path.join(self.share, volume.name + '.info'))

    def info(self, volume):
        return json.loads(self.record(volume).read().text)

    def image_format(self, volume, name, info):
        return info['base_format'] if name == volume.name else 'qcow2'

    def write(self, volume, pattern, offset, length):
        info = self.info(volume)
        run('qemu-io', '-f', self.image_format(volume, info['active'], info),
            '-c', 'write -P %d %d %d' % (pattern, offset, length),
            os.path.join(self.share, info['active']))

    def reads(self, path, fmt, pattern, offset, length):
        result = subprocess.run(
            ['qemu-io', '-r', '-f', fmt, '-c',
             'read -P %d %d %d' % (pattern, offset, length), path],
            capture_output=True, text=True)
        return result.returncode == 0 and 'Pattern verification failed' \
            not in result.stdout + result.stderr

    def chain_problems(self, volume, snapshots):
        """Compare a volume's info file with its image files on the share.

        :param snapshots: ids of the snapshots the services reported as
            created and not deleted.
        :returns: a list of problems, empty when all is consistent.
        """
        problems = []
        try:
            info = self.info(volume)
        except (OSError, ValueError) as e:
            return ['info file of %s unreadable: %s' % (volume.id, e)]
        recorded = set(info) - {'active', 'base_format'}
        if recorded != set(snapshots):
            problems.append('info file lists snapshots %s, services '
                            'reported %s' % (sorted(recorded),
                                             sorted(snapshots)))
        active = os.path.join(self.share, info['active'])
        try:
            chain = json.loads(run(
                'qemu-img', 'info', '--force-share', '--backing-chain',
                '--output=json', '-f',
                self.image_format(volume, info['active'], info),
                active).stdout)
        except subprocess.CalledProcessError as e:
            return problems + ['chain of %s unreadable: %s' % (
                volume.id, e.stderr.strip())]
        chain_files = [os.path.basename(image['filename'])
                       for image in chain]
        for image in chain:
            if image['format'] != 'qcow2':
                continue
            check = subprocess.run(
                ['qemu-img', 'check', '--force-share', '-f', 'qcow2',
                 image['filename']], capture_output=True, text=True)
            if check.returncode != 0:
                problems.append('qemu-img check %s: %s' % (
                    image['filename'], check.stdout + check.stderr))
        for snapshot_id in recorded:
            if info[snapshot_id] not in chain_files:
                problems.append('snapshot %s file %s is not in the chain '
                                '%s' % (snapshot_id, info[snapshot_id],
                                        chain_files))
        record = self.record(volume)
        on_disk = sorted(
            name for name in os.listdir(self.share)
            if name.startswith(volume.name) and
            not record.is_own_file(name))
        if on_disk != sorted(chain_files):
            problems.append('files of %s on the share %s differ from its '
                            'chain %s' % (volume.id, on_disk,
                                          sorted(chain_files)))
        return problems

    def assert_verdict(self, problems):
        self.addDetail('verdict', testtools.content.text_content(
            '\n'.join(problems) or 'no problem found'))
        if self.lock_kind:
            self.assertEqual([], problems)
        else:
            self.assertNotEqual(
                [], problems,
                'with per-process local locks the race must corrupt, and '
                'the verdict must see it')

    # Scenarios -----------------------------------------------------------

    def test_delete_of_a_source_waits_for_its_clone(self):
        source = objects.Volume(size=1)
        self.a.call('create_volume', volume=source)
        self.write(source, 0x5a, 0, 4 * MiB)
        self.write(source, 0xa5, 512 * MiB, MiB)

        clone = objects.Volume(size=1)
        self.gate.arm('convert', 'clone')
        cloning = Request(self.a, 'create_volume', volume=clone,
                          source_volume=source)
        self.gate.wait_until_held('clone')
        deleting = Request(self.b, 'delete_volume', volume=source)
        self.release_when_decided('clone', 'host-b',
                                  '%s-delete_volume' % source.id, deleting)
        cloning.wait()
        deleting.wait()

        problems = []
        if cloning.error is not None:
            problems.append('clone failed: %s' % cloning.error)
        elif not (self.reads(os.path.join(self.share, clone.name), 'raw',
                             0x5a, 0, 4 * MiB) and
                  self.reads(os.path.join(self.share, clone.name), 'raw',
                             0xa5, 512 * MiB, MiB)):
            problems.append('clone data differs from the source')
        if deleting.error is not None:
            problems.append('delete failed: %s' % deleting.error)
        elif any(n.startswith(source.name)
                 for n in share.files_on_share(self.share)):
            problems.append('files of the deleted source are left')
        self.assert_verdict(problems)

    def test_snapshot_create_and_delete_from_two_services(self):
        volume = objects.Volume(size=1)
        self.a.call('create_volume', volume=volume)
        # Its file is the volume's base, which a delete only forgets.
        zero = objects.Snapshot(volume=volume)
        self.a.call('create_snapshot', snapshot=zero)
        self.write(volume, 0x11, 0, MiB)
        first = objects.Snapshot(volume=volume)
        self.a.call('create_snapshot', snapshot=first)
        self.write(volume, 0x22, MiB, MiB)
        second = objects.Snapshot(volume=volume)
        self.b.call('create_snapshot', snapshot=second)
        self.write(volume, 0x33, 2 * MiB, MiB)

        # host-b deletes an older snapshot (a rebase of a copy of the
        # chain above it) while host-a takes a new one on top of the
        # same chain.
        self.gate.arm('rebase', 'delete')
        deleting = Request(self.b, 'delete_snapshot', snapshot=first)
        self.gate.wait_until_held('delete')
        third = objects.Snapshot(volume=volume)
        creating = Request(self.a, 'create_snapshot', snapshot=third)
        self.release_when_decided('delete', 'host-a', 'nfs-%s' % volume.id,
                                  creating)
        deleting.wait()
        creating.wait()

        problems = ['%s failed: %s' % (r.method, r.error)
                    for r in (deleting, creating) if r.error is not None]
        expected = [s.id for s, r in ((zero, None), (second, None),
                                      (third, creating))
                    if r is None or r.error is None]
        problems += self.chain_problems(volume, expected)
        if not problems:
            info = self.info(volume)
            active = os.path.join(self.share, info['active'])
            for pattern, offset in ((0x11, 0), (0x22, MiB), (0x33, 2 * MiB)):
                if not self.reads(active, 'qcow2', pattern, offset, MiB):
                    problems.append('volume lost data 0x%x at %d' % (
                        pattern, offset))
            snap_file = os.path.join(self.share, info[second.id])
            if not self.reads(snap_file, 'qcow2', 0x22, MiB, MiB):
                problems.append('snapshot %s lost its data' % second.id)
        self.assert_verdict(problems)

    def test_an_attach_during_a_rewrite_returns_the_new_active_file(self):
        volume = objects.Volume(size=1)
        self.a.call('create_volume', volume=volume)
        zero = objects.Snapshot(volume=volume)
        self.a.call('create_snapshot', snapshot=zero)
        self.write(volume, 0x11, 0, MiB)
        newest = objects.Snapshot(volume=volume)
        self.a.call('create_snapshot', snapshot=newest)
        self.write(volume, 0x22, MiB, MiB)
        replaced = self.info(volume)['active']

        # host-b deletes the newest snapshot with copy-on-write: it copies
        # the snapshot's file and the active file, commits the second copy
        # into the first (held here), commits the info file naming the
        # first copy and deletes the old active file. host-a is asked to
        # attach the volume meanwhile.
        self.gate.arm('commit', 'fold')
        deleting = Request(self.b, 'delete_snapshot', snapshot=newest)
        self.gate.wait_until_held('fold')
        attaching = Request(self.a, 'attach_volume', volume=volume,
                            connector={'host': 'compute-1'})
        waiting = re.compile(r'Acquiring lock "[^"]*nfs-%s" by "[^"]*\.'
                             r'initialize_connection"' % volume.id)
        qemu_gate.wait_for(
            lambda: attaching.done or waiting.search(self.a.log()), 60,
            'host-a to ask for the lock of its attach, or to answer')
        self.release_when_decided('fold', 'host-a', 'nfs-%s' % volume.id,
                                  attaching)
        deleting.wait()
        attaching.wait()

        problems = ['%s failed: %s' % (r.method, r.error)
                    for r in (deleting, attaching) if r.error is not None]
        if not problems:
            name = attaching.result.connection_info['data']['name']
            path = os.path.join(self.share, name)
            active = self.info(volume)['active']
            if name != active:
                problems.append('the attach returned %s (the active file '
                                'was %s before the rewrite), the active '
                                'file is %s' % (name, replaced, active))
            if not os.path.exists(path):
                problems.append('the attach returned %s, which the rewrite '
                                'deleted' % name)
            elif not (self.reads(path, 'qcow2', 0x11, 0, MiB) and
                      self.reads(path, 'qcow2', 0x22, MiB, MiB)):
                problems.append('the file the attach returned lacks data')
        problems += self.chain_problems(volume, [zero.id])
        self.assert_verdict(problems)


class RedisActiveActiveTest(ActiveActiveMixin, testtools.TestCase):
    lock_kind = 'redis'


class ZooKeeperActiveActiveTest(ActiveActiveMixin, testtools.TestCase):
    lock_kind = 'zookeeper'


class LocalLocksActiveActiveTest(ActiveActiveMixin, testtools.TestCase):
    """Per-process local locks: the same races must be caught corrupting."""

    lock_kind = None
