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

"""What the lock benchmark measures: three ways to take a named lock.

Each subject does one *lock cycle* per :meth:`Subject.cycle` call: get the
lock by name, acquire it (waiting as long as needed), read the clock inside
the empty critical section, release it. The cycle is what a decorated
function pays around its body.

``oslo``
    oslo.concurrency's external file lock (``lockutils.lock(name,
    external=True)``), what a deployment without this series uses.
``tooz``
    The Tooz driver of the backend, used directly (``get_lock``,
    ``acquire``, ``release``): the floor this project's layer adds to.
``cinder``
    A function decorated with :func:`cinder.coordination.synchronized`
    with a name template rendered per call, as the volume manager's locks
    are, on a :class:`cinder.coordination.Coordinator` with default
    options.
"""

import os
import time
import uuid

#: Prepended to lock names by every subject, as the coordinator does.
PREFIX = 'cinder-'

KINDS = ('oslo', 'tooz', 'cinder')


class Subject(object):
    """One way to take a lock, on one backend."""

    kind = None

    def __init__(self, backend, target):
        self.backend = backend
        self.target = target

    @property
    def key(self):
        return key(self.kind, self.backend)

    def open(self):
        """Connect; called once in the process that runs the cycles."""

    def close(self):
        """Disconnect."""

    def cycle(self, name):
        """Take and release lock ``name``; return the time inside it."""
        raise NotImplementedError()


def key(kind, backend):
    """The name of a subject in results: ``cinder/redis``."""
    return '%s/%s' % (kind, backend)


class OsloSubject(Subject):
    """``oslo_concurrency.lockutils.lock(name, external=True)``."""

    kind = 'oslo'

    def open(self):
        from oslo_concurrency import lockutils
        self._lock = lockutils.lock
        os.makedirs(self.target, exist_ok=True)

    def cycle(self, name):
        with self._lock(PREFIX + name, external=True, lock_path=self.target):
            return time.monotonic()


class ToozSubject(Subject):
    """The Tooz driver of ``target`` (a Tooz URL), used directly."""

    kind = 'tooz'

    def open(self):
        from tooz import coordination as tooz_coordination
        if self.target.startswith('file://'):
            os.makedirs(self.target[len('file://'):], exist_ok=True)
        member = ('bench-%d-%s' % (os.getpid(), uuid.uuid4().hex[:6]))
        self._coordinator = tooz_coordination.get_coordinator(
            self.target, member.encode('ascii'))
        self._coordinator.start(start_heart=True)

    def close(self):
        self._coordinator.stop()

    def cycle(self, name):
        lock = self._coordinator.get_lock((PREFIX + name).encode('utf-8'))
        if not lock.acquire(blocking=True):
            raise RuntimeError('tooz lock %s not acquired' % name)
        inside = time.monotonic()
        lock.release()
        return inside


class CinderSubject(Subject):
    """``cinder.coordination.synchronized`` on its own coordinator."""

    kind = 'cinder'

    def open(self):
        from oslo_config import cfg

        from cinder import coordination

        if self.target.startswith('file://'):
            os.makedirs(self.target[len('file://'):], exist_ok=True)
        conf = cfg.ConfigOpts()
        self._coordinator = coordination.Coordinator(conf=conf)
        conf([], project='cinder-bench', default_config_files=[])
        conf.set_override('backend_url', self.target, group='coordination')
        self._coordinator.start()

        @coordination.synchronized('{name}', coordinator=self._coordinator)
        def section(name):
            return time.monotonic()

        self._section = section

    def close(self):
        self._coordinator.stop()

    def cycle(self, name):
        return self._section(name)


_CLASSES = {cls.kind: cls for cls in (OsloSubject, ToozSubject,
                                      CinderSubject)}


def make(kind, backend, target):
    """A subject of ``kind`` on ``backend`` at ``target`` (URL or dir)."""
    try:
        cls = _CLASSES[kind]
    except KeyError:
        raise ValueError('unknown subject %r (known: %s)' % (
            kind, ', '.join(KINDS)))
    return cls(backend, target)
