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

"""The Tooz driver families: one module each, chosen by URL scheme."""

import importlib.metadata
import urllib.parse

from tooz import coordination as tooz_coordination

from cinder.coordination.backends import base
from cinder.coordination.backends import etcd
from cinder.coordination.backends import file
from cinder.coordination.backends import redis
from cinder.coordination.backends import zookeeper
from cinder.coordination import exceptions
from cinder.coordination import urls


#: The driver families this project tests, in the order they are tried.
BACKENDS = (file.FileBackend, redis.RedisBackend, etcd.Etcd3Backend,
            zookeeper.ZooKeeperBackend)


def _installed_tooz_backends():
    return sorted(ep.name for ep in importlib.metadata.entry_points(
        group=tooz_coordination.TOOZ_BACKENDS_NAMESPACE))


def make_backend(url, timeout):
    """The :class:`~.base.Backend` of the URL's scheme, not started.

    :raises ConfigurationError: no installed Tooz driver has the URL's
        scheme, or the URL does not tell where the locks live
        (:meth:`~.base.Backend.location`).
    """
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        scheme = ''
    installed = _installed_tooz_backends()
    if scheme not in installed:
        raise exceptions.ConfigurationError(
            '[coordination] backend_url %s: unknown lock backend %r; the '
            'installed Tooz backends are: %s' % (
                urls.mask_url(url), scheme, ', '.join(installed)))
    backend = base.OtherBackend(url, timeout)
    for cls in BACKENDS:
        if scheme in cls.schemes:
            backend = cls(url, timeout)
            break
    backend.location()   # refuse now what could not be compared later
    return backend
