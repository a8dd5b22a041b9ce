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

"""The fault rules of the fault-injecting file system, and their protocol.

A rule names an operation (:data:`OPS`), a pattern (an ``fnmatch`` glob
on the path relative to the mount, ``.`` for its root; ``*`` also
matches ``/``), a mode (:data:`MODES`), an errno and a count:

* ``before``: the call fails with the errno and nothing is applied;
* ``after``: the call is applied to the backing directory, then fails
  with the errno (a reply lost and the call retransmitted, or a soft
  mount that timed out after the server did the work);
* ``stale`` (``getattr`` and ``readdir``): the answer comes from a
  snapshot of the backing directory taken when the rule was armed, as
  from a stale client cache: a path that did not exist then is ENOENT;
* ``short`` (``write``): only the first ``size`` bytes (half the
  request by default) are written and that count is returned.

A call fires the first armed rule that matches it and has count left
(a count of None never runs out); a call of two paths (``link``,
``rename``) matches when either does. Rules fire in the order in which
calls reach the file system, so a test that makes the calls decides
which one fails.

The control protocol is one JSON object a line each way over a Unix
socket: ``{"cmd": "arm", "op": ..., "pattern": ..., "mode": ...,
"errno": ..., "count": ..., "size": ...}`` answers ``{"ok": true,
"rule": {...}}``; ``disarm`` (``rule``), ``fired`` (``rule``), ``list``,
``clear`` and ``ping`` likewise; an error answers ``{"ok": false,
"error": "..."}`` and changes nothing.
"""

import errno as errno_mod
import fnmatch
import json
import os
import socketserver
import threading

#: The operations a rule can name. ``getattr`` is the kernel's LOOKUP and
#: GETATTR alike: libfuse's path API answers both with one call.
OPS = ('getattr', 'readdir', 'open', 'create', 'read', 'write', 'flush',
       'fsync', 'fsyncdir', 'link', 'unlink', 'rename', 'mkdir', 'rmdir',
       'truncate', 'fallocate', 'symlink', 'setattr')
#: Other names accepted for an operation.
ALIASES = {'lookup': 'getattr', 'ftruncate': 'truncate'}
#: Each mode and the operations it applies to.
MODES = {
    'before': OPS,
    'after': OPS,
    'stale': ('getattr', 'readdir'),
    'short': ('write',),
}
#: The longest path a Unix socket can be bound to.
MAX_SOCKET_PATH = 107
#: Seconds the control server takes at most to see it must stop.
SHUTDOWN_POLL = 0.05


class RuleError(ValueError):
    """A rule or a control request that cannot be taken."""


def parse_errno(value):
    """The errno number of *value*: a positive int or a name ("EEXIST")."""
    if isinstance(value, str):
        number = getattr(errno_mod, value.upper(), None)
        if isinstance(number, int):
            return number
        raise RuleError('errno %r is not an errno name' % value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise RuleError('errno %r is not a positive number or an errno name'
                    % (value,))


def _check_count(count):
    if count is None:
        return None
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    raise RuleError('count %r is not a positive number or null' % (count,))


class Rule(object):
    """One armed fault; ``fired`` counts the calls it failed or served."""

    def __init__(self, rule_id, op, pattern, mode, error, count, size=None):
        self.rule_id = rule_id
        self.op = op
        self.pattern = pattern
        self.mode = mode
        self.errno = error
        self.left = count
        self.size = size
        self.fired = 0
        self.snapshot = None

    def matches(self, op, paths):
        """Whether a call of *op* on *paths* (relative paths) fires it."""
        if op != self.op or self.left == 0:
            return False
        return any(path is not None and
                   fnmatch.fnmatchcase(path, self.pattern)
                   for path in paths)

    def stale_attrs(self, path):
        """The snapshot's attributes of *path*; OSError ENOENT if absent."""
        if path not in self.snapshot:
            raise OSError(errno_mod.ENOENT, 'not in the stale snapshot',
                          path)
        return dict(self.snapshot[path])

    def stale_listing(self, path):
        """The snapshot's listing of *path*; OSError ENOENT if absent."""
        return [tuple(entry) for entry in self.stale_attrs(path)['entries']]

    def describe(self):
        return {'rule': self.rule_id, 'op': self.op,
                'pattern': self.pattern, 'mode': self.mode,
                'errno': self.errno,
                'errno_name': errno_mod.errorcode.get(self.errno),
                'count': self.left, 'fired': self.fired, 'size': self.size}


class RuleSet(object):
    """The armed rules of one mount; every method is thread-safe.

    :param snapshot: ``snapshot(op, pattern)``, called when a ``stale``
        rule is armed: the answers it will give, relative path to
        attributes (``readdir``: ``{'entries': listing}``).
    """

    def __init__(self, snapshot=None):
        self._snapshot = snapshot
        self._rules = []
        self._next_id = 1
        self._lock = threading.Lock()

    def arm(self, op, pattern, mode, errno=None, count=1, size=None):
        """Arm a rule; return it. RuleError names a bad argument."""
        op = ALIASES.get(op, op)
        if op not in OPS:
            raise RuleError('op %r is not one of %s' % (op, ', '.join(OPS)))
        if mode not in MODES:
            raise RuleError('mode %r is not one of %s'
                            % (mode, ', '.join(MODES)))
        if op not in MODES[mode]:
            raise RuleError('mode %s applies to %s only, not to op %s'
                            % (mode, ', '.join(MODES[mode]), op))
        if not isinstance(pattern, str) or not pattern:
            raise RuleError('pattern %r is not a glob' % (pattern,))
        error = parse_errno(errno_mod.EIO if errno is None else errno)
        count = _check_count(count)
        if size is not None and (mode != 'short' or not isinstance(
                size, int) or isinstance(size, bool) or size < 0):
            raise RuleError('size %r: a number of bytes >= 0, for mode '
                            'short only' % (size,))
        snapshot = None
        if mode == 'stale':
            if self._snapshot is None:
                raise RuleError('mode stale needs a snapshot of the '
                                'backing directory')
            snapshot = self._snapshot(op, pattern)
        with self._lock:
            rule = Rule(self._next_id, op, pattern, mode, error, count, size)
            rule.snapshot = snapshot
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def take(self, op, paths):
        """Fire the first rule that matches; return it, or None."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(op, paths):
                    rule.fired += 1
                    if rule.left is not None:
                        rule.left -= 1
                    return rule
        return None

    def _find(self, rule_id):
        for rule in self._rules:
            if rule.rule_id == rule_id:
                return rule
        raise RuleError('rule %r is not armed' % (rule_id,))

    def disarm(self, rule_id):
        """Remove one rule; return its description (RuleError if none)."""
        with self._lock:
            rule = self._find(rule_id)
            self._rules.remove(rule)
            return rule.describe()

    def describe(self, rule_id):
        with self._lock:
            return self._find(rule_id).describe()

    def list(self):
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def clear(self):
        """Remove every rule; return how many there were."""
        with self._lock:
            removed = len(self._rules)
            self._rules = []
            return removed


def attrs_of(st):
    """The getattr answer of an ``os.stat_result`` (times in ns)."""
    return {'st_mode': st.st_mode, 'st_ino': st.st_ino,
            'st_nlink': st.st_nlink, 'st_uid': st.st_uid,
            'st_gid': st.st_gid, 'st_size': st.st_size,
            'st_blocks': st.st_blocks, 'st_blksize': st.st_blksize,
            'st_rdev': st.st_rdev, 'st_atime': st.st_atime_ns,
            'st_mtime': st.st_mtime_ns, 'st_ctime': st.st_ctime_ns}


def listing(root, rel):
    """The readdir answer for *rel* under *root*: (name, attrs, 0) tuples.

    Each entry carries its inode number and file type (a readdir entry of
    inode 0 is skipped by the C library). OSError if *rel* cannot be
    listed; an entry removed meanwhile is left out.
    """
    top = os.path.normpath(os.path.join(root, rel))
    parent = top if rel == '.' else os.path.dirname(top)
    entries = []
    for name, path in (('.', top), ('..', parent)):
        st = os.lstat(path)
        entries.append((name, {'st_ino': st.st_ino, 'st_mode': st.st_mode},
                        0))
    for name in sorted(os.listdir(top)):
        try:
            st = os.lstat(os.path.join(top, name))
        except FileNotFoundError:
            continue
        entries.append((name, {'st_ino': st.st_ino, 'st_mode': st.st_mode},
                        0))
    return entries


def snapshot_tree(root, op, pattern):
    """What a stale rule of *op* on *pattern* answers, taken from *root*.

    ``getattr``: the attributes of every path that matches; ``readdir``:
    the :func:`listing` of every directory that matches. A path that cannot be
    read while the tree is walked is left out (it answers ENOENT).
    """
    found = {}
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        names = sorted(dirs + files)
        if op == 'readdir':
            if fnmatch.fnmatchcase(rel, pattern):
                try:
                    found[rel] = {'entries': listing(root, rel)}
                except OSError:
                    pass
            continue
        for name in ['.'] + names:
            path = rel if name == '.' else os.path.normpath(
                os.path.join(rel, name))
            if fnmatch.fnmatchcase(path, pattern):
                try:
                    found[path] = attrs_of(os.lstat(os.path.join(root,
                                                                 path)))
                except OSError:
                    pass
    return found


def handle(rules, request):
    """Answer one control *request* (a dict) about *rules*."""
    try:
        if not isinstance(request, dict):
            raise RuleError('a request is a JSON object')
        cmd = request.get('cmd')
        if cmd == 'ping':
            return {'ok': True}
        if cmd == 'arm':
            rule = rules.arm(request.get('op'), request.get('pattern'),
                             request.get('mode'), request.get('errno'),
                             request.get('count', 1), request.get('size'))
            return {'ok': True, 'rule': rule.describe()}
        if cmd == 'disarm':
            return {'ok': True, 'rule': rules.disarm(request.get('rule'))}
        if cmd == 'fired':
            return {'ok': True, 'rule': rules.describe(request.get('rule'))}
        if cmd == 'list':
            return {'ok': True, 'rules': rules.list()}
        if cmd == 'clear':
            return {'ok': True, 'cleared': rules.clear()}
        raise RuleError('cmd %r is not one of ping, arm, disarm, fired, '
                        'list, clear' % (cmd,))
    except RuleError as e:
        return {'ok': False, 'error': str(e)}


def handle_line(rules, line):
    """Answer one line of the protocol (bytes) with one line (bytes)."""
    try:
        request = json.loads(line.decode('utf-8'))
    except ValueError as e:
        reply = {'ok': False, 'error': 'not a JSON line: %s' % e}
    else:
        reply = handle(rules, request)
    return (json.dumps(reply, sort_keys=True) + '\n').encode('utf-8')


class _Handler(socketserver.StreamRequestHandler):

    def handle(self):
        for line in self.rfile:
            self.wfile.write(handle_line(self.server.rules, line))
            self.wfile.flush()


class ControlServer(socketserver.ThreadingUnixStreamServer):
    """The control socket at *path*, answering about *rules* in threads.

    Raises RuleError, naming ``--control``, for a path too long for a
    Unix socket; OSError if it cannot be bound.
    """

    daemon_threads = True

    def __init__(self, path, rules):
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise RuleError('--control %s: longer than the %d bytes of a '
                            'Unix socket path' % (path, MAX_SOCKET_PATH))
        self.rules = rules
        super().__init__(path, _Handler)

    def start(self):
        """Serve in a daemon thread until :meth:`shutdown`."""
        thread = threading.Thread(target=self.serve_forever,
                                  args=(SHUTDOWN_POLL,),
                                  name='faultfs-control', daemon=True)
        thread.start()
        return thread
