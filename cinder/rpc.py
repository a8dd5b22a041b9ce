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
send requests.
"""

import json
import os
import socket
import socketserver
import threading

from oslo_log import log as logging

from cinder import exception
from cinder import objects

LOG = logging.getLogger(__name__)

_TAG = '__cinder_object__'
_TYPES = {'Volume': objects.Volume, 'Snapshot': objects.Snapshot,
          'Attachment': objects.Attachment}
_MAX_LINE = 16 * 1024 * 1024


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


class Server(object):
    """Serve ``methods`` of ``endpoint`` on the Unix socket ``path``.

    Each connection is handled in its own native thread, so requests for
    different volumes run in parallel, as they would on a message bus
    with several RPC workers. :meth:`stop` stops accepting, then waits up
    to ``timeout`` seconds for requests in flight.
    """

    def __init__(self, path, endpoint, methods):
        self.path = path
        self._endpoint = endpoint
        self._methods = frozenset(methods)
        self._server = None
        self._thread = None
        self._idle = threading.Condition()
        self._in_flight = 0

    def start(self):
        """Bind the socket (mode 0600) and serve in a native thread.

        :raises ConfigurationError: the socket cannot be bound; the
            message names ``[DEFAULT] request_socket``.
        """
        try:
            self._server = self._bind()
        except OSError as e:
            raise exception.ConfigurationError(
                '[DEFAULT] request_socket = %s cannot be bound: %s' %
                (self.path, e)) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name='request-server',
            kwargs={'poll_interval': 0.2}, daemon=True)
        self._thread.start()
        LOG.info('Accepting volume requests on %s', self.path)

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
            def handle(self):
                outer._handle(self.rfile, self.wfile)

        class UnixServer(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

            def process_request(self, request, client_address):
                # Counted before the thread starts, so stop() cannot miss
                # a request that was accepted but has not run yet.
                with outer._idle:
                    outer._in_flight += 1
                try:
                    super().process_request(request, client_address)
                except Exception:
                    outer._done()
                    raise

        # No umask change: it is process-wide. The socket is created with
        # the process umask, which leaves others no write bit (no connect)
        # under any usual umask, and is narrowed at once.
        server = UnixServer(self.path, Handler)
        os.chmod(self.path, 0o600)
        return server

    def stop(self, timeout=None):
        """Stop accepting; True when no request is left in flight."""
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
        with self._idle:
            if self._in_flight:
                LOG.info('Waiting up to %s s for %d volume request(s) in '
                         'flight', timeout, self._in_flight)
            done = self._idle.wait_for(lambda: self._in_flight == 0,
                                       timeout=timeout)
        if not done:
            LOG.warning('%d volume request(s) still running after %s s',
                        self._in_flight, timeout)
        return done

    def _done(self):
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def _handle(self, rfile, wfile):
        try:
            reply = self._dispatch(rfile.readline(_MAX_LINE))
            wfile.write(json.dumps(reply).encode('utf-8') + b'\n')
        except (BrokenPipeError, ConnectionResetError):
            LOG.warning('A client went away before its reply was sent')
        finally:
            self._done()

    def _dispatch(self, line):
        try:
            request = json.loads(line)
            method = request['method']
            args = deserialize(request.get('args') or {})
        except (ValueError, KeyError, TypeError) as e:
            return _error('InvalidInput', 'malformed request: %s' % e)
        if method not in self._methods:
            return _error('InvalidInput', 'unknown method %r' % (method,))
        try:
            result = getattr(self._endpoint, method)(**args)
        except Exception as e:
            if not isinstance(e, exception.CinderException):
                LOG.exception('Request %s failed', method)
            return _error(type(e).__name__, str(e))
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
    return {'error': {'type': exc_type, 'message': message}}


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
                              reply['error']['message'])
        for name, data in reply.get('updated', {}).items():
            original = args.get(name)
            if _is_record(original):
                original.__dict__.update(deserialize(data).__dict__)
        return deserialize(reply.get('result'))
