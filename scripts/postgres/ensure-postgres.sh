#!/usr/bin/env bash
# Make PostgreSQL's server binaries (initdb, postgres) available, from bare, idempotently.
#
# The PostgreSQL participant tests, the chaos runner's --participants postgres and
# `npm run example:postgres` start throwaway servers of their own (examples/postgres/
# local-postgres.ts) from Debian's `postgresql` package; nothing here starts a server.
# The package's own "main" cluster is not wanted: a drop-in tells postgresql-common not
# to create it, so the install leaves no system server behind.
#
# Usage: scripts/postgres/ensure-postgres.sh
# Exit: 0 when initdb and postgres are found at the end, 3 when not (the reason is printed).
set -uo pipefail

say() { echo "ensure-postgres: $*"; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [[ -x "$d/initdb" && -x "$d/postgres" ]] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && command -v postgres >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

if bin="$(find_bin)"; then say "found $("$bin/postgres" --version) in $bin"; exit 0; fi
command -v apt-get >/dev/null || { say "NO POSTGRESQL and no apt-get to install it"; exit 3; }
[[ "$(id -u)" -eq 0 ]] || { say "NO POSTGRESQL, and not root to apt-get install it"; exit 3; }

mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/ratify-no-main-cluster.conf

cand="$(apt-cache policy postgresql 2>/dev/null | awk '/Candidate:/ {print $2}')"
if [[ -z "$cand" || "$cand" == "(none)" ]]; then
  say "apt-get update (package lists do not know postgresql)"
  apt-get update -qq >/dev/null 2>&1 || { say "apt-get update failed"; exit 3; }
fi
say "apt-get install postgresql"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/tmp/ratify-apt-postgresql.log 2>&1 \
  || { say "apt-get install failed, see /tmp/ratify-apt-postgresql.log"; tail -5 /tmp/ratify-apt-postgresql.log; exit 3; }
if bin="$(find_bin)"; then say "installed $("$bin/postgres" --version) in $bin"; exit 0; fi
say "postgresql installed, but no initdb/postgres found"; exit 3
