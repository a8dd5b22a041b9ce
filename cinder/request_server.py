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

"""A volume service's RPC servers: requests from the bus to the manager.

One oslo.messaging RPC server per target
(:func:`cinder.messaging.server_targets`), all dispatching to one
:class:`Endpoint`, on oslo.messaging's threading executor
(``[DEFAULT] executor_thread_pool_size`` requests at once). Only the
manager's listed methods can be called (``ExplicitRPCAccessPolicy``).

Delivery is at most once: the broker forgets a message once a server has
taken it, before the method runs. A request taken by a service that dies
is lost, and its caller gets :class:`cinder.exception.RequestOutcomeUnknown`
(:mod:`cinder.volume.rpcapi`).
"""

import functools
import threading
import time
import traceback

from oslo_log import log as logging
import oslo_messaging
from oslo_messaging.rpc import dispatcher

from cinder.common import inflight
from cinder.coordination import urls
from cinder import exception
from cinder import messaging

LOG = logging.getLogger(__name__)


class Endpoint(object):
    """The methods of ``manager`` named in ``methods``, for the bus.

    Each runs the manager's method with the request's arguments and
    returns a reply (:func:`cinder.messaging.result_reply` or
    :func:`~cinder.messaging.error_reply`); it never raises, so that
    oslo.messaging sends no traceback. A request that reaches it once
    ``inflight`` is closed is refused: nothing is done, the reply says
    so.
    """

    target = oslo_messaging.Target(version=messaging.RPC_API_VERSION)

    def __init__(self, manager, methods, inflight_requests):
        self._manager = manager
        self._inflight = inflight_requests
        for name in methods:
            method = functools.partial(self._dispatch, name)
            method.exposed = True
            setattr(self, name, method)

    def _dispatch(self, method, ctxt, **args):
        summary = messaging.summarize(method, args)
        request = self._inflight.begin(summary)
        if request is None:
            LOG.warning('Refused %s: the service is stopping', summary)
            return messaging.error_reply(
                'ServiceStopping', 'the service stopped before %s began; '
                'nothing was done, send it again' % summary)
        error = None
        try:
            LOG.debug('Running %s', summary)
            result = getattr(self._manager, method)(**args)
        except Exception as e:
            error = e
        finally:
            self._inflight.end(request)
        if error is not None:
            # Logged outside the except block, so that oslo.log does not
            # add the unscrubbed error in flight to the line.
            if not isinstance(error, exception.CinderException):
                LOG.error('Request %s failed:\n%s', summary, urls.scrub(
                    ''.join(traceback.format_exception(error)).rstrip()))
            return messaging.error_reply(type(error).__name__, str(error))
        return messaging.result_reply(result, args)


class RequestServer(object):
    """Serve ``methods`` of ``manager`` on ``targets`` over ``transport``.

    :param transport: an oslo.messaging RPC transport; the caller owns it
        (and cleans it up after :meth:`stop`).
    :param targets: the :class:`oslo_messaging.Target` to consume from.
    :param extra_endpoints: endpoints of the service's own methods (not
        the manager's), with their methods marked ``exposed``; they are
        not counted in flight.
    """

    def __init__(self, transport, targets, manager, methods,
                 extra_endpoints=()):
        self.targets = list(targets)
        self._inflight = inflight.InFlight()
        self._endpoint = Endpoint(manager, methods, self._inflight)
        self._servers = [
            oslo_messaging.get_rpc_server(
                transport, target,
                [self._endpoint] + list(extra_endpoints),
                serializer=messaging.RecordSerializer(),
                access_policy=dispatcher.ExplicitRPCAccessPolicy)
            for target in self.targets]
        self._started = []

    def start(self):
        """Consume from every target.

        :raises ConfigurationError: the broker cannot be used; the
            message names ``[DEFAULT] transport_url`` (masked) and the
            cause.
        """
        try:
            for server in self._servers:
                server.start()
                self._started.append(server)
        except Exception as e:
            self._stop_started()
            raise exception.ConfigurationError(
                'cannot take requests from the message bus of [DEFAULT] '
                'transport_url: %s' % urls.scrub(e)) from None
        LOG.info('Taking volume requests from %s', ', '.join(
            '%s (server %s)' % (t.topic, t.server) for t in self.targets))

    def _stop_started(self):
        for server in self._started:
            try:
                server.stop()
            except Exception:
                LOG.exception('Cannot stop the RPC server of %s',
                              server.target)
        self._started = []

    def requests(self):
        """The :class:`~cinder.common.inflight.Request` running now."""
        return self._inflight.requests()

    def wait(self, timeout=None):
        """Wait up to ``timeout`` s for no request running; True if so."""
        return self._inflight.wait(timeout)

    def stop(self, timeout=None):
        """Stop consuming, then wait up to ``timeout`` s for the requests.

        Requests taken from the bus may begin and finish within the
        bound, those still waiting for an executor thread included. When
        it passes, those that have not begun are refused (an error reply
        ``ServiceStopping``: nothing was done), and those still running
        are left to the caller (:meth:`requests`, :meth:`wait`).

        :returns: True when every request taken has ended.
        """
        servers, self._started = self._started, []
        if not servers:
            return True
        for server in servers:
            server.stop()
        drained = threading.Event()

        def wait_for_executors():
            for server in servers:
                server.wait()
            drained.set()

        # oslo.messaging's wait() joins its executor: unbounded, so it
        # runs on a daemon thread of its own.
        threading.Thread(target=wait_for_executors, daemon=True,
                         name='request-server-drain').start()
        running = self._inflight.requests()
        if running:
            LOG.info('Waiting up to %s s for %d volume request(s) in '
                     'flight', timeout, len(running))
        done = drained.wait(timeout)
        if not done:
            self._inflight.close()
            now = time.monotonic()
            LOG.warning('%d volume request(s) still running after %s s: '
                        '%s; requests not begun are refused',
                        len(self._inflight.requests()), timeout,
                        ', '.join(r.describe(now) for r in
                                  self._inflight.requests()) or 'none')
        return done
