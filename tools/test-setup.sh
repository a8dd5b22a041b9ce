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

# Prepare a Debian machine for the test suite: the lock servers that the
# functional tests start (redis, ZooKeeper, etcd), the RabbitMQ broker,
# tgt (the tgtd "array" of the tgt volume driver's tests), qemu-img, a JRE
# for ZooKeeper, iproute2 and nftables (hosts apart in network
# namespaces), fuse3 (libfuse 3 and fusermount3, for the fault-injecting
# file system cinder.stress.faultfs, which mfusepy drives through ctypes:
# nothing is compiled), and tox.
# Safe to run again: it only installs what is missing.
#
# Installing the Debian packages must not leave system services listening:
# the tests start their own servers on 127.0.0.1.  The packages are installed
# with a policy-rc.d that forbids starting services, and any service of
# those packages found running afterwards is stopped.

set -euo pipefail

cd "$(dirname "$0")/.."

say() { echo "test-setup: $*"; }

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=()
fi

PACKAGES=(redis-server zookeeper etcd-server qemu-utils default-jre-headless
          tgt rabbitmq-server iproute2 nftables fuse3)
SERVICES=(redis-server etcd zookeeper tgt rabbitmq-server epmd.socket epmd)

missing_tools() {
    local tool
    for tool in redis-server etcd java qemu-img epmd fusermount3; do
        command -v "$tool" >/dev/null 2>&1 || echo "$tool"
    done
    # tgtd, tgtadm, ip and nft live in /usr/sbin, not on every user's PATH.
    for tool in tgtd tgtadm ip nft; do
        command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
            echo "$tool"
    done
    [ -f /usr/share/java/zookeeper.jar ] || echo /usr/share/java/zookeeper.jar
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] ||
        echo /usr/lib/rabbitmq/bin/rabbitmq-server
}

require_root() {
    if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
        say "ERROR: need root (or sudo) to install: $*" >&2
        exit 1
    fi
}

apt_updated=0
apt_install() {
    require_root "$@"
    if [ "$apt_updated" -eq 0 ]; then
        say "running apt-get update"
        "${SUDO[@]}" apt-get update -q
        apt_updated=1
    fi
    say "installing Debian packages: $*"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

# Keep maintainer scripts from starting services while packages install.
# An existing policy-rc.d (Docker images ship one) is left alone.
policy_rc=/usr/sbin/policy-rc.d
our_policy_rc=0
remove_policy_rc() {
    if [ "$our_policy_rc" -eq 1 ]; then
        "${SUDO[@]}" rm -f "$policy_rc"
        our_policy_rc=0
    fi
}
trap remove_policy_rc EXIT

block_service_starts() {
    if [ ! -e "$policy_rc" ]; then
        printf '#!/bin/sh\n# cinder tools/test-setup.sh\nexit 101\n' |
            "${SUDO[@]}" tee "$policy_rc" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy_rc"
        our_policy_rc=1
        say "blocking service starts during install ($policy_rc)"
    fi
}

stop_system_services() {
    local svc
    for svc in "${SERVICES[@]}"; do
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
        then
            if "${SUDO[@]}" systemctl disable --now "$svc" >/dev/null 2>&1
            then
                say "disabled and stopped system service $svc"
            fi
        elif [ -x "/etc/init.d/$svc" ] && command -v service >/dev/null 2>&1
        then
            if "${SUDO[@]}" service "$svc" status >/dev/null 2>&1; then
                "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
                say "stopped system service $svc"
            fi
        fi
    done
}

# -- Lock servers, tgt, qemu-img and fuse3 ------------------------------------

missing=$(missing_tools | tr '\n' ' ')
if [ -n "$missing" ]; then
    say "missing: $missing"
    require_root "${PACKAGES[@]}"
    servers_before=$(tools/check-leftovers.sh servers)
    block_service_starts
    apt_install "${PACKAGES[@]}"
    remove_policy_rc
    stop_system_services || true
    # rabbitmq-server's install starts an epmd by itself (no service to
    # stop): stop, by pid, every server process the install started.
    for pid in $(tools/check-leftovers.sh servers); do
        if ! grep -qx "$pid" <<< "$servers_before"; then
            say "stopping $(ps -o args= -p "$pid" | cut -c1-60)" \
                "(pid $pid), started by the install"
            kill "$pid" 2>/dev/null || true
        fi
    done
    still_missing=$(missing_tools | tr '\n' ' ')
    if [ -n "$still_missing" ]; then
        say "ERROR: still missing after install: $still_missing" >&2
        exit 1
    fi
    say "lock servers, RabbitMQ, tgt, JRE, qemu-img and fuse3 installed"
else
    say "redis-server, etcd, ZooKeeper, RabbitMQ, tgt, java, qemu-img and" \
        "fuse3 already installed"
fi

# -- tox ----------------------------------------------------------------------

# tools/run-tests.sh looks for tox in the same places, in the same order.
if command -v tox >/dev/null 2>&1; then
    tox_version=$(tox --version 2>/dev/null | tail -n 1)
    say "tox already available: $(command -v tox) ($tox_version)"
elif python3 -m tox --version >/dev/null 2>&1; then
    say "tox already available: python3 -m tox"
elif [ -x .tox-venv/bin/tox ]; then
    say "tox already available: .tox-venv/bin/tox"
else
    say "tox not found, installing it"
    if python3 -m pip --version >/dev/null 2>&1 &&
            python3 -m pip install -q tox; then
        say "installed tox into $(python3 -c 'import sys; print(sys.prefix)')"
    else
        # No pip, or a Python that refuses system-wide installs (PEP 668):
        # give tox its own virtualenv inside the tree.
        if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            apt_install python3-venv
        fi
        python3 -m venv .tox-venv
        .tox-venv/bin/pip install -q tox
        say "installed tox into .tox-venv"
    fi
fi
