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

"""What the lock layer needs to know about a Tooz driver family."""

import collections
import logging
import socket
import time
import urllib.parse

import tooz

from cinder.coordination.backends import locations
from cinder.coordination import bounded
from cinder.coordination import exceptions
from cinder.coordination import urls

LOG = logging.getLogger('cinder.coordination')

#: Why a backend could not be used, as error messages name it.
AUTH_FAILED = 'authentication failed'
REFUSED = 'connection refused'
UNRESOLVED = 'name not resolved'
TIMED_OUT = 'timed out'
#: reason -> (what the server did, what the operator should check).
REASONS = {
    AUTH_FAILED: ('rejected the credentials',
                  'the user name and password in [coordination] '
                  'backend_url against the users of the server'),
    REFUSED: ('refused the connection',
              'that the server runs and listens on the host and port of '
              '[coordination] backend_url'),
    UNRESOLVED: ('cannot be found',
                 'the host name in [coordination] backend_url and the DNS '
                 'of this host'),
    TIMED_OUT: ('did not answer',
                'that the server runs and is not paused or overloaded, and '
                'that no firewall drops the packets'),
}
_CLIENT_LIBRARIES = ('kazoo', 'redis', 'etcd3gw', 'requests', 'urllib3',
                     'pymemcache')


def chain(exc, limit=20):
    """*exc* and the exceptions it was raised from, each once."""
    seen = set()
    todo = [exc]
    while todo and len(seen) < limit:
        error = todo.pop(0)
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        todo += [error.__cause__, error.__context__,
                 getattr(error, 'reason', None), getattr(error, 'cause', None)]
        todo += [arg for arg in error.args[:1]
                 if isinstance(arg, BaseException)]


#: What :meth:`Backend.advance_tokens` did: where the tokens are counted
#: (words for a report), the value there before, and after.
Advanced = collections.namedtuple('Advanced', 'place before after')


def offset_value(data, where):
    """The token offset kept at *where*, from its raw *data*.

    :raises CoordinationError: *data* is no number >= 0.
    """
    try:
        value = int(data)
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        raise exceptions.CoordinationError(
            'the fencing token offset %s holds %r, not a number; it is '
            'never written but by cinder-manage coordination '
            'advance-tokens' % (where, bytes(data or b'')[:40]))
    return value


def seconds(value):
    """A number of seconds for a message: ``30``, ``2.5``, or ``some``."""
    return '%g' % value if value is not None else 'some'


class Backend(object):
    """A Tooz driver family and its semantics.

    Subclasses state whether locks exclude other hosts, whether they are
    leases that a heartbeat must refresh, how to check ownership and how
    to keep a dead server from hanging the caller.
    """

    schemes = ()
    #: Locks exclude services on other hosts.
    distributed = True
    #: Held locks are leases that the heartbeat must refresh.
    needs_heartbeat = True
    #: reason -> what to check, where it differs from :data:`REASONS`.
    hints = {}

    def __init__(self, url, timeout):
        self.url = url
        self.masked_url = urls.mask_url(url)
        self.timeout = timeout
        self.driver = None
        self._secrets = urls.secrets_of(url)
        #: The coordinator's monotonic clock (it sets it, for tests).
        self.clock = time.monotonic

    # URL and driver.
    def tooz_url(self):
        """The URL given to Tooz, with this module's defaults added."""
        return self.url

    def _with_query_defaults(self, **defaults):
        parts = urllib.parse.urlsplit(self.url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        present = {k for k, _ in query}
        query += [(k, str(v)) for k, v in defaults.items()
                  if k not in present]
        return urllib.parse.urlunsplit(
            parts._replace(query=urllib.parse.urlencode(query)))

    def location(self):
        """Where the locks live: one string per place, without secrets.

        Equal for two URLs whose locks Tooz keeps at the same place (see
        :mod:`.locations`): services of one location exclude each other
        and their fencing tokens compare; services of two locations do
        not exclude each other.

        :raises ConfigurationError: the URL does not tell the place
            (:func:`~cinder.coordination.backends.make_backend` asks
            once, before the coordinator starts).
        """
        return locations.location(self.url, self.scrub)

    def before_start(self, options):
        """Called with ``[coordination]`` once the driver is created."""

    def before_stop(self):
        """Called when the coordinator stops, before the driver does.

        Stops what :meth:`after_start` started; never raises.
        """

    def after_start(self, coordinator):
        """Called once the driver is started.

        :raises ConfigurationError: the library lacks an internal this
            backend reads (:mod:`cinder.coordination.internals`).
        """

    def probe_lock(self):
        """A tooz lock of the started driver, never acquired.

        For the checks of :mod:`cinder.coordination.internals`: making
        it asks nothing of the server.
        """
        return self.driver.get_lock(b'cinder-internals-probe')

    def lease(self):
        """Seconds a held lock lives without a heartbeat, or None."""
        return None

    def requested_lease(self):
        """The lease asked of the server, which may grant another.

        It does for ZooKeeper sessions; :meth:`lease` is what it granted.
        """
        return self.lease()

    def silence_before_doubt(self):
        """Seconds of the lease gone when a loss of contact is noticed.

        For the self-fencing deadline (:mod:`cinder.coordination.fence`):
        0 for a lease backend, whose heartbeat knows when each renewal
        was sent; None when the backend's locks are no leases.
        """
        return 0.0 if self.needs_heartbeat else None

    def renewals_reported(self):
        """Whether the coordinator is told of each renewal that succeeded.

        True: the self-fencing deadline of a lock counts from its acquire
        and from the last renewal (a lease backend's heartbeat, the
        ZooKeeper session watch). False: none applies.
        """
        return self.needs_heartbeat

    def margin_words(self, left):
        """Why ``fencing_margin`` must be below *left* seconds."""
        return 'the %s s lock lease of %s' % (seconds(left),
                                              self.masked_url)

    # Locks.
    def acquire(self, tooz_lock, blocking):
        return tooz_lock.acquire(blocking=blocking)

    def release(self, tooz_lock):
        return tooz_lock.release()

    def is_still_owner(self, tooz_lock):
        try:
            return tooz_lock.is_still_owner()
        except tooz.NotImplemented:
            return True

    def renewal_check(self, tooz_lock):
        """The heartbeat's check of *tooz_lock*, after the driver's renewals.

        :returns: ``(owner, left)``: *owner* as :meth:`is_still_owner`;
            *left* the seconds the lock's lease had left on the server
            when it answered, or None where the backend cannot read it.
            With None the lock is credited with the renewal of the whole
            beat, so the driver's heartbeat must raise when the renewal
            of any lock fails (Tooz's etcd driver does); a backend whose
            driver goes on (Tooz's Redis driver) reads *left* in the same
            round trip as the ownership check.
        :raises Exception: whatever the client raises (the caller converts
            it with :meth:`translate`).
        """
        return self.is_still_owner(tooz_lock), None

    def confirm_lease(self, tooz_lock):
        """Date the lease of *tooz_lock*, just acquired after a wait.

        Renews it (Tooz's lock heartbeat, which raises when the renewal
        fails) and checks it as :meth:`renewal_check` does. With *left*
        None, the lease runs in full from before this call.

        :returns: ``(owner, left)``, as :meth:`renewal_check`; owner is
            False when the driver did not renew the lock.
        :raises Exception: whatever the client raises.
        """
        if not tooz_lock.heartbeat():
            return False, None
        return self.renewal_check(tooz_lock)

    # Fencing tokens.
    #: :meth:`fencing_token` gives tokens (the backends this module is
    #: tested with).
    fencing_tokens = False

    def fencing_token(self, tooz_lock):
        """The fencing token of this grant of *tooz_lock*, if still ours.

        Asked at most once per grant, while the lock is held
        (:meth:`cinder.coordination.Lock.token` keeps the answer). The
        ownership check and the reading (or making) of the token are one
        atomic step, in one round trip: a token is only ever given to the
        holder of the grant it belongs to. The token of a later grant of
        the same name is greater, whichever member gets it; each backend
        states what makes it so and when it would not be.

        :returns: a positive int, or None if the lock is no longer ours.
        :raises Exception: whatever the client raises (the caller converts
            it with :meth:`translate`).
        """
        raise NotImplementedError('%s gives no fencing tokens' %
                                  type(self).__name__)

    def tokens_went_back_causes(self):
        """What makes this backend's tokens go back, for error messages."""
        return ('the lock backend lost its data, or was rebuilt or '
                'restored from an older backup')

    def advance_tokens(self, past):
        """Make every fencing token given from now on greater than *past*.

        Only ever raises the backend's count (a counter, or an offset
        added to what the server numbers): tokens given before stay as
        they were, and stay lower than later ones. For ``cinder-manage
        coordination advance-tokens``; services may run meanwhile.

        :returns: an :class:`Advanced`.
        :raises CoordinationError: the backend gives no fencing tokens.
        :raises Exception: whatever the client raises (the caller
            converts it with :meth:`translate`).
        """
        raise exceptions.CoordinationError(
            'lock backend %s gives no fencing tokens' % self.masked_url)

    def forget(self, tooz_lock):
        """Stop renewing *tooz_lock*, whose release failed.

        :returns: whether :meth:`release_orphan` can try the release
            again; False when only the end of the lease frees the lock.
        """
        return True

    def release_orphan(self, tooz_lock):
        """Try again the release of *tooz_lock*, which failed.

        :raises Exception: the backend still does not answer.
        """
        self.release(tooz_lock)

    # What released locks leave behind, for cinder-manage util clean_locks.
    #: What one leftover of a lock is called in reports, or None when the
    #: backend leaves nothing that lasts.
    leftover_kind = None

    def leftovers_place(self):
        """Where the leftovers are, for reports; None if there are none."""
        return None

    def nothing_to_clean(self):
        """Why this backend leaves nothing to remove: one sentence."""
        return ('cinder-manage knows of nothing that the locks of this '
                'backend leave behind')

    def list_lock_names(self, prefix):
        """Sorted names, starting with *prefix*, of locks that left some."""
        return []

    def has_leftover(self, name):
        """Whether the lock called *name* (prefix included) left some."""
        return False

    def remove_locks(self, pattern):
        """Delete leftovers of locks matching *pattern*; returns a count.

        The leftovers of a lock that is held or waited for are kept.
        """
        return 0

    # Errors.
    def scrub(self, text):
        """*text* without any secret of the backend URL, in any form."""
        return urls.scrub(text, self._secrets)

    def unavailable(self, what, cause=None, reason=TIMED_OUT):
        """A :class:`BackendUnavailable` naming the *reason* it failed.

        :param cause: the detail: an exception's ``<type>: <message>`` or
            the time waited; it is scrubbed.
        :param reason: one of :data:`REASONS`, or None when the failure
            is of no known kind. The default is for callers that waited
            for an answer in vain.
        """
        detail = ': %s' % self.scrub(cause) if cause is not None else ''
        if reason is None:
            error = exceptions.BackendUnavailable(
                '%s failed: the lock backend %s ([coordination] backend_url) '
                'did not answer%s' % (what, self.masked_url, detail))
        else:
            if reason == TIMED_OUT and 'backend_timeout' not in detail:
                detail += ' (after %s s, [coordination] backend_timeout)' % (
                    self.timeout)
            phrase, check = REASONS[reason]
            error = exceptions.BackendUnavailable(
                '%s failed: the lock backend %s ([coordination] backend_url) '
                '%s (%s)%s. Check %s.' % (
                    what, self.masked_url, phrase, reason,
                    detail.rstrip('.'), self.hints.get(reason, check)))
        error.reason = reason
        return error

    def describe(self, exc):
        """``<type>: <message>`` of *exc* (not scrubbed yet).

        Of the first exception of its chain that has a message, if *exc*
        has none (etcd3gw's ConnectionFailedError).
        """
        for error in chain(exc):
            if str(error):
                return '%s: %s' % (type(error).__name__, error)
        return type(exc).__name__

    def classify(self, exc):
        """The reason (one of :data:`REASONS`) *exc* stands for, or None.

        Looks at *exc* and at what it was raised from (causes, contexts,
        and the ``reason`` or first argument of wrappers such as
        urllib3's), asking :meth:`classify_one` about each.
        """
        for error in chain(exc):
            reason = self.classify_one(error)
            if reason is not None:
                return reason
        return None

    def classify_one(self, error):
        """The reason of one exception of the chain, or None.

        Overridden by the backends that know their client's errors.
        """
        if isinstance(error, ConnectionRefusedError):
            return REFUSED
        if isinstance(error, socket.gaierror):
            return UNRESOLVED
        if isinstance(error, TimeoutError):
            return TIMED_OUT
        return None

    # Start.
    def probe(self):
        """Ask the server once whether it takes this client; or nothing.

        Raises what the client library raises. Backends whose library
        retries a refused connection or a rejected password for as long
        as the start is allowed (Redis, ZooKeeper) override it, so that
        a server that answered "no" fails the start at once.
        """

    def preflight(self):
        """Run :meth:`probe`, bounded by ``backend_timeout``.

        Called before the driver starts.

        :raises BackendUnavailable: the server refused or could not be
            reached; the message names the reason (authentication
            failed, connection refused, name not resolved, timed out),
            ``[coordination] backend_url`` and what to check.
        """
        what = 'Starting the coordinator'
        try:
            bounded.run_bounded(what, self, self.probe)
        except Exception as e:
            raise self.translate(what, e) from None

    def translate(self, what, exc):
        """Convert any exception of a driver or client into ours.

        Failures to reach the server become :class:`BackendUnavailable`,
        anything else a :class:`CoordinationError` naming the original
        type; the message is scrubbed of the URL's secrets either way.
        Raise the result ``from None``: the original, which may quote
        the URL, must not ride along as the context.
        """
        if isinstance(exc, exceptions.CoordinationError):
            return exc
        detail = self.describe(exc)
        reason = self.classify(exc)
        name = type(exc).__module__.split('.')[0]
        if (reason is not None or
                isinstance(exc, (tooz.ToozError, OSError, TimeoutError)) or
                name in _CLIENT_LIBRARIES):
            return self.unavailable(what, detail, reason)
        return exceptions.CoordinationError(
            '%s failed: unexpected error with the lock backend %s '
            '([coordination] backend_url): %s' % (
                what, self.masked_url, self.scrub(detail)))


class OtherBackend(Backend):
    """Any other Tooz driver (memcached, mysql, ...): taken as it is."""

    def after_start(self, coordinator):
        self.needs_heartbeat = bool(self.driver.requires_beating)
        LOG.warning('Lock backend %s is not one this service is tested '
                    'with; lock loss may go undetected. ZooKeeper, Redis '
                    'and etcd are.', self.masked_url)

    def lease(self):
        return getattr(self.driver, 'lock_timeout', None)
