#!/usr/bin/env bash
# Installs the SDK with `cmake --install`, builds sdk/examples/source-counter
# out of tree against it (CMake package), builds it again with pkg-config
# alone, and loads each build through the deltaload binary.
# The SDK's layers: the counter uses only the core layer, so neither build
# needs libcurl, libcrypto, avro or the compressors; target-file's source,
# built out of tree under another name through the `lake` component, needs
# the lake's libraries and still no curl. Both are linked with
# --no-as-needed, so the NEEDED entries are what the SDK's CMake targets and
# .pc files ask for, not what this toolchain's default prunes.
set -euo pipefail
: "${DLD_BIN:?}" "${DLD_SOURCE_DIR:?}" "${DLD_BUILD_DIR:?}"
work=$(mktemp -d /tmp/dld-example-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$DLD_BUILD_DIR" --prefix "$work/prefix" >/dev/null
[[ -f $work/prefix/include/deltaload/abi.h ]] || fail "headers not installed"
[[ -f $work/prefix/lib/pkgconfig/deltaload-sdk.pc ]] || fail "pkg-config file not installed"
for layer in lake aws schedule; do
  [[ -f $work/prefix/lib/pkgconfig/deltaload-sdk-$layer.pc ]] || fail "deltaload-sdk-$layer.pc not installed"
  [[ -f $work/prefix/lib/libdeltaload_sdk_$layer.a ]] || fail "libdeltaload_sdk_$layer.a not installed"
done
pc() { PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config "$@"; }
core_libs=" $(pc --libs deltaload-sdk) "
[[ $core_libs == *" -ldeltaload_sdk "* && $core_libs != *curl* && $core_libs != *avro* && $core_libs != *crypto* ]] ||
  fail "pkg-config --libs deltaload-sdk is not the core layer alone: $core_libs"
lake_libs=" $(pc --libs deltaload-sdk-lake) "
[[ $lake_libs == *" -ldeltaload_sdk_lake "*" -ldeltaload_sdk "* && $lake_libs != *curl* ]] ||
  fail "pkg-config --libs deltaload-sdk-lake: $lake_libs"
# NEEDED entries of a shared object, one a line
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
# no_needed FILE LIB...: FILE needs none of the LIBs
no_needed() {
  local so=$1 lib; shift
  for lib; do
    if needed "$so" | grep -q "^$lib"; then fail "$so needs $lib: $(needed "$so" | tr '\n' ' ')"; fi
  done
}

# 1. CMake package
cmake -S "$DLD_SOURCE_DIR/sdk/examples/source-counter" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_MODULE_LINKER_FLAGS=-Wl,--no-as-needed >/dev/null
cmake --build "$work/build" >/dev/null
[[ -f $work/build/dld-source-counter.so ]] || fail "example plugin not built"
no_needed "$work/build/dld-source-counter.so" libcurl libcrypto libavro libzstd libsnappy libz.so libcjson

# 2. pkg-config only
mkdir -p "$work/pc"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" cc -std=gnu11 -shared -fPIC -fvisibility=hidden \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags deltaload-sdk) \
  -o "$work/pc/dld-source-counter.so" "$DLD_SOURCE_DIR/sdk/examples/source-counter/counter.c" \
  -Wl,--no-as-needed $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --libs deltaload-sdk)
no_needed "$work/pc/dld-source-counter.so" libcurl libcrypto libavro libzstd libsnappy libz.so libcjson

# 3. a plugin of the lake layer, through its CMake component: target-file's
#    source as "lakecopy"
mkdir -p "$work/lakesrc"
sed 's/^#define S_NAME "file"$/#define S_NAME "lakecopy"/' "$DLD_SOURCE_DIR/plugins/target-file/target_file.c" \
  >"$work/lakesrc/lakecopy.c"
grep -q '"lakecopy"' "$work/lakesrc/lakecopy.c" || fail "target_file.c no longer names itself with S_NAME"
cmake -S "$DLD_SOURCE_DIR/tests/sdk/lake-plugin" -B "$work/lakebuild" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DLAKECOPY_SOURCE="$work/lakesrc/lakecopy.c" -DCMAKE_MODULE_LINKER_FLAGS=-Wl,--no-as-needed >/dev/null ||
  fail "find_package(deltaload-sdk COMPONENTS lake) failed"
cmake --build "$work/lakebuild" >/dev/null || fail "the lake-layer plugin does not build out of tree"
lakeso=$work/lakebuild/dld-target-lakecopy.so
needed "$lakeso" | grep -q '^libzstd' || fail "the lake plugin does not link the lake's libraries: $(needed "$lakeso" | tr '\n' ' ')"
no_needed "$lakeso" libcurl libcrypto
# an unknown component is refused
mkdir -p "$work/nocomp"
printf 'cmake_minimum_required(VERSION 3.20)\nproject(x C)\nfind_package(deltaload-sdk REQUIRED COMPONENTS nosuch)\n' \
  >"$work/nocomp/CMakeLists.txt"
if cmake -S "$work/nocomp" -B "$work/nocomp/b" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null 2>&1; then
  fail "find_package accepted COMPONENTS nosuch"
fi

cp "$lakeso" "$work/build/"
for dir in "$work/build" "$work/pc"; do
  run=$(mktemp -d "$work/run-XXXX")
  target=file # the CMake-built counter writes through the out-of-tree lake plugin
  [[ $dir == "$work/build" ]] && target=lakecopy
  cat > "$run/deltaload.json" <<JSON
{"plugin_dirs": ["$dir"],
 "source": {"plugin": "counter", "options": {"rows": 2500}},
 "target": {"plugin": "$target", "options": {"path": "lake", "format": "csv"}},
 "state": {"plugin": "sqlite", "options": {"path": "state.db"}},
 "tables": [{"targetTableName": "counted", "sourceTable": "generated", "filtercolumn": "id", "startvalue": "1"}]}
JSON
  (cd "$run" && "$DLD_BIN" plugins describe counter) | grep -q "rows" || fail "describe does not show the option"
  (cd "$run" && "$DLD_BIN" plugins describe counter) | grep -q "$dir/dld-source-counter.so" || fail "not loaded from $dir"
  if [[ $target == lakecopy ]]; then
    (cd "$run" && "$DLD_BIN" plugins describe lakecopy) | grep -q "$dir/dld-target-lakecopy.so" ||
      fail "the lake plugin is not loaded from $dir"
  fi
  (cd "$run" && "$DLD_BIN" run >/dev/null 2>&1) || fail "run with the example plugin failed"
  rows=$(cat "$run"/lake/counted/LOAD*.csv | grep -vc '^id,')
  [[ $rows == 2500 ]] || fail "expected 2500 rows from $dir, got $rows"
  nulls=$(cat "$run"/lake/counted/LOAD*.csv | grep -c ',$')
  [[ $nulls == 250 ]] || fail "expected 250 NULL labels, got $nulls"
done
echo "1 passed, 0 failed"
