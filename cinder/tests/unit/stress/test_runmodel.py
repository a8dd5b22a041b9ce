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

"""Unit tests of cinder.stress.runmodel: scope and an absent ledger."""

import fixtures
from oslotest import base

from cinder.stress import faults
from cinder.stress import runmodel


class RunModelTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def build(self, **kwargs):
        model = runmodel.build(1, 'redis://r:6379', ['a'], [0], 64, (), {},
                               [], **kwargs)
        model['states'] = {}
        return model

    def test_a_deployed_run_saves_its_share_scope_and_no_ledger(self):
        runmodel.save(self.dir, self.build(share='/mnt/nfs', ledger=None,
                                           scope='own'))
        model = runmodel.load(self.dir)
        self.assertEqual(('/mnt/nfs', None, 'own'), (
            model['share'], model['ledger'], model['scope']))

    def test_a_model_without_scope_judges_the_whole_share(self):
        model = self.build()
        self.assertEqual(('share', 'ledger.jsonl', 'all'), (
            model['share'], model['ledger'], model['scope']))
        del model['scope']
        runmodel.save(self.dir, model)
        self.assertEqual('all', runmodel.load(self.dir)['scope'])

    def test_a_bad_scope_or_a_missing_ledger_field_is_refused(self):
        runmodel.save(self.dir, self.build(scope='mine'))
        self.assertRaisesRegex(runmodel.ModelError, "scope 'mine' is not "
                               "one of all, own", runmodel.load, self.dir)
        model = self.build()
        del model['ledger']
        runmodel.save(self.dir, model)
        self.assertRaisesRegex(runmodel.ModelError, "field 'ledger' is "
                               "missing or not a str", runmodel.load,
                               self.dir)

    def test_a_fault_that_excuses_nothing_is_saved_so(self):
        kill = faults.Fault('kill', 'a')
        replay = faults.Fault('nfs-replay', None)
        replay.excuses = False
        model = runmodel.build(1, 'redis://r:6379', ['a'], [0], 64,
                               [kill, replay], {}, [])
        runmodel.save(self.dir, model)
        saved = runmodel.load(self.dir)['faults']
        self.assertEqual([('kill', True), ('nfs-replay', False)],
                         [(f['kind'], f['excuses']) for f in saved])
