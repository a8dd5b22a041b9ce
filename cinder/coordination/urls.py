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

"""Secrets in the backend URL: masking for messages, scrubbing of texts.

:func:`mask_url` shows a URL without its secrets. :func:`secrets_of`
lists every form in which a secret of a URL can reach a text: as written,
percent-decoded, quoted again, and as the drivers put it on the wire.
:func:`register` remembers them for the life of the process, so that
:func:`scrub` can clean texts whose origin is unknown (log lines,
tracebacks, replies to clients); the commands register their
configuration's URLs at start.
"""

import base64
import hashlib
import re
import threading
import urllib.parse

_SECRET_QUERY_KEYS = ('password', 'passwd', 'secret', 'token', 'key')
MASK = '***'
_MIN_PIECE = 3

_lock = threading.Lock()
#: Secrets of the URLs given to :func:`register`, longest first.
_registered = ()


def mask_url(url):
    """Return *url* with its password and secret query values masked.

    ``redis://:pw@host?sentinel_password=x`` becomes
    ``redis://:***@host?sentinel_password=***``. A password with an
    unencoded ``#``, ``/`` or ``?`` is masked up to the last ``@``.
    Unparseable input is masked whole rather than risked.
    """
    try:
        user, password, parts = split_url(url)
        netloc = parts.netloc
        if password is not None:
            netloc = '%s:%s@%s' % (user or '', MASK,
                                   parts.netloc.rpartition('@')[2])
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        masked_query = '&'.join(
            '%s=%s' % (k, MASK if _is_secret_key(k) else v)
            for k, v in query)
        return urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path, masked_query,
             parts.fragment))
    except ValueError:
        return MASK


def split_url(url):
    """``(user, password as written or None, parts)`` of *url*.

    urllib ends the user-info at the first ``/``, ``?`` or ``#``; a
    password holding one of them unencoded then looks like a host with a
    bad port. Such a URL is cut at its last ``@`` instead, and *parts*
    are those of the URL without its user-info.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.password is not None:
        userinfo = parts.netloc.rpartition('@')[0]
        user, password = userinfo.split(':', 1)
        return user, password, parts
    if parts.scheme == 'file' or ':' not in parts.netloc or '@' not in url:
        return parts.username, None, parts
    try:
        parts.port
        return parts.username, None, parts
    except ValueError:
        pass
    userinfo, _, rest = url.split('://', 1)[1].rpartition('@')
    user, _, password = userinfo.partition(':')
    return user, password, urllib.parse.urlsplit(
        '%s://%s' % (parts.scheme, rest))


def _is_secret_key(key):
    key = key.lower()
    return any(word in key for word in _SECRET_QUERY_KEYS)


def secrets_of(url):
    """Every form of the secret fragments of *url*, longest first.

    The password and the values of secret query options, each as
    written, percent-decoded and quoted again (``quote`` and
    ``quote_plus``); the pieces (of 3 characters or more) of a password
    that an unencoded ``#``, ``/`` or ``?`` cuts, which a parser may show
    apart; with a user name, also the base64 of ``user:password`` (HTTP
    basic authentication) and of its SHA-1 (ZooKeeper's digest ACL id).
    Unparseable input is its own secret.
    """
    if not url:
        return []
    try:
        user, password, parts = split_url(url)
        written = [v for k, v in _raw_query(parts.query)
                   if _is_secret_key(k)]
    except ValueError:
        return [url]
    if password:
        written.append(password)
        # Pieces of a few characters would scrub every word; they tell
        # little of the password.
        written += [piece for piece in re.split('[#/?]', password)
                    if len(piece) >= _MIN_PIECE]
    found = set()
    for raw in filter(None, written):
        forms = {raw, urllib.parse.unquote(raw),
                 urllib.parse.unquote_plus(raw)}
        for form in list(forms):
            forms.update((urllib.parse.quote(form, safe=''),
                          urllib.parse.quote_plus(form, safe='')))
        found.update(forms)
    if user and password:
        for form in list(found):
            pair = ('%s:%s' % (user, form)).encode('utf-8')
            found.add(base64.b64encode(pair).decode('ascii'))
            digest = hashlib.sha1(pair, usedforsecurity=False).digest()
            found.add(base64.b64encode(digest).decode('ascii'))
    return sorted((s for s in found if s), key=len, reverse=True)


def _raw_query(query):
    """(key, value) pairs of *query*, the values as written."""
    for item in query.replace(';', '&').split('&'):
        key, sep, value = item.partition('=')
        if sep:
            yield urllib.parse.unquote_plus(key), value


def register(url):
    """Remember the secrets of *url* for :func:`scrub`; returns them.

    For the process's configuration (``[coordination] backend_url``, a
    ``--backend-url``): registered once, kept for the life of the
    process.
    """
    global _registered
    found = secrets_of(url) if isinstance(url, str) else []
    if found:
        with _lock:
            _registered = tuple(sorted(set(_registered).union(found),
                                       key=len, reverse=True))
    return found


def scrub(text, secrets=None):
    """*text* (made a string) with every secret replaced by ``***``.

    :param secrets: the secrets to remove, longest first; by default
        those given to :func:`register`.
    """
    text = str(text)
    for secret in (_registered if secrets is None else secrets):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
