#!/usr/bin/env python3
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

"""List every lock of a Cinder tree or of an out-of-tree driver package.

Usage::

    tools/lock_inventory.py [--format table|json|rst]
                            [--volume-service PATH ...] [--include-tests]
                            [--check FILE] PATH...

The tool reads the Python files with :mod:`ast` and never imports them, so
it runs without the driver's dependencies. Each PATH is a file or a
directory (every ``*.py`` file below it; directories called ``tests`` and
hidden directories are skipped unless ``--include-tests`` is given).

Each lock is one row: its scope, the API that takes it, its name (the
template as written, or the expression that computes it, or for a
``threading`` lock the variable it is stored in), the function that takes
it and where. Scopes:

``global``
    ``cinder.coordination`` (``synchronized``, ``COORDINATOR.get_lock``)
    and Tooz coordinators: the lock lives on the configured lock backend
    and excludes every service that uses the same backend.
``host``
    ``oslo_concurrency.lockutils`` locks with ``external=True``,
    ``lockutils.external_lock``, fasteners ``InterProcessLock`` and the
    legacy ``cinder.utils.synchronized``: a file lock that excludes the
    processes of one host only.
``process``
    ``lockutils`` locks without ``external`` and ``threading`` locks: they
    exclude the threads of one process only.

Every lock taken through ``oslo_concurrency.lockutils``, fasteners'
inter-process locks or ``cinder.utils.synchronized`` is *legacy*: it must be
ported to ``cinder.coordination`` before the driver runs Active/Active.
``cinder.utils.synchronized`` is reported as a host lock whatever its
``external`` argument says: it was an oslo.concurrency lock in older
releases, and a driver that uses it relies on it to guard backend state.

Exit status: 0; 1 when a legacy lock (or an import of
``oslo_concurrency.lockutils`` used in a way the tool does not recognise)
is found in the volume service, or when ``--check`` finds FILE stale; 2 for
bad arguments or a file that cannot be parsed.

The volume service is what ``--volume-service`` names. By default it is, for
each directory PATH, ``PATH/volume`` when that exists (``cinder`` gives
``cinder/volume``) and PATH itself otherwise (an out-of-tree driver
package); a file PATH counts itself.
"""

import argparse
import ast
import dataclasses
import difflib
import json
import os
import shlex
import sys
import textwrap

GLOBAL = 'global'
HOST = 'host'
PROCESS = 'process'

LOCKUTILS = 'oslo_concurrency.lockutils'
COORDINATION = 'cinder.coordination'
CINDER_UTILS = 'cinder.utils'
FASTENERS = 'fasteners'
TOOZ_GET_COORDINATOR = 'tooz.coordination.get_coordinator'

THREADING_LOCKS = frozenset(
    'threading.' + name for name in
    ('Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Condition'))

# lockutils.*_with_prefix(prefix) returns the lock API it is named after.
PREFIX_FACTORIES = {
    LOCKUTILS + '.synchronized_with_prefix': LOCKUTILS + '.synchronized',
    LOCKUTILS + '.lock_with_prefix': LOCKUTILS + '.lock',
}

LEGACY_NOTE = 'legacy: port to cinder.coordination'

# Paths to skip while walking a directory.
SKIPPED_DIRS = frozenset(('__pycache__', 'build', 'dist'))


class InventoryError(Exception):
    """A PATH cannot be read or parsed."""


@dataclasses.dataclass
class Lock(object):
    """One lock: one name taken by one call or decorator."""

    file: str
    line: int
    scope: str
    api: str
    name: str
    #: ``constant`` (a literal or template), ``expression`` (computed at
    #: run time), ``variable`` (where a lock object is stored) or ``none``.
    name_kind: str
    function: str
    legacy: bool = False
    in_volume_service: bool = False
    notes: list = dataclasses.field(default_factory=list)

    def as_dict(self):
        return dataclasses.asdict(self)

    def location(self):
        return '%s:%d' % (self.file, self.line)

    def shown_name(self):
        return self.name if self.name_kind != 'none' else '-'


@dataclasses.dataclass
class Problem(object):
    """Why the exit status is 1."""

    file: str
    line: int
    message: str

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Inventory(object):
    labels: list
    volume_service: list
    locks: list
    problems: list


# Reading one module.

class _Prefixed(object):
    """What ``lockutils.synchronized_with_prefix(prefix)`` returned."""

    def __init__(self, target, factory, prefix):
        self.target = target
        self.factory = factory
        self.prefix = prefix


def _keyword(call, name, position=None):
    """The argument *name* of *call*: keyword, else positional, else None."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if position is not None and len(call.args) > position:
        arg = call.args[position]
        if not any(isinstance(a, ast.Starred) for a in call.args[:position]):
            return arg
    return None


def _text(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return repr(node.value)
    return ast.unparse(node)


class _Module(object):
    """The locks of one parsed module."""

    def __init__(self, tree, module_name, display):
        self.tree = tree
        self.module_name = module_name
        self.display = display
        self.aliases = {}
        self.coordinators = {}
        self.constants = {}
        self.targets = {}
        self.lockutils_imports = []
        self.locks = []

    # Pass 1: imports, aliases, constants, coordinators, assignment targets.

    def _package(self):
        parts = self.module_name.split('.') if self.module_name else []
        if self.display.endswith('__init__.py'):
            return parts
        return parts[:-1]

    def _import_from_module(self, node):
        if not node.level:
            return node.module or ''
        package = self._package()
        if node.level > 1:
            package = package[:len(package) - (node.level - 1)]
        return '.'.join(package + ([node.module] if node.module else []))

    def _collect_imports(self):
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split('.')[0]
                        self.aliases[top] = top
                    if alias.name == LOCKUTILS:
                        self.lockutils_imports.append(node.lineno)
            elif isinstance(node, ast.ImportFrom):
                module = self._import_from_module(node)
                for alias in node.names:
                    full = '%s.%s' % (module, alias.name)
                    self.aliases[alias.asname or alias.name] = full
                    if module == LOCKUTILS or full == LOCKUTILS:
                        self.lockutils_imports.append(node.lineno)
        self.lockutils_imports = sorted(set(self.lockutils_imports))

    def _collect_assignments(self):
        assigns = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                assigns.append((node.targets, node.value))
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                assigns.append(([node.target], node.value))
            elif isinstance(node, ast.NamedExpr):
                assigns.append(([node.target], node.value))
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        self.targets.setdefault(
                            id(item.context_expr),
                            ast.unparse(item.optional_vars))
        for targets, value in assigns:
            self.targets[id(value)] = ast.unparse(targets[0])
        # Twice, so that an alias of an alias defined later is found too.
        for _ in range(2):
            for targets, value in assigns:
                ref = self.resolve(value)
                if ref is None:
                    continue
                for target in targets:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        self.aliases[ast.unparse(target)] = ref
        for targets, value in assigns:
            if not isinstance(value, ast.Call):
                continue
            func = self.resolve(value.func)
            if func == COORDINATION + '.Coordinator':
                kind = 'a cinder.coordination.Coordinator'
            elif func == TOOZ_GET_COORDINATOR:
                kind = 'a Tooz coordinator'
            else:
                continue
            for target in targets:
                self.coordinators[ast.unparse(target)] = kind
        # Module-level string constants, for names such as LOCK_NAME.
        counts = {}
        for node in self.tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        counts[target.id] = counts.get(target.id, 0) + 1
                        if (isinstance(node.value, ast.Constant) and
                                isinstance(node.value.value, str)):
                            self.constants[target.id] = node.value.value
        for name, count in counts.items():
            if count > 1:
                self.constants.pop(name, None)

    def resolve(self, node):
        """The dotted name *node* refers to, a _Prefixed, or None."""
        if isinstance(node, (ast.Name, ast.Attribute)):
            known = self.aliases.get(ast.unparse(node))
            if known is not None:
                return known
            if isinstance(node, ast.Attribute):
                base = self.resolve(node.value)
                if isinstance(base, str):
                    return '%s.%s' % (base, node.attr)
            return None
        if isinstance(node, ast.Call):
            func = self.resolve(node.func)
            if func in PREFIX_FACTORIES:
                prefix = _keyword(node, 'lock_file_prefix', 0)
                return _Prefixed(PREFIX_FACTORIES[func],
                                 func.rsplit('.', 1)[1],
                                 _text(prefix) if prefix is not None else '')
        return None

    # Pass 2: the locks.

    def scan(self):
        self._collect_imports()
        self._collect_assignments()
        _Visitor(self).visit(self.tree)
        return self.locks

    def _name(self, node, notes):
        if node is None:
            return '', 'none'
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return node.value, 'constant'
            if isinstance(node.value, bytes):
                return node.value.decode('utf-8', 'replace'), 'constant'
        if isinstance(node, ast.Name) and node.id in self.constants:
            notes.append('name from %s' % node.id)
            return self.constants[node.id], 'constant'
        notes.append('name computed at run time')
        return ast.unparse(node), 'expression'

    def _add(self, call, function, scope, api, name_node=None,
             notes=(), legacy=False, variable=False):
        notes = list(notes)
        if variable:
            name = self.targets.get(id(call), '')
            kind = 'variable' if name else 'none'
        else:
            name, kind = self._name(name_node, notes)
        if legacy:
            notes.insert(0, LEGACY_NOTE)
        self.locks.append(Lock(file=self.display, line=call.lineno,
                               scope=scope, api=api, name=name,
                               name_kind=kind, function=function,
                               legacy=legacy, notes=notes))

    def call(self, call, function):
        """Record the locks that *call* takes, if any."""
        ref = self.resolve(call.func)
        prefixed = None
        if isinstance(ref, _Prefixed):
            prefixed, ref = ref, ref.target
        if ref == COORDINATION + '.synchronized':
            notes = ['%s=%s' % (k.arg, ast.unparse(k.value))
                     for k in call.keywords if k.arg]
            for arg in call.args:
                self._add(call, function, GLOBAL, 'coordination.synchronized',
                          arg, notes)
        elif ref in (COORDINATION + '.get_lock',
                     COORDINATION + '.COORDINATOR.get_lock'):
            self._add(call, function, GLOBAL, ref[len('cinder.'):],
                      _keyword(call, 'name', 0))
        elif ref == CINDER_UTILS + '.synchronized':
            self._legacy_utils(call, function)
        elif isinstance(ref, str) and ref.startswith(LOCKUTILS + '.'):
            self._lockutils(call, function, ref, prefixed)
        elif ref in (FASTENERS + '.InterProcessLock',
                     FASTENERS + '.InterProcessReaderWriterLock',
                     FASTENERS + '.interprocess_locked',
                     FASTENERS + '.interprocess_read_locked',
                     FASTENERS + '.interprocess_write_locked'):
            self._add(call, function, HOST, ref, _keyword(call, 'path', 0),
                      ['a file lock on this host'], legacy=True)
        elif ref in THREADING_LOCKS:
            self._add(call, function, PROCESS, ref, variable=True)
        elif (isinstance(call.func, ast.Attribute) and
              call.func.attr == 'get_lock'):
            self._get_lock(call, function)
        else:
            self._external_true(call, function)

    def _get_lock(self, call, function):
        receiver = call.func.value
        text = ast.unparse(receiver)
        if self.resolve(receiver) == COORDINATION + '.COORDINATOR':
            api, notes = 'coordination.COORDINATOR.get_lock', []
        elif text in self.coordinators:
            api = '%s.get_lock' % text
            notes = ['%s is %s' % (text, self.coordinators[text])]
        elif 'coordinator' in text.rsplit('.', 1)[-1].lower():
            api = '%s.get_lock' % text
            notes = ['%s: assumed to be a coordinator from its name' % text]
        else:
            return
        self._add(call, function, GLOBAL, api, _keyword(call, 'name', 0),
                  notes)

    def _legacy_utils(self, call, function):
        notes = ['cinder.utils.synchronized: a host file lock in older '
                 'releases']
        external = _keyword(call, 'external', 1)
        if external is not None:
            if (isinstance(external, ast.Constant) and
                    not external.value):
                notes.append('external=%s: a process lock in older '
                             'releases' % ast.unparse(external))
        self._add(call, function, HOST, 'utils.synchronized',
                  _keyword(call, 'name', 0), notes, legacy=True)

    def _lockutils(self, call, function, ref, prefixed):
        short = ref[len(LOCKUTILS) + 1:]
        notes = []
        if prefixed is not None:
            notes.append('through %s(%s)' % (prefixed.factory,
                                             prefixed.prefix))
        if short in ('synchronized', 'lock'):
            external = _keyword(call, 'external', 2)
            if external is None or (isinstance(external, ast.Constant) and
                                    not external.value):
                scope, api = PROCESS, 'lockutils.%s' % short
                notes.append('no external=True: one process only')
            elif isinstance(external, ast.Constant):
                scope, api = HOST, 'lockutils.%s(external=True)' % short
            else:
                scope = HOST
                api = 'lockutils.%s(external=%s)' % (
                    short, ast.unparse(external))
                notes.append('external is not a constant: counted as host')
            self._add(call, function, scope, api, _keyword(call, 'name', 0),
                      notes, legacy=True)
        elif short == 'external_lock':
            self._add(call, function, HOST, 'lockutils.external_lock',
                      _keyword(call, 'name', 0), notes, legacy=True)
        elif short in ('internal_lock', 'internal_fair_lock'):
            self._add(call, function, PROCESS, 'lockutils.%s' % short,
                      _keyword(call, 'name', 0), notes, legacy=True)
        elif short == 'InterProcessLock':
            self._add(call, function, HOST, 'lockutils.InterProcessLock',
                      _keyword(call, 'path', 0),
                      ['a file lock on this host'], legacy=True)
        elif short == 'ReaderWriterLock':
            self._add(call, function, PROCESS, 'lockutils.ReaderWriterLock',
                      legacy=True, variable=True)

    def _external_true(self, call, function):
        """A call of an unknown API with ``external=True``."""
        external = _keyword(call, 'external')
        if isinstance(external, ast.Constant) and external.value is True:
            self._add(call, function, HOST,
                      '%s(external=True)' % ast.unparse(call.func),
                      _keyword(call, 'name', 0),
                      ['unknown API called with external=True: counted as '
                       'a host lock'], legacy=True)


class _Visitor(ast.NodeVisitor):
    """Walks a module and knows the function each call belongs to.

    Decorators belong to the function they decorate; calls in a body to the
    innermost enclosing function or class (``<module>`` at the top).
    """

    def __init__(self, module):
        self.module = module
        self.stack = []

    def _where(self, extra=None):
        names = self.stack + ([extra] if extra else [])
        return '.'.join(names) or '<module>'

    def _visit_decorated(self, node):
        decorated = self._where(node.name)
        for decorator in node.decorator_list:
            self._visit_as(decorator, decorated)

    def _visit_as(self, node, function):
        saved, self.stack = self.stack, function.split('.')
        try:
            self.visit(node)
        finally:
            self.stack = saved

    def visit_FunctionDef(self, node):
        self._visit_decorated(node)
        self.visit(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.stack.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._visit_decorated(node)
        for base in node.bases + node.keywords:
            self.visit(base)
        self.stack.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.stack.pop()

    def visit_Call(self, node):
        self.module.call(node, self._where())
        self.generic_visit(node)


# Files and paths.

def _base_of(path):
    """The directory that displayed paths are relative to.

    The parent of the outermost package containing *path* (so ``cinder``
    and ``cinder/volume/manager.py`` both show ``cinder/...``), else the
    directory *path* is or is in.
    """
    path = os.path.abspath(path)
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    while os.path.isfile(os.path.join(directory, '__init__.py')):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory


def _label(path):
    absolute = os.path.abspath(path)
    label = os.path.relpath(absolute, _base_of(path))
    if label == '.':
        label = os.path.basename(absolute)
    return label.replace(os.sep, '/')


def _python_files(path, include_tests):
    if not os.path.isdir(path):
        yield os.path.abspath(path)
        return
    for directory, dirs, files in os.walk(os.path.abspath(path)):
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith('.') and d not in SKIPPED_DIRS and
            not d.endswith('.egg-info') and
            (include_tests or d != 'tests'))
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.join(directory, name)


def _module_name(display):
    parts = display[:-len('.py')].split('/')
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def default_volume_service(path):
    """Where the volume service is, by default, for the PATH *path*."""
    if os.path.isdir(path) and os.path.isdir(os.path.join(path, 'volume')):
        return os.path.join(path, 'volume')
    return path


def _is_under(path, roots):
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep)
               for root in roots)


def scan_file(path, display):
    """The locks of one file and the lines that import lockutils."""
    try:
        with open(path, 'rb') as f:
            source = f.read()
    except OSError as e:
        raise InventoryError('cannot read %s: %s' % (display, e.strerror))
    try:
        tree = ast.parse(source, display)
    except SyntaxError as e:
        raise InventoryError('cannot parse %s: %s (line %s)' % (
            display, e.msg, e.lineno))
    except ValueError as e:
        raise InventoryError('cannot parse %s: %s' % (display, e))
    module = _Module(tree, _module_name(display), display)
    locks = module.scan()
    return locks, module.lockutils_imports


def scan(paths, volume_service=None, include_tests=False):
    """Build the :class:`Inventory` of *paths*.

    :param volume_service: paths whose legacy locks are problems; by
        default :func:`default_volume_service` of each of *paths*.
    """
    if volume_service is None:
        volume_service = [default_volume_service(p) for p in paths]
    service_roots = [os.path.abspath(p) for p in volume_service]
    locks = []
    problems = []
    seen = set()
    for path in paths:
        base = _base_of(path)
        for filename in _python_files(path, include_tests):
            if filename in seen:
                continue
            seen.add(filename)
            display = os.path.relpath(filename, base).replace(os.sep, '/')
            found, imports = scan_file(filename, display)
            in_service = _is_under(filename, service_roots)
            for lock in found:
                lock.in_volume_service = in_service
                if in_service and lock.legacy:
                    problems.append(Problem(
                        lock.file, lock.line,
                        '%s lock %s: %s in %s' % (
                            lock.scope, lock.shown_name(), lock.api,
                            lock.function)))
            if in_service and imports and not any(
                    lock.legacy for lock in found):
                problems += [Problem(
                    display, line,
                    'imports %s but takes no lock with it that this tool '
                    'recognises; check it by hand' % LOCKUTILS)
                    for line in imports]
            locks += found
    # Sorted by file and line; locks of one call keep their order.
    locks.sort(key=lambda lock: (lock.file, lock.line))
    problems.sort(key=lambda p: (p.file, p.line))
    return Inventory(labels=[_label(p) for p in paths],
                     volume_service=[_label(p) for p in volume_service],
                     locks=locks, problems=problems)


# Output.

def format_table(inventory):
    if not inventory.locks:
        return 'No locks found in %s.\n' % ', '.join(inventory.labels)
    header = ('LOCATION', 'SCOPE', 'API', 'NAME', 'FUNCTION', 'NOTES')
    rows = [(lock.location(), lock.scope, lock.api, lock.shown_name(),
             lock.function, '; '.join(lock.notes))
            for lock in inventory.locks]
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header) - 1)]
    lines = []
    for row in [header] + rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append('  '.join(cells + [row[-1]]).rstrip())
    counts = {}
    for lock in inventory.locks:
        counts[lock.scope] = counts.get(lock.scope, 0) + 1
    legacy = sum(1 for lock in inventory.locks if lock.legacy)
    lines.append('')
    lines.append('%d locks: %s; %d legacy.' % (
        len(inventory.locks),
        ', '.join('%d %s' % (counts.get(scope, 0), scope)
                  for scope in (GLOBAL, HOST, PROCESS)),
        legacy))
    return '\n'.join(lines) + '\n'


def format_json(inventory):
    data = {
        'paths': inventory.labels,
        'volume_service': inventory.volume_service,
        'locks': [lock.as_dict() for lock in inventory.locks],
        'problems': [problem.as_dict() for problem in inventory.problems],
    }
    return json.dumps(data, indent=2, sort_keys=True) + '\n'


def _rst_literal(text):
    if not text:
        return '-'
    if '`' in text or text != text.strip():
        return _rst_escape(text)
    return '``%s``' % text


def _rst_escape(text):
    for char in '\\`*_|[]<>':
        text = text.replace(char, '\\' + char)
    return text


def format_rst(inventory):
    """A Sphinx ``list-table`` of the locks.

    It names the file of each lock but not the line, so that it only goes
    stale when a lock is added, removed, renamed or moved to another
    function, not on every edit above a lock.
    """
    lines = ['.. Generated by tools/lock_inventory.py --format rst; do not',
             '   edit by hand.', '']
    labels = ', '.join(_rst_literal(label) for label in inventory.labels)
    if not inventory.locks:
        lines.append('No locks found in %s.' % labels)
        return '\n'.join(lines) + '\n'
    lines += ['.. list-table:: Locks in %s' % labels,
              '   :header-rows: 1',
              '',
              '   * - Scope',
              '     - Name',
              '     - Function',
              '     - File',
              '     - API',
              '     - Notes']
    for lock in inventory.locks:
        cells = [lock.scope,
                 _rst_literal(lock.name),
                 _rst_literal(lock.function),
                 _rst_literal(lock.file),
                 _rst_literal(lock.api),
                 _rst_escape('; '.join(lock.notes)) or '-']
        lines.append('   * - %s' % cells[0])
        lines += ['     - %s' % cell for cell in cells[1:-1]]
        lines += textwrap.wrap(cells[-1], 79, initial_indent='     - ',
                               subsequent_indent='       ',
                               break_long_words=False,
                               break_on_hyphens=False)
    return '\n'.join(lines) + '\n'


FORMATS = {'table': format_table, 'json': format_json, 'rst': format_rst}


def _parser():
    parser = argparse.ArgumentParser(
        prog='lock_inventory.py',
        description='List the locks of a Cinder tree or of an out-of-tree '
                    'volume driver package, without importing it. Exits 1 '
                    'when a legacy (lockutils, external=True, fasteners, '
                    'cinder.utils.synchronized) lock is in the volume '
                    'service.')
    parser.add_argument('paths', nargs='+', metavar='PATH',
                        help='a package, a directory or a Python file')
    parser.add_argument('--format', choices=sorted(FORMATS),
                        help='output format (default: table; rst with '
                             '--check)')
    parser.add_argument('--volume-service', action='append',
                        metavar='PATH',
                        help='code of the volume service, where legacy '
                             'locks are errors; may be repeated (default: '
                             'PATH/volume if it exists, else PATH)')
    parser.add_argument('--include-tests', action='store_true',
                        help='also read directories called "tests"')
    parser.add_argument('--check', metavar='FILE',
                        help='print nothing; exit 1 if FILE differs from '
                             'the RST output')
    return parser


def _regenerate_command(args):
    script = os.path.relpath(os.path.abspath(__file__))
    if script.startswith(os.pardir):
        script = os.path.abspath(__file__)
    words = ['python', script, '--format', 'rst']
    for path in args.volume_service or ():
        words += ['--volume-service', path]
    if args.include_tests:
        words.append('--include-tests')
    words += args.paths
    return '%s > %s' % (shlex.join(words), shlex.quote(args.check))


def _check(args, generated):
    """Compare *generated* with ``--check FILE``; return 0 or 1."""
    try:
        with open(args.check, encoding='utf-8') as f:
            current = f.read()
    except OSError as e:
        current = None
        reason = 'cannot be read (%s)' % e.strerror
    else:
        reason = 'is stale'
    if current == generated:
        return 0
    print('lock_inventory.py: %s %s; regenerate it with:\n\n    %s\n' % (
        args.check, reason, _regenerate_command(args)), file=sys.stderr)
    if current is not None:
        diff = list(difflib.unified_diff(
            current.splitlines(), generated.splitlines(),
            args.check, 'generated', lineterm=''))
        shown = diff[:40]
        if len(diff) > len(shown):
            shown.append('... (%d more lines)' % (len(diff) - len(shown)))
        print('\n'.join(shown), file=sys.stderr)
    return 1


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.check and args.format not in (None, 'rst'):
        parser.error('--check compares RST output; drop --format %s' %
                     args.format)
    for path in args.paths + (args.volume_service or []):
        if not os.path.exists(path):
            parser.error('no such file or directory: %s' % path)
    try:
        inventory = scan(args.paths, args.volume_service, args.include_tests)
    except InventoryError as e:
        print('lock_inventory.py: error: %s' % e, file=sys.stderr)
        return 2
    output = FORMATS[args.format or ('rst' if args.check else 'table')](
        inventory)
    status = 0
    if args.check:
        status = _check(args, output)
    else:
        sys.stdout.write(output)
        sys.stdout.flush()
    if inventory.problems:
        status = 1
        print('lock_inventory.py: %d legacy lock(s) in the volume service '
              '(%s); port them to cinder.coordination, see "Porting driver '
              'locks" in the contributor guide:' % (
                  len(inventory.problems),
                  ', '.join(inventory.volume_service)), file=sys.stderr)
        for problem in inventory.problems:
            print('  %s:%d: %s' % (problem.file, problem.line,
                                   problem.message), file=sys.stderr)
    return status


if __name__ == '__main__':
    sys.exit(main())
