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

"""Where the locks of a backend URL live, as one string per place.

Two URLs get the same location when Tooz's driver would keep the locks of
both in the same keys or nodes of the same servers, whatever the order of
the servers, the default ports, the credentials and the options that do
not move the locks. The location of a service is recorded with the
fencing tokens it writes (tokens of one location compare) and with its
membership (services of two locations do not exclude each other). It
never holds a secret: it is written to files on the shares.

What names the place, per Tooz driver (tooz 9):

* ZooKeeper: every server (the URL's and those of each ``hosts``
  option, which kazoo joins with commas), and the node under which tooz
  keeps the locks: kazoo's chroot (what follows the first ``/`` of the
  joined servers) and tooz's ``namespace`` (``tooz``). The URL's path is
  not read by tooz.
* Redis: the server (host and port, or the socket path on this host), or
  the Sentinels (the URL's and each ``sentinel_fallback``) and the
  ``sentinel`` service name; the database (``db``, 0); tooz's
  ``namespace`` (``_tooz``), which starts every key.
* etcd: the server. Tooz's etcd driver keeps every lock under the fixed
  prefix ``/tooz/locks``: no option moves it.

A URL whose place cannot be told (a port that is not a number, an empty
server, a chroot before the last server, an option that names the place
given twice) raises :class:`~cinder.coordination.ConfigurationError`.
"""

import os
import socket
import urllib.parse

from cinder.coordination import exceptions
from cinder.coordination import urls

ZOOKEEPER_PORT = 2181
REDIS_PORT = 6379
SENTINEL_PORT = 26379
ETCD_PORT = 2379


class Unclear(ValueError):
    """Why the place a URL names cannot be told."""


def _options(query):
    """{option: [values]} of a query, as Tooz reads it."""
    return urllib.parse.parse_qs(query)


def _one(options, name, default):
    """The single value of option *name*, or *default*."""
    values = options.get(name, [])
    if len(values) > 1:
        raise Unclear('option %s is given more than once' % name)
    return values[0] if values else default


def _address(text, default_port):
    """``host:port`` of one server, the host lower case, the port given.

    :raises Unclear: no host name, or a port that is not a number up to
        65535.
    """
    host = port = None
    try:
        parts = urllib.parse.urlsplit('//' + text.strip())
        if not (parts.path or parts.query or parts.fragment):
            host, port = parts.hostname, parts.port
    except ValueError:
        host = None
    if not host:
        raise Unclear('server %r has no host name and port (a number '
                      'up to 65535) that can be read' % text)
    if port is None:
        port = default_port
    if ':' in host:
        host = '[%s]' % host
    return '%s:%d' % (host, port)


def _servers(texts, default_port):
    """Sorted ``host:port`` of the servers in *texts*, each once.

    :raises Unclear: a server is empty or cannot be read.
    """
    found = set()
    for text in texts:
        if not text.strip():
            raise Unclear('a server of the list is empty')
        found.add(_address(text, default_port))
    return ','.join(sorted(found))


def _path(*pieces):
    """An absolute path of the non-empty segments of *pieces*."""
    segments = [s for piece in pieces for s in piece.split('/') if s]
    return '/' + '/'.join(segments)


def _query(**values):
    return urllib.parse.urlencode(sorted(values.items()))


def zookeeper(parts):
    """``zookeeper://<servers>/<chroot>/<namespace>``.

    kazoo joins the URL's server and the ``hosts`` options with commas
    and takes what follows the first ``/`` as the chroot.

    :raises Unclear: a server cannot be read, a chroot is followed by
        another server, or ``namespace`` is given twice.
    """
    options = _options(parts.query)
    hosts = [parts.netloc] + options.get('hosts', [])
    joined = ','.join(h for h in hosts if h) or 'localhost:%d' % (
        ZOOKEEPER_PORT)
    servers, _, chroot = joined.partition('/')
    if ',' in chroot:
        raise Unclear('a chroot ("/path") may only follow the last server '
                      'of the URL and its hosts options')
    namespace = _one(options, 'namespace', 'tooz')
    return 'zookeeper://%s%s' % (
        _servers(servers.split(','), ZOOKEEPER_PORT),
        _path(chroot, namespace))


def redis(parts):
    """The server, Sentinels or socket, ``db`` and ``namespace``.

    ``redis://<server>``, ``redis+sentinel://<sentinels>`` (with the
    Sentinel ``service``) or ``redis+unix://<this host><socket path>``.

    :raises Unclear: a server cannot be read, ``db`` is no number, or
        ``db``, ``namespace`` or ``sentinel`` is given twice.
    """
    options = _options(parts.query)
    db = _one(options, 'db', '0')
    try:
        db = int(db)
    except ValueError:
        raise Unclear('option db is %r, not a number' % db) from None
    place = {'db': db, 'namespace': _one(options, 'namespace', '_tooz')}
    service = _one(options, 'sentinel', None)
    if service is not None:
        place['service'] = service
        sentinels = [parts.netloc] + options.get('sentinel_fallback', [])
        return 'redis+sentinel://%s?%s' % (
            _servers(sentinels, SENTINEL_PORT), _query(**place))
    if parts.netloc:
        return 'redis://%s?%s' % (_servers([parts.netloc], REDIS_PORT),
                                  _query(**place))
    if not parts.path:
        raise Unclear('neither a server nor a socket path is given')
    return 'redis+unix://%s%s?%s' % (socket.gethostname(),
                                     os.path.realpath(parts.path),
                                     _query(**place))


def etcd(parts):
    """``etcd3://<server>``; the path and options do not move the locks.

    :raises Unclear: the server cannot be read.
    """
    return 'etcd3://%s' % _servers([parts.netloc or 'localhost'], ETCD_PORT)


def other(parts):
    """Any other driver: its servers and path, without credentials."""
    hosts = sorted(h.lower() for h in parts.netloc.split(','))
    return '%s://%s%s' % (parts.scheme, ','.join(hosts),
                          parts.path.rstrip('/'))


_BY_SCHEME = {'zookeeper': zookeeper, 'kazoo': zookeeper,
              'redis': redis, 'rediss': redis,
              'etcd3+http': etcd, 'etcd3+https': etcd}


def location(url, scrub):
    """The location of the locks of *url*, without secrets.

    Made of the servers' host names and ports (the credentials cut off
    as :func:`~cinder.coordination.urls.split_url` does, which a password
    holding an unencoded "/", "?" or "#" does not fool) and of options
    that are no secret.

    :param scrub: the backend's :meth:`~.base.Backend.scrub`, for the
        message of the error.
    :raises ConfigurationError: the place cannot be told, naming
        ``[coordination] backend_url`` (masked) and why.
    """
    try:
        _user, _password, parts = urls.split_url(url)
        # Without the credentials: the server list is what is left.
        parts = parts._replace(netloc=parts.netloc.rpartition('@')[2])
        found = _BY_SCHEME.get(parts.scheme, other)(parts)
    except ValueError as e:
        raise exceptions.ConfigurationError(
            '[coordination] backend_url %s: where its locks live cannot be '
            'told: %s' % (urls.mask_url(url), scrub(e))) from None
    return found
