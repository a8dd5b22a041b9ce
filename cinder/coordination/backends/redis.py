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

"""``redis://``: leases refreshed by the heartbeat."""

from cinder.coordination.backends import base
from cinder.coordination import internals


class RedisBackend(base.Backend):
    """``redis://``: SET NX PX leases refreshed by the heartbeat.

    redis-py retries a refused connection with backoff and tooz retries
    that 15 times (about a minute in all), so the client is given socket
    timeouts from ``backend_timeout`` and a single try of its own.
    """

    schemes = ('redis', 'rediss')

    def tooz_url(self):
        return self._with_query_defaults(
            socket_timeout=self.timeout, socket_connect_timeout=self.timeout)

    def after_start(self, coordinator):
        from redis import backoff
        from redis import retry
        internals.check_redis(self.driver)
        internals.redis_client(self.driver).set_retry(
            retry.Retry(backoff.NoBackoff(), 0))

    def lease(self):
        return getattr(self.driver, 'lock_timeout', None)

    def forget(self, tooz_lock):
        # Tooz's release stops tracking the lock even when the server did
        # not answer (so the heartbeat no longer renews it), but redis-py
        # dropped the lock's token first: the release cannot be tried
        # again, the lease runs out instead.
        return False

    def nothing_to_clean(self):
        # Measured on Redis 7: after a release and a stop no key is left;
        # a killed holder leaves its lock key and its member key, both
        # with an expiry.
        return ('a release deletes the lock\'s key; the lock key of a '
                'holder that died expires %s s after its last heartbeat '
                '(lock_timeout) and its member key after %s s '
                '(membership_timeout)' % (
                    base.seconds(self.lease()),
                    base.seconds(getattr(self.driver, 'membership_timeout',
                                         None))))
