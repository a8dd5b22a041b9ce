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

import warnings

from oslo_service import backend as _service_backend

# oslo.messaging loads oslo.service, whose default backend is eventlet:
# cinder runs on native threads, so choose the threading backend before
# anything imports oslo.messaging.  oslo.messaging's dependencies still
# import eventlet (unused here); its deprecation notice would otherwise
# reach every tool's stderr.
_service_backend.register_backend_default_hook(
    lambda: _service_backend.BackendType.THREADING)
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
warnings.filterwarnings('ignore', category=DeprecationWarning,
                        message='eventletutils module is deprecated')
warnings.filterwarnings('ignore', category=DeprecationWarning,
                        message=r'Using fork\(\) is a bad idea')
