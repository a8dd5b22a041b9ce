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

"""cinder-manage: operator commands for the lock backend.

Usage::

    cinder-manage [--config-file FILE] coordination check [--json]
    cinder-manage [--config-file FILE] coordination advance-tokens
                                                        [--dry-run]
    cinder-manage [--config-file FILE] util clean_locks [--services-offline]
                                                        [--dry-run]
    cinder-manage [--config-file FILE] service list [--json]
    cinder-manage [--config-file FILE] cluster list [--json]

``coordination check`` starts a coordinator as ``cinder-volume`` would,
takes and releases a probe lock and prints what the backend guarantees.
Exit status: 0 when all is well, 1 with warnings, 2 when the backend
cannot be used.

``coordination advance-tokens`` asks the configured volume driver for
the highest fencing token of the lock backend's place on its storage and
makes the backend give greater ones from now on (after its tokens went
back: a Redis that lost its counter, a rebuilt ZooKeeper ensemble or etcd
cluster). Exit status: 0 when the tokens are past those on the storage
(or already were), 1 when nothing was changed though it may be needed
(``--dry-run`` found them behind, or the driver keeps no tokens), 2 on an
error.

``util clean_locks`` removes what the locks of volumes and snapshots that
no longer exist leave behind (lock files of the file backend, parent
nodes on ZooKeeper), asking the configured volume driver which exist;
with ``--services-offline``, when no service uses the lock backend, it
removes it all. What a held lock left is never removed. Redis and etcd
leave nothing that does not expire: it says so. Exit status: 0 on
success, 1 when ``--services-offline`` found locks in use (a service is
still running), 2 on an error.

``service list`` and ``cluster list`` read the volume services' group at
the lock backend (:mod:`cinder.membership`): every service with its
cluster, backend, address, driver, lock backend and state, or every
cluster with its members and where they take their locks. Exit status: 0,
or 2 when the backend cannot be used.

Secrets of ``[coordination] backend_url`` never appear in the output,
in any encoding (:func:`cinder.cmd.common.protect_secrets`). The log goes
to standard error, or to ``--log-file``; the service's ``log_file`` and
``debug`` do not apply (:func:`cinder.cmd.common.setup_tool_logging`).
"""

import contextlib
import json
import sys

from oslo_config import cfg

from cinder.cmd import common
from cinder.common import config
from cinder import coordination
from cinder import exception
from cinder import lock_check
from cinder import lock_cleanup
from cinder import membership
from cinder import token_advance
from cinder import version
from cinder.volume import driver as driver_mod

CONF = cfg.CONF


def coordination_check(conf, as_json=False, out=None):
    """``coordination check``; returns the exit status."""
    out = out or sys.stdout
    report = lock_check.check_backend(conf)
    if as_json:
        json.dump(report.as_dict(), out, indent=2, sort_keys=True)
        out.write('\n')
    else:
        width = max(len(label) for label, _ in report.lines()) + 2
        for label, text in report.lines():
            out.write('%-*s%s\n' % (width, label + ':', text))
    return report.exit_code


def advance_tokens(conf, dry_run=False, out=None, coordinator=None):
    """``coordination advance-tokens``; returns the exit status."""
    out = out or sys.stdout
    coordinator = coordinator or coordination.COORDINATOR
    try:
        coordinator.start()
    except coordination.CoordinationError as e:
        out.write('advance-tokens: the lock backend cannot be used: %s\n'
                  % e)
        return 2
    outcome = token_advance.Outcome()
    outcome.add('Lock backend', coordinator.backend.masked_url)
    try:
        with _volume_driver(conf) as volume_driver:
            token_advance.advance(coordinator, volume_driver,
                                  dry_run=dry_run, outcome=outcome)
    except (coordination.CoordinationError, exception.CinderException,
            OSError) as e:
        outcome.status = token_advance.FAILED
        outcome.add('FAILURE', str(e))
    finally:
        coordinator.stop()
    width = max(len(label) for label, _ in outcome.lines) + 2
    for label, text in outcome.lines:
        out.write('%-*s%s\n' % (width, label + ':', text))
    return outcome.status


def clean_locks(conf, services_offline=False, dry_run=False, out=None,
                coordinator=None):
    """``util clean_locks``; returns the exit status."""
    out = out or sys.stdout
    coordinator = coordinator or coordination.COORDINATOR
    try:
        coordinator.start()
    except coordination.CoordinationError as e:
        out.write('clean_locks: the lock backend cannot be used: %s\n' % e)
        return 2
    try:
        backend = coordinator.backend
        if backend.leftover_kind is None:
            out.write('Lock backend %s leaves nothing to clean: %s\n' % (
                backend.masked_url, backend.nothing_to_clean()))
            return 0
        existing = None
        if not services_offline:
            try:
                existing = _existing_resources(conf)
            except (NotImplementedError, exception.CinderException,
                    OSError) as e:
                out.write(
                    'clean_locks: cannot tell which volumes and snapshots '
                    'exist: %s\nStop every cinder-volume that uses %s and '
                    'run clean_locks --services-offline instead.\n' % (
                        e, backend.leftovers_place()))
                return 2
        try:
            result = lock_cleanup.clean_leftovers(coordinator, existing,
                                                  dry_run=dry_run)
        except (coordination.CoordinationError, OSError) as e:
            out.write('clean_locks: %s\n' % e)
            return 2
    finally:
        coordinator.stop()
    return _report_cleanup(result, services_offline, dry_run, out)


def _members(coordinator, out):
    """The group's members, or None after printing why not."""
    try:
        coordinator.start()
    except coordination.CoordinationError as e:
        out.write('the lock backend cannot be used: %s\n' % e)
        return None
    try:
        return coordinator.group(membership.GROUP).members()
    except coordination.CoordinationError as e:
        out.write('cannot list the volume services: %s\n' % e)
        return None
    finally:
        coordinator.stop()


def _table(out, headers, rows):
    widths = [max([len(h)] + [len(r[i]) for r in rows])
              for i, h in enumerate(headers)]
    for line in [headers] + rows:
        out.write('  '.join(c.ljust(w) for c, w in zip(line, widths))
                  .rstrip() + '\n')


def _print_list(rows_of, headers, cells, as_json, out, coordinator):
    """Print the rows ``rows_of(members)`` as JSON or a table."""
    out = out or sys.stdout
    members = _members(coordinator or coordination.COORDINATOR, out)
    if members is None:
        return 2
    rows = rows_of(members)
    if as_json:
        json.dump(rows, out, indent=2, sort_keys=True)
        out.write('\n')
    else:
        _table(out, headers, [cells(r) for r in rows])
    return 0


def service_list(as_json=False, out=None, coordinator=None):
    """``service list``; returns the exit status."""
    return _print_list(
        membership.service_rows,
        ['Host', 'Cluster', 'Backend', 'Address', 'Driver', 'Lock backend',
         'State', 'Member'],
        lambda r: [str(r[k] or '-') for k in (
            'host', 'cluster', 'backend', 'address', 'driver',
            'lock_backend', 'state', 'member')],
        as_json, out, coordinator)


def cluster_list(as_json=False, out=None, coordinator=None):
    """``cluster list``; returns the exit status."""
    return _print_list(
        membership.cluster_rows,
        ['Cluster', 'Backend', 'Members', 'Up', 'Hosts', 'Locks'],
        lambda r: [r['cluster'], str(r['backend']), str(r['members']),
                   str(r['up']), ', '.join(r['hosts']),
                   'agree' if len(r['lock_backends']) == 1 else
                   'DISAGREE: %s' % ', '.join(map(str, r['lock_backends']))],
        as_json, out, coordinator)


@contextlib.contextmanager
def _volume_driver(conf):
    """The configured volume driver, set up as the service sets it up."""
    volume_driver = driver_mod.load_driver(conf.volume_driver,
                                           configuration=conf,
                                           host=conf.host)
    volume_driver.do_setup()
    try:
        yield volume_driver
    finally:
        volume_driver.stop()


def _existing_resources(conf):
    with _volume_driver(conf) as volume_driver:
        return volume_driver.list_resource_ids()


def _report_cleanup(result, services_offline, dry_run, out):
    verb = 'Would remove' if dry_run else 'Removed'
    for name in result.removed:
        out.write('%s %s\n' % (verb.lower(), name))
    out.write('%s %d %s(s) from %s' % (verb, len(result.removed),
                                       result.kind, result.directory))
    if services_offline:
        out.write('\n')
    else:
        out.write('; kept %d of existing volumes and snapshots and %d of '
                  'backend-wide locks\n' % (len(result.existing),
                                            len(result.backend_wide)))
    if result.in_use:
        out.write('Kept %d %s(s) in use: %s\n' % (
            len(result.in_use), result.kind, ', '.join(result.in_use)))
        if services_offline:
            out.write('clean_locks: --services-offline, but a process '
                      'holds these locks: is a cinder-volume still '
                      'running?\n')
            return 1
    return 0


def _add_parsers(subparsers):
    coord = subparsers.add_parser(
        'coordination', help='the lock backend ([coordination])')
    coord_actions = coord.add_subparsers(dest='action')
    coord_actions.required = True
    check = coord_actions.add_parser(
        'check', help='connect, take a probe lock, report the backend')
    check.add_argument('--json', action='store_true',
                       help='print the report as JSON')
    check.set_defaults(
        run=lambda args: coordination_check(CONF, as_json=args.json))
    advance = coord_actions.add_parser(
        'advance-tokens',
        help='make the lock backend give fencing tokens greater than '
             'every token on the volume driver\'s storage (after its '
             'tokens went back)')
    advance.add_argument('--dry-run', action='store_true',
                         help='report what would be done, change nothing')
    advance.set_defaults(
        run=lambda args: advance_tokens(CONF, dry_run=args.dry_run))

    util = subparsers.add_parser('util', help='housekeeping')
    util_actions = util.add_subparsers(dest='action')
    util_actions.required = True
    clean = util_actions.add_parser(
        'clean_locks',
        help='remove what the locks of deleted volumes and snapshots '
             'leave behind (lock files, ZooKeeper nodes)')
    clean.add_argument(
        '--services-offline', action='store_true',
        help='every cinder-volume using the lock backend is stopped: '
             'remove what every lock left')
    clean.add_argument('--dry-run', action='store_true',
                       help='print what would be removed, remove nothing')
    clean.set_defaults(run=lambda args: clean_locks(
        CONF, services_offline=args.services_offline, dry_run=args.dry_run))
    _add_list_parsers(subparsers)


def _add_list_parsers(subparsers):
    for category, help_text, run in (
            ('service', 'the volume services (their group at the lock '
             'backend)', service_list),
            ('cluster', 'the clusters of volume services', cluster_list)):
        parser = subparsers.add_parser(category, help=help_text)
        actions = parser.add_subparsers(dest='action')
        actions.required = True
        listing = actions.add_parser('list', help='list the %ss' % category)
        listing.add_argument('--json', action='store_true',
                             help='print the list as JSON')
        listing.set_defaults(run=lambda args, run=run: run(
            as_json=args.json))


_command_opt = cfg.SubCommandOpt('category', title='Command categories',
                                 handler=_add_parsers)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with common.scrubbed_output():
        return _main(argv)


def _main(argv):
    CONF.register_cli_opt(_command_opt)
    CONF.register_cli_opts(common.tool_logging_opts)
    CONF.register_opts(config.global_opts)
    CONF.register_opts(config.volume_service_opts)
    CONF.register_opts(coordination.coordination_opts, group='coordination')
    error_status = common.load_config(CONF, argv, 'cinder-manage', 2,
                                      version=version.version_string())
    if error_status is not None:
        return error_status
    try:
        setup_logging(CONF)
    except cfg.Error as e:
        print('cinder-manage: %s' % e, file=sys.stderr)
        return 2
    common.protect_secrets(CONF.coordination.backend_url)
    return CONF.category.run(CONF.category)


def setup_logging(conf):
    """Log to stderr (or ``--log-file``), keeping stdout for the report.

    The service's ``log_file`` and ``debug`` do not apply; the
    coordinator's INFO lines and the libraries' show only with
    ``--debug``.
    """
    common.setup_tool_logging(conf, 'cinder-manage')


if __name__ == '__main__':
    sys.exit(main())
