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

"""What an attach of the RemoteFS snapshot driver returns around a rewrite.

An attach answers with the name of the volume's active file. A rewrite
with copy-on-write (deleting a snapshot, extending) replaces that file by
a new one, commits the info file naming it and deletes the old one. An
attach whose holder lost its lock to the rewriter must not hand out the
old name, and a rewriter that lost its lock to the attach must not
replace the file handed out.

As in :class:`~.test_remotefs_lock_loss.FencedOffTestCase`, the other
holder is played by writes to the info file, at the moment a holder would
be frozen in a real deployment: a newer one with a fencing token larger
than any this test's coordinator hands out, an older one with the token
of an earlier grant.
"""

import json
import os
import shutil
import uuid

import fixtures

from cinder import coordination
from cinder import objects
from cinder.tests.unit.volume.drivers import test_remotefs_lock_loss
from cinder.volume import fenced_record


class AttachTestCase(test_remotefs_lock_loss.ShareFilesTestCase):
    """An attach of a volume with a snapshot, and a rewrite meanwhile."""

    NEWER = test_remotefs_lock_loss.FencedOffTestCase.NEWER
    other_holder = test_remotefs_lock_loss.FencedOffTestCase.other_holder
    assertFencedOff = (
        test_remotefs_lock_loss.FencedOffTestCase.assertFencedOff)
    lock_taken_by_the_newer_holder = (
        test_remotefs_lock_loss.FencedOffTestCase
        .lock_taken_by_the_newer_holder)

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.driver.create_snapshot(objects.Snapshot(volume=self.volume))

    def rewrite(self, volume, token, base=None):
        """Replace the active file as a rewrite does: copy, commit, delete.

        As the holder of fencing *token*: on *base* (a generation it
        read), or else on its own claim.

        :returns: (old active file, new active file), names.
        """
        record = self.other_holder(volume)
        if base is None:
            base = record.claim(token)
        info = json.loads(base.text)
        old = info['active']
        new = '%s.%s' % (volume.name, uuid.uuid4().hex[:16])
        shutil.copyfile(os.path.join(self.share, old),
                        os.path.join(self.share, new))
        info['active'] = new
        record.write(token, json.dumps(info), base)
        os.unlink(os.path.join(self.share, old))
        return old, new

    def rewrite_meanwhile(self, obj, attribute, autospec=False):
        """A newer holder rewrites when ``obj.<attribute>`` first returns.

        :returns: a dict whose ``files`` is set to the files of the shares
            right after the rewrite (but temporary files), and ``names``
            to what it returned.
        """
        done = {}
        real = getattr(obj, attribute)

        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            if not done:
                done['names'] = None        # the rewrite's own calls pass
                done['names'] = self.rewrite(self.volume, self.NEWER)
                self.lock_taken_by_the_newer_holder()
                # But the attach's temporary file, if it wrote one: its
                # failure removes it.
                done['files'] = {
                    path: state for path, state in self.share_files().items()
                    if '.info.tmp-' not in path}
            return result
        self.useFixture(fixtures.MockPatchObject(
            obj, attribute, side_effect=call, autospec=autospec))
        return done

    def attach(self):
        return self.driver.initialize_connection(self.volume, {'host': 'h'})

    def assertNewerHolderWins(self, rewritten):
        """The attach was refused; the rewrite stands as committed."""
        self.assertFencedOff(self.attach, rewritten)
        old, new = rewritten['names']
        self.assertEqual(new, self.info(self.volume)['active'])
        self.assertFalse(os.path.exists(os.path.join(self.share, old)))

    # A stale attach: a newer holder rewrote after its read ---------------

    def test_a_rewrite_after_the_read_of_the_info_file_fences_it_off(self):
        self.assertNewerHolderWins(self.rewrite_meanwhile(
            fenced_record.FencedRecord, 'read', autospec=True))

    def test_a_rewrite_right_before_its_claim_fences_it_off(self):
        # The check of the claim's commit passed; then the holder froze.
        self.assertNewerHolderWins(self.rewrite_meanwhile(
            coordination, 'ensure_locks_held'))

    def test_a_rewrite_after_its_claim_fences_it_off(self):
        # The claim went through: the check right before the answer
        # finds the newer claim.
        self.assertNewerHolderWins(self.rewrite_meanwhile(
            self.driver, '_connection_options'))

    def test_a_rewrite_after_its_last_check_is_not_seen(self):
        # What remains: a holder frozen after the check right before the
        # answer, whose lock check cannot tell (this test's lock is not
        # lost), hands out the file the rewrite deleted.
        rewritten = self.rewrite_meanwhile(
            fenced_record.FencedRecord, 'ensure_newest', autospec=True)
        name = self.attach()['data']['name']
        old, new = rewritten['names']
        self.assertEqual(old, name)
        self.assertFalse(os.path.exists(os.path.join(self.share, name)))

    # A stale rewrite: its holder read the info file before the attach ----

    def test_a_rewrite_cannot_replace_the_file_an_attach_returned(self):
        before = self.record(self.volume).read()    # an older holder read
        name = self.attach()['data']['name']
        self.assertEqual(before.text, self.record(self.volume).read().text)
        attached = self.share_files()
        e = self.assertRaises(coordination.FencedOff, self.rewrite,
                              self.volume, before.token, base=before)
        self.assertIn('another service holds the lock now', str(e))
        self.assertEqual(name, self.info(self.volume)['active'])
        self.assertIn(os.path.join(self.share, name), self.share_files())
        # The older holder's copy is made, and used by nothing.
        self.assertEqual(
            1, len(set(self.share_files()) - set(attached)))
