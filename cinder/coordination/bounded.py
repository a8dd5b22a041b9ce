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

"""Calls to the backend that a dead server must not be able to hang."""

import logging
import threading
import time

LOG = logging.getLogger('cinder.coordination')


def run_bounded(what, backend, call, undo=None, expired=None,
                reason=None):
    """Run *call* in a helper thread so a dead backend cannot hang us.

    The caller gives up with BackendUnavailable once *expired()* is true
    (by default: after ``backend_timeout`` seconds); the call goes on in
    its daemon thread and, if it then succeeds, *undo* runs.
    """
    outcome = {}
    done = threading.Event()
    abandoned = threading.Event()

    def run():
        try:
            outcome['value'] = call()
            outcome['ok'] = True
        except Exception as e:
            outcome['error'] = e
        done.set()
        if abandoned.is_set() and outcome.get('value') and undo is not None:
            quietly(undo)

    if expired is None:
        deadline = time.monotonic() + backend.timeout

        def expired():
            return time.monotonic() >= deadline
        reason = 'no answer within %s s ([coordination] backend_timeout)' % (
            backend.timeout)
    threading.Thread(target=run, daemon=True,
                     name='cinder-coordination-call').start()
    poll = min(0.5, backend.timeout / 4.0)
    while not done.wait(poll):
        if expired():
            abandoned.set()
            if not done.is_set():
                raise backend.unavailable(what, reason)
            break
    if 'error' in outcome:
        raise outcome['error']
    return outcome.get('value')


def quietly(fn):
    try:
        fn()
    except Exception:
        LOG.debug('Ignored error from %s', fn, exc_info=True)
