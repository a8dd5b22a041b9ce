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

"""Unit tests of what every command does with its output."""

import io
import logging
import os
import subprocess
import sys

import fixtures
from oslo_config import cfg
from oslo_log import formatters
from oslo_log import log as oslo_log
from oslotest import base

from cinder.cmd import common
from cinder.coordination import urls

URL = 'redis://bob:p%40ss@h:1?sentinel_password=qs%2Bsecret'
SECRETS = ('p@ss', 'p%40ss', 'qs+secret', 'qs%2Bsecret')


class ScrubbingTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(urls, '_registered', ()))
        urls.register(URL)

    def assertClean(self, text):
        for secret in SECRETS:
            self.assertNotIn(secret, text)

    def oslo_handler(self, stream):
        conf = cfg.ConfigOpts()
        oslo_log.register_options(conf)
        conf([])
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatters.ContextFormatter(
            project='cinder', version='1', config=conf))
        return handler

    def scrubbed_logger(self, name):
        """A logger writing through oslo.log's formatter, scrubbed."""
        stream = io.StringIO()
        handler = self.oslo_handler(stream)
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        self.useFixture(fixtures.MockPatchObject(logger, 'propagate', False))
        common.install_scrubbing()
        return stream, handler, logger

    def test_log_lines_and_tracebacks_are_scrubbed(self):
        stream, handler, logger = self.scrubbed_logger('cinder.test_common')
        self.assertIsInstance(handler.formatter, common.ScrubbingFormatter)
        try:
            try:
                raise ValueError('driver saw p@ss')
            except ValueError:
                raise RuntimeError('wrapped qs+secret')
        except RuntimeError:
            # The message, its argument, the chained traceback, and the
            # error summary oslo.log appends.
            logger.error('failed with %s', 'p%40ss')
            logger.exception('again qs%2Bsecret')
        text = stream.getvalue()
        self.assertIn('failed with ***', text)
        self.assertIn('ValueError: driver saw ***', text)
        self.assertIn('RuntimeError: wrapped ***', text)
        self.assertClean(text)

    def test_an_error_summary_that_repeats_the_message_is_dropped(self):
        stream, handler, logger = self.scrubbed_logger(
            'cinder.test_common.summary')
        try:
            raise OSError(2, 'No such file')
        except OSError as e:
            logger.warning('cannot remove: %s', e)
            logger.warning('cannot remove')
        lines = stream.getvalue().splitlines()
        self.assertTrue(lines[0].endswith(
            'cannot remove: [Errno 2] No such file'), lines[0])
        # Without it in the message, oslo.log's addition tells the cause.
        self.assertTrue(lines[1].endswith(
            'cannot remove: FileNotFoundError: [Errno 2] No such file'),
            lines[1])

    def test_installing_twice_wraps_once(self):
        handler = logging.StreamHandler(io.StringIO())
        logger = logging.getLogger('cinder.test_common.twice')
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        common.install_scrubbing()
        common.install_scrubbing()
        self.assertNotIsInstance(handler.formatter.inner,
                                 common.ScrubbingFormatter)

    def test_scrubbed_output(self):
        out = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        with common.scrubbed_output():
            print('url has p@ss')
        print('after: p@ss')
        self.assertEqual('url has ***\nafter: p@ss\n', out.getvalue())

    def test_uncaught_exceptions_are_scrubbed(self):
        child = ('import threading\n'
                 'from cinder.cmd import common\n'
                 'common.protect_secrets(%r)\n'
                 't = threading.Thread(target=lambda: {}["qs+secret"])\n'
                 't.start(); t.join()\n'
                 'raise RuntimeError("p@ss")\n' % URL)
        result = subprocess.run([sys.executable, '-c', child],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(1, result.returncode)
        self.assertIn('Exception in thread', result.stderr)
        self.assertIn("KeyError: '***'", result.stderr)
        self.assertIn('RuntimeError: ***', result.stderr)
        self.assertClean(result.stderr)


class ToolLoggingTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        root = logging.getLogger()
        saved = list(root.handlers), root.level
        self.addCleanup(setattr, root, 'handlers', saved[0])
        self.addCleanup(root.setLevel, saved[1])
        self.dir = self.useFixture(fixtures.TempDir()).path

    def setup(self, *argv):
        conf = cfg.ConfigOpts()
        conf.register_cli_opts(common.tool_logging_opts)
        conf(list(argv))
        stream = io.StringIO()
        common.setup_tool_logging(conf, 'tool', stream=stream)
        return stream

    def log_some(self):
        logging.getLogger('cinder.x').info('an info line')
        logging.getLogger('kazoo.client').warning('Connection dropped')
        try:
            raise ValueError('the error in flight')
        except ValueError as e:
            logging.getLogger('cinder.x').warning('warned: %s', e)

    def test_own_warnings_once_on_stderr(self):
        stream = self.setup()
        self.log_some()
        self.assertEqual('tool: WARNING: warned: the error in flight\n',
                         stream.getvalue())

    def test_debug_shows_everything_with_the_logger(self):
        stream = self.setup('--debug')
        self.log_some()
        self.assertEqual('tool: INFO cinder.x: an info line\n'
                         'tool: WARNING kazoo.client: Connection dropped\n'
                         'tool: WARNING cinder.x: warned: the error in '
                         'flight\n', stream.getvalue())

    def test_log_file_named_on_the_command_line(self):
        path = os.path.join(self.dir, 'tool.log')
        stream = self.setup('--log-file', path)
        self.log_some()
        self.assertEqual('', stream.getvalue())
        with open(path) as f:
            self.assertIn('WARNING cinder.x: warned: the error in flight',
                          f.read())

    def test_log_file_that_cannot_be_opened(self):
        path = os.path.join(self.dir, 'no', 'such', 'dir.log')
        e = self.assertRaises(cfg.Error, self.setup, '--log-file', path)
        self.assertIn('--log-file %s cannot be opened' % path, str(e))

    def test_the_service_options_do_not_apply(self):
        config_file = os.path.join(self.dir, 'cinder.conf')
        with open(config_file, 'w') as f:
            f.write('[DEFAULT]\ndebug = true\nlog_file = %s/svc.log\n' %
                    self.dir)
        stream = self.setup('--config-file', config_file)
        self.log_some()
        self.assertEqual('tool: WARNING: warned: the error in flight\n',
                         stream.getvalue())
        self.assertFalse(os.path.exists(os.path.join(self.dir, 'svc.log')))


class LoadConfigTestCase(base.BaseTestCase):

    def test_unreadable_config_file_is_one_line_and_the_status(self):
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        status = common.load_config(cfg.ConfigOpts(),
                                    ['--config-file', '/no/such.conf'],
                                    'cinder-x', 42)
        self.assertEqual(42, status)
        self.assertEqual('cinder-x: Failed to find some config files: '
                         '/no/such.conf\n', stderr.getvalue())

    def test_good_command_line(self):
        conf = cfg.ConfigOpts()
        self.assertIsNone(common.load_config(conf, [], 'cinder-x', 42))
