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

"""What the services of a cinder-aa-stress run logged about their commits.

The fenced records of the NFS driver (:mod:`cinder.volume.fenced_record`)
log one line for each commit the share refused (``Fenced off:``, a
WARNING), each commit whose ``link(2)`` reported an error although the
link was made (a WARNING: the commit stands), and each commit whose
outcome could not be told (``Commit in doubt:``, an ERROR). The report
counts them in every service's log file.
"""

import collections

#: Each count of the report, and the text that marks its lines.
MARKERS = collections.OrderedDict([
    ('fenced_off', 'Fenced off: '),
    ('ambiguous_commits',
     'the link was made (its reply was lost); the commit stands'),
    ('commits_in_doubt', 'Commit in doubt: '),
])


def count(log_files):
    """Lines of each :data:`MARKERS` in *log_files*, by name.

    A log file that does not exist (a service that never started) counts
    none; a line is counted once, for the first marker it holds. Other
    errors reading a file are raised.
    """
    counts = collections.OrderedDict((name, 0) for name in MARKERS)
    for path in log_files:
        try:
            with open(path, errors='replace') as f:
                for line in f:
                    for name, marker in MARKERS.items():
                        if marker in line:
                            counts[name] += 1
                            break
        except FileNotFoundError:
            pass
    return counts
