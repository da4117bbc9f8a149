#!/bin/sh
# Upload throughput of target-s3 against plain curl PUTting the same bytes
# to the same server (s3rver behind the SigV4-verifying proxy of tests/s3),
# in the same run. Usage: bench/s3/run_bench.sh [build-dir] [rows]
# Needs a build with dld-target-s3 and the static SDK (cmake --build <dir>).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
rows=${2:-1500000}
tmp=$(mktemp -d /tmp/dld-s3-bench.XXXXXX)
state=$tmp/servers
bin=$tmp/s3_upload_bench
trap '"$root/tests/s3/stop.sh" "$state"; rm -rf "$tmp"' EXIT

echo "building the bench program" >&2
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$root/sdk/include" -I"$root/tests/common" -I"$root/tests/s3" \
  "$here/s3_upload_bench.c" "$root/tests/s3/s3_test_util.c" "$root/tests/common/test_host.c" \
  "$(find "$build" -name libdeltaload_sdk.a | head -1)" \
  -lcjson -lcurl -lcrypto -lzstd -lsnappy -lz -lm -lpthread -ldl -o "$bin"

DLD_NODE_DIR=$root/tests/node "$root/tests/s3/start.sh" "$state" >/dev/null
export DLD_S3_STATE=$state DLD_PLUGIN_DIR=$(dirname "$(find "$build" -name dld-target-s3.so | head -1)")
endpoint=$(sed -n 's/.*"endpoint": "\(.*\)".*/\1/p' "$state/servers.json")
akid=$(sed -n 's/.*"akid": "\(.*\)".*/\1/p' "$state/servers.json")
secret=$(sed -n 's/.*"secret": "\(.*\)".*/\1/p' "$state/servers.json")

echo "# $rows rows of CSV, s3rver behind the verifying proxy on 127.0.0.1, $(nproc) cores"
for cfg in "1 8388608" "4 8388608" "4 16777216" "2 67108864"; do
  set -- $cfg
  out=$("$bin" "$rows" "$1" "$2" "c$1p$2")
  echo "$out" | sed "s/^/concurrency=$1 part=$(($2 / 1048576))MiB /"
done
key=$(echo "$out" | sed 's/.*key=//')
file="$state/data/bench/$key._S3rver_object"
bytes=$(stat -c %s "$file")
hash=$(sha256sum "$file" | cut -d' ' -f1)
# the same bytes with plain curl: one signed PUT (curl's own SigV4; the
# payload hash is supplied because curl 7.88 would otherwise sign it as empty)
start=$(date +%s.%N)
code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$akid:$secret" \
  -H "x-amz-content-sha256: $hash" -T "$file" "$endpoint/bench/curl/same-bytes.csv")
end=$(date +%s.%N)
[ "$code" = 200 ] || { echo "curl PUT failed: HTTP $code" >&2; exit 1; }
awk -v b="$bytes" -v s="$start" -v e="$end" \
  'BEGIN { printf "curl PUT (one request) bytes=%d seconds=%.3f MBps=%.1f\n", b, e - s, b / (e - s) / 1e6 }'
