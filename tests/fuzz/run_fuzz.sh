#!/bin/sh
# libFuzzer campaign: builds each target in tests/fuzz with clang
# (-fsanitize=fuzzer,address,undefined; the code under test is compiled
# instrumented, the rest comes from the build's static libraries) and runs
# it for SECONDS on a copy of its seed corpus (tests/fuzz/corpus/NAME).
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS [NAME...]
#
# With DLD_FUZZ_RUNS=N (what the ctest sets) each target runs exactly N
# inputs from a fixed seed instead, so the CI smoke gives the same answer on
# every machine and every run; open-ended searching belongs to the timed runs.
#
# Exit 0: no crash; 1: a crash (the reproducer is printed); 77: skipped
# (no clang with libFuzzer, or a sanitizer build whose libraries clang
# cannot link). New inputs found stay in $DLD_FUZZ_OUT (default: a
# temporary directory, removed).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:?usage: run_fuzz.sh BUILD_DIR SECONDS [NAME...]}
secs=${2:?usage: run_fuzz.sh BUILD_DIR SECONDS [NAME...]}
shift 2
names=${*:-"config item schedule s3xml awsjson"}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: SKIPPED: $CLANG not found (libFuzzer needs clang)"
    exit 77
fi
core_lib=$(find "$build" -name libdld_core.a | head -n 1)
sdk_lib=$(find "$build" -name libdeltaload_sdk.a | head -n 1)
if [ -z "$core_lib" ] || [ -z "$sdk_lib" ]; then
    echo "fuzz: SKIPPED: build $build has no libdld_core.a / libdeltaload_sdk.a yet"
    exit 77
fi
if nm "$sdk_lib" 2>/dev/null | grep -q __asan_; then
    echo "fuzz: SKIPPED: $build is a sanitizer build (gcc's ASan runtime cannot link with clang's)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/dld-fuzz.XXXXXX")
out=${DLD_FUZZ_OUT:-$work/found}
trap 'rm -rf "$work"' EXIT
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
 -I$src/core -I$build/core -I$src/sdk/include -I$src/sdk/src -I$src/sdk/src/aws"
# the libraries deltaload itself links, as CMake wrote them (they change as
# the SDK grows): everything after its main object on its link line
link_txt=$build/core/CMakeFiles/deltaload.dir/link.txt
libs=""
if [ -f "$link_txt" ]; then
    for tok in $(sed 's/.* -o [^ ]* //' "$link_txt"); do
        case $tok in
            -l* | /*) libs="$libs $tok" ;;
            *.a | *.so) libs="$libs $build/core/$tok" ;;
        esac
    done
fi
[ -n "$libs" ] || libs="$core_lib $sdk_lib -lcjson -lsqlite3 -lzstd -lsnappy -lz -lcurl -lcrypto -lm -ldl"
libs="$libs -lpthread"
rc=0
for name in $names; do
    case $name in
        config) code="$src/core/config.c $src/core/items.c $src/sdk/src/redact.c $src/sdk/src/path_check.c" ;;
        item) code="$src/core/items.c $src/sdk/src/redact.c $src/sdk/src/path_check.c" ;;
        schedule) code=$(ls "$src"/sdk/src/schedule_*.c | tr '\n' ' ') ;;
        s3xml) code="$src/sdk/src/aws/xml.c $src/sdk/src/aws/errors.c" ;;
        awsjson) code="$src/sdk/src/aws/credentials.c $src/sdk/src/aws/errors.c" ;;
        *) echo "fuzz: unknown target $name"; exit 2 ;;
    esac
    bin=$work/fuzz_$name
    # shellcheck disable=SC2086
    if ! "$CLANG" $flags -o "$bin" "$here/fuzz_$name.c" $code $libs 2>"$work/cc_$name.log"; then
        if grep -q "fsanitize=fuzzer\|libclang_rt.fuzzer" "$work/cc_$name.log"; then
            echo "fuzz: SKIPPED: $CLANG cannot link libFuzzer here"
            cat "$work/cc_$name.log"
            exit 77
        fi
        cat "$work/cc_$name.log"
        echo "fuzz: $name: build failed"
        exit 1
    fi
    mkdir -p "$out/$name"
    start=$(date +%s)
    limit="-max_total_time=$secs"
    [ -n "${DLD_FUZZ_RUNS:-}" ] && limit="-runs=$DLD_FUZZ_RUNS -seed=1"
    # shellcheck disable=SC2086
    if "$bin" $limit -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$work/crash_$name-" "$out/$name" "$here/corpus/$name" >"$work/run_$name.log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/run_$name.log" | grep -o '[0-9]*$' || echo "?")
        echo "fuzz: $name: $runs inputs in $(( $(date +%s) - start )) s, no crash"
    else
        tail -n 60 "$work/run_$name.log"
        for f in "$work"/crash_"$name"-*; do
            [ -e "$f" ] || continue
            echo "fuzz: $name: reproducer $(basename "$f") (base64):"
            base64 "$f" | head -n 40
        done
        echo "fuzz: $name: CRASH"
        rc=1
    fi
done
exit $rc
