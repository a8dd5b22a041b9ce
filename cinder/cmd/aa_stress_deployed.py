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

"""``cinder-aa-stress --cluster``: validate a running, deployed cluster.

Usage::

    CINDER_BACKEND_URL=... CINDER_TRANSPORT_URL=... \\
    cinder-aa-stress --cluster NAME --share DIR [--ledger FILE] [--keep]

Starts nothing. The live members of cluster NAME in the volume services'
group at the lock backend (the URL as the tool always takes it:
``--backend-url-file`` or ``$CINDER_BACKEND_URL``) are probed at their
``host@backend`` address over the bus (``--transport-url`` or
``$CINDER_TRANSPORT_URL``); a cluster without a live member, or whose
members take their locks at different places, is refused (exit 2). The
workload then goes through the members, and the verdict judges every
request and the files of the run's own volumes on the share (``DIR``,
where this host sees it): the operator's other files there are neither
judged nor touched. After a clean verdict the run's volumes are deleted
through the cluster (attached ones detached first), unless ``--keep``.

With ``--ledger`` (the members' ``[coordination] ledger_file``, hooks =
ledger) the critical sections are judged too; its times are monotonic
clocks, comparable only on one machine, so without it the locks are
judged by the share alone.
"""

import collections
import os
import shutil
import sys
import tempfile
import time

from cinder.stress import assess
from cinder.stress import deployed
from cinder.stress import report as report_mod
from cinder.stress import runmodel
from cinder.stress import share as share_mod
from cinder.stress import workload as workload_mod

#: Options of a run that starts its own services, refused with
#: ``--cluster``: (attribute, option as named, why).
REFUSED = (
    ('services', '--services', 'the services are the live members of the '
     'cluster'),
    ('faults', '--faults', 'no fault is injected into a deployment'),
    ('fault_interval', '--fault-interval', 'no fault is injected into a '
     'deployment'),
    ('lock_server', '--lock-server', 'the members\' lock backend is used'),
    ('local_locks', '--local-locks', 'the members\' lock backend is used'),
    ('hosts', '--hosts netns', 'the members run where they were deployed'),
    ('debug', '--debug', 'the members\' logging is their configuration\'s'),
    ('cleanup', '--cleanup', 'nothing is started, nothing left behind'),
)
#: Options that mean something with ``--cluster`` only.
CLUSTER_ONLY = ('share', 'ledger')


def add_arguments(parser):
    group = parser.add_argument_group(
        'a deployed cluster', 'validate running services instead of '
        'starting any')
    group.add_argument(
        '--cluster', metavar='NAME',
        help='start nothing: drive the live members of this [DEFAULT] '
             'cluster, listed at the lock backend (--backend-url-file or '
             '$CINDER_BACKEND_URL), over their bus (--transport-url or '
             '$CINDER_TRANSPORT_URL)')
    group.add_argument(
        '--share', metavar='DIR',
        help='with --cluster: where this host sees the cluster\'s NFS '
             'share; only the files of the run\'s own volumes are judged, '
             'and those volumes are deleted after a clean verdict unless '
             '--keep')
    group.add_argument(
        '--ledger', metavar='FILE',
        help='with --cluster: the members\' [coordination] ledger_file '
             '(hooks = ledger; members on this machine only); without it '
             'the locks are judged by the share alone')


def refuse_options(args, parser):
    """Refuse, by name, options out of place with or without --cluster.

    With ``--cluster``, ``--share`` is required too.
    """
    if args.cluster is None:
        for name in CLUSTER_ONLY:
            if getattr(args, name) is not None:
                parser.error('--%s needs --cluster: the tool\'s own services '
                             'use their work directory' % name)
        return
    for name, option, why in REFUSED:
        if getattr(args, name) != parser.get_default(name):
            parser.error('--cluster cannot use %s: it starts nothing, %s' %
                         (option, why))
    if not args.share:
        parser.error('--cluster needs --share DIR: where this host sees the '
                     'cluster\'s NFS share')
    if not os.path.isdir(args.share):
        parser.error('--share %s is not a directory' % args.share)


def require_urls(args, parser):
    """With ``--cluster``, the lock backend and bus URLs are required."""
    if args.cluster is None:
        return
    if not args.backend_url:
        parser.error('--cluster needs the lock backend URL of its members: '
                     '--backend-url-file PATH or $CINDER_BACKEND_URL')
    if not args.transport_url:
        parser.error('--cluster needs the bus of its members: '
                     '--transport-url URL or $CINDER_TRANSPORT_URL')


def run(args, progress):
    """Validate cluster ``args.cluster``; returns the exit status."""
    out = sys.stdout
    share = os.path.abspath(args.share)
    ledger = os.path.abspath(args.ledger) if args.ledger else None
    cluster = deployed.DeployedCluster(args.cluster, share, args.backend_url,
                                       args.transport_url)
    started = time.monotonic()
    try:
        try:
            cluster.start()
        except deployed.DeployedError as e:
            print('cinder-aa-stress: --cluster %s: %s' % (args.cluster, e),
                  file=sys.stderr)
            return 2
        work_dir = args.work_dir or tempfile.mkdtemp(
            prefix='cinder-aa-stress-')
        os.makedirs(work_dir, exist_ok=True)
        if not args.json:
            out.write('cinder-aa-stress: %d live members of cluster %s (%s) '
                      'on %s, backend %s, bus %s, work directory %s\n' % (
                          len(cluster.services), args.cluster,
                          ', '.join(m.address for m in cluster.services),
                          share, cluster.describe_backend(),
                          cluster.describe_transport(), work_dir))
            out.flush()
        load = workload_mod.Workload(
            cluster, seed=args.seed, operations=args.operations,
            volumes=args.volumes, workers=args.workers,
            duration=args.duration, progress=progress, collide=args.collide)
        try:
            load.run()
        finally:
            progress.finish()
        load.recover()
        model = runmodel.build(
            args.seed, cluster.describe_backend(),
            [m.host for m in cluster.services], workload_mod.SLOT_OFFSETS,
            workload_mod.SLOT_LENGTH, (), cluster.killed, load.outcomes,
            share=share, ledger=ledger, scope='own')
        try:
            report, model['states'] = assess.assess(work_dir, model)
        except OSError as e:
            print('cinder-aa-stress: --ledger %s cannot be read: %s' % (
                args.ledger, e), file=sys.stderr)
            return 2
        runmodel.save(work_dir, model)
        removed, failures = [], []
        if report.ok and not args.keep:
            removed, failures = _remove(cluster, load, share)
    finally:
        cluster.stop()
    extra = {'work_dir': work_dir, 'hosts': cluster.placement(),
             'cluster': args.cluster, 'share': share, 'scope': 'own',
             'requests_by_member': dict(collections.Counter(
                 o.host for o in load.outcomes if o.host != 'tool')),
             'removed': removed, 'removal_failures': failures}
    report_mod.output(report, model, time.monotonic() - started, args.json,
                      out, extra)
    ok = report.ok and not failures
    if not args.json:
        _say_what_was_left(out, args, report, removed, failures, work_dir)
    if ok and not (args.keep or args.work_dir):
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if ok else 1


def _remove(cluster, load, share):
    """Delete the run's volumes left on the share; check none is left."""
    on_share = share_mod.list_share(share)[0]
    with load.model.lock:
        volumes = [r.volume for r in load.model.volumes.values()
                   if r.id in on_share]
    removed, failures = deployed.remove(cluster, volumes)
    tried = {v.id for v in volumes}
    own = {v for o in load.outcomes for v in o.volume_ids}
    for volume_id in sorted(set(share_mod.list_share(share)[0]) & own):
        if volume_id in removed:
            failures.append('volume %s was deleted, but files of it are '
                            'still on the share' % volume_id)
        elif volume_id not in tried:
            failures.append('volume %s of this run is on the share, but the '
                            'run has no record of it to delete' % volume_id)
    return removed, failures


def _say_what_was_left(out, args, report, removed, failures, work_dir):
    if removed or failures:
        out.write('removed %d volumes of this run through cluster %s\n' % (
            len(removed), args.cluster))
    for failure in failures:
        out.write('  not removed: %s\n' % failure)
    if args.keep:
        out.write('the volumes of this run are kept on the share (--keep)\n')
    elif not report.ok:
        out.write('the volumes of this run are kept on the share, to be '
                  'looked at\n')
    if not (report.ok and not failures) or args.keep or args.work_dir:
        out.write('work directory kept: %s\n' % work_dir)
