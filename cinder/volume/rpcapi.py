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

"""Send requests to a volume service, or to a cluster, over the bus.

A :class:`VolumeAPI` addresses ``host@backend`` (that service) or
``cluster@backend`` (one member, whichever takes it), as upstream's
``VolumeAPI`` does.

Every wait is bounded here, not only by oslo.messaging: while a broker is
cut off without a word (a partition), its ``call`` can block far past its
timeout. A call that ends without a reply raises
:class:`cinder.exception.RequestOutcomeUnknown`, naming the address and
the request: it may or may not have run, and it is not sent again (the
bus delivers at most once; sending again could run it twice). Messages go
out with ``retry=0``: a broker connection that fails while sending fails
the request instead of sending it later.
"""

import threading
import time

from oslo_config import cfg
import oslo_messaging
from oslo_messaging.rpc import dispatcher

from cinder import exception
from cinder import messaging

#: Seconds the client waits past the call's timeout before it gives up
#: on oslo.messaging, which may block past it (a silent broker).
REPLY_GRACE = 2.0

#: oslo.messaging's refusals of a request it did not run (the fake
#: driver raises them as they are, RabbitMQ's as a RemoteError).
_REFUSED = (dispatcher.NoSuchMethod, dispatcher.UnsupportedVersion)


class VolumeAPI(object):
    """Requests to the volume service or cluster at ``address``.

    :param transport: an oslo.messaging RPC transport
        (:func:`cinder.messaging.get_transport`).
    :param address: ``host@backend`` or ``cluster@backend``.
    :param timeout: seconds to wait for a reply; None takes
        ``[DEFAULT] rpc_response_timeout``.
    :raises InvalidInput: ``address`` has no backend.
    """

    def __init__(self, transport, address, timeout=None, clock=None):
        self.address = address
        if timeout is None:
            timeout = cfg.CONF.rpc_response_timeout
        self.timeout = timeout
        self._client = oslo_messaging.get_rpc_client(
            transport, messaging.target_for(address),
            serializer=messaging.RecordSerializer())
        self._clock = clock or time.monotonic

    def call(self, method, **args):
        """Run ``method`` there; record arguments are updated in place.

        :raises RemoteError: the service raised; ``exc_type`` names it.
        :raises RequestOutcomeUnknown: no reply within the bound.
        """
        summary = messaging.summarize(method, args)
        context = self._client.prepare(timeout=self.timeout, retry=0)
        outcome = {}
        done = threading.Event()

        def send():
            try:
                outcome['reply'] = context.call({}, method, **args)
            except Exception as e:
                outcome['error'] = e
            finally:
                done.set()

        started = self._clock()
        # A thread of its own: the call may block past any timeout, and
        # is then left behind (a daemon thread) with its reply unread.
        threading.Thread(target=send, daemon=True,
                         name='rpc-call-%s' % method).start()
        if not done.wait(self.timeout + REPLY_GRACE):
            raise exception.RequestOutcomeUnknown(
                self.address, summary, self._clock() - started,
                'the message bus did not answer')
        error = outcome.get('error')
        if isinstance(error, oslo_messaging.MessagingTimeout):
            raise exception.RequestOutcomeUnknown(
                self.address, summary, self._clock() - started,
                'timed out') from None
        if isinstance(error, oslo_messaging.RemoteError):
            # oslo.messaging's own refusal (no such method, a version
            # this side cannot send): the method did not run.
            raise messaging.RemoteError(error.exc_type, error.value) from None
        if isinstance(error, _REFUSED):
            raise messaging.RemoteError(type(error).__name__,
                                        str(error)) from None
        if isinstance(error, oslo_messaging.MessagingException):
            raise exception.RequestOutcomeUnknown(
                self.address, summary, self._clock() - started,
                type(error).__name__) from None
        if error is not None:
            raise error
        return messaging.open_reply(outcome['reply'], args)

    def cast(self, method, fanout=False, **args):
        """Send ``method`` there and return at once; no reply comes.

        :param fanout: to every service consuming from the address's
            topic (every member of a cluster), not to one of them.
        :raises RequestOutcomeUnknown: the message could not be handed to
            the broker (it may have reached it).
        """
        context = (self._client.prepare(retry=0, fanout=True) if fanout
                   else self._client.prepare(retry=0))
        try:
            context.cast({}, method, **args)
        except oslo_messaging.MessagingException as e:
            raise exception.RequestOutcomeUnknown(
                self.address, messaging.summarize(method, args), 0.0,
                type(e).__name__) from None
