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

"""The message bus between volume services and their clients.

Requests travel over oslo.messaging (RabbitMQ, ``[DEFAULT]
transport_url``) with upstream Cinder's topics and servers:

========================================  ==============  ================
topic                                     server          reaches
========================================  ==============  ================
``cinder-volume``                         ``host@be``     that service
``cinder-volume.host@be``                 ``host``        that service
``cinder-volume.cluster@be``              ``cluster``     one member
========================================  ==============  ================

``be`` is the backend name (``volume_backend_name``). Every member of a
cluster consumes from the cluster's queue: each request sent there
reaches exactly one of them.

Records travel as versioned dicts (``cinder_object.name``,
``cinder_object.version``, ``cinder_object.data``), never as pickles. A
reply is data too: ``{"result": ..., "updated": {...}}`` or ``{"error":
{"type": ..., "message": ...}}``, the message scrubbed of the service's
secrets, so that no traceback of the service crosses the bus.
"""

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import opts as messaging_opts

from cinder.coordination import urls
from cinder import exception
from cinder import objects

TOPIC = 'cinder-volume'
#: The exchange of cinder's topics, as upstream (oslo's default is
#: "openstack"); services and clients must agree on it.
CONTROL_EXCHANGE = 'cinder'
RPC_API_VERSION = '3.0'

NAME_KEY = 'cinder_object.name'
VERSION_KEY = 'cinder_object.version'
DATA_KEY = 'cinder_object.data'
#: name: (class, version) of every record that may travel.
RECORDS = {'Volume': (objects.Volume, '1.0'),
           'Snapshot': (objects.Snapshot, '1.0'),
           'Attachment': (objects.Attachment, '1.0')}


class RemoteError(exception.CinderException):
    """The service raised an exception; ``exc_type`` is its class name."""

    def __init__(self, exc_type, message):
        super(RemoteError, self).__init__('%s: %s' % (exc_type, message))
        self.exc_type = exc_type
        self.remote_message = message


def backend_address(name, backend):
    """``name@backend``: the address of a host's or a cluster's backend."""
    return '%s@%s' % (name, backend)


def server_targets(host, backend, cluster=None):
    """The targets a service consumes from, as upstream's service does."""
    host_address = backend_address(host, backend)
    targets = [
        oslo_messaging.Target(topic=TOPIC, server=host_address),
        oslo_messaging.Target(topic='%s.%s' % (TOPIC, host_address),
                              server=host),
    ]
    if cluster:
        targets.append(oslo_messaging.Target(
            topic='%s.%s' % (TOPIC, backend_address(cluster, backend)),
            server=cluster))
    return targets


def target_for(address):
    """The target a client sends to for ``host@backend`` or a cluster's."""
    name, sep, backend = address.partition('@')
    if not (name and sep and backend):
        raise exception.InvalidInput(
            'address %r is not <host or cluster>@<backend>' % (address,))
    return oslo_messaging.Target(topic='%s.%s' % (TOPIC, address),
                                 server=name, version=RPC_API_VERSION)


def register_secrets(url):
    """Register the password of every broker of ``url`` for scrubbing.

    A transport URL may name several brokers
    (``rabbit://u:p1@h1,u:p2@h2/``), each with its own password.
    """
    if not url:
        return
    scheme, _, rest = url.partition('://')
    netloc = rest.split('/', 1)[0]
    for part in netloc.split(','):
        userinfo, at, _ = part.rpartition('@')
        if not at:
            continue
        user, _, password = userinfo.partition(':')
        if password:
            urls.register('%s://%s:%s@broker/' % (scheme or 'rabbit', user,
                                                  password))


def display_url(url):
    """``url`` with every broker's password masked."""
    register_secrets(url)
    return urls.scrub(url)


def register_opts(conf=None):
    """Register oslo.messaging's ``[DEFAULT]`` options on ``conf``.

    ``transport_url``, ``rpc_response_timeout``,
    ``executor_thread_pool_size`` and the others (those of
    :func:`oslo_messaging.opts.list_opts`), with cinder's exchange as
    ``control_exchange``'s default, so that they can be read before
    oslo.messaging registers them itself.
    """
    conf = cfg.CONF if conf is None else conf
    oslo_messaging.set_transport_defaults(CONTROL_EXCHANGE)
    for group, opts in messaging_opts.list_opts():
        if group is None:
            conf.register_opts(opts)


def get_transport(conf=None, url=None):
    """An RPC transport for ``url`` (``[DEFAULT] transport_url``).

    oslo.messaging registers its options on ``conf`` (it must be the
    global ``cfg.CONF``: its tracing options exist only there).

    :raises ConfigurationError: no URL, or one oslo.messaging cannot
        use; the message names ``[DEFAULT] transport_url`` and masks the
        passwords.
    """
    conf = cfg.CONF if conf is None else conf
    register_opts(conf)
    if url is None:
        url = conf.transport_url
    if not url:
        raise exception.ConfigurationError(
            '[DEFAULT] transport_url is not set: the volume service takes '
            'its requests from a message bus, e.g. '
            'rabbit://user:password@broker:5672/')
    register_secrets(url)
    try:
        return oslo_messaging.get_rpc_transport(conf, url=url)
    except (oslo_messaging.InvalidTransportURL,
            oslo_messaging.DriverLoadFailure, ValueError) as e:
        raise exception.ConfigurationError(
            '[DEFAULT] transport_url = %s cannot be used: %s' % (
                urls.scrub(url), urls.scrub(e))) from None


def serialize(value):
    """Records (also inside lists and dicts) as versioned dicts."""
    for name, (cls, version) in RECORDS.items():
        if isinstance(value, cls):
            return {NAME_KEY: name, VERSION_KEY: version,
                    DATA_KEY: value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [serialize(v) for v in value]
    if isinstance(value, dict):
        return {k: serialize(v) for k, v in value.items()}
    return value


def deserialize(value):
    """The inverse of :func:`serialize`.

    :raises InvalidInput: an unknown record name or a major version this
        side does not read.
    """
    if isinstance(value, dict):
        if NAME_KEY in value:
            name = value[NAME_KEY]
            if name not in RECORDS:
                raise exception.InvalidInput('unknown record type %r' %
                                             (name,))
            cls, version = RECORDS[name]
            theirs = str(value.get(VERSION_KEY, ''))
            if theirs.split('.')[0] != version.split('.')[0]:
                raise exception.InvalidInput(
                    'record %s version %s cannot be read (this side reads '
                    '%s)' % (name, theirs, version))
            return cls.from_dict(value[DATA_KEY])
        return {k: deserialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deserialize(v) for v in value]
    return value


def is_record(value):
    return isinstance(value, tuple(cls for cls, _ in RECORDS.values()))


class RecordSerializer(oslo_messaging.NoOpSerializer):
    """Records in arguments and replies as versioned dicts."""

    def serialize_entity(self, ctxt, entity):
        return serialize(entity)

    def deserialize_entity(self, ctxt, entity):
        return deserialize(entity)


def summarize(method, args):
    """``method(name=id, ...)`` for logs: record ids, no other values."""
    ids = ['%s=%s' % (name, getattr(value, 'id', None))
           for name, value in sorted(args.items()) if is_record(value)]
    return '%s(%s)' % (method, ', '.join(ids))


def result_reply(result, args):
    """A success reply: the result and every record argument as left."""
    return {'result': result,
            'updated': {k: v for k, v in args.items() if is_record(v)}}


def error_reply(exc_type, message):
    """An error reply; its message is scrubbed of the process's secrets."""
    return {'error': {'type': exc_type, 'message': urls.scrub(message)}}


def open_reply(reply, args):
    """The result of ``reply``; record arguments updated in place.

    :raises RemoteError: ``reply`` is an error reply, or not a reply.
    """
    if not isinstance(reply, dict):
        raise RemoteError('InvalidReply', 'not a reply: %s' % (
            type(reply).__name__,))
    if 'error' in reply:
        error = reply['error']
        raise RemoteError(error.get('type', 'Error'),
                          urls.scrub(error.get('message', '')))
    for name, record in (reply.get('updated') or {}).items():
        original = args.get(name)
        if is_record(original) and type(record) is type(original):
            original.__dict__.update(record.__dict__)
    return reply.get('result')
