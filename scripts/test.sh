#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up, build with warnings as
# errors, run every ctest suite (unit, ABI, integration against real servers
# that the suites start and stop themselves).
#   scripts/test.sh            # everything
#   SANITIZE=address,undefined scripts/test.sh   # sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD=${BUILD_DIR:-build/ci${SANITIZE:+-san}}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLD_WERROR=ON ${SANITIZE:+-DDLD_SANITIZE=$SANITIZE} >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
ctest --output-on-failure -j"${TEST_JOBS:-2}" "$@"
