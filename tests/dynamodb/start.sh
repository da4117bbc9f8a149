#!/bin/sh
# Starts dynalite and the verifying, fault-injecting proxy (servers.js) in
# the background for the state-dynamodb tests; a ctest fixture
# (FIXTURES_SETUP). Usage: start.sh <state-dir>. Waits until
# <state-dir>/servers.json exists.
set -eu
state=$1
here=$(cd "$(dirname "$0")" && pwd)
node_dir=${DLD_NODE_DIR:-$here/../node}
if [ -f "$state/servers.json" ]; then "$here/stop.sh" "$state" || true; fi
rm -rf "$state"
mkdir -p "$state"
NODE_PATH="$node_dir/node_modules" nohup node "$here/servers.js" "$state" >"$state/servers.log" 2>&1 &
echo $! >"$state/node.pid"
i=0
while [ ! -f "$state/servers.json" ]; do
  i=$((i + 1))
  if [ $i -gt 150 ] || ! kill -0 "$(cat "$state/node.pid")" 2>/dev/null; then
    echo "dynamodb test servers did not start:" >&2
    cat "$state/servers.log" >&2
    exit 1
  fi
  sleep 0.1
done
cat "$state/servers.json"
