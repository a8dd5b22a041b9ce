#!/usr/bin/env bash
#
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

# First command of the README: install the project into .venv and run the
# lock demo (cinder-lock-demo) on the default file:// backend.  Arguments are
# passed to cinder-lock-demo.

set -euo pipefail

cd "$(dirname "$0")/.."

say() { echo "quickstart: $*" >&2; }

if [ -e .venv ] && [ ! -d .venv ]; then
    say "ERROR: .venv is a file (a virtualenv redirect written by another" \
        "tool); remove it and run again" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing python3-venv"
            apt-get update -q
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                --no-install-recommends python3-venv
        else
            say "ERROR: python3 cannot create virtualenvs;" \
                "install python3-venv first" >&2
            exit 1
        fi
    fi
    say "creating .venv with $(python3 --version)"
    python3 -m venv .venv
fi

say "installing cinder into .venv"
.venv/bin/python -m pip install -q -e .

say "running .venv/bin/cinder-lock-demo $*"
exec .venv/bin/cinder-lock-demo "$@"
