#!/usr/bin/env bash
# Installs the SDK with `cmake --install`, builds sdk/examples/source-counter
# out of tree against it (CMake package), builds it again with pkg-config
# alone, and loads each build through the deltaload binary.
set -euo pipefail
: "${DLD_BIN:?}" "${DLD_SOURCE_DIR:?}" "${DLD_BUILD_DIR:?}"
work=$(mktemp -d /tmp/dld-example-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$DLD_BUILD_DIR" --prefix "$work/prefix" >/dev/null
[[ -f $work/prefix/include/deltaload/abi.h ]] || fail "headers not installed"
[[ -f $work/prefix/lib/pkgconfig/deltaload-sdk.pc ]] || fail "pkg-config file not installed"

# 1. CMake package
cmake -S "$DLD_SOURCE_DIR/sdk/examples/source-counter" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
[[ -f $work/build/dld-source-counter.so ]] || fail "example plugin not built"

# 2. pkg-config only
mkdir -p "$work/pc"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" cc -std=gnu11 -shared -fPIC -fvisibility=hidden \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags deltaload-sdk) \
  -o "$work/pc/dld-source-counter.so" "$DLD_SOURCE_DIR/sdk/examples/source-counter/counter.c" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --libs deltaload-sdk)

for dir in "$work/build" "$work/pc"; do
  run=$(mktemp -d "$work/run-XXXX")
  cat > "$run/deltaload.json" <<JSON
{"plugin_dirs": ["$dir"],
 "source": {"plugin": "counter", "options": {"rows": 2500}},
 "target": {"plugin": "file", "options": {"path": "lake", "format": "csv"}},
 "state": {"plugin": "sqlite", "options": {"path": "state.db"}},
 "tables": [{"targetTableName": "counted", "sourceTable": "generated", "filtercolumn": "id", "startvalue": "1"}]}
JSON
  (cd "$run" && "$DLD_BIN" plugins describe counter) | grep -q "rows" || fail "describe does not show the option"
  (cd "$run" && "$DLD_BIN" plugins describe counter) | grep -q "$dir/dld-source-counter.so" || fail "not loaded from $dir"
  (cd "$run" && "$DLD_BIN" run >/dev/null 2>&1) || fail "run with the example plugin failed"
  rows=$(cat "$run"/lake/counted/LOAD*.csv | grep -vc '^id,')
  [[ $rows == 2500 ]] || fail "expected 2500 rows from $dir, got $rows"
  nulls=$(cat "$run"/lake/counted/LOAD*.csv | grep -c ',$')
  [[ $nulls == 250 ]] || fail "expected 250 NULL labels, got $nulls"
done
echo "1 passed, 0 failed"
