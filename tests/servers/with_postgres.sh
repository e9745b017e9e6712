#!/usr/bin/env bash
# Runs a command with PRODIGY_TEST_PG_URL pointing at a PostgreSQL server:
# the one already named by PRODIGY_TEST_PG_URL (tools/test.sh starts one for
# all suites), else a throw-away cluster started here and stopped on exit.
#
#   tests/servers/with_postgres.sh COMMAND [ARG...]
set -euo pipefail
if [ -n "${PRODIGY_TEST_PG_URL:-}" ]; then
  exec "$@"
fi
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d /tmp/prodigy-pg.XXXXXX)"
trap '"$here/postgres.sh" stop "$dir"' EXIT
PRODIGY_TEST_PG_URL="$("$here/postgres.sh" start "$dir")"
export PRODIGY_TEST_PG_URL
status=0
"$@" || status=$?
exit $status
