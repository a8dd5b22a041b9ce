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

"""The :func:`synchronized` decorator and its lock name templates."""

import functools
import inspect
import string

from oslo_utils import reflection

# The package, for COORDINATOR: read at call time, so that replacing it
# (tests, fixtures) takes effect.
from cinder import coordination
from cinder.coordination import exceptions


class _Template(object):
    """A lock name template checked against the function it decorates."""

    _formatter = string.Formatter()

    def __init__(self, template, func, params, var_keyword):
        self.template = template
        self.func = func
        try:
            parsed = list(self._formatter.parse(template))
        except ValueError as e:
            raise exceptions.LockNameError(
                'lock name template %r of %s: %s' % (
                    template, _qualname(func), e)) from None
        fields = [f for _, f, _, _ in parsed if f is not None]
        #: A field inside a format spec ("{size:{width}}") names an
        #: argument too; only a full bind of the call provides it.
        self.nested = any('{' in (spec or '') for _, _, spec, _ in parsed)
        roots = set()
        for field in fields:
            root = field.split('.', 1)[0].split('[', 1)[0]
            if not root or root.isdigit():
                raise exceptions.LockNameError(
                    'lock name template %r of %s: positional field {%s}; '
                    'name an argument instead' % (
                        template, _qualname(func), field))
            roots.add(root)
        unknown = roots - set(params) - {'f_name'}
        if unknown and not var_keyword:
            raise exceptions.LockNameError(
                'lock name template %r names %s, which %s does not take '
                '(its arguments: %s)' % (
                    template, ', '.join(sorted(unknown)), _qualname(func),
                    ', '.join(params) or 'none'))
        self.roots = roots
        self.static = not roots
        #: The name a template without fields stands for: its literal
        #: text, "{{" and "}}" undoubled.
        self.literal = (''.join(text for text, _, _, _ in parsed)
                        if self.static else None)

    def render(self, values):
        if self.static:
            return self.literal
        try:
            # What string.Formatter().vformat() does, in C.
            return self.template.format_map(values)
        except (KeyError, AttributeError, IndexError, TypeError) as e:
            raise exceptions.LockNameError(
                'lock name template %r of %s cannot be rendered for this '
                'call: %s: %s' % (self.template, _qualname(self.func),
                                  type(e).__name__, e)) from None


class _Arguments(object):
    """The values a decorated function's lock names are rendered from.

    ``inspect.Signature.bind()`` costs more than a local lock cycle, so
    for the common signature (positional-or-keyword parameters only, no
    field in a format spec) the arguments the templates name are picked
    from the call directly. Any call that this shortcut cannot prove
    well-formed (too many arguments, an unknown or repeated keyword, a
    required argument missing) goes through ``bind()``, which raises the
    same ``TypeError`` as before, before any lock is taken.
    """

    def __init__(self, func, signature, var_keyword, templates):
        self._func = func
        self._signature = signature
        self._var_keyword = var_keyword
        parameters = list(signature.parameters.values())
        self._fast = (not any(t.nested for t in templates) and all(
            p.kind == p.POSITIONAL_OR_KEYWORD for p in parameters))
        if not self._fast:
            return
        self._names = [p.name for p in parameters]
        self._positions = {p.name: i for i, p in enumerate(parameters)}
        self._required = sum(1 for p in parameters if p.default is p.empty)
        roots = set().union(*(t.roots for t in templates)) - {'f_name'}
        self._roots = [(name, self._positions[name],
                        signature.parameters[name].default)
                       for name in sorted(roots)]

    def values(self, args, kwargs):
        if self._fast:
            count = len(args)
            ok = count <= len(self._names)
            if ok and kwargs:
                positions = self._positions
                for name in kwargs:
                    position = positions.get(name)
                    if position is None or position < count:
                        ok = False
                        break
            if ok and count < self._required:
                ok = all(name in kwargs
                         for name in self._names[count:self._required])
            if ok:
                values = {'f_name': self._func.__name__}
                for name, position, default in self._roots:
                    if position < count:
                        values[name] = args[position]
                    else:
                        values[name] = kwargs.get(name, default)
                return values
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        if self._var_keyword:
            values = dict(values)
            values.update(values.pop(self._var_keyword, {}))
        values['f_name'] = self._func.__name__
        return values


def _qualname(func):
    return '%s.%s()' % (func.__module__, func.__qualname__)


def synchronized(*lock_names, blocking=True, coordinator=None):
    """Run the decorated function holding every lock in *lock_names*.

    Each name is a ``str.format`` template over the function's arguments
    (defaults included) with attribute and item access, plus ``{f_name}``
    for the function's name::

        @synchronized('{self.driver_prefix}-{volume.id}')
        @synchronized('{snapshot.volume.id}', '{snapshot.id}-delete')

    The rendered names are de-duplicated, acquired in sorted order (so two
    callers never deadlock on the same pair) and released in reverse.

    With DEBUG logging, each lock's lines name the function, in the shape
    of oslo.concurrency's (``Acquiring lock "cinder-X" by "mod.Cls.f"``,
    ``Lock "cinder-X" acquired by "mod.Cls.f" :: waited 0.001s``,
    ``Lock "cinder-X" "released" by "mod.Cls.f" :: held 0.002s``).

    :param blocking: as for :meth:`Lock.acquire`; when it is not True a
        miss raises :class:`LockAcquireFailed` and the function does not
        run.
    :param coordinator: defaults to :data:`COORDINATOR` at call time.
    :raises LockNameError: at decoration, a template names an argument the
        function does not have; at call, a template cannot be rendered.
    """
    if not lock_names:
        raise exceptions.LockNameError(
            'synchronized() needs at least one lock name')

    def decorator(func):
        signature = inspect.signature(func)
        params = [n for n, p in signature.parameters.items()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        var_keyword = next((n for n, p in signature.parameters.items()
                            if p.kind == p.VAR_KEYWORD), None)
        templates = [_Template(t, func, params, var_keyword)
                     for t in lock_names]
        static_names = None
        if all(t.static for t in templates):
            static_names = sorted({t.literal for t in templates})
        arguments = _Arguments(func, signature, var_keyword, templates)
        single = templates[0] if len(templates) == 1 else None
        by = reflection.get_callable_name(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if static_names is not None:
                names = static_names
            elif single is not None:
                names = (single.render(arguments.values(args, kwargs)),)
            else:
                values = arguments.values(args, kwargs)
                names = sorted({t.render(values) for t in templates})
            coord = (coordinator if coordinator is not None
                     else coordination.COORDINATOR)
            if len(names) == 1:
                lock = coord.get_lock(names[0])
                lock.by = by
                lock.acquire(blocking)
                try:
                    return func(*args, **kwargs)
                finally:
                    lock.release()
            locks = [coord.get_lock(name) for name in names]
            acquired = []
            for lock in locks:
                lock.by = by
            try:
                for lock in locks:
                    lock.acquire(blocking)
                    acquired.append(lock)
                return func(*args, **kwargs)
            finally:
                _release_all(reversed(acquired))

        return wrapper

    return decorator


def _release_all(locks):
    """Release *locks* in order; every one is tried, the first error wins."""
    error = None
    for lock in locks:
        try:
            lock.release()
        except Exception as e:
            error = error or e
    if error is not None:
        raise error


def synchronized_remove(glob_name, coordinator=None):
    """Delete what the locks matching *glob_name* left behind.

    For locks of resources that no longer exist, for example
    ``synchronized_remove(volume.id + '-*')`` after a volume is deleted.
    See :meth:`Coordinator.remove_lock`.
    """
    coord = (coordinator if coordinator is not None
             else coordination.COORDINATOR)
    return coord.remove_lock(glob_name)
