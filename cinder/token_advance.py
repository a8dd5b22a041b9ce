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

"""Put the lock backend's fencing tokens past those on the storage.

For ``cinder-manage coordination advance-tokens``. A lock backend whose
tokens went back (Redis lost its counter, a ZooKeeper ensemble or etcd
cluster was rebuilt, the file backend's counter was deleted) gives
tokens lower than the ones the storage kept: every claim of a record is
refused (:class:`~cinder.coordination.FencingTokensWentBack`).
:func:`advance` asks the volume driver for the highest token of this
backend's source on its storage and makes the backend give greater ones
from now on (:meth:`~cinder.coordination.Coordinator.advance_tokens`),
checking it with the token of a probe lock before and after.
"""

import dataclasses

#: The lock whose grants show the next token (prefix added).
PROBE_LOCK = 'coordination-advance-tokens'

OK, BEHIND, FAILED = 0, 1, 2


@dataclasses.dataclass
class Outcome(object):
    """What :func:`advance` found and did.

    ``status``: :data:`OK` (the tokens are past those on the storage, or
    now are), :data:`BEHIND` (nothing was changed though it may be
    needed: a dry run found them behind, or the driver keeps no tokens to
    compare with) or :data:`FAILED`; ``lines`` the (label, text) of the
    report.
    """

    status: int = OK
    lines: list = dataclasses.field(default_factory=list)

    def add(self, label, text):
        self.lines.append((label, text))


def probe_token(coordinator):
    """The token of one grant of the probe lock: the backend's next.

    :raises CoordinationError: the lock or its token cannot be had.
    """
    with coordinator.get_lock(PROBE_LOCK) as lock:
        return lock.token()


def advance(coordinator, volume_driver, dry_run=False, outcome=None):
    """Make *coordinator*'s backend give tokens past *volume_driver*'s.

    :param coordinator: a started coordinator, on the services' backend.
    :param volume_driver: the services' volume driver, set up.
    :param dry_run: report, change nothing.
    :param outcome: the :class:`Outcome` to report in, which holds what
        was found until an error, if one is raised.
    :returns: the :class:`Outcome`.
    :raises CoordinationError: the backend failed (a probe lock, its
        token, or the advance).
    :raises OSError, CinderException: the driver cannot read its
        storage.
    """
    outcome = Outcome() if outcome is None else outcome
    source = coordinator.backend.location()
    outcome.add('Token source', source)
    highest = volume_driver.highest_fencing_token(source)
    if highest is None:
        outcome.status = BEHIND
        outcome.add('Result', 'NOTHING TO COMPARE: volume driver %s keeps '
                    'no fencing tokens on its storage; nothing was changed'
                    % type(volume_driver).__name__)
        return outcome
    outcome.add('Highest on storage', str(highest))
    before = probe_token(coordinator)
    outcome.add('Next token', str(before))
    if before > highest:
        outcome.add('Result', 'OK: the tokens given now are greater than '
                    'every token on the storage; nothing to do')
        return outcome
    if dry_run:
        outcome.status = BEHIND
        outcome.add('Result', 'BEHIND: the tokens given now are not '
                    'greater than %d; run without --dry-run to advance '
                    'them' % highest)
        return outcome
    done = coordinator.advance_tokens(highest)
    outcome.add('Advanced', '%s from %d to %d' % (done.place, done.before,
                                                  done.after))
    after = probe_token(coordinator)
    outcome.add('Next token now', str(after))
    if after > highest:
        outcome.add('Result', 'OK: every token given from now on is '
                    'greater than every token on the storage')
    else:
        outcome.status = FAILED
        outcome.add('Result', 'FAILED: the next token is still not '
                    'greater than %d' % highest)
    return outcome
