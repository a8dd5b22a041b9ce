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

"""cinder-aa-stress: several volume services on one backend, a verdict.

Runs ``--services`` real ``cinder-volume`` processes of one cluster on one
NFS share (a local directory) with one lock backend, drives a seeded,
randomized, conflicting workload through them (the tool plays the API and
the scheduler), optionally injects faults, and checks that nothing was
lost: every image passes ``qemu-img check``, every info file matches its
chain, every volume and snapshot holds what it should, no two critical
sections under one lock name overlapped, every failure has a reason.

Every run saves its model (``run-model.json``, see
:mod:`cinder.stress.runmodel`) in its work directory; ``--verify DIR``
judges a kept run again from it, without starting anything.

``--cluster NAME --share DIR`` starts nothing: it validates a running,
deployed cluster (:mod:`cinder.cmd.aa_stress_deployed`).

Exit status: 0 for a clean verdict, 1 for violations, 2 for bad usage.
The secrets of ``--backend-url`` appear in no output; the services'
configuration files, which hold it, are private to the user (0600).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

from cinder.cmd import aa_stress_deployed
from cinder.cmd import common
from cinder.cmd import url_args
from cinder import messaging
from cinder.stress import assess
from cinder.stress import cluster as cluster_mod
from cinder.stress import faultfs
from cinder.stress import faults as faults_mod
from cinder.stress import lockservers
from cinder.stress import netns
from cinder.stress import report as report_mod
from cinder.stress import runmodel
from cinder.stress import workload as workload_mod


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog='cinder-aa-stress',
        description='Run several cinder-volume services Active/Active on '
                    'one share and lock backend, drive a conflicting '
                    'workload, and check that nothing was lost.')
    parser.add_argument('--services', type=int,
                        help='number of cinder-volume services (3)')
    parser.add_argument('--operations', type=int, default=300,
                        help='requests to send (300)')
    parser.add_argument('--duration', type=float,
                        help='stop sending requests after this many '
                             'seconds, even if --operations are not done')
    parser.add_argument('--volumes', type=int, default=4,
                        help='volumes to start with and keep around (4)')
    parser.add_argument('--workers', type=int, default=6,
                        help='requests in flight at once (6)')
    parser.add_argument('--seed', type=int, default=1,
                        help='seed of the workload and fault choices (1)')
    backend = parser.add_mutually_exclusive_group()
    url_args.add_arguments(
        backend, 'file:// in the work directory, shared by the services '
        'of this host')
    backend.add_argument('--lock-server',
                         choices=sorted(lockservers.SERVER_CLASSES),
                         help='start a private lock server of this kind on '
                              '127.0.0.1 (needed to restart it with '
                              '--faults)')
    backend.add_argument('--local-locks', action='store_true',
                         help='give each service its own lock directory, '
                              'as host-local locks on several hosts would: '
                              'the verdict must then find violations')
    url_args.add_transport_argument(parser)
    parser.add_argument('--hosts', choices=cluster_mod.HOSTS,
                        default='local',
                        help='local: every service on this machine\'s '
                             'network (default); netns: each service in a '
                             'network namespace of its own, the broker and '
                             'the lock server in a control namespace, all '
                             'on one bridge (%s, names %s-*; needs root)' % (
                                 cluster_mod.NETNS_SUBNET,
                                 cluster_mod.NETNS_PREFIX))
    parser.add_argument('--cleanup', action='store_true',
                        help='run nothing: remove the namespaces, veths, '
                             'bridge and route a crashed --hosts netns run '
                             'left, and say what was removed')
    parser.add_argument('--faults', nargs='?', const='all',
                        metavar='KIND[,KIND...]',
                        help='inject faults in turn: kill -9 and restart '
                             'services, pause them past their lease, '
                             'freeze one between the check of a commit and '
                             'the commit until another service committed '
                             '(stale-holder), restart the lock server, '
                             'cut hosts off, make the share answer an NFS '
                             'operation it applied with an error '
                             '(nfs-replay: the services get the share '
                             'through a FUSE mount); the workload goes on '
                             'until each fault was injected once. Alone: '
                             'every kind the run allows; or only the kinds '
                             'named (%s)' % ', '.join(faults_mod.KINDS))
    parser.add_argument('--collide', action='store_true',
                        help='send the requests in pairs that race for '
                             'one volume (a snapshot taken while another '
                             'is deleted, a clone while its source is '
                             'deleted, ...), released at the same moment '
                             'to two services, so that they meet for sure')
    parser.add_argument('--fault-interval', type=float, default=8.0,
                        help='seconds between two faults (8)')
    parser.add_argument('--work-dir',
                        help='where the share, the services\' state and '
                             'logs go (default: a temporary directory, '
                             'removed after a clean verdict)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory (with --cluster, '
                             'the run\'s volumes on the share too)')
    parser.add_argument('--json', action='store_true',
                        help='print the report as JSON')
    parser.add_argument('--debug', action='store_true',
                        help='DEBUG logs in the services\' log files')
    parser.add_argument('--verify', metavar='DIR',
                        help='run no services: judge again the run kept '
                             'in DIR (--keep or --work-dir) from the model '
                             'it saved there, and print the same verdict')
    aa_stress_deployed.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.verify is not None:
        if not os.path.isdir(args.verify):
            parser.error('--verify: %s is not a directory' % args.verify)
        return args
    aa_stress_deployed.refuse_options(args, parser)
    if args.services is None:
        args.services = 3
    for name in ('services', 'operations', 'volumes', 'workers'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name)
    if args.fault_interval <= 0:
        parser.error('--fault-interval must be positive')
    args.fault_kinds = None   # every kind the run allows
    if args.faults not in (None, 'all'):
        args.fault_kinds = [k.strip() for k in args.faults.split(',')]
        for kind in args.fault_kinds:
            if kind not in faults_mod.KINDS:
                parser.error('--faults: no fault called %r (known: %s)' % (
                    kind, ', '.join(faults_mod.KINDS)))
    args.faultfs = _share_faults(args, parser)
    url_args.resolve(args, parser, others=('lock_server', 'local_locks'))
    url_args.resolve_transport(args, parser)
    aa_stress_deployed.require_urls(args, parser)
    if args.hosts == 'netns' or args.cleanup:
        option = '--cleanup' if args.cleanup else '--hosts netns'
        lacking = netns.missing()
        if 'root' in lacking:
            parser.error('%s needs root (network namespaces)' % option)
        if lacking:
            parser.error('%s needs %s (install iproute2 and nftables)'
                         % (option, lacking[0]))
    if args.hosts == 'netns':
        for name in ('backend_url', 'transport_url'):
            if getattr(args, name):
                parser.error(
                    '--hosts netns cannot use --%s: the namespaces reach '
                    'nothing beyond their bridge; use --lock-server and '
                    'the private broker' % name.replace('_', '-'))
    return args


def _share_faults(args, parser):
    """Whether the services get the share through the FUSE mount.

    When a fault kind of the run needs it: named, or with ``--faults``
    alone when this machine can mount it. A kind named that cannot be
    had is refused, naming what is missing.
    """
    if not args.faults:
        return False
    lacking = faultfs.missing()
    if args.fault_kinds is None:
        return not lacking
    named = faults_mod.SHARE_KINDS.intersection(args.fault_kinds)
    if named and lacking:
        parser.error('--faults %s needs the fault-injecting file system, '
                     'which needs %s' % (', '.join(sorted(named)),
                                         ', '.join(lacking)))
    return bool(named)


class Progress(object):
    """A one-line progress bar on a terminal; nothing otherwise."""

    def __init__(self, stream):
        self.stream = stream
        self.enabled = stream.isatty()
        self._last = 0.0

    def __call__(self, done, total):
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and done < total):
            return
        self._last = now
        width = 30
        filled = int(width * min(done, total) / max(total, 1))
        self.stream.write('\r[%s%s] %d/%d requests' % (
            '#' * filled, '.' * (width - filled), done, total))
        self.stream.flush()

    def finish(self):
        if self.enabled:
            self.stream.write('\n')
            self.stream.flush()


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.verify is not None:
        return _verify(args)
    if args.cleanup:
        return _cleanup()
    messaging.register_secrets(args.transport_url)
    common.protect_secrets(args.backend_url)
    with common.scrubbed_output():
        return _run(args)


def _cleanup():
    with netns.MachineLock(cluster_mod.NETNS_SUBNET):
        removed = netns.cleanup(cluster_mod.NETNS_PREFIX,
                                cluster_mod.NETNS_SUBNET)
    print('cinder-aa-stress: removed %s' % (', '.join(removed) or
                                            'nothing: no leftovers'))
    return 0


def _verify(args):
    """Judge a kept run again from its saved model."""
    started = time.monotonic()
    try:
        model = runmodel.load(args.verify)
    except runmodel.ModelError as e:
        print('cinder-aa-stress: --verify: %s' % e, file=sys.stderr)
        return 2
    report, replayed = assess.assess(args.verify, model)
    if replayed != model['states']:
        changed = sorted(set(replayed) ^ set(model['states']) | {
            v for v in set(replayed) & set(model['states'])
            if replayed[v] != model['states'][v]})
        report.violations.append(assess.Violation(
            'model-mismatch', 'the saved possible states differ from those '
            'replayed from the saved requests for volume(s) %s' % (
                ', '.join(changed))))
    report_mod.output(report, model, time.monotonic() - started,
                      args.json, sys.stdout,
                      {'work_dir': args.verify, 'verified': True})
    return 0 if report.ok else 1


def _run(args):
    for tool in ('qemu-img', 'qemu-io'):
        if shutil.which(tool) is None:
            print('cinder-aa-stress: %s not found; install qemu-utils' %
                  tool, file=sys.stderr)
            return 2
    if args.cluster is not None:
        return aa_stress_deployed.run(args, Progress(sys.stderr))
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='cinder-aa-stress-')
    os.makedirs(work_dir, exist_ok=True)
    cluster = cluster_mod.Cluster(
        work_dir, services=args.services, lock_server=args.lock_server,
        backend_url=args.backend_url, local_locks=args.local_locks,
        debug=args.debug, transport_url=args.transport_url,
        hosts=args.hosts, faultfs=args.faultfs)
    out = sys.stdout
    progress = Progress(sys.stderr)
    injector = None
    started = time.monotonic()
    try:
        try:
            cluster.start()
        except Exception as e:
            print('cinder-aa-stress: the cluster did not start: %s' % e,
                  file=sys.stderr)
            return 1
        if not args.json:
            out.write('cinder-aa-stress: %d services on %s, backend %s, '
                      'bus %s, work directory %s\n' % (
                          args.services, cluster.describe_share(),
                          cluster.describe_backend(),
                          cluster.describe_transport(), work_dir))
            out.flush()
        if args.faults:
            try:
                injector = faults_mod.FaultInjector(
                    cluster, seed=args.seed, interval=args.fault_interval,
                    kinds=args.fault_kinds)
            except faults_mod.FaultError as e:
                print('cinder-aa-stress: --faults: %s' % e, file=sys.stderr)
                return 2
        load = workload_mod.Workload(
            cluster, seed=args.seed, operations=args.operations,
            volumes=args.volumes, workers=args.workers,
            duration=args.duration, progress=progress,
            done=injector.round_done if injector else None,
            collide=args.collide)
        if injector is not None:
            injector.start()
        try:
            load.run()
        finally:
            if injector is not None:
                injector.stop()
            progress.finish()
        load.recover()
    finally:
        placement = cluster.placement()
        cluster.stop()
    model = runmodel.build(
        args.seed, cluster.describe_backend(),
        [s.host for s in cluster.services], workload_mod.SLOT_OFFSETS,
        workload_mod.SLOT_LENGTH, injector.faults if injector else (),
        cluster.killed, load.outcomes)
    report, model['states'] = assess.assess(work_dir, model)
    runmodel.save(work_dir, model)
    elapsed = time.monotonic() - started
    extra = {'work_dir': work_dir, 'hosts': placement}
    extra.update(cluster.commit_counts())
    report_mod.output(report, model, elapsed, args.json, out, extra)
    if report.ok and not (args.keep or args.work_dir):
        shutil.rmtree(work_dir, ignore_errors=True)
    elif not args.json:
        out.write('work directory kept: %s\n' % work_dir)
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())
