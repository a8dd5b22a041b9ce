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

"""Where ``cinder-aa-stress`` and ``cinder-volume-demo`` take a backend URL.

A lock backend URL usually carries a password, and the arguments of a
process are visible to every user of the host (``ps``, ``/proc/<pid>/
cmdline``). So besides ``--backend-url URL`` the tools read it from a file
(``--backend-url-file PATH``, the first line; keep the file 0600) or from
the environment (:data:`ENV`, read only when no other lock backend option
is given), and warn when a password was given on the command line.
"""

import os
import sys
import urllib.parse

#: The environment variable the URL is read from.
ENV = 'CINDER_BACKEND_URL'
#: The environment variable ``--transport-url`` is read from.
TRANSPORT_ENV = 'CINDER_TRANSPORT_URL'


def add_arguments(group, default):
    """Add ``--backend-url`` and ``--backend-url-file`` to *group*.

    *group* is a parser or a mutually exclusive group of one; *default*
    says what is used without either, for the help.
    """
    group.add_argument(
        '--backend-url', metavar='URL',
        help='[coordination] backend_url of the services (default: $%s, '
             'or %s). A password in it is visible to other users in ps: '
             'prefer --backend-url-file or $%s' % (ENV, default, ENV))
    group.add_argument(
        '--backend-url-file', metavar='PATH',
        help='read the backend URL from the first line of this file')


def resolve(args, parser, others=()):
    """The backend URL of *args*, or None; sets ``args.backend_url``.

    :param others: names of other lock backend arguments of *args*; when
        one is set, the environment is not read.
    :raises SystemExit: (through ``parser.error``) the file cannot be
        read or holds no URL; the message names ``--backend-url-file``.
    """
    url = args.backend_url
    if args.backend_url_file:
        try:
            with open(args.backend_url_file) as f:
                url = f.readline().strip()
        except OSError as e:
            parser.error('--backend-url-file %s cannot be read: %s' % (
                args.backend_url_file, e.strerror))
        if not url:
            parser.error('--backend-url-file %s holds no URL on its first '
                         'line' % args.backend_url_file)
    elif url:
        if _has_password(url):
            sys.stderr.write(
                '%s: WARNING: the password of --backend-url is visible to '
                'other users of this host (ps); use --backend-url-file or '
                '$%s\n' % (parser.prog, ENV))
    elif not any(getattr(args, name, None) for name in others):
        url = os.environ.get(ENV) or None
    args.backend_url = url
    return url


def _has_password(url):
    try:
        parts = urllib.parse.urlsplit(url)
        return bool(parts.password) or 'password' in parts.query.lower()
    except ValueError:
        return True


def add_transport_argument(parser):
    """Add ``--transport-url``: the services' message bus."""
    parser.add_argument(
        '--transport-url', metavar='URL',
        help='[DEFAULT] transport_url of the services: requests go over '
             'this RabbitMQ broker (default: $%s, or a private broker '
             'started on 127.0.0.1 and stopped afterwards). A password in '
             'it is visible to other users in ps: prefer $%s' % (
                 TRANSPORT_ENV, TRANSPORT_ENV))


def resolve_transport(args, parser):
    """The transport URL of *args* or the environment, or None."""
    url = args.transport_url
    if url:
        if _has_password(url):
            sys.stderr.write(
                '%s: WARNING: the password of --transport-url is visible to '
                'other users of this host (ps); use $%s\n' % (
                    parser.prog, TRANSPORT_ENV))
    else:
        url = os.environ.get(TRANSPORT_ENV) or None
    args.transport_url = url
    return url
