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

"""Tests of the masking of secrets in the backend URL."""

from oslotest import base

from cinder import coordination
from cinder.coordination import backends


class MaskTestCase(base.BaseTestCase):

    def test_mask_url(self):
        cases = {
            'redis://:pw@h:6379': 'redis://:***@h:6379',
            'redis://user:pw@h:6379/0?db=1': 'redis://user:***@h:6379/0?db=1',
            'redis://h?password=pw&sentinel_password=s&a=b':
                'redis://h?password=***&sentinel_password=***&a=b',
            'zookeeper://h:2181': 'zookeeper://h:2181',
            'file:///var/lib/cinder': 'file:///var/lib/cinder',
            'etcd3+http://u:p%40ss@h:2379': 'etcd3+http://u:***@h:2379',
        }
        for url, masked in cases.items():
            self.assertEqual(masked, coordination.mask_url(url))

    def test_unparseable_url_masked_whole(self):
        self.assertEqual('***', coordination.mask_url('redis://[::1:pw@h'))

    def test_scrub_removes_raw_and_quoted_secrets(self):
        backend = backends.make_backend('redis://:p@ss@h:1', 1.0)
        self.assertEqual('auth *** failed ***',
                         backend.scrub('auth p@ss failed p%40ss'))
