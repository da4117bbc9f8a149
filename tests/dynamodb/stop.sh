#!/bin/sh
# Stops what start.sh started (FIXTURES_CLEANUP). Usage: stop.sh <state-dir>
state=$1
[ -f "$state/node.pid" ] || exit 0
pid=$(cat "$state/node.pid")
kill "$pid" 2>/dev/null || exit 0
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$pid" 2>/dev/null || true
rm -f "$state/node.pid"
