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

"""Volume service objects: plain records with explicit fields.

This tree has no database. Whoever hands a request to a volume service
(the scheduler stand-in of the tests and tools) owns the records; the
manager and drivers read the fields they need, update the ones they own
and hand the object back. :meth:`to_dict` and :meth:`from_dict` carry an
object across a process boundary as JSON-compatible data.
"""

from cinder.objects.snapshot import Snapshot  # noqa: F401
from cinder.objects.volume import Attachment  # noqa: F401
from cinder.objects.volume import Volume  # noqa: F401
