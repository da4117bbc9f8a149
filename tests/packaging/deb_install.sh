#!/usr/bin/env bash
# The .deb packages as an operator gets them:
#  1. cpack builds every package from this build tree (into a scratch dir);
#     each plugin .so is in exactly the package docs/operations.md names,
#     plugin packages depend on deltaload, the dev package holds the SDK;
#  2. the core package is extracted with dpkg -x into a scratch root and its
#     binary loads a SQLite table into a file lake, with the packaged plugin
#     directory and then alone (the embedded defaults);
#  3. the man page renders (man -l, else groff) and lists every command
#     `deltaload --help` prints; the bash completion completes commands and
#     options; the systemd unit names the installed binary;
#  4. the dev package's pkg-config file resolves inside the extracted root
#     and builds the example plugin, which the installed binary loads.
# Exit 77 (skipped) only when cpack or dpkg is missing; a later step whose
# tool is missing (sqlite3, man/groff, cc) is skipped with a message.
set -euo pipefail
: "${DLD_SOURCE_DIR:?}" "${DLD_BUILD_DIR:?}" "${DLD_SCRATCH:?}" "${DLD_PREFIX:?}" "${DLD_PLUGIN_DIR_REL:?}"
: "${DLD_BINDIR:?}" "${DLD_MANDIR:?}" "${DLD_DATADIR:?}" "${DLD_LIBDIR:?}" "${DLD_VERSION:?}" "${DLD_DEB_LAYOUT:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip_step() { echo "SKIP (step): $*"; }
for tool in cpack dpkg dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (dpkg / cmake's cpack)"; exit 77; }
done
t0=$SECONDS
mkdir -p "$DLD_SCRATCH"
work=$(mktemp -d "$DLD_SCRATCH/deb-XXXXXX")
trap '[[ -n ${DLD_KEEP:-} ]] || rm -rf "$work"' EXIT

# ---- 1. the packages ------------------------------------------------------------
cpack --config "$DLD_BUILD_DIR/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log" >&2; fail "cpack failed"; }
deb_of() { ls "$work/pkg/$1"_"$DLD_VERSION"_*.deb 2>/dev/null | head -1; }
core=$(deb_of deltaload)
[[ -n $core ]] || fail "no deltaload_${DLD_VERSION}_*.deb among: $(ls "$work/pkg")"
prefix=${DLD_PREFIX#/}
plugindir_in_deb="./$prefix/$DLD_PLUGIN_DIR_REL"
declare -A owner=()
for entry in $DLD_DEB_LAYOUT; do
    pkg=${entry%%=*}
    files=${entry#*=}
    deb=$(deb_of "$pkg")
    [[ -n $deb ]] || fail "package $pkg not built"
    [[ $(dpkg-deb -f "$deb" Package) == "$pkg" ]] || fail "$deb: Package field is not $pkg"
    # the plugin files in this package: exactly the expected ones
    got=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -E '/dld-[a-z]+-[a-z0-9_]+\.so$' | sort | tr '\n' ' ')
    want=$(for f in ${files//,/ }; do echo "$plugindir_in_deb/$f"; done | sort | tr '\n' ' ')
    [[ $got == "$want" ]] || fail "$pkg holds plugins [$got], expected [$want]"
    for f in ${files//,/ }; do
        [[ -z ${owner[$f]:-} ]] || fail "$f is in both ${owner[$f]} and $pkg"
        owner[$f]=$pkg
    done
    if [[ $pkg != deltaload ]]; then
        deps=$(dpkg-deb -f "$deb" Depends)
        [[ $deps == *"deltaload (= $DLD_VERSION)"* ]] || fail "$pkg does not depend on deltaload (= $DLD_VERSION): $deps"
    fi
done
# every plugin the build made is in some package
for so in "$DLD_BUILD_DIR"/plugins/dld-*.so; do
    f=$(basename "$so")
    [[ -n ${owner[$f]:-} ]] || fail "$f is built but in no package"
done
core_list=$(dpkg-deb -c "$core" | awk '{ print $6 }')
for f in "./$prefix/$DLD_BINDIR/deltaload" "./$prefix/$DLD_MANDIR/man1/deltaload.1" \
    "./$prefix/$DLD_DATADIR/bash-completion/completions/deltaload" "./$prefix/lib/systemd/system/deltaload.service" \
    "./$prefix/$DLD_DATADIR/doc/deltaload/README.md" "./$prefix/$DLD_DATADIR/doc/deltaload/docs/operations.md"; do
    grep -qxF "$f" <<<"$core_list" || fail "the deltaload package lacks $f"
done
if grep -qE '\.a$|/include/' <<<"$core_list"; then fail "the deltaload package holds SDK files"; fi
dev=$(deb_of deltaload-dev)
[[ -n $dev ]] || fail "no deltaload-dev package"
dev_list=$(dpkg-deb -c "$dev" | awk '{ print $6 }')
for f in "./$prefix/include/deltaload/deltaload.h" "./$prefix/$DLD_LIBDIR/libdeltaload_sdk.a" \
    "./$prefix/$DLD_LIBDIR/pkgconfig/deltaload-sdk.pc" "./$prefix/$DLD_LIBDIR/cmake/deltaload-sdk/deltaload-sdk-config.cmake"; do
    grep -qxF "$f" <<<"$dev_list" || fail "the deltaload-dev package lacks $f"
done
for layer in lake aws schedule; do # the SDK's layers (docs/plugin-authoring.md)
    for f in "./$prefix/$DLD_LIBDIR/libdeltaload_sdk_$layer.a" "./$prefix/$DLD_LIBDIR/pkgconfig/deltaload-sdk-$layer.pc"; do
        grep -qxF "$f" <<<"$dev_list" || fail "the deltaload-dev package lacks $f"
    done
done
if command -v dpkg-shlibdeps >/dev/null; then
    # shlibdeps: the libraries the binary links are package dependencies
    deps=$(dpkg-deb -f "$core" Depends)
    for lib in libsqlite3 libcjson libc6; do
        [[ $deps == *"$lib"* ]] || fail "deltaload does not depend on $lib (shlibdeps): $deps"
    done
    pg=$(deb_of deltaload-postgres)
    if [[ -n $pg ]]; then
        [[ $(dpkg-deb -f "$pg" Depends) == *libpq* ]] || fail "deltaload-postgres does not depend on libpq"
    fi
fi
[[ $(dpkg-deb -I "$core" postinst 2>/dev/null) == *deltaload* ]] || fail "the deltaload package has no postinst creating the user"
echo "ok: $(ls "$work/pkg" | grep -c '\.deb$') packages, plugins each in one package ($((SECONDS - t0))s)"

# ---- 2. the installed binary -------------------------------------------------------
root=$work/root
dpkg -x "$core" "$root"
bin=$root/$prefix/$DLD_BINDIR/deltaload
plugindir=$root/$prefix/$DLD_PLUGIN_DIR_REL
[[ -x $bin ]] || fail "no executable $bin after dpkg -x"
grep -qF "deltaload $DLD_VERSION" <<<"$("$bin" version)" || fail "installed binary: version is not $DLD_VERSION"
run=$work/run
mkdir -p "$run"
if command -v sqlite3 >/dev/null; then
    sqlite3 "$run/source.db" <<'SQL'
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, amount REAL, version INTEGER NOT NULL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 300)
INSERT INTO orders SELECT i, 'customer ' || (i % 7), i * 1.5, i FROM c;
SQL
    write_config() { # $1: plugin_dirs JSON array
        cat >"$run/deltaload.json" <<JSON
{"plugin_dirs": $1,
 "source": {"plugin": "sqlite", "options": {"path": "source.db"}},
 "target": {"plugin": "file", "options": {"path": "lake", "format": "csv"}},
 "state": {"plugin": "sqlite", "options": {"path": "state.db"}},
 "tables": [{"targetTableName": "orders", "sourceSchema": "main", "sourceTable": "orders",
             "filtercolumn": "version", "filteroperator": "gte", "startvalue": "1"}]}
JSON
    }
    # a) with the packaged plugin directory: the .so files from the package
    write_config "[\"$plugindir\"]"
    (cd "$run" && "$bin" plugins list --json) >"$work/plugins.json"
    for p in dld-source-sqlite dld-target-file dld-state-sqlite; do
        grep -qF "\"$plugindir/$p.so\"" "$work/plugins.json" || fail "installed binary does not load $plugindir/$p.so"
    done
    (cd "$run" && "$bin" run >"$work/run1.log" 2>&1) || { cat "$work/run1.log" >&2; fail "installed binary: run failed"; }
    rows=$(cat "$run"/lake/main/orders/LOAD*.csv | grep -vc '^id,' || true)
    [[ $rows == 300 ]] || fail "first load: expected 300 rows, got $rows"
    # b) the binary alone, copied away from its plugin directory: the embedded defaults
    mkdir -p "$work/bare"
    cp "$bin" "$work/bare/deltaload"
    sqlite3 "$run/source.db" "INSERT INTO orders VALUES (301, 'late', 1.0, 301), (302, 'later', 2.0, 302);"
    write_config "[]"
    (cd "$run" && "$work/bare/deltaload" plugins list --json) >"$work/plugins2.json"
    builtin=$(grep -c '"path":[[:space:]]*"(built in)"' "$work/plugins2.json" || true)
    if [[ $builtin -lt 4 ]]; then
        skip_step "the install directory this binary was built for holds plugins; not checking the built-in ones"
    fi
    (cd "$run" && "$work/bare/deltaload" run >"$work/run2.log" 2>&1) ||
        { cat "$work/run2.log" >&2; fail "installed binary without plugin dir: run failed"; }
    rows=$(cat "$run"/lake/main/orders/LOAD*.csv | grep -vc '^id,' || true)
    [[ $rows == 302 ]] || fail "after the delta: expected 302 rows in the lake, got $rows"
    grep -qE '"watermark":[[:space:]]*"302"' <<<"$(cd "$run" && "$bin" status --json)" || fail "status does not show watermark 302"
    echo "ok: installed binary loaded 300 + 2 rows (packaged plugins, then built-in) ($((SECONDS - t0))s)"
else
    skip_step "sqlite3 not installed: no load with the installed binary"
fi

# ---- 3. man page, completion, unit --------------------------------------------------
page=$root/$prefix/$DLD_MANDIR/man1/deltaload.1
cmds=$("$bin" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f && /^  [a-z]/ { print $1 }')
[[ $(wc -w <<<"$cmds") -ge 5 ]] || fail "installed deltaload --help lists no commands"
rendered=""
if command -v man >/dev/null; then
    # not a terminal: man-db prints plain text, no pager
    rendered=$(LC_ALL=C MANWIDTH=100 man -l "$page" 2>"$work/man.err")
    renderer="man -l"
elif command -v groff >/dev/null; then
    rendered=$(LC_ALL=C groff -man -Tascii -P-cbou "$page" 2>"$work/man.err")
    renderer=groff
else
    skip_step "neither man nor groff installed: the page is not rendered"
fi
if [[ -n ${renderer:-} ]]; then
    [[ -n $rendered ]] || { cat "$work/man.err" >&2; fail "$renderer rendered nothing"; }
    if command -v groff >/dev/null; then
        # warnings (bad requests, escapes) fail the test
        groff -man -Tutf8 -ww -z "$page" 2>"$work/groff.err"
        [[ ! -s $work/groff.err ]] || { cat "$work/groff.err" >&2; fail "groff warns about the man page"; }
    fi
    grep -q "^NAME" <<<"$rendered" || fail "man page has no NAME section"
    squeezed=$(tr -s ' ' <<<"$rendered")
    for c in $cmds; do
        grep -qE "^ +deltaload $c\$" <<<"$rendered" || fail "the man page has no section for '$c' (in --help)"
        "$bin" "$c" --help | head -1 | sed 's/ *$//' >"$work/first"
        first=$(tr -s ' ' <"$work/first")
        grep -qF -- "$first" <<<"$squeezed" || fail "the man page lacks '$c --help' text: $first"
    done
    echo "ok: $renderer renders deltaload(1) with all $(wc -w <<<"$cmds") commands"
fi
comp=$root/$prefix/$DLD_DATADIR/bash-completion/completions/deltaload
complete_words() { # the words the completion offers for the command line "$@" (last word: being typed)
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _deltaload; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$comp" "$@"
}
got=$(complete_words deltaload "" | sort | tr '\n' ' ')
want=$(sort <<<"$cmds" | tr '\n' ' ')
[[ $got == "$want" ]] || fail "completion of a command: [$got], expected [$want]"
grep -qx -- --table <<<"$(complete_words deltaload run --t)" || fail "completion: 'run --t' does not offer --table"
grep -qx -- --prometheus <<<"$(complete_words deltaload -c x.json status --pro)" || fail "completion: status --prometheus"
got=$(complete_words deltaload state "" | sort | tr '\n' ' ')
[[ $got == "copy init rebuild " ]] || fail "completion: state subcommands are [$got]"
[[ -z $(complete_words deltaload run --table "") ]] || fail "completion: offers words for --table's value"
echo "ok: bash completion"
unit=$root/$prefix/lib/systemd/system/deltaload.service
grep -qxE "ExecStart=$DLD_PREFIX/$DLD_BINDIR/deltaload .*" "$unit" || fail "unit's ExecStart is not $DLD_PREFIX/$DLD_BINDIR/deltaload: $(grep ExecStart "$unit")"
grep -qx "User=deltaload" "$unit" || fail "unit does not run as deltaload"

# ---- 4. the dev package ----------------------------------------------------------------
devroot=$work/devroot
dpkg -x "$dev" "$devroot"
if command -v pkg-config >/dev/null; then
    export PKG_CONFIG_PATH=$devroot/$prefix/$DLD_LIBDIR/pkgconfig
    inc=$(pkg-config --variable=includedir deltaload-sdk)
    [[ -f $inc/deltaload/deltaload.h ]] || fail "pkg-config includedir $inc does not hold deltaload/deltaload.h"
    if command -v cc >/dev/null; then
        cc -std=gnu11 -shared -fPIC -fvisibility=hidden $(pkg-config --cflags deltaload-sdk) \
            -o "$work/dld-source-counter.so" "$DLD_SOURCE_DIR/sdk/examples/source-counter/counter.c" \
            $(pkg-config --libs deltaload-sdk) || fail "the example plugin does not build against deltaload-dev"
        "$bin" plugins check "$work/dld-source-counter.so" --options '{"rows": 10}' >"$work/check.log" 2>&1 ||
            { cat "$work/check.log" >&2; fail "the installed binary's conformance kit refuses the example plugin"; }
        echo "ok: deltaload-dev builds the example plugin (pkg-config), the installed binary checks it"
    else
        skip_step "no C compiler: the example plugin is not built against deltaload-dev"
    fi
else
    skip_step "pkg-config not installed: deltaload-dev's .pc file not checked"
fi
echo "packaging_deb passed in $((SECONDS - t0))s"
