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

# The project's test command (README "Quick start", and CI via .ci/run).
#
# Installs what the tests need (tools/test-setup.sh), runs
# tox -e py3,functional,pep8 with its output copied to a log, and ends with
# one line that adds up the stestr totals of every environment:
#
#     tests: N passed, M failed, K skipped
#
# preceded, when a test failed, by the name of each failed test and the last
# lines of its traceback, so that the end of a truncated log names them.
#
# The exit status is tox's; a run in which no test ran at all fails too,
# and so does one that leaves a network namespace, link, route, broker,
# epmd, lock server or fault-injecting file system (its process or its
# mount) behind (tools/check-leftovers.sh).
#
# Environment:
#   CINDER_TOX_ENVS  tox environments to run (default: py3,functional,pep8)
#   CINDER_TEST_LOG  log file (default: .tox/run-tests.log)
# Arguments are passed to tox before the environment list, e.g. -r.

set -euo pipefail

cd "$(dirname "$0")/.."

envs=${CINDER_TOX_ENVS:-py3,functional,pep8}
log=${CINDER_TEST_LOG:-.tox/run-tests.log}

./tools/test-setup.sh

# Same lookup order as tools/test-setup.sh.
if command -v tox >/dev/null 2>&1; then
    tox=(tox)
elif python3 -m tox --version >/dev/null 2>&1; then
    tox=(python3 -m tox)
else
    tox=(.tox-venv/bin/tox)
fi

mkdir -p "$(dirname "$log")"
servers_before=$(mktemp)
trap 'rm -f "$servers_before"' EXIT
./tools/check-leftovers.sh servers > "$servers_before"
echo "run-tests: ${tox[*]} $* -e $envs (log: $log)"

set +e
"${tox[@]}" "$@" -e "$envs" 2>&1 | tee "$log"
tox_rc=${PIPESTATUS[0]}
set -e

# The log as plain lines: no colours, no carriage returns.
plain_log() {
    sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r$//' "$log"
}

# Add up the "Totals" blocks that stestr prints at the end of each run:
#   ======
#   Totals
#   ======
#   Ran: 12 tests in 3.4 sec.
#    - Passed: 11
#    - Skipped: 1
#    ...
#    - Failed: 0
#   Sum of execute time for each test: ...
read -r passed failed skipped < <(
    plain_log | awk '
        /^Totals$/ { in_totals = 1; next }
        in_totals && /^Sum of execute time/ { in_totals = 0; next }
        in_totals && /^ - Passed: [0-9]+$/ { p += $3 }
        in_totals && /^ - Failed: [0-9]+$/ { f += $3 }
        in_totals && /^ - Skipped: [0-9]+$/ { s += $3 }
        END { printf "%d %d %d\n", p, f, s }
    '
)

rc=$tox_rc
if [ "$rc" -eq 0 ] && [ $((passed + failed + skipped)) -eq 0 ]; then
    echo "run-tests: ERROR: no test ran" >&2
    rc=1
fi

# In CI every backend test must run: a skip means a lock server or a
# package was missing, which hides untested behaviour.
if [ -n "${CI:-}" ] && [ "$skipped" -ne 0 ]; then
    echo "run-tests: ERROR: $skipped test(s) skipped in CI" >&2
    rc=1
fi

# Name each failed test at the end, where a truncated log still shows it,
# with the last lines of its traceback: the full details are in the log.
if [ "$failed" -ne 0 ]; then
    echo "run-tests: failed tests (details in $log):"
    plain_log | awk '
        function flush() {
            if (name == "") return
            print "  " name
            first = (n > 8) ? n - 7 : 1
            for (i = first; i <= n; i++) print "      " substr(tb[i], 1, 300)
            name = ""; n = 0
        }
        /^\{[0-9]+\} / { flush() }
        /^\{[0-9]+\} .* \.\.\. FAILED$/ {
            name = $2; in_tb = 0; next
        }
        name != "" && /^Captured traceback:$/ { in_tb = 1; n = 0; next }
        /^~+$/ { next }
        /^[^ ]/ { in_tb = 0 }
        in_tb && /^ +[^ ]/ { tb[++n] = $0 }
        END { flush() }
    '
fi

if ! ./tools/check-leftovers.sh check "$servers_before"; then
    rc=1
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
