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

"""cinder-volume-request: send one request to a volume service or cluster.

Usage::

    cinder-volume-request [--config-file FILE] [--state-dir DIR]
                          [--timeout SECONDS]
                          (--host HOST@BACKEND | --cluster CLUSTER@BACKEND)
                          ACTION [ARGS]

ACTION is one of ``stats``, ``create-volume``, ``create-snapshot``,
``extend-volume``, ``revert-to-snapshot``, ``delete-snapshot`` and
``delete-volume``: each is one call of the volume manager's method of
that name (:class:`cinder.volume.rpcapi.VolumeAPI`), sent to that
service (``--host``) or to one member of that cluster (``--cluster``).
The reply's record, or the stats, is printed as JSON on standard output.

The message bus is ``[DEFAULT] transport_url`` of the configuration files
(``--config-file``, read as every cinder command reads them), else
``$CINDER_TRANSPORT_URL``; never a command-line argument, where its
password would show in ``ps``. No password of it appears in any output.

There is no database: the volumes and snapshots this command creates are
kept in ``--state-dir`` (:mod:`cinder.cmd.record_store`), so that later
requests name them by id.

Exit status: 0 done; 1 the service refused the request or it failed; 2 a
usage error, an unknown record, no message bus configured or a state
directory that cannot be used (nothing was sent); 3 no reply within
``--timeout``: the request may or may not have run, and it was not sent
again.
"""

import argparse
import json
import os
import sys

from oslo_config import cfg

from cinder.cmd import common
from cinder.cmd import record_store
from cinder import exception
from cinder import messaging
from cinder import objects
from cinder.volume import rpcapi

PROG = 'cinder-volume-request'
#: Where the bus URL is read when the configuration has none.
TRANSPORT_ENV = 'CINDER_TRANSPORT_URL'
DEFAULT_STATE_DIR = '~/.cinder-volume-request'

OK, FAILED, USAGE, UNKNOWN_OUTCOME = 0, 1, 2, 3


class Request(object):
    """One call: ``method(**args)``, and what it does to the records.

    :param record: the record the reply updates and the command prints.
    :param new: the request creates ``record``: it is saved before the
        request is sent, so that its id is known whatever happens.
    :param gone: the request deletes ``record``: it is forgotten after a
        successful reply.
    """

    def __init__(self, method, args, record=None, new=False, gone=False):
        self.method = method
        self.args = args
        self.record = record
        self.new = new
        self.gone = gone


# Actions --------------------------------------------------------------------

def _load_snapshot(store, snapshot_id):
    """The snapshot, with its volume as last saved (extended since...)."""
    snapshot = store.load(snapshot_id, objects.Snapshot)
    try:
        snapshot.volume = store.load(snapshot.volume_id, objects.Volume)
    except record_store.UnknownRecord:
        pass    # deleted, or created elsewhere: the copy taken with it
    return snapshot


def _stats(args, store):
    return Request('get_volume_stats', {'refresh': args.refresh})


def _create_volume(args, store):
    volume = objects.Volume(size=args.size)
    call_args = {'volume': volume}
    if args.snapshot:
        call_args['snapshot'] = _load_snapshot(store, args.snapshot)
    if args.source_volume:
        call_args['source_volume'] = store.load(args.source_volume,
                                                objects.Volume)
    return Request('create_volume', call_args, record=volume, new=True)


def _create_snapshot(args, store):
    volume = store.load(args.volume_id, objects.Volume)
    snapshot = objects.Snapshot(volume=volume)
    return Request('create_snapshot', {'snapshot': snapshot},
                   record=snapshot, new=True)


def _extend_volume(args, store):
    volume = store.load(args.volume_id, objects.Volume)
    return Request('extend_volume', {'volume': volume,
                                     'new_size': args.new_size},
                   record=volume)


def _revert_to_snapshot(args, store):
    volume = store.load(args.volume_id, objects.Volume)
    snapshot = _load_snapshot(store, args.snapshot_id)
    return Request('revert_to_snapshot', {'volume': volume,
                                          'snapshot': snapshot},
                   record=volume)


def _delete_snapshot(args, store):
    snapshot = _load_snapshot(store, args.snapshot_id)
    return Request('delete_snapshot', {'snapshot': snapshot},
                   record=snapshot, gone=True)


def _delete_volume(args, store):
    volume = store.load(args.volume_id, objects.Volume)
    return Request('delete_volume', {'volume': volume}, record=volume,
                   gone=True)


# Arguments ------------------------------------------------------------------

def _address(option):
    def parse(value):
        name, sep, backend = value.partition('@')
        if not (name and sep and backend) or '@' in backend:
            raise argparse.ArgumentTypeError(
                '%r is not <name>@<backend>, the %s and the backend '
                'name' % (value, 'host' if option == '--host' else
                          'cluster'))
        return value
    return parse


def _size(value):
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise argparse.ArgumentTypeError(
            '%r is not a size in GiB (a positive integer)' % (value,))
    return size


def _seconds(value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(
            '--timeout %r is not a positive number of seconds' % (value,))
    return seconds


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Send one request to a cinder-volume service or to a '
                    'cluster and print the result as JSON. The message '
                    'bus is [DEFAULT] transport_url of the configuration '
                    'files, else $%s.' % TRANSPORT_ENV)
    parser.add_argument('--config-file', action='append', default=[],
                        metavar='PATH',
                        help='a configuration file (repeatable); its '
                             '[DEFAULT] transport_url is the message bus')
    parser.add_argument('--config-dir', action='append', default=[],
                        metavar='DIR',
                        help='a directory of *.conf configuration files')
    parser.add_argument('--state-dir', default=DEFAULT_STATE_DIR,
                        metavar='DIR',
                        help='where the records created are kept, one '
                             'JSON file each (default: %(default)s, '
                             'created mode 0700)')
    parser.add_argument('--timeout', type=_seconds, metavar='SECONDS',
                        help='seconds to wait for the reply (default: '
                             '[DEFAULT] rpc_response_timeout)')
    parser.add_argument('--debug', '-d', action='store_true',
                        dest='tool_debug',
                        help='log at DEBUG, the libraries included')
    parser.add_argument('--log-file', dest='tool_log_file', metavar='PATH',
                        help='append the log to this file instead of '
                             'standard error')
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument('--host', type=_address('--host'),
                       metavar='HOST@BACKEND',
                       help='send to this volume service')
    where.add_argument('--cluster', type=_address('--cluster'),
                       metavar='CLUSTER@BACKEND',
                       help='send to one member of this cluster')
    actions = parser.add_subparsers(dest='action', metavar='ACTION',
                                    required=True)

    def action(name, func, help_text):
        sub = actions.add_parser(name, help=help_text,
                                 description=help_text)
        sub.set_defaults(build=func)
        return sub

    sub = action('stats', _stats, "the backend's capacity and state")
    sub.add_argument('--refresh', action='store_true',
                     help='ask the driver for fresh stats')
    sub = action('create-volume', _create_volume, 'create a volume')
    sub.add_argument('--size', type=_size, default=1, metavar='GIB',
                     help='size in GiB (default: %(default)s)')
    source = sub.add_mutually_exclusive_group()
    source.add_argument('--snapshot', metavar='SNAPSHOT_ID',
                        help='from this snapshot (a saved record)')
    source.add_argument('--source-volume', metavar='VOLUME_ID',
                        help='a clone of this volume (a saved record)')
    sub = action('create-snapshot', _create_snapshot,
                 'snapshot a volume')
    sub.add_argument('volume_id')
    sub = action('extend-volume', _extend_volume, 'grow a volume')
    sub.add_argument('volume_id')
    sub.add_argument('new_size', type=_size, metavar='NEW_SIZE',
                     help='the new size in GiB')
    sub = action('revert-to-snapshot', _revert_to_snapshot,
                 'make a volume hold its snapshot again')
    sub.add_argument('volume_id')
    sub.add_argument('snapshot_id')
    sub = action('delete-snapshot', _delete_snapshot, 'delete a snapshot')
    sub.add_argument('snapshot_id')
    sub = action('delete-volume', _delete_volume, 'delete a volume')
    sub.add_argument('volume_id')
    return parser


def _config_argv(args):
    argv = []
    for path in args.config_file:
        argv += ['--config-file', path]
    for path in args.config_dir:
        argv += ['--config-dir', path]
    return argv


# Running --------------------------------------------------------------------

def _error(text):
    print('%s: %s' % (PROG, text), file=sys.stderr)


def _print_json(value):
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write('\n')
    sys.stdout.flush()


def _transport_url(conf, environ):
    """The configured bus URL, else the environment's, else None.

    oslo.messaging's default (``rabbit://``, a guest on localhost) is not
    a configured bus.
    """
    configured = conf.transport_url
    if conf.get_location('transport_url').location in (
            cfg.Locations.opt_default, cfg.Locations.set_default):
        configured = None
    from_env = environ.get(TRANSPORT_ENV) or None
    messaging.register_secrets(configured)
    messaging.register_secrets(from_env)
    return configured or from_env


def main(argv=None, conf=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    with common.scrubbed_output():
        return run(argv, conf=conf, environ=environ)


def run(argv, conf=None, environ=None):
    """Run the command; returns its exit status.

    :param conf: the configuration to load (the global ``cfg.CONF``, which
        oslo.messaging needs, by default).
    :param environ: the environment (``os.environ`` by default).
    """
    conf = cfg.CONF if conf is None else conf
    environ = os.environ if environ is None else environ
    # Whatever the environment holds is secret before anything is said,
    # and so is a URL given as an argument by mistake (argparse would
    # quote it in its error).
    messaging.register_secrets(environ.get(TRANSPORT_ENV))
    for arg in argv:
        if '://' in arg:
            messaging.register_secrets(
                arg.partition('=')[2] if arg.startswith('-') else arg)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        return USAGE if e.code else OK
    messaging.register_opts(conf)
    error_status = common.load_config(conf, _config_argv(args), PROG, USAGE)
    if error_status is not None:
        return error_status
    url = _transport_url(conf, environ)
    try:
        common.setup_tool_logging(args, PROG)
    except cfg.Error as e:
        _error(e)
        return USAGE
    common.protect_secrets()
    if not url:
        _error('no message bus: set [DEFAULT] transport_url in a '
               '--config-file, or $%s' % TRANSPORT_ENV)
        return USAGE
    address = args.host or args.cluster
    store = record_store.RecordStore(args.state_dir)
    try:
        if args.action != 'stats':
            store.open()
        request = args.build(args, store)
        if request.new:
            store.save(request.record)
    except record_store.RecordStoreError as e:
        _error('%s; nothing was sent' % e)
        return USAGE
    except OSError as e:
        _error('state directory %s cannot be written: %s; nothing was '
               'sent' % (store.path, e))
        return USAGE
    try:
        transport = messaging.get_transport(conf, url=url)
    except exception.ConfigurationError as e:
        _error('%s; nothing was sent' % e)
        return USAGE
    return _send(transport, address, args.timeout, request, store)


def _send(transport, address, timeout, request, store):
    summary = messaging.summarize(request.method, request.args)
    cleanup = True
    try:
        api = rpcapi.VolumeAPI(transport, address, timeout=timeout)
        result = api.call(request.method, **request.args)
    except exception.RequestOutcomeUnknown as e:
        # oslo.messaging may still be blocked in the call: leave it.
        cleanup = False
        _error(str(e))
        if request.new:
            _error('the record of %s is kept with status %s: if it was '
                   'created, %s removes it' % (
                       request.record.id, request.record.status,
                       'delete-snapshot' if isinstance(
                           request.record, objects.Snapshot)
                       else 'delete-volume'))
        return UNKNOWN_OUTCOME
    except messaging.RemoteError as e:
        _error('%s refused or failed %s: %s' % (address, summary, e))
        if request.new:
            # The service leaves a failed create in error, as upstream;
            # its owner deletes it.
            request.record.status = 'error'
            _save_after(store, request.record)
        return FAILED
    finally:
        if cleanup:
            transport.cleanup()
    if request.record is None:
        _print_json(result)
        return OK
    _print_json(request.record.to_dict())
    if request.gone:
        try:
            store.remove(request.record.id)
        except OSError as e:
            _error('record %s was deleted but its file in %s cannot be '
                   'removed: %s' % (request.record.id, store.path, e))
            return FAILED
        return OK
    return OK if _save_after(store, request.record) else FAILED


def _save_after(store, record):
    try:
        store.save(record)
    except OSError as e:
        _error('the record of %s cannot be saved in %s: %s; the record '
               'in the store is the one before this request' % (
                   record.id, store.path, e))
        return False
    return True


if __name__ == '__main__':
    sys.exit(main())
