#!/usr/bin/env bash
# The missing-client-library error through the deltaload binary: plan, run
# and `plugins describe` must all say what to install (no Oracle client is
# present on the build machines, so this is the situation they are in).
set -u
: "${DLD_BIN:?}" "${DLD_PLUGIN_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/dld-ora-cli.XXXXXX")
trap 'rm -rf "$W"' EXIT
cat >"$W/dl.json" <<JSON
{ "plugin_dirs": ["$DLD_PLUGIN_DIR"],
  "source": {"plugin": "oracle", "options": {"connect": "db.example:1521/ORCLPDB1", "user": "scott",
             "password": "\${DLD_ORA_CLI_PW}", "oracle_client_lib_dir": "$W/no-client-here"}},
  "target": {"plugin": "file", "options": {"path": "$W/lake", "format": "csv"}},
  "state": {"plugin": "sqlite", "options": {"path": "$W/state.db"}},
  "tables": [{"targetTableName": "orders", "sourceSchema": "dwh", "sourceTable": "orders_rds",
              "filtercolumn": "row_id", "filteroperator": "gte", "startvalue": "1", "activeflag": "Y",
              "ouputs3Prefix": "lake"}] }
JSON
export DLD_ORA_CLI_PW=never-printed-4471
pass=0 fail=0
expect() { # what, output, needle
    if printf '%s' "$2" | grep -qF -- "$3"; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAILED: $1: no '$3' in:"; printf '%s\n' "$2"; fi
}
for cmd in plan run; do
    out=$("$DLD_BIN" -c "$W/dl.json" $cmd 2>&1); code=$?
    [ $code -ne 0 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAILED: $cmd exited 0"; }
    expect "$cmd" "$out" "cannot load the Oracle client library libclntsh.so"
    expect "$cmd" "$out" "oracle_client_lib_dir=$W/no-client-here"
    expect "$cmd" "$out" "Install Oracle Instant Client"
    expect "$cmd" "$out" "LD_LIBRARY_PATH="
    if printf '%s' "$out" | grep -qF never-printed-4471; then fail=$((fail + 1)); echo "FAILED: $cmd printed the password"; fi
done
[ -z "$(ls "$W/lake" 2>/dev/null)" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAILED: files written"; }
out=$("$DLD_BIN" -c "$W/dl.json" plugins describe oracle 2>&1)
expect describe "$out" "needs Oracle Instant Client (libclntsh.so)"
expect describe "$out" "oracle_client_lib_dir"
expect describe "$out" "LD_LIBRARY_PATH"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
