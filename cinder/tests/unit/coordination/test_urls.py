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

import base64
import hashlib

import fixtures
from oslotest import base

from cinder import coordination
from cinder.coordination import backends
from cinder.coordination import urls


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


class SecretsTestCase(base.BaseTestCase):
    """Every form in which a secret of the URL can show up is scrubbed."""

    def scrubbed(self, url, *texts):
        backend = backends.make_backend(url, 1.0)
        return [backend.scrub(text) for text in texts]

    def test_decoded_form_of_a_percent_encoded_password(self):
        # What the operator typed is p@ss; a driver or library that
        # decodes the URL has it in that form, one that quotes it again
        # in another.
        self.assertEqual(['auth *** / *** / *** failed'], self.scrubbed(
            'redis://:p%40ss@h:1', 'auth p@ss / p%40ss / p%2540ss failed'))

    def test_query_values_in_every_encoding(self):
        url = 'redis://h:1?sentinel_password=s%2Bx+y&password=a%20b'
        texts = ['s+x y', 's%2Bx+y', 's%2Bx%20y', 's+x+y', 'a b', 'a%20b',
                 'a+b']
        self.assertEqual(['***'] * len(texts), self.scrubbed(url, *texts))

    def test_what_drivers_put_on_the_wire(self):
        # HTTP basic auth (base64 of user:password) and ZooKeeper's
        # digest ACL id (base64 of the SHA-1 of user:password).
        basic = base64.b64encode(b'bob:p@ss').decode()
        digest = base64.b64encode(
            hashlib.sha1(b'bob:p@ss').digest()).decode()
        self.assertEqual(['Authorization: Basic ***', 'digest:bob:***'],
                         self.scrubbed('zookeeper://bob:p@ss@h:1',
                                       'Authorization: Basic ' + basic,
                                       'digest:bob:' + digest))

    def test_unencoded_delimiters_in_the_password(self):
        # '#', '/' and '?' end the user-info of a URL, so urllib takes
        # the password for a host and port; it must still be masked.
        for url in ('redis://:pas#sw@h:1', 'redis://:pas/sw@h:1',
                    'redis://:pas?sw@h:1'):
            self.assertEqual('redis://:***@h:1', coordination.mask_url(url))
            # Pieces too short to scrub (sw) say little.
            self.assertEqual(['x *** y', 'port *** host sw@h'],
                             self.scrubbed(url, 'x pas%ssw y' % url[12],
                                           'port pas host sw@h'))

    def test_query_after_an_unencoded_hash(self):
        # urllib takes all after the '#' for the fragment, query included.
        url = 'redis://:pa#ss@h:1?password=qs'
        self.assertEqual('redis://:***@h:1?password=***',
                         coordination.mask_url(url))
        self.assertEqual(['***'], self.scrubbed(url, 'qs'))

    def test_urls_without_user_info_are_left_alone(self):
        for url in ('redis://h:6379?sentinel=m@x', 'file:///var/a@b',
                    'redis://[::1]:6379'):
            self.assertEqual(url, coordination.mask_url(url))


class RegistryTestCase(base.BaseTestCase):
    """The process's secrets, for scrubbers that know no backend."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(urls, '_registered', ()))

    def test_registered_secrets_are_scrubbed_longest_first(self):
        self.assertEqual('pw p@ss', urls.scrub('pw p@ss'))
        urls.register('redis://:p%40ss@h:1')
        urls.register('etcd3+http://h:1?token=pw')
        self.assertEqual('*** *** ***', urls.scrub('pw p@ss p%2540ss'))

    def test_none_and_non_strings(self):
        urls.register(None)
        urls.register('')
        self.assertEqual('42', urls.scrub(42))
