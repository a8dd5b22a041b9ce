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

"""cinder-volume: run the volume service until SIGTERM or SIGINT.

Usage: ``cinder-volume --config-file /etc/cinder/cinder.conf``.

Exit status: 0 after a clean stop, 1 when the service cannot start (the
reason is logged and printed on stderr), 2 for bad command-line arguments.
"""

import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log as logging

from cinder.common import config  # noqa: F401 (registers [DEFAULT])
from cinder import exception
from cinder import service
from cinder import version

CONF = cfg.CONF
LOG = logging.getLogger('cinder.cmd.volume')

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    logging.register_options(CONF)
    CONF(argv, project='cinder', prog='cinder-volume',
         version=version.version_string())
    logging.setup(CONF, 'cinder')

    stop_requested = threading.Event()

    def on_signal(signum, frame):
        LOG.info('Caught %s, stopping', signal.Signals(signum).name)
        stop_requested.set()

    previous = {s: signal.signal(s, on_signal) for s in _STOP_SIGNALS}
    volume_service = service.Service(CONF)
    try:
        try:
            volume_service.start()
        except exception.ServiceStartError as e:
            LOG.error('cinder-volume cannot start: %s', e)
            print('cinder-volume: cannot start: %s' % e, file=sys.stderr)
            return 1
        while not stop_requested.wait(3600):
            pass
        volume_service.stop()
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == '__main__':
    sys.exit(main())
