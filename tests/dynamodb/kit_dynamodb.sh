#!/bin/sh
# The conformance kit against the dynamodb state store on the DynamoDB
# stand-in of the ddb_servers fixture (dynalite behind the proxy that adds
# transactions and TTL, servers.js): every state test, on tables of its own
# created by the store's setup, scans paged by 2 items; keys from the environment.
#   kit_dynamodb.sh DELTALOAD PLUGIN_DIR STATE_DIR
set -eu
bin=$1 plugins=$2 state=$3
fail() { echo "kit_dynamodb: $*" >&2; exit 1; }
field() { node -e "process.stdout.write(String(require('$state/servers.json')['$1']))"; }
endpoint=$(field endpoint)
AWS_ACCESS_KEY_ID=$(field akid)
AWS_SECRET_ACCESS_KEY=$(field secret)
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
out=$(mktemp "${TMPDIR:-/tmp}/dld-kit-ddb-XXXXXX")
trap 'rm -f "$out"' EXIT
t="kit$$x$(date +%s)"
rc=0
"$bin" plugins check "$plugins/dld-state-dynamodb.so" --options "{\"endpoint\": \"$endpoint\", \"region\": \"us-east-1\",
  \"table\": \"${t}c\", \"history_table\": \"${t}h\", \"scan_page_size\": 2}" >"$out" 2>&1 || rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "the kit failed the dynamodb state store (exit $rc)"
! grep -q 'FAIL\|SKIP' "$out" || fail "a test failed or was skipped"
grep -q 'PASS  lease expiry: taken over with a larger token; the old token is fenced' "$out" || fail "no PASS for lease expiry"
! grep -qF "$AWS_SECRET_ACCESS_KEY" "$out" || fail "the secret key appears in the kit's output"
echo "kit_dynamodb: ok"
