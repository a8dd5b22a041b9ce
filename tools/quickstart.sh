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

# First command of the README: install the project into .venv and run
# cinder-aa-stress, which starts three real cinder-volume services (NFS
# driver on one local share directory, the embedded default file:// lock
# backend, a private RabbitMQ broker for their requests), drives a
# conflicting workload through them and prints a verdict.
# Arguments are passed to cinder-aa-stress.

set -euo pipefail

cd "$(dirname "$0")/.."

say() { echo "quickstart: $*" >&2; }

if [ -e .venv ] && [ ! -d .venv ]; then
    say "ERROR: .venv is a file (a virtualenv redirect written by another" \
        "tool); remove it and run again" >&2
    exit 1
fi

apt_updated=no
apt_install() {
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    say "installing $*"
    if [ "$apt_updated" = no ]; then
        apt-get update -q
        apt_updated=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$@"
}

if ! command -v qemu-img >/dev/null 2>&1 || \
        ! command -v qemu-io >/dev/null 2>&1; then
    if ! apt_install qemu-utils; then
        say "ERROR: qemu-img and qemu-io are needed; install qemu-utils" \
            "first" >&2
        exit 1
    fi
fi

# The default run starts a private RabbitMQ broker for the services'
# requests.  The package must not leave a system broker running: service
# starts are blocked while it installs, and the system services it brings
# are disabled afterwards.
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    policy_rc=/usr/sbin/policy-rc.d
    ours=no
    if [ "$(id -u)" -eq 0 ] && [ ! -e "$policy_rc" ]; then
        printf '#!/bin/sh\n# cinder tools/quickstart.sh\nexit 101\n' \
            > "$policy_rc"
        chmod 755 "$policy_rc"
        ours=yes
    fi
    before=$(tools/check-leftovers.sh servers)
    installed=yes
    apt_install rabbitmq-server || installed=no
    if [ "$ours" = yes ]; then
        rm -f "$policy_rc"
    fi
    if [ "$installed" = no ]; then
        say "ERROR: the default run needs RabbitMQ; install" \
            "rabbitmq-server first, or pass --transport-url" >&2
        exit 1
    fi
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
    then
        systemctl disable --now rabbitmq-server epmd.socket epmd \
            >/dev/null 2>&1 || true
    fi
    # The install starts an epmd by itself: stop what it started, by pid.
    for pid in $(tools/check-leftovers.sh servers); do
        grep -qx "$pid" <<< "$before" || kill "$pid" 2>/dev/null || true
    done
fi

if [ ! -x .venv/bin/python ]; then
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        if ! apt_install python3-venv; then
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

say "running .venv/bin/cinder-aa-stress $*"
exec .venv/bin/cinder-aa-stress "$@"
