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

"""Local flake8 (hacking) checks of this project.

C310: no host-local lock in the volume service. Under ``cinder/volume/``
every lock must be a :mod:`cinder.coordination` lock; an
``oslo_concurrency.lockutils`` lock, or any lock taken with
``external=True``, excludes only the processes of one host and lets two
services of an Active/Active cluster into the same critical section.
See doc/source/contributor/locking.rst.
"""

import os
import re

C310 = ('C310: host-local lock in the volume service; take it with '
        'cinder.coordination.synchronized() instead '
        '(doc/source/contributor/locking.rst)')

_LOCKUTILS_IMPORT = re.compile(
    r'^\s*(from\s+oslo_concurrency\s+import\s+.*\blockutils\b'
    r'|import\s+oslo_concurrency\.lockutils\b'
    r'|from\s+oslo_concurrency\.lockutils\s+import\b)')
_LOCKUTILS_USE = re.compile(r'\blockutils\.\w+')
_EXTERNAL_TRUE = re.compile(r'\bexternal\s*=\s*True\b')


def _in_volume_service(filename):
    path = os.path.normpath(filename).replace(os.sep, '/')
    return '/cinder/volume/' in '/' + path.lstrip('./')


def no_host_local_locks(logical_line, filename, noqa):
    """C310: no lockutils or external=True lock under cinder/volume/."""
    if noqa or not _in_volume_service(filename):
        return
    for pattern in (_LOCKUTILS_IMPORT, _LOCKUTILS_USE, _EXTERNAL_TRUE):
        match = pattern.search(logical_line)
        if match:
            yield match.start(), C310
            return
