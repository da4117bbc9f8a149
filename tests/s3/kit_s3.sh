#!/bin/sh
# The conformance kit against the s3 target on the S3 stand-in of the
# s3_servers fixture (s3rver behind the SigV4-verifying proxy, servers.js):
# every target test, the keys from the environment as a deployment would.
#   kit_s3.sh DELTALOAD PLUGIN_DIR STATE_DIR
set -eu
bin=$1 plugins=$2 state=$3
fail() { echo "kit_s3: $*" >&2; exit 1; }
field() { node -e "process.stdout.write(String(require('$state/servers.json')['$1']))"; }
endpoint=$(field endpoint)
AWS_ACCESS_KEY_ID=$(field akid)
AWS_SECRET_ACCESS_KEY=$(field secret)
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
out=$(mktemp "${TMPDIR:-/tmp}/dld-kit-s3-XXXXXX")
trap 'rm -f "$out"' EXIT
prefix="kit-$$-$(date +%s)"
rc=0
"$bin" plugins check "$plugins/dld-target-s3.so" --options "{\"bucket\": \"lake\", \"prefix\": \"$prefix\",
  \"endpoint\": \"$endpoint\", \"path_style\": true, \"region\": \"us-east-1\"}" >"$out" 2>&1 || rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "the kit failed the s3 target (exit $rc)"
! grep -q 'FAIL\|SKIP' "$out" || fail "a test failed or was skipped"
grep -q 'PASS  discard after a partial write' "$out" || fail "no PASS for the partial write"
grep -q 'PASS  publish repeated after a lost response succeeds' "$out" || fail "no PASS for the repeated publish"
! grep -qF "$AWS_SECRET_ACCESS_KEY" "$out" || fail "the secret key appears in the kit's output"
# the same tests with the tables written as Iceberg tables
rc=0
"$bin" plugins check "$plugins/dld-target-s3.so" --options "{\"bucket\": \"lake\", \"prefix\": \"$prefix-ice\",
  \"endpoint\": \"$endpoint\", \"path_style\": true, \"region\": \"us-east-1\", \"table_format\": \"iceberg\"}" \
  >"$out" 2>&1 || rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "the kit failed the s3 target with table_format iceberg (exit $rc)"
! grep -q 'FAIL\|SKIP' "$out" || fail "a test failed or was skipped (iceberg)"
echo "kit_s3: ok"
