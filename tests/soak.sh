#!/bin/sh
# Soak: the reliability campaign (tests/campaign/campaign.cjs), time-bounded.
# Rounds over {file, s3 target} x {sqlite, dynamodb state}, the source
# changing before each: SIGKILL at random points and at every transition,
# SIGTERM, four racing processes, runs behind the 50 % fault proxies (S3 and
# DynamoDB stand-ins it starts itself); then clean runs, and every lake is
# read back with DuckDB through the published manifests and checked against
# the source's log of every row version:
#   - no row version twice, none the source never had, every current row there;
#   - no orphan files (nothing a published manifest does not list);
#   - no open multipart upload (s3);
#   - the secret keys in no command's output, state file or lake file;
#   - every exit status one the documented list allows.
#
#   tests/soak.sh MINUTES [BUILD_DIR]      (SOAK_SECONDS overrides MINUTES)
#
# SOAK_SEED fixes the seed (printed either way). Prints the figures (rounds,
# kills, terms, races, faults, rows compared, discrepancies) and exits 1 on
# any discrepancy, 77 when node, its test modules (tests/node) or sqlite3 are
# missing. Runs in a temporary directory (kept with SOAK_KEEP=1, and always
# when something is wrong). The CI-sized run is the ctest `campaign`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
minutes=${1:?usage: tests/soak.sh MINUTES [BUILD_DIR]}
build=$(cd "${2:-$src/build}" && pwd)
secs=${SOAK_SECONDS:-$(awk "BEGIN { print int($minutes * 60) }")}
DLD_BIN=${DLD_BIN:-$build/deltaload}
DLD_PLUGIN_DIR=${DLD_PLUGIN_DIR:-$build/plugins}
DLD_TEST_PLUGIN_DIR=${DLD_TEST_PLUGIN_DIR:-$build/tests/core/testplugins}
DLD_NODE_DIR=${DLD_NODE_DIR:-$src/tests/node}
export DLD_BIN DLD_PLUGIN_DIR DLD_TEST_PLUGIN_DIR DLD_NODE_DIR
[ -x "$DLD_BIN" ] || { echo "soak: no binary at $DLD_BIN (build first, or give BUILD_DIR)"; exit 2; }
command -v node >/dev/null 2>&1 || { echo "soak: SKIPPED: node is needed (tests/node)"; exit 77; }
[ "${SOAK_KEEP:-}" = 1 ] && export CAMPAIGN_KEEP=1
exec node "$src/tests/campaign/campaign.cjs" --seconds "$secs" ${SOAK_SEED:+--seed "$SOAK_SEED"}
