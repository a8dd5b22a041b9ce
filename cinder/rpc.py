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

"""Requests to a volume service over a local Unix socket.

Upstream Cinder hands requests to ``cinder-volume`` over a message bus.
This tree has none: a service listens on ``[DEFAULT] request_socket``, and
whoever plays the scheduler (the test suites, ``cinder-volume-demo``, the
stress tool) connects to it. The protocol is deliberately small:

* one request per connection: a JSON line
  ``{"method": "create_volume", "args": {...}}``;
* one reply line: ``{"result": ..., "updated": {...}}`` or
  ``{"error": {"type": "VolumeNotFound", "message": "..."}}``.

Volume, Snapshot and Attachment records travel as tagged dicts. The reply
carries every record argument as the manager left it (``updated``), so
that :meth:`Client.call` can update the caller's copies in place: the
caller owns the records, the service changes them.

The socket is created with mode 0600: only the service's own user may
send requests. Error replies carry the exception's class name and its
message with the process's secrets (:func:`cinder.coordination.urls.register`)
replaced by ``***``.
"""

import json
import os
import socket
import socketserver
import threading
import time
import traceback

from oslo_log import log as logging

from cinder.common import request_pool
from cinder.coordination import urls
from cinder import exception
from cinder import objects

LOG = logging.getLogger(__name__)

_TAG = '__cinder_object__'
_TYPES = {'Volume': objects.Volume, 'Snapshot': objects.Snapshot,
          'Attachment': objects.Attachment}
_MAX_LINE = 16 * 1024 * 1024
#: Seconds a stopping server gives a refused client to send its request
#: and take the error reply.
_REFUSE_TIMEOUT = 1.0

#: How many requests one service runs at once: the size of its pool of
#: request threads. Most of a request's time is spent waiting (for a
#: lock, for ``qemu-img``, for the array), not on a CPU, so the pool is
#: larger than the host's core count; a request that arrives while all
#: are busy waits for one. When requests arrive over oslo.messaging
#: instead, its ``executor_thread_pool_size`` option takes this role.
REQUEST_WORKERS = 16


class RemoteError(exception.CinderException):
    """The service raised an exception; ``exc_type`` is its class name."""

    def __init__(self, exc_type, message):
        super(RemoteError, self).__init__('%s: %s' % (exc_type, message))
        self.exc_type = exc_type
        self.remote_message = message


def serialize(value):
    """Turn records (also inside lists and dicts) into tagged dicts."""
    for name, cls in _TYPES.items():
        if isinstance(value, cls):
            return {_TAG: name, 'data': value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [serialize(v) for v in value]
    if isinstance(value, dict):
        return {k: serialize(v) for k, v in value.items()}
    return value


def deserialize(value):
    """The inverse of :func:`serialize`."""
    if isinstance(value, dict):
        if _TAG in value:
            try:
                cls = _TYPES[value[_TAG]]
            except KeyError:
                raise exception.InvalidInput(
                    'unknown record type %r' % value[_TAG]) from None
            return cls.from_dict(value['data'])
        return {k: deserialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deserialize(v) for v in value]
    return value


def _is_record(value):
    return isinstance(value, tuple(_TYPES.values()))


def _summary(line):
    """``method(name=id, ...)`` of a request line, for logs; no values."""
    try:
        request = json.loads(line)
        ids = ['%s=%s' % (name, value['data'].get('id'))
               for name, value in sorted((request.get('args') or {}).items())
               if isinstance(value, dict) and _TAG in value]
        return '%s(%s)' % (request['method'], ', '.join(ids))
    except Exception:
        return 'an unreadable request'


class Server(object):
    """Serve ``methods`` of ``endpoint`` on the Unix socket ``path``.

    Requests run on a :class:`cinder.common.request_pool.RequestPool` of
    ``workers`` native threads, so that requests for different volumes
    run in parallel, as on a message bus with several RPC workers, and a
    burst of connections cannot start a thread each. A connection that
    arrives while every thread is busy is accepted and queued, never
    dropped; :meth:`stop` counts it as in flight.

    :param workers: the pool's size, :data:`REQUEST_WORKERS` by default.
    :raises ValueError: ``workers`` is not a positive integer.
    """

    def __init__(self, path, endpoint, methods, workers=REQUEST_WORKERS):
        self.path = path
        self._endpoint = endpoint
        self._methods = frozenset(methods)
        self._server = None
        self._thread = None
        self._pool = request_pool.RequestPool(workers, self._serve,
                                              self._refuse)

    def start(self):
        """Bind the socket (mode 0600) and serve on the pool.

        :raises ConfigurationError: the socket cannot be bound; the
            message names ``[DEFAULT] request_socket``.
        """
        try:
            self._server = self._bind()
        except OSError as e:
            raise exception.ConfigurationError(
                '[DEFAULT] request_socket = %s cannot be bound: %s' %
                (self.path, e)) from None
        self._pool.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name='request-server',
            kwargs={'poll_interval': 0.2}, daemon=True)
        self._thread.start()
        LOG.info('Accepting volume requests on %s (%d request threads)',
                 self.path, self._pool.size)

    def _bind(self):
        directory = os.path.dirname(self.path) or '.'
        os.makedirs(directory, exist_ok=True)
        if _is_listening(self.path):
            raise OSError('another service is listening on it')
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            # _serve() passes the pool's Request where socketserver
            # passes the client's address (empty for a Unix socket).
            def handle(self):
                outer._handle(self.rfile, self.wfile, self.client_address)

        class UnixServer(socketserver.UnixStreamServer):
            def process_request(self, request, client_address):
                # In flight from now on, so stop() cannot miss a request
                # that was accepted but has not run yet.
                outer._pool.submit((self, request))

        # No umask change: it is process-wide. The socket is created with
        # the process umask, which leaves others no write bit (no connect)
        # under any usual umask, and is narrowed at once.
        server = UnixServer(self.path, Handler)
        os.chmod(self.path, 0o600)
        return server

    def requests(self):
        """The :class:`~cinder.common.request_pool.Request` in flight."""
        return self._pool.requests()

    def wait(self, timeout=None):
        """Wait up to ``timeout`` s for no request in flight; True if so."""
        return self._pool.wait(timeout)

    def stop(self, timeout=None):
        """Stop accepting, then wait up to ``timeout`` s for the requests.

        Requests in flight, queued ones included, may finish within the
        bound. When it passes, the queued ones are refused with a
        ``ServiceStopping`` error (nothing was done for them), and those
        still running are left to the caller (:meth:`requests`,
        :meth:`wait`).

        :returns: True when no request is left in flight.
        """
        server = self._server
        if server is None:
            return True
        self._server = None
        server.shutdown()
        server.server_close()
        self._thread.join()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        in_flight = self._pool.requests()
        if in_flight:
            LOG.info('Waiting up to %s s for %d volume request(s) in '
                     'flight (%d queued)', timeout, len(in_flight),
                     sum(1 for r in in_flight if r.started is None))
        done, refused = self._pool.drain(timeout)
        if not done:
            now = time.monotonic()
            running = [r.describe(now) for r in self._pool.requests()]
            LOG.warning('%d volume request(s) still running after %s s: '
                        '%s; %d queued request(s) refused', len(running),
                        timeout, ', '.join(running) or 'none', refused)
        return done

    def _serve(self, request):
        server, connection = request.item
        try:
            server.finish_request(connection, request)
        finally:
            server.shutdown_request(connection)

    def _refuse(self, request):
        """Answer a request that will not run with a ServiceStopping error."""
        server, connection = request.item
        try:
            connection.settimeout(_REFUSE_TIMEOUT)
            # Read it first: closing a Unix socket with unread data resets
            # the connection, and the client would not see the reply.
            with connection.makefile('rb') as rfile:
                request.summary = _summary(rfile.readline(_MAX_LINE))
            reply = _error('ServiceStopping', (
                'the service stopped before the request started, after it '
                'had waited %.1f s for a free request thread; nothing was '
                'done, send it again' % (time.monotonic() -
                                         request.accepted)))
            connection.sendall(json.dumps(reply).encode('utf-8') + b'\n')
        except OSError as e:
            LOG.warning('Cannot refuse %s: %s', request.describe(), e)
        finally:
            server.shutdown_request(connection)

    def _handle(self, rfile, wfile, request):
        try:
            line = rfile.readline(_MAX_LINE)
            request.summary = _summary(line)
            reply = self._dispatch(line)
            wfile.write(json.dumps(reply).encode('utf-8') + b'\n')
        except (BrokenPipeError, ConnectionResetError):
            LOG.warning('A client went away before its reply was sent')

    def _dispatch(self, line):
        try:
            request = json.loads(line)
            method = request['method']
            args = deserialize(request.get('args') or {})
        except (ValueError, KeyError, TypeError) as e:
            return _error('InvalidInput', 'malformed request: %s' % e)
        if method not in self._methods:
            return _error('InvalidInput', 'unknown method %r' % (method,))
        error = None
        try:
            result = getattr(self._endpoint, method)(**args)
        except Exception as e:
            error = e
        if error is not None:
            # Logged outside the except block, so that oslo.log does not
            # add the unscrubbed error in flight to the line.
            if not isinstance(error, exception.CinderException):
                LOG.error('Request %s failed:\n%s', method, urls.scrub(
                    ''.join(traceback.format_exception(error)).rstrip()))
            return _error(type(error).__name__, str(error))
        updated = {k: serialize(v) for k, v in args.items()
                   if _is_record(v)}
        return {'result': serialize(result), 'updated': updated}


def _is_listening(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
        return True


def _error(exc_type, message):
    """An error reply; its message is scrubbed of the process's secrets."""
    return {'error': {'type': exc_type, 'message': urls.scrub(message)}}


class Client(object):
    """Send requests to the service listening on ``path``.

    :param timeout: seconds to wait for a reply; None waits for as long as
        the operation takes (volume copies can take minutes).
    """

    def __init__(self, path, timeout=None):
        self.path = path
        self.timeout = timeout

    def call(self, method, **args):
        """Run ``method`` on the service; update record arguments in place.

        :raises RemoteError: the service raised; ``exc_type`` names it.
        :raises OSError: the service cannot be reached.
        """
        request = {'method': method, 'args': serialize(args)}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
            sock.sendall(json.dumps(request).encode('utf-8') + b'\n')
            with sock.makefile('rb') as reader:
                line = reader.readline(_MAX_LINE)
        if not line:
            raise RemoteError('ConnectionClosed',
                              'the service closed the connection without '
                              'a reply (did it stop?)')
        reply = json.loads(line)
        if 'error' in reply:
            raise RemoteError(reply['error']['type'],
                              urls.scrub(reply['error']['message']))
        for name, data in reply.get('updated', {}).items():
            original = args.get(name)
            if _is_record(original):
                original.__dict__.update(deserialize(data).__dict__)
        return deserialize(reply.get('result'))
