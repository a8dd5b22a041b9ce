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

"""``etcd3+http://``: keys bound to leases."""

import base64
import json
import urllib.parse

from cinder.coordination.backends import base
from cinder.coordination import exceptions
from cinder.coordination import internals

#: etcd's messages for a client that did not (or could not) log in.
_AUTH_ERRORS = ('user name is empty', 'authentication failed',
                'invalid auth token', 'permission denied')
#: The key of the offset added to every fencing token, after the
#: coordinator's prefix (Tooz keeps its locks under ``/tooz/locks``).
OFFSET_NAME = 'fencing-token-offset'
#: Tries at raising an offset that other runs keep changing.
ADVANCE_ATTEMPTS = 10


def _b64(data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    return base64.b64encode(data).decode('ascii')


class Etcd3Backend(base.Backend):
    """``etcd3+http://``: put-if-absent keys bound to leases.

    Tooz's etcd lock has no ownership check, so one is made here with a
    read-only transaction comparing the key's value with the lock's token.

    The heartbeat credits each lock that check confirms with the renewal
    of the whole beat (``renewal_check`` is the base one): Tooz's etcd
    heartbeat refreshes the lease of each lock and lets an error of any
    refresh fail the heartbeat, so a beat that succeeded refreshed every
    lock it knew. A refresh that finds the lease gone raises nothing, but
    the key went with its lease, and the check finds it gone.
    """

    schemes = ('etcd3+http', 'etcd3+https')
    hints = {base.AUTH_FAILED: "that authentication is disabled on the etcd "
                               "cluster: Tooz's etcd driver cannot log in"}

    def tooz_url(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)
        if 'timeout' in query:
            return self.url
        # tooz uses 'timeout' both as the HTTP timeout and as the default
        # lease; only the first is ours to choose.
        return self._with_query_defaults(timeout=int(max(1, self.timeout)),
                                         lock_timeout=30)

    def __init__(self, url, timeout):
        super().__init__(url, timeout)
        #: The key of the token offset, once started.
        self.offset_key = None

    def after_start(self, coordinator):
        internals.check_etcd(self.driver, self.probe_lock())
        self.offset_key = coordinator.prefix + OFFSET_NAME

    def lease(self):
        return getattr(self.driver, 'lock_timeout', None)

    def is_still_owner(self, tooz_lock):
        if not tooz_lock.acquired:
            return False
        return self._if_owner(tooz_lock, [])

    def _if_owner(self, tooz_lock, success):
        """Run *success* in a transaction if the key holds our token."""
        key, token = internals.etcd_key_and_token(tooz_lock)
        result = self.driver.client.transaction({
            'compare': [{'key': key, 'result': 'EQUAL',
                         'target': 'VALUE', 'value': token}],
            'success': success, 'failure': []})
        return bool(result.get('succeeded', False))

    fencing_tokens = True

    def fencing_token(self, tooz_lock):
        """The create revision of the lock's key plus the token offset.

        One read-only transaction: if the key holds this lock's token, it
        reads the key and the offset key (:data:`OFFSET_NAME`; absent, the
        offset is 0). Each grant creates the key anew (tooz puts it only
        if absent), and etcd gives each change of its store the next
        revision of a single counter of the cluster, kept on disk with the
        data and never reused, compactions included: a later grant of any
        name has a greater create revision. It would not be greater if the
        cluster were rebuilt from nothing (a new data directory) or
        restored from a backup older than tokens already handed out: then
        ``cinder-manage coordination advance-tokens`` raises the offset,
        which a revision cannot be. The offset only grows, and the
        transaction reads it at the same revision as the key.

        :raises CoordinationError: the offset key holds no number.
        """
        if not tooz_lock.acquired:
            return None
        key, token = internals.etcd_key_and_token(tooz_lock)
        result = self.driver.client.transaction({
            'compare': [{'key': key, 'result': 'EQUAL',
                         'target': 'VALUE', 'value': token}],
            'success': [{'request_range': {'key': key}},
                        {'request_range': {'key': _b64(self.offset_key)}}],
            'failure': []})
        if not result.get('succeeded', False):
            return None
        responses = result['responses']
        kvs = responses[0]['response_range']['kvs']
        return int(kvs[0]['create_revision']) + self._offset(
            responses[1]['response_range'].get('kvs'))[0]

    def _offset(self, kvs):
        """(offset, mod revision) of a read of the offset key; (0, 0)."""
        if not kvs:
            return 0, 0
        return (base.offset_value(base64.b64decode(kvs[0]['value']),
                                  self.offset_key),
                int(kvs[0]['mod_revision']))

    def tokens_went_back_causes(self):
        return ('the etcd cluster was rebuilt from an empty data '
                'directory, or restored from an older backup')

    def advance_tokens(self, past):
        """Raise the token offset to *past*, if it is lower.

        A transaction that puts it only if the key was not changed since
        it was read (or is still absent), tried again otherwise: the
        offset never goes down. Every later token, a create revision (at
        least 1) plus the offset, is greater than *past*.

        :raises CoordinationError: other runs kept changing the key.
        """
        client, key = self.driver.client, _b64(self.offset_key)
        place = 'offset key %s' % self.offset_key
        for _ in range(ADVANCE_ATTEMPTS):
            read = client.transaction({
                'compare': [], 'success': [{'request_range': {'key': key}}],
                'failure': []})
            before, revision = self._offset(
                read['responses'][0]['response_range'].get('kvs'))
            if before >= past:
                return base.Advanced(place, before, before)
            compare = ({'key': key, 'result': 'EQUAL', 'target': 'MOD',
                        'mod_revision': revision} if revision else
                       {'key': key, 'result': 'EQUAL', 'target': 'CREATE',
                        'create_revision': 0})
            result = client.transaction({
                'compare': [compare],
                'success': [{'request_put': {'key': key,
                                             'value': _b64(b'%d' % past)}}],
                'failure': []})
            if result.get('succeeded', False):
                return base.Advanced(place, before, past)
        raise exceptions.CoordinationError(
            'Advancing the fencing tokens at %s failed: the key changed at '
            'each of %d tries' % (self.offset_key, ADVANCE_ATTEMPTS))

    def forget(self, tooz_lock):
        # Tooz keeps a lock whose release failed among the locks its
        # heartbeat renews: the lease would be renewed until this service
        # restarts, and every other service would wait that long.
        internals.etcd_renewed_locks(self.driver).discard(tooz_lock)
        return True

    def release_orphan(self, tooz_lock):
        # Tooz's release no longer knows the lock: delete the key, if it
        # is still ours, as its release does.
        key, _token = internals.etcd_key_and_token(tooz_lock)
        self._if_owner(tooz_lock, [{'request_delete_range': {'key': key}}])

    def nothing_to_clean(self):
        # Measured on etcd 3.4: a release deletes the key but leaves its
        # lease; a waiter makes one lease per try (every second); a
        # killed holder's key goes with its lease.
        return ('a release deletes the lock\'s key; its lease, the lease '
                'of each try of a waiter and the key of a holder that died '
                'expire by themselves within %s s (lock_timeout), the '
                'lease of each stopped service within %s s '
                '(membership_timeout)' % (
                    base.seconds(self.lease()),
                    base.seconds(getattr(self.driver, 'membership_timeout',
                                         None))))

    def probe(self):
        """Read one key, as every lock will.

        Tooz's etcd driver has no way to log in, and its start only asks
        the server's version, which needs none: a server with
        authentication enabled would start and then fail every lock. A
        driver other than Tooz's own is not probed.
        """
        from tooz.drivers import etcd3gw as tooz_etcd3gw
        if not isinstance(self.driver, tooz_etcd3gw.Etcd3Driver):
            return
        self.driver.client.get('cinder-coordination-probe')

    def describe(self, exc):
        # etcd3gw keeps etcd's own message apart, as JSON.
        for error in base.chain(exc):
            text = getattr(error, 'detail_text', None)
            if text:
                try:
                    text = json.loads(text)['message']
                except (ValueError, TypeError, KeyError):
                    pass
                return '%s: %s' % (type(error).__name__, text)
        return super().describe(exc)

    def classify_one(self, error):
        from etcd3gw import exceptions as etcd3gw_exceptions
        if isinstance(error, etcd3gw_exceptions.ConnectionTimeoutError):
            return base.TIMED_OUT
        if isinstance(error, etcd3gw_exceptions.Etcd3Exception) and any(
                word in str(error.detail_text) for word in _AUTH_ERRORS):
            return base.AUTH_FAILED
        return super().classify_one(error)
