#!/usr/bin/env bash
# Installs everything deltaload's build and tests need on a fresh Debian 12
# machine: Debian packages with apt-get, test servers and independent readers
# with npm (pinned in tests/node/package-lock.json). Idempotent: does nothing
# that is already done. Needs root (or sudo) only when packages are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  build-essential cmake pkg-config git
  libcjson-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev libssl-dev
  libzstd-dev libsnappy-dev zlib1g-dev libpq-dev check libsubunit-dev libavro-dev
  postgresql-15 postgresql-client-15
  tzdata
  nodejs npm
  chromium
)

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere than Debian (it does on the development
# machines); only ask apt for it when there is no node at all.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -d tests/node/node_modules/@duckdb/node-api || tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]]; then
  echo "setup: installing test tools from npm (tests/node)"
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: done"
