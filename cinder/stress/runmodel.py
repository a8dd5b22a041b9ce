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

"""The model a cinder-aa-stress run saves in its work directory.

``run-model.json`` holds everything the verdict needs besides the share
and the ledger, so that ``cinder-aa-stress --verify DIR`` (or another
tool) can judge a kept run again. It is one JSON object:

``format``, ``version``
    ``"cinder-aa-stress-run"`` and ``1``.
``seed``, ``backend``, ``services``
    The run's seed, its lock backend (secrets masked) and its services'
    host names.
``share``, ``ledger``
    Paths of the share directory and of the ledger, relative to the run
    directory (or absolute: a deployed cluster's share and ledger). The
    ledger is null when the run had none: the locks were then judged by
    the share alone.
``scope``
    ``all`` (the share is the run's own: every file on it is judged) or
    ``own`` (the share of a deployed cluster: only the files of the
    run's own volumes are judged; the others are neither judged nor
    touched). Optional; ``all`` when absent.
``slots``
    ``offsets`` (bytes) and ``length`` of the data slots every volume has;
    a slot holds one byte value over its whole length, 0 if never written.
``faults``
    One object per fault: ``kind``, ``host`` (the service whose requests
    it may hit, null for all), ``target``, ``start``, ``end``
    (``time.monotonic()`` of the tool's host), ``note`` and
    ``recovered`` (for every kind but ``kill``: when the services the
    fault reached, all of them after a lock server restart, served a
    request that takes locks again, or null), ``excuses`` (false for a
    fault that excuses no failed request, ``nfs-replay``; true when
    absent).
``killed``
    Process id (a string) to the ``time.monotonic()`` it was killed at.
``requests``
    One object per request, in the order they were sent: ``n``, ``op``,
    ``host``, ``volumes`` (ids it touches), ``args`` (what the replay
    needs: ``volume``, and per operation ``snapshot``, ``source``,
    ``size`` in GiB, ``slot``, ``pattern``), ``start``, ``end``, ``ok``,
    ``error_type``, ``error``.
``states``
    Volume id to the list of its possible states after the run (see
    :class:`cinder.stress.states.State`), as replayed from ``requests``
    by the run itself; ``--verify`` replays them again and reports a
    ``model-mismatch`` if the two differ.
"""

import json
import os

FORMAT = 'cinder-aa-stress-run'
VERSION = 1
FILE_NAME = 'run-model.json'

_REQUIRED = {'seed': int, 'services': list, 'share': str,
             'ledger': (str, type(None)), 'slots': dict, 'faults': list,
             'killed': dict, 'requests': list, 'states': dict}
_REQUEST_KEYS = ('n', 'op', 'host', 'volumes', 'args', 'start', 'end',
                 'ok', 'error_type', 'error')
#: What ``scope`` may be: judge the whole share, or the run's volumes only.
SCOPES = ('all', 'own')


class ModelError(Exception):
    """The saved model is missing or cannot be used; says which and why."""


def build(seed, backend, hosts, slot_offsets, slot_length, faults, killed,
          requests, share='share', ledger='ledger.jsonl', scope='all'):
    """The model of a run, without its ``states`` (see :func:`save`)."""
    return {
        'format': FORMAT, 'version': VERSION, 'seed': seed,
        'backend': backend, 'services': list(hosts),
        'share': share, 'ledger': ledger, 'scope': scope,
        'slots': {'offsets': list(slot_offsets), 'length': slot_length},
        'faults': [{'kind': f.kind, 'host': f.host, 'target': f.target,
                    'start': f.start, 'end': f.end, 'note': f.note,
                    'recovered': f.recovered, 'excuses': f.excuses}
                   for f in faults],
        'killed': {str(pid): t for pid, t in killed.items()},
        'requests': [r.to_dict() for r in sorted(requests,
                                                 key=lambda r: r.n)],
        'states': {},
    }


def save(run_dir, model):
    """Write *model* to ``run_dir/run-model.json``, atomically."""
    path = os.path.join(run_dir, FILE_NAME)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(model, f, indent=1, sort_keys=True)
        f.write('\n')
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load(run_dir):
    """The model saved in *run_dir*.

    :raises ModelError: no model there, not JSON, another format or
        version, or a field missing or of the wrong type.
    """
    path = os.path.join(run_dir, FILE_NAME)
    try:
        with open(path) as f:
            model = json.load(f)
    except FileNotFoundError:
        raise ModelError('%s: no saved model; was the run kept with --keep '
                         'by a version of cinder-aa-stress that saves one?'
                         % path) from None
    except (OSError, ValueError) as e:
        raise ModelError('%s cannot be read: %s' % (path, e)) from None
    if not isinstance(model, dict) or model.get('format') != FORMAT:
        raise ModelError('%s is not a cinder-aa-stress run model' % path)
    if model.get('version') != VERSION:
        raise ModelError('%s has version %r; this cinder-aa-stress reads '
                         'version %d' % (path, model.get('version'), VERSION))
    for key, kind in _REQUIRED.items():
        if key not in model or not isinstance(model[key], kind):
            raise ModelError('%s: field %r is missing or not a %s' % (
                path, key, kind[0].__name__ if isinstance(kind, tuple)
                else kind.__name__))
    if model.setdefault('scope', 'all') not in SCOPES:
        raise ModelError('%s: scope %r is not one of %s' % (
            path, model['scope'], ', '.join(SCOPES)))
    for index, request in enumerate(model['requests']):
        missing = [k for k in _REQUEST_KEYS
                   if not isinstance(request, dict) or k not in request]
        if missing:
            raise ModelError('%s: request %d lacks %s' % (
                path, index, ', '.join(missing)))
    return model
