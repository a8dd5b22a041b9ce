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

"""Unit tests of cinder-volume-request: arguments, records, exit codes."""

import io
import json
import os
from unittest import mock

import fixtures
from oslo_config import cfg
from oslotest import base

from cinder.cmd import common
from cinder.cmd import record_store
from cinder.cmd import volume_request
from cinder import exception
from cinder import messaging
from cinder import objects
from cinder.volume import rpcapi

SECRET = 's3cr3t-bus-pw'
URL = 'rabbit://cinder:%s@broker:5672/' % SECRET


class ParserTestCase(base.BaseTestCase):

    def parse(self, *argv):
        return volume_request.build_parser().parse_args(list(argv))

    def parse_error(self, *argv):
        err = io.StringIO()
        with mock.patch('sys.stderr', err):
            exit_ = self.assertRaises(SystemExit, self.parse, *argv)
        self.assertEqual(2, exit_.code)
        return err.getvalue()

    def test_host_or_cluster_is_required_and_not_both(self):
        self.assertIn('one of the arguments --host --cluster is required',
                      self.parse_error('stats'))
        self.assertIn('not allowed with argument',
                      self.parse_error('--host', 'a@b', '--cluster', 'c@b',
                                       'stats'))

    def test_an_address_needs_a_backend(self):
        err = self.parse_error('--cluster', 'cluster1', 'stats')
        self.assertIn("argument --cluster: 'cluster1' is not "
                      "<name>@<backend>", err)

    def test_actions_and_their_arguments(self):
        args = self.parse('--cluster', 'c@nfs', 'extend-volume', 'v1', '3')
        self.assertEqual(('c@nfs', None, 'v1', 3),
                         (args.cluster, args.host, args.volume_id,
                          args.new_size))
        args = self.parse('--host', 'h@nfs', '--timeout', '2.5',
                          'create-volume', '--size', '4', '--snapshot', 's1')
        self.assertEqual(('h@nfs', 2.5, 4, 's1', None),
                         (args.host, args.timeout, args.size, args.snapshot,
                          args.source_volume))
        self.assertIn('not allowed with argument', self.parse_error(
            '--host', 'h@b', 'create-volume', '--snapshot', 's',
            '--source-volume', 'v'))

    def test_bad_numbers_name_the_argument(self):
        self.assertIn("--timeout '0' is not a positive number",
                      self.parse_error('--host', 'h@b', '--timeout', '0',
                                       'stats'))
        self.assertIn("'-1' is not a size in GiB",
                      self.parse_error('--host', 'h@b', 'extend-volume',
                                       'v', '-1'))


class RunTestCase(base.BaseTestCase):
    """The command with the bus mocked: what it sends, keeps and says."""

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.state_dir = os.path.join(self.root, 'records')
        self.store = record_store.RecordStore(self.state_dir).open()
        self.environ = {'CINDER_TRANSPORT_URL': URL}
        self.transport = mock.Mock()
        self.get_transport = self.useFixture(fixtures.MockPatchObject(
            messaging, 'get_transport', return_value=self.transport)).mock
        self.api_class = self.useFixture(fixtures.MockPatchObject(
            rpcapi, 'VolumeAPI')).mock
        self.api = self.api_class.return_value
        # The command's logging setup and hooks stay out of the test run.
        self.useFixture(fixtures.MockPatchObject(common,
                                                 'setup_tool_logging'))
        self.useFixture(fixtures.MockPatchObject(common, 'protect_secrets'))

    def run_command(self, *argv, conf_text=None):
        conf = cfg.ConfigOpts()
        prefix = []
        if conf_text is not None:
            path = os.path.join(self.root, 'cinder.conf')
            with open(path, 'w') as f:
                f.write(conf_text)
            prefix = ['--config-file', path]
        out, err = io.StringIO(), io.StringIO()
        with mock.patch('sys.stdout', out), mock.patch('sys.stderr', err):
            status = volume_request.main(
                prefix + ['--state-dir', self.state_dir] + list(argv),
                conf=conf, environ=self.environ)
        self.assertNotIn(SECRET, out.getvalue() + err.getvalue())
        return status, out.getvalue(), err.getvalue()

    def reply_with(self, **changes):
        """The service's reply: record arguments changed as given."""
        def call(method, **args):
            for name, fields in changes.items():
                for key, value in fields.items():
                    setattr(args[name], key, value)
            return args.get('volume')
        self.api.call.side_effect = call

    def test_create_volume_prints_and_saves_the_replied_record(self):
        self.reply_with(volume={'status': 'available', 'host': 'h'})
        status, out, err = self.run_command('--cluster', 'c@nfs',
                                            'create-volume', '--size', '2')
        self.assertEqual(0, status, err)
        printed = json.loads(out)
        self.assertEqual(('available', 'h', 2), (
            printed['status'], printed['host'], printed['size']))
        self.assertEqual(printed,
                         self.store.load(printed['id']).to_dict())
        self.api_class.assert_called_once_with(self.transport, 'c@nfs',
                                               timeout=None)
        method, = self.api.call.call_args[0]
        self.assertEqual('create_volume', method)
        self.get_transport.assert_called_once_with(mock.ANY, url=URL)
        self.transport.cleanup.assert_called_once_with()

    def test_later_requests_send_the_saved_records(self):
        volume = objects.Volume(size=1, status='available')
        snapshot = objects.Snapshot(volume=volume, status='available')
        self.store.save(volume)
        self.store.save(snapshot)
        self.reply_with(volume={'size': 5})
        status, out, err = self.run_command('--host', 'h@nfs',
                                            'extend-volume', volume.id, '5')
        self.assertEqual(0, status, err)
        (method,), args = self.api.call.call_args
        self.assertEqual(('extend_volume', volume.id, 5),
                         (method, args['volume'].id, args['new_size']))
        self.assertEqual(5, self.store.load(volume.id).size)
        self.api.call.reset_mock()
        self.reply_with(snapshot={'status': 'deleted'})
        status, out, err = self.run_command('--host', 'h@nfs',
                                            'delete-snapshot', snapshot.id)
        self.assertEqual(0, status, err)
        self.assertEqual('deleted', json.loads(out)['status'])
        # The snapshot goes with its volume as saved last, not as it was
        # when the snapshot was taken.
        sent = self.api.call.call_args[1]['snapshot']
        self.assertEqual((5, 1), (sent.volume.size, sent.volume_size))
        self.assertEqual(['%s.json' % volume.id], os.listdir(self.state_dir))

    def test_stats_prints_the_result(self):
        self.api.call.return_value = {'host': 'h', 'free_capacity_gb': 7}
        status, out, err = self.run_command('--host', 'h@nfs', '--timeout',
                                            '4', 'stats', '--refresh')
        self.assertEqual(0, status, err)
        self.assertEqual({'host': 'h', 'free_capacity_gb': 7},
                         json.loads(out))
        self.api.call.assert_called_once_with('get_volume_stats',
                                              refresh=True)
        self.api_class.assert_called_once_with(self.transport, 'h@nfs',
                                               timeout=4.0)

    def test_refused_is_1_with_the_error_scrubbed(self):
        volume = objects.Volume(size=2, status='available')
        self.store.save(volume)
        self.api.call.side_effect = messaging.RemoteError(
            'InvalidInput', 'new_size too small (bus %s)' % URL)
        status, out, err = self.run_command('--cluster', 'c@nfs',
                                            'extend-volume', volume.id, '3')
        self.assertEqual(1, status)
        self.assertEqual('', out)
        self.assertIn('c@nfs refused or failed extend_volume(volume=%s): '
                      'InvalidInput: new_size too small' % volume.id, err)
        self.assertEqual(volume, self.store.load(volume.id))

    def test_a_refused_create_keeps_the_record_in_error(self):
        self.api.call.side_effect = messaging.RemoteError('Oops', 'no')
        status, out, err = self.run_command('--cluster', 'c@nfs',
                                            'create-volume')
        self.assertEqual(1, status)
        record_id, = [n[:-len('.json')] for n in os.listdir(self.state_dir)]
        self.assertEqual('error', self.store.load(record_id).status)

    def test_no_reply_is_3_naming_the_address_and_not_sent_again(self):
        self.api.call.side_effect = exception.RequestOutcomeUnknown(
            'c@nfs', 'create_volume(volume=x)', 3.0, 'timed out')
        status, out, err = self.run_command('--cluster', 'c@nfs',
                                            '--timeout', '1',
                                            'create-volume')
        self.assertEqual(3, status)
        self.assertEqual(1, self.api.call.call_count)
        self.assertIn('no reply from c@nfs to create_volume(volume=x)', err)
        self.assertIn('may or may not have run; it was not sent again', err)
        record_id, = [n[:-len('.json')] for n in os.listdir(self.state_dir)]
        self.assertIn('record of %s is kept with status creating' %
                      record_id, err)
        self.assertIn('delete-volume removes it', err)

    def test_unknown_record_is_2_and_nothing_is_sent(self):
        status, out, err = self.run_command('--cluster', 'c@nfs',
                                            'create-snapshot', 'nope-1')
        self.assertEqual(2, status)
        self.assertIn('no record nope-1', err)
        self.assertIn('nothing was sent', err)
        self.api.call.assert_not_called()
        self.get_transport.assert_not_called()

    def test_a_url_argument_is_refused_and_never_echoed(self):
        # A password on the command line would show in ps: there is no
        # such argument, and argparse's error must not quote it.
        url = 'rabbit://cinder:only-in-argv-pw@broker:5672/?a=b'
        for argv in (['--transport-url', url], ['--transport-url=' + url]):
            status, out, err = self.run_command('--host', 'h@b', *argv,
                                                'stats')
            self.assertEqual(2, status)
            self.assertIn('rabbit://cinder:***@broker', err)
            self.assertNotIn('only-in-argv-pw', out + err)
        self.get_transport.assert_not_called()

    def test_no_bus_is_2_naming_the_option_and_variable(self):
        self.environ = {}
        status, out, err = self.run_command('--host', 'h@b', 'stats')
        self.assertEqual(2, status)
        self.assertIn('no message bus: set [DEFAULT] transport_url in a '
                      '--config-file, or $CINDER_TRANSPORT_URL', err)
        self.get_transport.assert_not_called()

    def test_configuration_file_comes_before_the_environment(self):
        other = 'rabbit://u:other-%s@elsewhere:5672/' % SECRET
        self.api.call.return_value = {}
        status, out, err = self.run_command(
            '--host', 'h@b', 'stats',
            conf_text='[DEFAULT]\ntransport_url = %s\n' % other)
        self.assertEqual(0, status, err)
        self.get_transport.assert_called_once_with(mock.ANY, url=other)

    def test_a_bad_configuration_file_is_2_naming_it(self):
        status, out, err = self.run_command(
            '--host', 'h@b', 'stats', conf_text='[DEFAULT\nbroken')
        self.assertEqual(2, status)
        self.assertIn('cinder-volume-request: ', err)
        self.assertIn(os.path.join(self.root, 'cinder.conf'), err)

    def test_an_unusable_url_is_2_with_the_password_masked(self):
        self.get_transport.side_effect = exception.ConfigurationError(
            '[DEFAULT] transport_url = %s cannot be used' % URL)
        status, out, err = self.run_command('--host', 'h@b', 'stats')
        self.assertEqual(2, status)
        self.assertIn('[DEFAULT] transport_url = rabbit://cinder:***@', err)

    def test_a_failed_save_after_the_reply_is_1_and_says_so(self):
        volume = objects.Volume(size=1, status='available')
        self.store.save(volume)
        self.reply_with(volume={'size': 2})
        with mock.patch.object(record_store.os, 'replace',
                               side_effect=OSError(28, 'No space left')):
            status, out, err = self.run_command(
                '--host', 'h@b', 'extend-volume', volume.id, '2')
        self.assertEqual(1, status)
        self.assertEqual(2, json.loads(out)['size'])
        self.assertIn('the record of %s cannot be saved' % volume.id, err)
        self.assertEqual(1, self.store.load(volume.id).size)
        self.assertEqual(['%s.json' % volume.id], os.listdir(self.state_dir))
