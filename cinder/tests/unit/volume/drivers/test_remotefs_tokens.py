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

"""The NFS driver when the lock backend's fencing tokens went back.

A backend that lost its counter gives tokens lower than those the info
files hold: every claim is refused although the lock is held. The driver
says so (``FencingTokensWentBack``, naming the command that fixes it)
instead of reporting a lost lock, and reads the highest token on its
shares for that command. The regression is played by a claim with a
larger token than the test's coordinator ever gave, of its own source.
"""

import logging
import os
from unittest import mock

import fixtures

from cinder import coordination
from cinder import objects
from cinder.tests.unit.volume.drivers import test_remotefs
from cinder.tests.unit.volume.drivers import test_remotefs_lock_loss
from cinder.volume import driver
from cinder.volume import fenced_record

HIGH = 10 ** 12
COMMAND = 'cinder-manage coordination advance-tokens'


class TokensWentBackTestCase(test_remotefs_lock_loss.ShareFilesTestCase):

    def setUp(self):
        super().setUp()
        self.errors = self.useFixture(fixtures.FakeLogger(
            name='cinder.coordination', level=logging.ERROR,
            format='%(levelname)s %(message)s'))
        self.volume = self.create_volume()
        self.source = self.coordinator.backend.location()
        self.path = self.driver.volume_info_path(self.volume)
        fenced_record.FencedRecord(self.path, source=self.source).claim(HIGH)

    def assertWentBack(self, operation):
        before = self.share_files()
        e = self.assertRaises(coordination.FencingTokensWentBack, operation)
        self.assertNotIsInstance(e, coordination.LockLost)
        self.assertShareUnchanged(before, self.share_files())
        return e

    def test_a_claim_refused_while_the_lock_is_held_names_the_cause(self):
        for operation in (
                lambda: self.driver.create_snapshot(
                    objects.Snapshot(volume=self.volume)),
                lambda: self.driver.extend_volume(self.volume, 2)):
            e = self.assertWentBack(operation)
            message = str(e)
            self.assertIn(self.path + ' holds fencing token %d' % HIGH,
                          message)
            self.assertIn('greater than token %d of lock cinder-remotefs-%s'
                          % (e.token, self.volume.id), message)
            self.assertLess(e.token, HIGH)
            self.assertIn(self.coordinator.backend.masked_url, message)
            self.assertIn('the fencing token counter %s was deleted' %
                          os.path.join(self.tmp, 'locks',
                                       '.cinder-fencing-tokens'), message)
            self.assertIn('"%s" is run once' % COMMAND, message)
        # Logged at ERROR once per refused request.
        self.assertEqual(2, self.errors.output.count(
            'ERROR Fencing tokens of lock backend'))

    def test_a_delete_refused_while_the_lock_is_held_deletes_nothing(self):
        e = self.assertWentBack(lambda: self.driver.delete_volume(
            self.volume))
        self.assertIn(COMMAND, str(e))
        self.assertEqual(self.volume.name, self.info(self.volume)['active'])

    def test_refused_after_the_lock_was_lost_is_still_fenced_off(self):
        # A newer holder took the lock: the refusal is its doing.
        with mock.patch.object(coordination.Lock, 'check',
                               side_effect=coordination.LockLost('lost')):
            for operation in (
                    lambda: self.driver.create_snapshot(
                        objects.Snapshot(volume=self.volume)),
                    lambda: self.driver.delete_volume(self.volume)):
                self.assertRaises(coordination.FencedOff, operation)
        self.assertEqual('', self.errors.output)

    def test_a_token_given_before_the_advance_is_refused_once(self):
        # The command runs between the grant's token and its claim.
        real = coordination.Lock.token

        def token(lock):
            given = real(lock)
            self.coordinator.advance_tokens(HIGH)
            return given
        with mock.patch.object(coordination.Lock, 'token', token):
            self.assertWentBack(lambda: self.driver.create_snapshot(
                objects.Snapshot(volume=self.volume)))
        snapshot = objects.Snapshot(volume=self.volume)
        self.driver.create_snapshot(snapshot)
        self.assertIn(snapshot.id, self.info(self.volume))

    def test_once_the_tokens_are_advanced_requests_go_through(self):
        self.assertEqual(HIGH, self.driver.highest_fencing_token(
            self.source))
        self.coordinator.advance_tokens(HIGH)
        snapshot = objects.Snapshot(volume=self.volume)
        self.driver.create_snapshot(snapshot)
        self.assertIn(snapshot.id, self.info(self.volume))
        self.assertGreater(self.record(self.volume).read().token, HIGH)


class HighestTokenTestCase(test_remotefs.DriverTestCase):
    """highest_fencing_token() reads the newest generation of each."""

    def setUp(self):
        super().setUp()
        self.driver.share_list = [self.share, self.share2]
        self.driver.do_setup()
        self.source = self.coordinator.backend.location()

    def plant(self, share, token, source=None, end=False):
        volume = objects.Volume(size=1, provider_location=share)
        record = fenced_record.FencedRecord(
            os.path.join(share, volume.name + '.info'),
            source=self.source if source is None else source)
        if end:
            record.end(token)
        else:
            record.create(token, '{"active": "%s"}' % volume.name)
        return record

    def test_highest_of_this_source_on_every_share(self):
        self.assertEqual(0, self.driver.highest_fencing_token(self.source))
        self.plant(self.share, 40)
        self.plant(self.share2, 70)
        self.plant(self.share, 10 ** 15, source='redis://other:6379?db=0')
        self.assertEqual(70, self.driver.highest_fencing_token(self.source))
        # A tombstone counts: its token was given too.
        self.plant(self.share2, 90, end=True)
        self.assertEqual(90, self.driver.highest_fencing_token(self.source))
        # A claim appends a newer generation: the newest counts.
        self.plant(self.share, 5).claim(HIGH)
        self.assertEqual(HIGH, self.driver.highest_fencing_token(
            self.source))

    def test_a_damaged_info_file_is_skipped_with_a_warning(self):
        self.plant(self.share, 40)
        damaged = self.plant(self.share2, 80)
        with open(damaged.generation_path(1), 'w') as f:
            f.write('not json')
        log = self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        self.assertEqual(40, self.driver.highest_fencing_token(self.source))
        self.assertIn('Skipping info file %s' % damaged.path, log.output)

    def test_each_share_is_listed_once_whatever_its_volumes(self):
        for token in range(1, 21):
            self.plant(self.share, token)
        with mock.patch.object(os, 'listdir', wraps=os.listdir) as listdir:
            self.assertEqual(20, self.driver.highest_fencing_token(
                self.source))
        self.assertEqual(2, listdir.call_count)

    def test_a_driver_without_fenced_records_keeps_none(self):
        self.assertIsNone(driver.VolumeDriver.highest_fencing_token(
            mock.Mock(), self.source))
