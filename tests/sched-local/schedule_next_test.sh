#!/bin/sh
# `deltaload schedule next`: exact output for a few expressions (fire times
# worked out by hand from the US and EU daylight-saving rules), the JSON
# form, the config's scheduler block, and errors with their exit codes.
# Usage: schedule_next_test.sh <deltaload> <work-dir>; TZDIR is set by ctest
# to the zones compiled from tzdata.zi.
set -u
bin=$1
dir=$2
rm -rf "$dir" && mkdir -p "$dir"
fails=0
check() { # name expected actual
  if [ "$2" != "$3" ]; then
    echo "FAIL $1"; echo "--- expected"; echo "$2"; echo "--- got"; echo "$3"; fails=$((fails + 1))
  else
    echo "ok   $1"
  fi
}

got=$("$bin" schedule next --expression 'cron(30 2 * * ? *)' --timezone America/New_York --after 2024-03-09T00:00:00Z -n 3 2>&1)
check "spring forward skips 02:30" "At 02:30, every day (America/New_York)
2024-03-09T07:30:00Z  2024-03-09 02:30:00 EST
2024-03-11T06:30:00Z  2024-03-11 02:30:00 EDT
2024-03-12T06:30:00Z  2024-03-12 02:30:00 EDT" "$got"

got=$("$bin" schedule next --expression 'cron(*/30 * * * ? *)' --timezone Europe/Berlin --after 2024-10-27T02:10:00+02:00 -n 3 2>&1)
check "fall back fires the repeated half hour once" "At minutes */30 of every hour, every day (Europe/Berlin)
2024-10-27T00:30:00Z  2024-10-27 02:30:00 CEST
2024-10-27T02:00:00Z  2024-10-27 03:00:00 CET
2024-10-27T02:30:00Z  2024-10-27 03:30:00 CET" "$got"

got=$("$bin" schedule next --expression 'at(2030-01-31T18:30:00)' --timezone Europe/Berlin --after 2029-12-31T23:00Z -n 3 2>&1)
check "at() once" "Once, at 2030-01-31 18:30:00 (Europe/Berlin)
2030-01-31T17:30:00Z  2030-01-31 18:30:00 CET
and never again" "$got"

got=$("$bin" schedule next --expression 'at(2024-01-01T00:00:00)' --after 2024-06-01T00:00:00Z 2>&1)
check "at() in the past" "Once, at 2024-01-01 00:00:00 (UTC)
never fires after that time" "$got"

got=$("$bin" schedule next --expression 'cron(0 0 29 2 ? *)' --after 2096-03-01T00:00:00Z -n 2 2>&1)
check "leap days skip 2100" "At 00:00, on day 29 of the month, in February (UTC)
2104-02-29T00:00:00Z  2104-02-29 00:00:00 UTC
2108-02-29T00:00:00Z  2108-02-29 00:00:00 UTC" "$got"

# from the config's scheduler block, as JSON
cat >"$dir/cfg.json" <<'JSON'
{"scheduler": {"plugin": "local", "options": {"expression": "cron(0 9 ? * MON-FRI *)", "timezone": "America/New_York"}}}
JSON
got=$("$bin" -c "$dir/cfg.json" --json schedule next -n 2 --after 2024-03-08T15:00:00Z 2>&1 | tr -d ' \t\n')
check "config and --json" '{"expression":"cron(09?*MON-FRI*)","timezone":"America/New_York","description":"At09:00,onMondaytoFriday(America/New_York)","after":"2024-03-08T15:00:00Z","fires":[{"utc":"2024-03-11T13:00:00Z","local":"2024-03-1109:00:00EDT"},{"utc":"2024-03-12T13:00:00Z","local":"2024-03-1209:00:00EDT"}],"ends":false}' "$got"

# errors: message and exit code
got=$("$bin" schedule next --expression 'cron(0 0 * * * *)' 2>&1); rc=$?
check "bad cron" "deltaload: error: cron fields 3 (day-of-month) '*' and 5 (day-of-week) '*': exactly one of them must be '?' rc=3" "$got rc=$rc"
got=$("$bin" schedule next --expression 'rate(1 hour)' --timezone Mars/Olympus_Mons 2>&1 | sed 's/ (no .*//'); 
check "unknown zone" "deltaload: error: timezone 'Mars/Olympus_Mons': unknown time zone" "$got"
got=$("$bin" schedule next --expression 'rate(1 hour)' --after tomorrow 2>&1); rc=$?
check "bad --after" "deltaload: --after 'tomorrow': expected an ISO 8601 time such as 2024-03-09T12:00:00Z rc=2" "$got rc=$rc"
got=$("$bin" -c "$dir/cfg.json" schedule deploy 2>&1); rc=$?
check "deploy with local" "deltaload: error: schedule deploy: scheduler 'local' does not deploy schedules (the daemon itself is its scheduler); use a scheduler that deploys, such as eventbridge rc=3" "$got rc=$rc"

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
