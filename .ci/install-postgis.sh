#!/usr/bin/env bash
# Installs Debian's PostgreSQL server and the PostGIS extension when they are missing, so the
# store tests (tests/test_store.py) can start a throwaway server on loopback (tests/pg_server.py).
# Nothing is started here and no system cluster is used: the tests run initdb into a temp dir.
# Idempotent: a machine that already has both is left alone (no apt-get update).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

have_server() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
have_postgis() { compgen -G "/usr/share/postgresql/*/extension/postgis.control" >/dev/null; }

if have_server && have_postgis; then
  exit 0
fi
apt-get update -qq
# postgresql: initdb/pg_ctl/postgres; postgresql-postgis: the extension for Debian's default
# major version (postgresql-NN-postgis-3), so this script needs no version number.
apt-get install -y -qq --no-install-recommends postgresql postgresql-postgis >/dev/null
have_server || { echo "install-postgis: initdb still missing" >&2; exit 1; }
have_postgis || { echo "install-postgis: postgis.control still missing" >&2; exit 1; }
echo "install-postgis: PostgreSQL and PostGIS installed"
