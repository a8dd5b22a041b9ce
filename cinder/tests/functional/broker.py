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

"""One RabbitMQ broker per test process, for the services of the tests.

Started on first use (about 5 s), stopped when the process exits
(:mod:`cinder.stress.lockservers` stops what it started, by pid). Tests
give their services host names of their own: queues outlive a service,
and a request left in one must not reach another test's service.
"""

import threading
import uuid

from cinder.stress import lockservers

_broker = None
_lock = threading.Lock()


def url():
    """The transport URL of this process's broker, started if needed."""
    global _broker
    with _lock:
        if _broker is None:
            missing = lockservers.RabbitServer.missing()
            if missing:
                raise RuntimeError('cannot start RabbitMQ: missing %s (run '
                                   'tools/test-setup.sh)' % ', '.join(missing))
            broker = lockservers.RabbitServer()
            broker.start()
            _broker = broker
        return _broker.url


def unique(name):
    """``name`` made unique to this test: ``name-<8 hex>``."""
    return '%s-%s' % (name, uuid.uuid4().hex[:8])
