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

    def test_log_lines_and_tracebacks_are_scrubbed(self):
        stream = io.StringIO()
        handler = self.oslo_handler(stream)
        logger = logging.getLogger('cinder.test_common')
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        self.useFixture(fixtures.MockPatchObject(logger, 'propagate', False))
        common.install_scrubbing()
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
