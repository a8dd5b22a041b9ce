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

"""Tests of the options and the errors' classes."""

from oslotest import base
import tooz

from cinder import coordination
from cinder import opts


class OptsTestCase(base.BaseTestCase):

    def test_list_opts_exports_coordination_options(self):
        groups = dict(opts.list_opts())
        names = {o.name: o for o in groups['coordination']}
        self.assertEqual({'backend_url', 'heartbeat', 'fencing_margin',
                          'initial_reconnect_backoff', 'max_reconnect_backoff',
                          'backend_timeout', 'hooks', 'ledger_file',
                          'step_hold_dir'},
                         set(names))
        self.assertEqual('file://$state_path', names['backend_url'].default)
        self.assertTrue(names['backend_url'].secret)
        self.assertEqual(1.0, names['heartbeat'].default)
        self.assertEqual(0.1, names['initial_reconnect_backoff'].default)
        self.assertEqual(60.0, names['max_reconnect_backoff'].default)
        self.assertIn('state_path', {o.name for o in groups['DEFAULT']})
        for opt in names.values():
            self.assertGreater(len(opt.help), 80)

    def test_tooz_errors_stay_catchable_as_tooz_errors(self):
        for cls in (coordination.BackendUnavailable, coordination.LockLost,
                    coordination.LockAcquireFailed):
            self.assertTrue(issubclass(cls, tooz.ToozError))
