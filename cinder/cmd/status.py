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

"""cinder-status: readiness checks in the oslo.upgradecheck format.

Usage: ``cinder-status [--config-file FILE] upgrade check [--json]``.

Run it on each volume service host, with that host's configuration,
before starting services of this release. Exit status (the
oslo.upgradecheck convention): 0 when every check succeeded, 1 when one
warns, 2 when one failed, 255 when a check itself crashed or none could
run (a configuration file missing or malformed). The secrets
of ``[coordination] backend_url`` never appear in the output. The log
goes to standard error (``--log-file`` to change it, ``--debug`` for
every library's lines), never to the service's ``log_file``.
"""

import os
import sys
import urllib.parse

from oslo_concurrency import opts as concurrency_opts
from oslo_config import cfg
from oslo_upgradecheck import upgradecheck

from cinder.cmd import common
from cinder.common import config
from cinder import coordination
from cinder import exception
from cinder import lock_check
from cinder.volume import driver as driver_mod

CONF = cfg.CONF


def _result(code, details):
    return upgradecheck.Result(code, details)


class Checks(upgradecheck.UpgradeCommands):
    """The checks ``cinder-status upgrade check`` runs."""

    def __init__(self, conf=None):
        self.conf = conf if conf is not None else CONF
        register_opts(self.conf)

    def _check_lock_backend(self):
        report = lock_check.check_backend(self.conf)
        code = {lock_check.OK: upgradecheck.Code.SUCCESS,
                lock_check.WARNING: upgradecheck.Code.WARNING,
                lock_check.FAILURE: upgradecheck.Code.FAILURE}[report.level]
        return _result(code, report.summary())

    def _check_driver_in_cluster(self):
        conf = self.conf
        if not conf.cluster:
            return _result(upgradecheck.Code.SUCCESS,
                           '[DEFAULT] cluster is not set: the service runs '
                           'alone')
        try:
            driver_class = driver_mod.driver_class(conf.volume_driver)
        except exception.ConfigurationError as e:
            return _result(upgradecheck.Code.FAILURE, str(e))
        if not getattr(driver_class, 'SUPPORTS_ACTIVE_ACTIVE', False):
            return _result(
                upgradecheck.Code.FAILURE,
                '[DEFAULT] cluster = %s is set, but volume driver %s does '
                'not support Active/Active: cinder-volume will refuse to '
                'start. Unset cluster or use a driver that supports it.' %
                (conf.cluster, conf.volume_driver))
        return _result(upgradecheck.Code.SUCCESS,
                       'volume driver %s supports Active/Active' %
                       conf.volume_driver)

    def _check_lock_directory(self):
        conf = self.conf
        lock_path = conf.oslo_concurrency.lock_path
        if not lock_path:
            return _result(upgradecheck.Code.SUCCESS,
                           '[oslo_concurrency] lock_path is not set')
        url = conf.coordination.backend_url
        masked = coordination.mask_url(url)
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:
            parts = None
        if parts is not None and parts.scheme == 'file':
            if os.path.realpath(parts.path) == os.path.realpath(lock_path):
                return _result(upgradecheck.Code.SUCCESS,
                               'services of the previous release lock in '
                               'the same directory, %s' % lock_path)
            return _result(
                upgradecheck.Code.WARNING,
                '[oslo_concurrency] lock_path = %s, where services of the '
                'previous release keep their locks, is not the directory '
                'of [coordination] backend_url = %s: while services of '
                'both releases run on this host they do not exclude each '
                'other. Stop the old services before starting new ones, '
                'or set backend_url = file://%s for the upgrade.' % (
                    lock_path, masked, lock_path))
        return _result(
            upgradecheck.Code.WARNING,
            '[oslo_concurrency] lock_path = %s is set: services of the '
            'previous release lock there, on their own host only, while '
            'this release locks on %s. Stop every old service of a '
            'backend before starting a new one; do not run both releases '
            'at once.' % (lock_path, masked))

    _upgrade_checks = (
        ('Lock backend', _check_lock_backend),
        ('Volume driver in a cluster', _check_driver_in_cluster),
        ('Lock directory during upgrade', _check_lock_directory),
    )


def register_opts(conf):
    """Register every option the checks read on *conf*."""
    conf.register_opts(config.global_opts)
    conf.register_opts(config.volume_service_opts)
    conf.register_opts(coordination.coordination_opts, group='coordination')
    for group, opts in concurrency_opts.list_opts():
        conf.register_opts(opts, group=group)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with common.scrubbed_output():
        return _main(argv)


def _main(argv):
    checks = Checks()
    upgradecheck.register_cli_options(CONF, checks)
    CONF.register_cli_opts(common.tool_logging_opts)
    # 255, oslo.upgradecheck's status for "the checks could not run":
    # 0, 1 and 2 would report checks that never ran.
    error_status = common.load_config(CONF, argv, 'cinder-status', 255)
    if error_status is not None:
        return error_status
    try:
        common.setup_tool_logging(CONF, 'cinder-status')
    except cfg.Error as e:
        print('cinder-status: %s' % e, file=sys.stderr)
        return 255
    common.protect_secrets(CONF.coordination.backend_url)
    upgradecheck.CONF = CONF  # where check() reads --json, as main() sets
    return upgradecheck.run(CONF)


if __name__ == '__main__':
    sys.exit(main())
