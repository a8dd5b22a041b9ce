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
reason is logged and printed on stderr), 2 for bad command-line arguments
or a configuration file that is missing or cannot be parsed (one line on
stderr, no traceback).
The secrets of ``[coordination] backend_url`` are scrubbed from the log,
tracebacks and standard output and error.
"""

import signal
import sys

from oslo_config import cfg
from oslo_log import log as logging

from cinder.cmd import common
from cinder.common import config  # noqa: F401 (registers [DEFAULT])
from cinder import coordination
from cinder import exception
from cinder import messaging
from cinder import service
from cinder import version

CONF = cfg.CONF
LOG = logging.getLogger('cinder.cmd.volume')

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def block_stop_signals():
    """Hold SIGTERM and SIGINT pending in this thread and its children.

    Call it before any other thread starts: threads inherit the mask, so
    the signals then reach only :func:`wait_for_stop_signal`. No Python
    signal handler runs at all. A handler would run between two bytecodes
    of the main thread, possibly while that thread holds the very lock
    (of logging, or of a ``threading.Event``) the handler needs, and
    deadlock or lose the request; cinder-volume hung that way on SIGINT.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def wait_for_stop_signal():
    """Block until SIGTERM or SIGINT is pending; return which one."""
    return signal.sigwait(_STOP_SIGNALS)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with common.scrubbed_output():
        return _main(argv)


def _main(argv):
    logging.register_options(CONF)
    CONF.register_opts(coordination.coordination_opts, group='coordination')
    messaging.register_opts(CONF)
    error_status = common.load_config(CONF, argv, 'cinder-volume', 2,
                                      version=version.version_string())
    if error_status is not None:
        return error_status
    logging.setup(CONF, 'cinder')
    messaging.register_secrets(CONF.transport_url)
    common.protect_secrets(CONF.coordination.backend_url)

    # A signal that arrives while the service starts stays pending and
    # stops it as soon as it is up.
    block_stop_signals()
    volume_service = service.Service(CONF)
    error = None
    try:
        volume_service.start()
    except exception.ServiceStartError as e:
        error = e
    except Exception as e:
        LOG.exception('cinder-volume failed to start')
        volume_service.stop()
        error = e
    if error is not None:
        # Outside the except blocks: there oslo.log appends the error in
        # flight to the line, which then says everything twice.
        if isinstance(error, exception.ServiceStartError):
            LOG.error('cinder-volume cannot start: %s', error)
        print('cinder-volume: cannot start: %s' % error, file=sys.stderr)
        return 1
    signum = wait_for_stop_signal()
    LOG.info('Caught %s, stopping', signal.Signals(signum).name)
    volume_service.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
