#!/bin/sh
# Upload throughput of target-s3 against plain curl PUTting the same bytes
# to the same server (s3rver behind the SigV4-verifying proxy of tests/s3),
# in the same run, interleaved, several rounds; medians and ratios at the end.
#
# Usage: bench/s3/run_bench.sh [build-dir] [rows] [rounds]
#   build-dir  a build with dld-target-s3 and the static SDK (default build/)
#   rows       test rows to encode as CSV (default 1500000, ~116 MB)
#   rounds     repetitions of every measurement (default 3)
#
# What is compared (see docs/benchmarks-s3.md):
#   curl PUT              curl --aws-sigv4 -T file: one signed PUT; the body's
#                         SHA-256 is computed before the clock starts
#   curl PUT + sha256     the same with the hashing (openssl dgst) inside the
#                         timed region (the target hashes every body it signs)
#   upload path ...       plugins/target-s3's upload sink fed the same bytes
#                         from memory: one PutObject, or multipart with N
#                         parts in flight
#   curl multipart ...    the same multipart upload made with curl processes
#                         (parts split before the clock, N at a time, each
#                         hashed and PUT, then CompleteMultipartUpload)
#   whole pipeline        rows → CSV encoder → upload through the plugin's
#                         vtable (context: includes encoding, curl does not)
#
# DLD_BENCH_BASELINE=<git revision> also builds the bench against that
# revision's plugins/target-s3 upload sources and times it, interleaved, as
# "upload path @<rev>: ..." lines (one PutObject, multipart c=4 8 MiB): a
# before/after comparison in one run, against the same curl figures.
# DLD_BENCH_PUT_ONLY=1 times only curl PUT and the one-PutObject lines (the
# baseline's too, in alternating order round by round): many rounds quickly,
# for a difference smaller than the noise between rounds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
rows=${2:-1500000}
rounds=${3:-3}
tmp=$(mktemp -d /tmp/dld-s3-bench.XXXXXX)
state=$tmp/servers
bin=$tmp/s3_upload_bench
trap '"$root/tests/s3/stop.sh" "$state"; rm -rf "$tmp"' EXIT

sdk=$(find "$build" -name libdeltaload_sdk.a | head -1)
# the SDK's layers this program uses (lake, aws), then the core layer
[ -n "$sdk" ] && sdk="$(dirname "$sdk")/libdeltaload_sdk_lake.a $(dirname "$sdk")/libdeltaload_sdk_aws.a $sdk"
plugin=$(find "$build" -name dld-target-s3.so | head -1)
[ -n "$sdk" ] && [ -n "$plugin" ] || { echo "no SDK library or dld-target-s3.so under $build: build it first" >&2; exit 1; }
echo "building the bench program" >&2
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$root/sdk/include" -I"$root/tests/common" -I"$root/tests/s3" \
  -I"$root/plugins/target-s3" \
  "$here/s3_upload_bench.c" "$root/plugins/target-s3/s3_upload.c" "$root/plugins/target-s3/s3_ops.c" \
  "$root/tests/s3/s3_test_util.c" "$root/tests/common/test_host.c" $sdk \
  -lcjson -lcurl -lcrypto -lzstd -lsnappy -lz -lavro -lm -lpthread -ldl -o "$bin"
base=${DLD_BENCH_BASELINE:-}
if [ -n "$base" ]; then
  echo "building the bench program against $base's upload sources" >&2
  mkdir -p "$tmp/base"
  for f in s3_upload.c s3_ops.c s3_internal.h; do
    git -C "$root" show "$base:plugins/target-s3/$f" >"$tmp/base/$f"
  done
  cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$root/sdk/include" -I"$root/tests/common" -I"$root/tests/s3" -I"$tmp/base" \
    "$here/s3_upload_bench.c" "$tmp/base/s3_upload.c" "$tmp/base/s3_ops.c" \
    "$root/tests/s3/s3_test_util.c" "$root/tests/common/test_host.c" $sdk \
    -lcjson -lcurl -lcrypto -lzstd -lsnappy -lz -lavro -lm -lpthread -ldl -o "$tmp/s3_upload_bench_base"
fi

DLD_NODE_DIR=$root/tests/node "$root/tests/s3/start.sh" "$state" >/dev/null
export DLD_S3_STATE=$state DLD_PLUGIN_DIR=$(dirname "$plugin")
endpoint=$(sed -n 's/.*"endpoint": "\(.*\)".*/\1/p' "$state/servers.json")
akid=$(sed -n 's/.*"akid": "\(.*\)".*/\1/p' "$state/servers.json")
secret=$(sed -n 's/.*"secret": "\(.*\)".*/\1/p' "$state/servers.json")

file=$tmp/data.csv
"$bin" encode "$rows" "$file" >"$tmp/encode.txt"
bytes=$(stat -c %s "$file")
mib=1048576
whole=$(( (bytes + mib - 1) / mib * mib ))
[ "$whole" -ge $((5 * mib)) ] || whole=$((5 * mib))
results=$tmp/results.txt
: >"$results"
: >"$tmp/complete.txt"

now() { date +%s.%N; }
# OpenSSL's SHA-256, the implementation the target uses (coreutils'
# sha256sum is several times slower here and would handicap curl)
sha() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
record() { # label seconds
  echo "$1|$2" >>"$results"
  awk -v l="$1" -v s="$2" -v b="$bytes" 'BEGIN { printf "  %-44s %7.3f s %7.1f MB/s\n", l, s, b / s / 1e6 }'
}
curl_put() { # hash-inside(0/1) key
  start=$(now)
  if [ "$1" = 1 ]; then hash=$(sha "$file"); else hash=$prehash; fi
  code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$akid:$secret" \
    -H "x-amz-content-sha256: $hash" -T "$file" "$endpoint/bench/$2")
  end=$(now)
  [ "$code" = 200 ] || { echo "curl PUT failed: HTTP $code" >&2; exit 1; }
  echo "$end - $start" | bc -l
}
# The same multipart upload done by curl processes: CreateMultipartUpload,
# the parts (split beforehand, like the target's bytes that are already in
# memory) sent N at a time, each hashed then PUT, then CompleteMultipartUpload.
curl_multipart() { # concurrency part_size key
  parts=$tmp/parts.$2
  if [ ! -d "$parts" ]; then mkdir -p "$parts" && split -b "$2" -d -a 5 "$file" "$parts/p"; fi
  rm -f "$tmp"/etag.*
  start=$(now)
  id=$(curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$akid:$secret" -H "x-amz-content-sha256: $empty" \
    -X POST "$endpoint/bench/$3?uploads=" | sed -n 's/.*<UploadId>\(.*\)<\/UploadId>.*/\1/p')
  [ -n "$id" ] || { echo "curl CreateMultipartUpload failed" >&2; exit 1; }
  ls "$parts" | xargs -P "$1" -I{} sh -c '
    n=$(( $(echo {} | sed "s/^p0*//;s/^$/0/") + 1 ))
    h=$(openssl dgst -sha256 -r "$0/{}" | cut -d" " -f1)
    curl -s -D - -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$1" -H "x-amz-content-sha256: $h" \
      -T "$0/{}" "$2?partNumber=$n&uploadId=$3" | tr -d "\r" | sed -n "s/^[Ee][Tt][Aa][Gg]: *//p" >"$4.$n"' \
    "$parts" "$akid:$secret" "$endpoint/bench/$3" "$id" "$tmp/etag"
  body=$tmp/complete.xml
  { printf '<CompleteMultipartUpload>'
    for n in $(ls "$tmp"/etag.* | sed 's/.*\.//' | sort -n); do
      printf '<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>' "$n" "$(cat "$tmp/etag.$n")"
    done
    printf '</CompleteMultipartUpload>'; } >"$body"
  code=$(curl -s -o "$tmp/complete.out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$akid:$secret" \
    -H "x-amz-content-sha256: $(sha "$body")" -H 'Content-Type: application/xml' \
    --data-binary @"$body" "$endpoint/bench/$3?uploadId=$id")
  end=$(now)
  [ "$code" = 200 ] && grep -q CompleteMultipartUploadResult "$tmp/complete.out" || {
    echo "curl CompleteMultipartUpload failed: HTTP $code $(cat "$tmp/complete.out")" >&2; exit 1; }
  echo "$end - $start" | bc -l
}
target_upload() { # concurrency part_size key [program]
  out=$("${4:-$bin}" upload "$file" "$1" "$2" "$3")
  echo "$out" | sed -n 's/.*server_complete_seconds=\([0-9.]*\).*/\1/p' >"$tmp/complete"
  echo "$out" | sed 's/.* seconds=\([0-9.]*\).*/\1/'
}

prehash=$(sha "$file")
empty=$(printf '' | openssl dgst -sha256 -r | cut -d' ' -f1)
echo "# $rows rows of CSV = $bytes bytes; s3rver behind the verifying proxy (one Node process) on 127.0.0.1;"
echo "# $(nproc) cores shared by client and server; $rounds rounds, interleaved"
cat "$tmp/encode.txt"
for r in $(seq 1 "$rounds"); do
  echo "round $r"
  record "curl PUT (one request)" "$(curl_put 0 curl/one.csv)"
  if [ -n "${DLD_BENCH_PUT_ONLY:-}" ]; then
    for who in $( [ $((r % 2)) = 1 ] && echo "new base" || echo "base new"); do
      if [ "$who" = new ]; then record "upload path: one PutObject" "$(target_upload 1 "$whole" t/put.csv)"
      elif [ -n "$base" ]; then
        record "upload path @$base: one PutObject" "$(target_upload 1 "$whole" t/put-base.csv "$tmp/s3_upload_bench_base")"
      fi
    done
    continue
  fi
  record "curl PUT + sha256 of the body" "$(curl_put 1 curl/one.csv)"
  record "upload path: one PutObject" "$(target_upload 1 "$whole" t/put.csv)"
  if [ -n "$base" ]; then
    record "upload path @$base: one PutObject" "$(target_upload 1 "$whole" t/put-base.csv "$tmp/s3_upload_bench_base")"
    record "upload path @$base: multipart c=4 part=8MiB" \
      "$(target_upload 4 $((8 * mib)) t/c4p8-base.csv "$tmp/s3_upload_bench_base")"
  fi
  for cfg in "1 8" "4 8" "4 16"; do
    set -- $cfg
    record "upload path: multipart c=$1 part=$2MiB" "$(target_upload "$1" $(($2 * mib)) "t/c$1p$2.csv")"
    echo "c=$1 part=$2MiB|$(cat "$tmp/complete")" >>"$tmp/complete.txt"
    record "curl multipart c=$1 part=$2MiB" "$(curl_multipart "$1" $(($2 * mib)) "curl/c$1p$2.csv")"
  done
  out=$("$bin" pipeline "$rows" 4 $((8 * mib)) "pipe$r")
  record "whole pipeline c=4 part=8MiB (incl. encoding)" "$(echo "$out" | sed 's/.*seconds=\([0-9.]*\).*/\1/')"
done

echo
echo "# medians over $rounds rounds. vs curl PUT = curl PUT seconds / these seconds (>= 1: as fast as curl or"
echo "# faster); vs curl multipart = the same multipart upload (same parts, same parallelism) done by curl"
awk -F'|' -v b="$bytes" '
  { n[$1]++; v[$1, n[$1]] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
  function median(l,   i, j, t, m, a) {
    m = n[l]; for (i = 1; i <= m; i++) a[i] = v[l, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    ref = median("curl PUT (one request)")
    for (i = 1; i <= k; i++) {
      s = median(order[i])
      line = sprintf("%-46s %7.3f s %7.1f MB/s  %5.2fx curl PUT", order[i], s, b / s / 1e6, ref / s)
      if (order[i] ~ /^upload path: multipart/) {
        peer = order[i]; sub(/^upload path: multipart/, "curl multipart", peer)
        if (peer in seen) line = line sprintf("  %5.2fx curl multipart", median(peer) / s)
      }
      print line
    }
  }' "$results"
[ -s "$tmp/complete.txt" ] || exit 0
echo
echo "# server side: seconds s3rver + proxy spent answering CompleteMultipartUpload (s3rver re-reads every"
echo "# part and writes the whole object again; a single PUT does not pay this; real S3 does not either)"
awk -F'|' '{ s[$1] = s[$1] " " $2 } END { for (k in s) printf "  %-22s%s\n", k, s[k] }' "$tmp/complete.txt" | sort
