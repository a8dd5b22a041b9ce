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

"""The heartbeat thread of lease backends and its backoff."""

import logging
import random
import threading

import tenacity

from cinder.coordination import exceptions

LOG = logging.getLogger('cinder.coordination')


class Backoff(tenacity.wait.wait_base):
    """Exponential backoff with jitter, for tenacity.

    Attempt *n* waits a random time between half and all of
    ``initial * 2 ** (n - 1)``, never less than *initial* nor more than
    *maximum*. *rng* is injectable for tests.
    """

    def __init__(self, initial, maximum, rng=None):
        if maximum < initial:
            raise exceptions.ConfigurationError(
                '[coordination] max_reconnect_backoff (%s) must not be '
                'smaller than initial_reconnect_backoff (%s)' % (
                    maximum, initial))
        self.initial = initial
        self.maximum = maximum
        self.rng = rng or random.Random()

    def delay(self, attempt):
        ceiling = min(self.maximum, self.initial * 2 ** (attempt - 1))
        low = min(max(self.initial, ceiling / 2.0), ceiling)
        return self.rng.uniform(low, ceiling)

    def __call__(self, retry_state):
        return self.delay(retry_state.attempt_number)


class Heartbeat(object):
    """A native thread that keeps leases alive and checks ownership.

    Each beat refreshes the leases of held locks (Tooz's driver heartbeat)
    and asks the backend whether each held lock is still ours and, where
    it can tell, what its lease has left; each lock whose renewal the
    backend confirmed is credited to the coordinator's fence (its
    self-fencing deadline counts from that renewal). A failed beat is
    retried with :class:`Backoff` until it succeeds or the coordinator
    stops; :meth:`stop` interrupts the wait at once. The beat does not
    declare locks lost for lack of renewals: the coordinator's
    :class:`~cinder.coordination.fence.Fence` does, on time even while a
    beat is stuck in a call.
    """

    def __init__(self, coordinator, interval, backoff):
        self._coordinator = coordinator
        self._interval = interval
        self._backoff = backoff
        self._stopped = threading.Event()
        self._thread = None
        self._failures = 0

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='cinder-coordination-heartbeat')
        self._thread.start()

    def stop(self, timeout=None):
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def _on_failure(self, retry_state):
        self._failures = retry_state.attempt_number
        LOG.warning('Heartbeat to the lock backend failed (attempt %d): %s; '
                    'reconnecting in %.2f s', retry_state.attempt_number,
                    retry_state.outcome.exception(),
                    retry_state.upcoming_sleep)

    def _run(self):
        retrying = tenacity.Retrying(
            wait=self._backoff,
            sleep=self._stopped.wait,
            stop=lambda retry_state: self._stopped.is_set(),
            retry=tenacity.retry_if_exception_type(
                exceptions.BackendUnavailable),
            before_sleep=self._on_failure,
            reraise=True)
        while not self._stopped.wait(self._interval):
            self._failures = 0
            try:
                retrying(self._beat_unless_stopped)
            except exceptions.BackendUnavailable:
                return  # stopped while retrying
            except Exception:
                LOG.exception('Unexpected error in the lock heartbeat')
                continue
            if self._failures:
                LOG.info('Heartbeat reached the lock backend again after '
                         '%d failed attempt(s)', self._failures)

    def _beat_unless_stopped(self):
        if not self._stopped.is_set():
            self._coordinator._beat()
