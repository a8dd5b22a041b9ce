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

"""Unit tests of cinder.stress.states: the replay of possible states."""

from oslotest import base

from cinder.stress import states

SLOTS = 2


class _Requests(object):
    """Requests of a run, one after the other unless told otherwise."""

    def __init__(self):
        self.requests = []
        self.t = 0.0

    def add(self, op, error_type=None, host='h1', volumes=None, start=None,
            end=None, **args):
        self.t += 1.0
        request = {'n': len(self.requests) + 1, 'op': op, 'host': host,
                   'volumes': volumes or [args['volume']], 'args': args,
                   'start': self.t if start is None else start,
                   'end': self.t + 0.5 if end is None else end,
                   'ok': error_type is None, 'error_type': error_type,
                   'error': 'why' if error_type else None}
        self.requests.append(request)
        return request


def contents(volume):
    return sorted(tuple(tuple(sorted(slot)) for slot in s.content)
                  for s in volume.states)


class ReplayTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.r = _Requests()
        self.r.add('create_volume', volume='v', size=1)
        self.r.add('write_data', volume='v', slot=0, pattern=7)

    def replay(self, faults=()):
        return states.replay(self.r.requests, SLOTS, faults)

    def test_completed_requests_give_one_state(self):
        self.r.add('create_snapshot', volume='v', snapshot='s')
        self.r.add('write_data', volume='v', slot=1, pattern=9)
        self.r.add('extend_volume', volume='v', size=2)
        volumes, judgments, unexplained = self.replay()
        (state,) = volumes['v'].states
        self.assertEqual('yes', state.exists)
        self.assertEqual((frozenset([7]), frozenset([9])), state.content)
        self.assertEqual((frozenset([7]), frozenset([0])),
                         state.snapshot('s'))
        self.assertEqual(2, state.size)
        self.assertEqual(({}, []), (judgments, unexplained))

    def test_interrupted_revert_is_before_or_after_never_a_mix(self):
        self.r.add('create_snapshot', volume='v', snapshot='s')
        self.r.add('write_data', volume='v', slot=0, pattern=8)
        self.r.add('write_data', volume='v', slot=1, pattern=9)
        self.r.add('revert_to_snapshot', 'ConnectionClosed', volume='v',
                   snapshot='s')
        volumes, _j, _u = self.replay()
        self.assertEqual([((7,), (0,)), ((8,), (9,))],
                         contents(volumes['v']))

    def test_interrupted_snapshot_may_exist_and_may_leave_files(self):
        n = self.r.add('create_snapshot', 'LockLost', volume='v',
                       snapshot='s')['n']
        volumes, _j, _u = self.replay()
        self.assertEqual({None, (frozenset([7]), frozenset([0]))},
                         {s.snapshot('s') for s in volumes['v'].states})
        self.assertEqual({n}, volumes['v'].leftovers)

    def test_a_later_success_rules_states_out(self):
        self.r.add('create_snapshot', 'LockLost', volume='v', snapshot='s')
        self.r.add('write_data', volume='v', slot=0, pattern=8)
        self.r.add('revert_to_snapshot', volume='v', snapshot='s')
        volumes, _j, unexplained = self.replay()
        (state,) = volumes['v'].states
        self.assertEqual(frozenset([7]), state.content[0])
        self.assertEqual([], unexplained)

    def test_interrupted_delete_may_leave_a_partial_volume(self):
        self.r.add('delete_volume', 'ConnectionClosed', volume='v')
        volumes, _j, _u = self.replay()
        self.assertEqual({'yes', 'no', 'partial'},
                         {s.exists for s in volumes['v'].states})

    def test_interrupted_snapshot_delete_may_fold_the_volume_in(self):
        self.r.add('create_snapshot', volume='v', snapshot='s')
        self.r.add('write_data', volume='v', slot=1, pattern=9)
        self.r.add('delete_snapshot', 'ConnectionClosed', volume='v',
                   snapshot='s')
        volumes, _j, _u = self.replay()
        self.assertEqual(
            {None, (frozenset([7]), frozenset([0])),
             (frozenset([7]), frozenset([0, 9]))},
            {s.snapshot('s') for s in volumes['v'].states})
        self.assertEqual({'s'}, volumes['v'].off_chain)

    def test_lost_races_change_nothing(self):
        self.r.add('revert_to_snapshot', 'InvalidSnapshot', volume='v',
                   snapshot='s')
        self.r.add('delete_volume', 'VolumeNotFound', volume='v')
        volumes, judgments, _u = self.replay()
        self.assertEqual(1, len(volumes['v'].states))
        self.assertEqual(set(), volumes['v'].leftovers)
        self.assertEqual([None, None],
                         [j.cause for j in judgments.values()])

    def test_copies_take_their_source_content(self):
        self.r.add('create_snapshot', volume='v', snapshot='s')
        self.r.add('write_data', volume='v', slot=0, pattern=8)
        self.r.add('clone_volume', volume='c', source='v', size=1,
                   volumes=['c', 'v'])
        self.r.add('volume_from_snapshot', volume='f', source='v',
                   snapshot='s', size=1, volumes=['f', 'v'])
        volumes, _j, _u = self.replay()
        self.assertEqual([((8,), (0,))], contents(volumes['c']))
        self.assertEqual([((7,), (0,))], contents(volumes['f']))

    def test_a_copy_may_take_the_size_of_an_extend_running_meanwhile(self):
        self.r.add('extend_volume', volume='v', size=2, start=10, end=20)
        self.r.add('clone_volume', volume='c', source='v', size=1,
                   volumes=['c', 'v'], start=11, end=12)
        self.r.add('clone_volume', volume='d', source='v', size=2,
                   volumes=['d', 'v'], start=30, end=31)
        volumes, _j, _u = self.replay()
        self.assertEqual({1, 2}, {s.size for s in volumes['c'].states})
        self.assertEqual({2}, {s.size for s in volumes['d'].states})

    def test_replies_may_come_in_another_order_than_the_effects(self):
        self.r.add('create_snapshot', volume='v', snapshot='s')
        # The copy took the lock first; the delete's reply came first.
        self.r.add('delete_snapshot', volume='v', snapshot='s', start=10,
                   end=12)
        self.r.add('volume_from_snapshot', volume='f', source='v',
                   snapshot='s', size=1, volumes=['f', 'v'], start=10,
                   end=13)
        volumes, _j, unexplained = self.replay()
        self.assertEqual([((7,), (0,))], contents(volumes['f']))
        self.assertEqual([], unexplained)

    def test_a_success_before_an_earlier_reply_is_explained(self):
        self.r.add('create_snapshot', volume='v', snapshot='s')
        self.r.add('delete_snapshot', volume='v', snapshot='s', start=10,
                   end=12)
        self.r.add('revert_to_snapshot', volume='v', snapshot='s',
                   start=10, end=13)
        volumes, _j, unexplained = self.replay()
        self.assertEqual([], unexplained)
        (state,) = volumes['v'].states
        self.assertIsNone(state.snapshot('s'))

    def test_a_success_no_state_allows_is_reported(self):
        self.r.add('revert_to_snapshot', volume='v', snapshot='never')
        _v, _j, unexplained = self.replay()
        self.assertEqual(1, len(unexplained))
        self.assertIn('revert_to_snapshot', unexplained[0])

    def test_deleting_a_snapshot_of_a_deleted_volume_is_explained(self):
        self.r.add('delete_volume', volume='v')
        self.r.add('delete_snapshot', volume='v', snapshot='s')
        _v, _j, unexplained = self.replay()
        self.assertEqual([], unexplained)

    def test_states_survive_json(self):
        self.r.add('create_snapshot', volume='v', snapshot='s')
        volumes, _j, _u = self.replay()
        (state,) = volumes['v'].states
        self.assertEqual(state, states.State.from_dict(state.to_dict()))

    def test_too_many_states_are_not_checked(self):
        for pattern in range(1, 12):
            self.r.add('create_snapshot', 'LockLost', volume='v',
                       snapshot='s%d' % pattern)
        volumes, _j, _u = self.replay()
        self.assertTrue(volumes['v'].overflow)
        self.assertEqual(states.MAX_STATES, len(volumes['v'].states))


class JudgeTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.r = _Requests()
        self.r.add('create_volume', volume='v', size=1)
        self.r.add('create_volume', volume='w', size=1)

    def causes(self, faults=()):
        _v, judgments, _u = states.replay(self.r.requests, SLOTS, faults)
        return {n: j.cause for n, j in judgments.items()}

    def test_a_fault_on_the_host_excuses_a_failure_it_overlaps(self):
        hit = self.r.add('extend_volume', 'LockLost', host='h2',
                         volume='v', size=2, start=20, end=21)
        elsewhere = self.r.add('extend_volume', 'LockLost', host='h1',
                               volume='w', size=2, start=20, end=21)
        kill = {'kind': 'kill', 'host': 'h2', 'start': 20.5, 'end': 22}
        self.assertEqual({hit['n']: 'kill', elsewhere['n']: None},
                         self.causes([kill]))

    def test_a_failure_before_the_service_answered_again_is_excused(self):
        # A partition healed at 30; the service answered again at 34.
        recovering = self.r.add('extend_volume', 'BackendUnavailable',
                                host='h2', volume='v', size=2, start=31,
                                end=32)
        recovered = self.r.add('extend_volume', 'BackendUnavailable',
                               host='h2', volume='w', size=2, start=35,
                               end=36)
        cut = {'kind': 'partition', 'host': None, 'start': 21, 'end': 30,
               'recovered': 34}
        self.assertEqual({recovering['n']: 'partition',
                          recovered['n']: None}, self.causes([cut]))

    def test_a_fault_that_excuses_nothing_hits_no_request(self):
        # An nfs-replay failure the services must settle by themselves:
        # a request that failed while it was armed is not its doing, nor
        # is a later request on the same volume.
        during = self.r.add('extend_volume', 'VolumeDriverException',
                            host='h2', volume='v', size=2, start=20, end=21)
        later = self.r.add('create_snapshot', 'VolumeDriverException',
                           host='h1', volume='v', snapshot='t', start=21.5,
                           end=22)
        replay = {'kind': 'nfs-replay', 'host': None, 'start': 19,
                  'end': 23, 'recovered': None, 'excuses': False}
        self.assertEqual({during['n']: None, later['n']: None},
                         self.causes([replay]))
        # The same fault, were it one that excuses (saved before the
        # field existed: absent means it excuses).
        del replay['excuses']
        self.assertEqual({during['n']: 'nfs-replay',
                          later['n']: 'nfs-replay'}, self.causes([replay]))

    def test_overlapping_an_interrupted_request_excuses(self):
        cut = self.r.add('delete_snapshot', 'ConnectionClosed', host='h2',
                         volume='v', snapshot='s', start=20, end=30)
        meets = self.r.add('create_snapshot', 'VolumeDriverException',
                           host='h1', volume='v', snapshot='t', start=25,
                           end=26)
        after = self.r.add('extend_volume', 'VolumeDriverException',
                           host='h1', volume='v', size=2, start=40, end=41)
        kill = {'kind': 'kill', 'host': 'h2', 'start': 29, 'end': 29.5}
        causes = self.causes([kill])
        self.assertEqual('kill', causes[cut['n']])
        self.assertEqual('after kill (request %d)' % cut['n'],
                         causes[meets['n']])
        self.assertIsNone(causes[after['n']])

    def test_a_volume_that_may_be_partial_excuses_later_failures(self):
        cut = self.r.add('delete_volume', 'ConnectionClosed', host='h2',
                         volume='v', start=20, end=21)
        later = self.r.add('create_snapshot', 'VolumeDriverException',
                           volume='v', snapshot='t', start=40, end=41)
        kill = {'kind': 'kill', 'host': 'h2', 'start': 20.5, 'end': 20.6}
        self.assertEqual('after kill (request %d)' % cut['n'],
                         self.causes([kill])[later['n']])
