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

"""Tests of the process helpers of the test servers."""

import os
import signal
import subprocess
import sys
import time

from oslotest import base

from cinder.stress.lockservers import processes

WAIT = 10


class ThreadsStoppedTestCase(base.BaseTestCase):

    def test_a_process_with_threads_is_stopped_when_all_are(self):
        child = subprocess.Popen(
            [sys.executable, '-c',
             'import threading, time\n'
             'for _ in range(3):\n'
             '    threading.Thread(target=time.sleep, args=(60,),\n'
             '                     daemon=True).start()\n'
             'print("ready", flush=True)\n'
             'time.sleep(60)\n'], stdout=subprocess.PIPE, text=True)
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        self.assertEqual('ready\n', child.stdout.readline())
        self.assertEqual(4, len(os.listdir('/proc/%d/task' % child.pid)))
        self.assertFalse(processes.threads_stopped(child.pid))
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + WAIT
        while not processes.threads_stopped(child.pid):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGCONT)
        deadline = time.monotonic() + WAIT
        while processes.threads_stopped(child.pid):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)

    def test_a_process_that_is_gone_counts_as_stopped(self):
        child = subprocess.Popen([sys.executable, '-c', 'pass'])
        child.wait()
        self.assertTrue(processes.threads_stopped(child.pid))
