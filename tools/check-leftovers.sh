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

# What a test run must not leave behind.
#
#   check-leftovers.sh servers            print the pids of server processes
#                                         (brokers, epmd, lock servers, the
#                                         fault-injecting file system)
#   check-leftovers.sh check PIDFILE      fail, listing them, if a server
#                                         not in PIDFILE runs, or a network
#                                         namespace, link or route of the
#                                         tests or of cinder-aa-stress
#                                         --hosts netns is left, or a mount
#                                         of the fault-injecting file system
#
# The namespaces and links are those named cvaa-* (cinder-aa-stress),
# ct<n>-* and ch<n>-* (the functional tests); the route is the
# "unreachable 10.77.0.0/24" they add. The file system is
# "python -m cinder.stress.faultfs"; its mounts are of type
# fuse.cinder-faultfs (one whose process died stays mounted, disconnected).

set -euo pipefail

SERVERS='beam\.smp|/epmd|redis-server|etcd|zookeeper'
SERVERS+='|cinder\.stress\.faultfs'
NAMES='^(cvaa|ct[0-9]+|ch[0-9]+)-'
FUSE_TYPE='fuse.cinder-faultfs'

servers() {
    ps -eo pid=,args= | awk -v re="$SERVERS" '$0 ~ re && !/awk/ {print $1}'
}

# Mount points of the fault-injecting file system (mountinfo: the mount
# point is field 5, the type follows the "-" separator field).
fuse_mounts() {
    awk -v type="$FUSE_TYPE" '{
        for (i = 7; i < NF; i++) if ($i == "-") break
        if ($(i + 1) == type) print $5
    }' /proc/self/mountinfo 2>/dev/null || true
}

case "${1:-}" in
servers)
    servers
    ;;
check)
    before=${2:?usage: check-leftovers.sh check PIDFILE}
    left=()
    for pid in $(servers); do
        if ! grep -qx "$pid" "$before"; then
            left+=("process $(ps -o pid=,args= -p "$pid" | cut -c1-100)")
        fi
    done
    if command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ]; then
        ip=$(command -v ip || echo /usr/sbin/ip)
        for ns in $("$ip" netns list 2>/dev/null | awk '{print $1}'); do
            [[ $ns =~ $NAMES ]] && left+=("namespace $ns")
        done
        for link in $("$ip" -o link show 2>/dev/null |
                      awk -F': ' '{print $2}' | cut -d@ -f1); do
            [[ $link =~ $NAMES ]] && left+=("link $link")
        done
        if "$ip" route show type unreachable 2>/dev/null |
                grep -q '^unreachable 10\.77\.0\.0/24'; then
            left+=("route unreachable 10.77.0.0/24")
        fi
    fi
    for mount in $(fuse_mounts); do
        left+=("mount $mount ($FUSE_TYPE)")
    done
    if [ ${#left[@]} -ne 0 ]; then
        echo "check-leftovers: ERROR: the tests left behind:" >&2
        printf '  %s\n' "${left[@]}" >&2
        exit 1
    fi
    echo "check-leftovers: no namespace, link, route, mount or server left"
    ;;
*)
    echo "usage: check-leftovers.sh servers | check PIDFILE" >&2
    exit 2
    ;;
esac
