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

# Fail when etc/cinder/cinder.conf.sample does not match the options that
# the code registers.  Run from tox (pep8), where oslo-config-generator and
# the installed cinder package are on PATH.

set -euo pipefail

cd "$(dirname "$0")/.."

generator_conf=etc/cinder/cinder-config-generator.conf
sample=etc/cinder/cinder.conf.sample

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT

if ! oslo-config-generator --config-file="$generator_conf" \
        --output-file="$tmpdir/cinder.conf.sample" 2>"$tmpdir/error.log"; then
    cat "$tmpdir/error.log" >&2
    echo "ERROR: oslo-config-generator failed for $generator_conf" \
         "(is the cinder.opts:list_opts entry point importable?)" >&2
    exit 1
fi

if [ ! -f "$sample" ]; then
    echo "ERROR: $sample does not exist." >&2
    echo "Run 'tox -e genconfig' and add the file to your change." >&2
    exit 1
fi

if ! diff -u --label "$sample (in tree)" --label "$sample (generated)" \
        "$sample" "$tmpdir/cinder.conf.sample"; then
    echo "ERROR: $sample is out of date (diff above: - in tree," \
         "+ generated)." >&2
    echo "Run 'tox -e genconfig' and add the result to your change." >&2
    exit 1
fi

echo "$sample is up to date."
