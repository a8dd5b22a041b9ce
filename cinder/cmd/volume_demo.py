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

"""cinder-volume-demo: the volume service on one host, end to end.

Starts the real ``cinder-volume`` (NFS driver, a local directory as its
share, the default ``file://$state_path`` lock backend) as a child
process, sends it a short life of a volume over a private RabbitMQ broker,
checks every result with the real ``qemu-img``/``qemu-io``, stops the
service with SIGTERM and prints a verdict:

1. create a volume, write known data through its attachment;
2. snapshot it, overwrite part of it, create a volume from the snapshot
   and a clone of the volume, and check what each one holds;
3. revert the volume to the snapshot, extend the clone;
4. clone the volume while deleting it, from two threads at once: the
   delete lock orders them, so either the clone has the data or it was
   refused because the volume was gone, never a half copy;
5. delete everything and check that the share and the lock directory are
   empty again;
6. SIGTERM: the service must exit 0, having stopped its coordinator after
   its manager.

Exit status 0 when every check passed, 1 otherwise. The secrets of
``--backend-url`` appear in no output; the service's configuration
file, which holds it, is private to the user (0600).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from cinder.cmd import common
from cinder.cmd import url_args
from cinder import exception
from cinder import local_service
from cinder import messaging
from cinder import objects
from cinder.stress import lockservers
from cinder.stress import share
from cinder.volume.drivers import remotefs
from cinder.volume import fenced_record

MiB = 1024 * 1024
CONNECTOR = {'host': 'demo-compute'}


class DemoFailure(Exception):
    pass


class Demo(object):

    def __init__(self, work_dir, backend_url=None, debug=False,
                 transport_url=None):
        self.work_dir = work_dir
        self.transport_url = transport_url
        self.broker = None
        self.share = os.path.join(work_dir, 'share')
        self.state = os.path.join(work_dir, 'state')
        self.backend_url = backend_url
        self.debug = debug
        self.steps = []
        self.service = None

    # Plumbing ------------------------------------------------------------

    def start(self):
        os.makedirs(self.share, exist_ok=True)
        shares_file = os.path.join(self.work_dir, 'nfs_shares')
        with open(shares_file, 'w') as f:
            f.write(self.share + '\n')
        if self.transport_url is None:
            self.broker = lockservers.RabbitServer(
                data_dir=os.path.join(self.work_dir, 'rabbitmq'))
            self.broker.start()
            self.transport_url = self.broker.url
        options = {'DEFAULT': {'volume_driver': 'nfs',
                               'transport_url': self.transport_url,
                               'nfs_shares_config': shares_file,
                               'nfs_snapshot_support': 'true'}}
        if self.backend_url:
            options['coordination'] = {'backend_url': self.backend_url}
        self.service = local_service.ServiceProcess(
            self.state, options, host='demo-host', debug=self.debug)
        self.service.prepare()
        self.service.start()

    def call(self, method, **args):
        return self.service.call(method, **args)

    def stop_broker(self):
        local_service.close_transports()
        if self.broker is not None:
            self.broker.stop()

    def step(self, title, func):
        start = time.monotonic()
        try:
            detail = func() or ''
            ok = True
        except (DemoFailure, messaging.RemoteError,
                exception.RequestOutcomeUnknown, OSError,
                subprocess.CalledProcessError) as e:
            detail = str(e)
            ok = False
        self.steps.append((title, ok, time.monotonic() - start, detail))
        print('%-4s %-46s %6.2fs  %s' % ('ok' if ok else 'FAIL', title,
                                         self.steps[-1][2], detail),
              flush=True)
        return ok

    def image(self, volume):
        """(path, format) of the image a host would attach."""
        attachment = self.call('attach_volume', volume=volume,
                               connector=CONNECTOR)
        self.call('detach_volume', volume=volume,
                  attachment_id=attachment.id)
        data = attachment.connection_info['data']
        return os.path.join(data['export'], data['name']), data['format']

    def write(self, volume, pattern, offset, length):
        path, fmt = self.image(volume)
        subprocess.run(['qemu-io', '-f', fmt, '-c', 'write -P %d %d %d' %
                        (pattern, offset, length), path], check=True,
                       capture_output=True)

    def expect(self, volume, pattern, offset, length):
        path, fmt = self.image(volume)
        result = subprocess.run(
            ['qemu-io', '-r', '-f', fmt, '-c', 'read -P %d %d %d' %
             (pattern, offset, length), path], capture_output=True,
            text=True)
        if result.returncode or 'verification failed' in result.stdout:
            raise DemoFailure('%s does not hold 0x%02x at %d MiB' % (
                volume.name, pattern, offset // MiB))

    def check_images(self):
        checked = 0
        volume_names = set()
        for name in os.listdir(self.share):
            match = remotefs.INFO_FILE.match(name)
            if match:
                volume_names.add(match.group(1))
        for volume_name in sorted(volume_names):
            generation = fenced_record.FencedRecord(os.path.join(
                self.share, volume_name + '.info')).read()
            if generation is None or generation.text is None:
                continue                # deleted
            info = json.loads(generation.text)
            for fname in {info['active']} | {
                    v for k, v in info.items()
                    if k not in ('active', 'base_format')}:
                fmt = (info['base_format'] if fname == volume_name
                       else 'qcow2')
                if fmt == 'qcow2':
                    subprocess.run(
                        ['qemu-img', 'check', '-f', 'qcow2',
                         os.path.join(self.share, fname)], check=True,
                        capture_output=True)
                    checked += 1
        return '%d qcow2 image(s) pass qemu-img check' % checked

    # The story -----------------------------------------------------------

    def run(self):
        v = objects.Volume(size=1)
        snap = objects.Snapshot(volume=v)
        from_snap = objects.Volume(size=1)
        clone = objects.Volume(size=1)
        race = {}

        def create():
            self.call('create_volume', volume=v)
            self.write(v, 0x5a, 0, 4 * MiB)
            self.write(v, 0xa5, 100 * MiB, MiB)
            return '%s on %s' % (v.name, v.provider_location)

        def snapshot():
            self.call('create_snapshot', snapshot=snap)
            self.write(v, 0x77, 0, MiB)
            return 'then overwrote the first MiB of the volume'

        def copies():
            self.call('create_volume', volume=from_snap, snapshot=snap)
            self.call('create_volume', volume=clone, source_volume=v)
            self.expect(from_snap, 0x5a, 0, MiB)
            self.expect(clone, 0x77, 0, MiB)
            self.expect(clone, 0xa5, 100 * MiB, MiB)
            return 'each holds the data of its source'

        def revert_extend():
            self.call('revert_to_snapshot', volume=v, snapshot=snap)
            self.expect(v, 0x5a, 0, MiB)
            self.call('extend_volume', volume=clone, new_size=2)
            self.expect(clone, 0xa5, 100 * MiB, MiB)
            return 'volume back to 0x5a, clone now %d GiB; %s' % (
                clone.size, self.check_images())

        def clone_while_deleting():
            self.call('delete_snapshot', snapshot=snap)
            racer = objects.Volume(size=1)
            results = {}

            def send(key, method, **args):
                try:
                    self.call(method, **args)
                    results[key] = (time.monotonic(), None)
                except messaging.RemoteError as e:
                    results[key] = (time.monotonic(), e)

            threads = [threading.Thread(target=send, args=args, kwargs=kw)
                       for args, kw in (
                           (('clone', 'create_volume'),
                            {'volume': racer, 'source_volume': v}),
                           (('delete', 'delete_volume'), {'volume': v}))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(300)
            if results['delete'][1] is not None:
                raise DemoFailure('delete failed: %s' % results['delete'][1])
            race['racer'] = racer
            error = results['clone'][1]
            if error is None:
                self.expect(racer, 0x5a, 0, MiB)
                return 'clone first (it has the data), then the delete'
            if error.exc_type != 'VolumeNotFound':
                raise DemoFailure('clone failed: %s' % error)
            # The refused clone is a volume in error, which its owner
            # deletes, as with any failed create.
            return 'delete first, then the clone was refused cleanly'

        def cleanup():
            for volume in (from_snap, clone, race.get('racer')):
                if volume is not None:
                    self.call('delete_volume', volume=volume)
            left = share.files_on_share(self.share)
            if left:
                raise DemoFailure('files left on the share: %s' % left)
            locks = [n for n in os.listdir(self.state)
                     if n.startswith('cinder-') and
                     not n.startswith('cinder-volume.')]
            if locks and not self.backend_url:
                raise DemoFailure('lock files left: %s' % locks)
            return 'share and lock directory empty'

        def stop():
            status = self.service.terminate(signal.SIGTERM)
            log = self.service.log()
            order = [log.find(line) for line in (
                'Coordinator started', 'Volume driver NfsDriver initialized',
                'Caught SIGTERM', 'Volume manager on host demo-host stopped',
                'Coordinator stopped')]
            if status != 0:
                raise DemoFailure('cinder-volume exited with %s' % status)
            if -1 in order or order != sorted(order):
                raise DemoFailure('unexpected start/stop order in %s' %
                                  self.service.log_file)
            return 'exit 0; coordinator stopped after the manager'

        for title, func in (
                ('create a volume and write to it', create),
                ('snapshot it', snapshot),
                ('volume from the snapshot, clone of the volume', copies),
                ('revert to the snapshot, extend the clone', revert_extend),
                ('clone the volume while deleting it', clone_while_deleting),
                ('delete everything', cleanup),
                ('stop cinder-volume with SIGTERM', stop)):
            if not self.step(title, func):
                break
        return all(ok for _, ok, _, _ in self.steps) and len(
            self.steps) == 7


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog='cinder-volume-demo',
        description='Run cinder-volume (NFS driver on a local share) and '
                    'take a volume through its life; print a verdict.')
    parser.add_argument('--work-dir',
                        help='directory for the share, state and log '
                             '(default: a new temporary directory, removed '
                             'afterwards unless --keep)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory')
    backend = parser.add_mutually_exclusive_group()
    url_args.add_arguments(backend, 'the built-in file://$state_path')
    url_args.add_transport_argument(parser)
    parser.add_argument('--debug', action='store_true',
                        help='DEBUG logging in the service log (shows '
                             'every lock taken)')
    args = parser.parse_args(argv)
    url_args.resolve(args, parser)
    url_args.resolve_transport(args, parser)
    return args


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    messaging.register_secrets(args.transport_url)
    common.protect_secrets(args.backend_url)
    with common.scrubbed_output():
        return _run(args)


def _run(args):
    for tool in ('qemu-img', 'qemu-io'):
        if shutil.which(tool) is None:
            print('cinder-volume-demo: %s not found; install qemu-utils' %
                  tool, file=sys.stderr)
            return 1
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='cinder-demo-')
    os.makedirs(work_dir, exist_ok=True)
    demo = Demo(os.path.abspath(work_dir), args.backend_url, args.debug,
                transport_url=args.transport_url)
    print('cinder-volume-demo: work directory %s' % demo.work_dir)
    try:
        try:
            demo.start()
        except (local_service.ServiceProcessError,
                lockservers.LockServerError) as e:
            print('cinder-volume did not start: %s' % e, file=sys.stderr)
            return 1
        print('cinder-volume started (log: %s)\n' % demo.service.log_file)
        ok = demo.run()
    finally:
        if demo.service is not None and demo.service.running:
            demo.service.kill()
        demo.stop_broker()
        if not (args.keep or args.work_dir) and not (
                demo.steps and not all(s[1] for s in demo.steps)):
            shutil.rmtree(work_dir, ignore_errors=True)
    print('\nverdict: %s' % (
        'OK: every operation did what it should' if ok else
        'FAILED (work directory kept: %s)' % demo.work_dir))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
