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

"""Secrets in the backend URL: masking for messages, scrubbing of texts."""

import urllib.parse

_SECRET_QUERY_KEYS = ('password', 'passwd', 'secret', 'token', 'key')


def mask_url(url):
    """Return *url* with its password and secret query values masked.

    ``redis://:pw@host?sentinel_password=x`` becomes
    ``redis://:***@host?sentinel_password=***``. Unparseable input is
    masked whole rather than risked.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostinfo = netloc.rpartition('@')
            user = userinfo.split(':', 1)[0]
            netloc = '%s:***@%s' % (user, hostinfo)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        masked_query = '&'.join(
            '%s=%s' % (k, '***' if _is_secret_key(k) else v)
            for k, v in query)
        return urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path, masked_query, parts.fragment))
    except ValueError:
        return '***'


def _is_secret_key(key):
    key = key.lower()
    return any(word in key for word in _SECRET_QUERY_KEYS)


def secrets_of(url):
    """The secret fragments of *url*, longest first."""
    try:
        parts = urllib.parse.urlsplit(url)
        found = [parts.password] if parts.password else []
        found += [v for k, v in urllib.parse.parse_qsl(parts.query)
                  if _is_secret_key(k) and v]
    except ValueError:
        return [url]
    # Quoted forms too: a driver may echo the URL as it was written.
    found += [urllib.parse.quote(s, safe='') for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)
