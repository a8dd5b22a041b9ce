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

"""Unit tests of cinder-volume's stop signal handling."""

import subprocess
import sys

from oslotest import base

_CHILD = """
import os, signal, threading
from cinder.cmd import volume
# As Python sets it up when it starts with SIGINT not ignored: a test run
# started in the background by a shell ("cmd &") ignores it.
signal.signal(signal.SIGINT, signal.default_int_handler)
volume.block_stop_signals()
# Sent before anybody waits, from another thread, as during a start:
# it must stay pending, reach no handler, and be returned by the wait.
threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT)).start()
print(signal.Signals(volume.wait_for_stop_signal()).name, flush=True)
"""


class StopSignalTestCase(base.BaseTestCase):

    def test_signal_before_the_wait_is_kept_and_returned(self):
        result = subprocess.run([sys.executable, '-c', _CHILD],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('SIGINT\n', result.stdout)

    def test_without_blocking_the_signal_would_kill(self):
        # The control: the same child without block_stop_signals() dies
        # of KeyboardInterrupt, so the test above shows the blocking.
        child = _CHILD.replace('volume.block_stop_signals()', 'pass')
        result = subprocess.run([sys.executable, '-c', child],
                                capture_output=True, text=True, timeout=30)
        self.assertNotEqual(0, result.returncode)
        self.assertIn('KeyboardInterrupt', result.stderr)
