#!/bin/sh
# borderpath on InfluxDB 3 (Core or Enterprise): one database with a retention period,
# a token for the agents and one for Grafana. Needs the influxdb3 CLI and an admin token.
#
#   INFLUXDB3_HOST_URL=http://127.0.0.1:8181 INFLUXDB3_AUTH_TOKEN=<admin token> ./setup.sh
#
# What differs from 1.x and 2.x (docs/noc.md):
# - no retention policies and no DBRP mappings: InfluxQL's database is the 3.x database;
# - no continuous queries or tasks: long-range views read the raw data (columnar, fast),
#   or a processing-engine plugin downsamples (Enterprise);
# - tokens: Core has admin tokens only; Enterprise scopes them per database (below).
set -eu

DATABASE="${BORDERPATH_DATABASE:-borderpath}"
RETENTION="${BORDERPATH_RETENTION:-30d}"
TOKEN_DIR="${TOKEN_DIR:-./tokens}"

: "${INFLUXDB3_HOST_URL:?set INFLUXDB3_HOST_URL, e.g. http://127.0.0.1:8181}"
: "${INFLUXDB3_AUTH_TOKEN:?set INFLUXDB3_AUTH_TOKEN to an admin token}"
export INFLUXDB3_HOST_URL INFLUXDB3_AUTH_TOKEN

influxdb3 show databases --format csv | grep -qx "$DATABASE" ||
    influxdb3 create database --retention-period "$RETENTION" "$DATABASE"

mkdir -p "$TOKEN_DIR"
umask 077
if influxdb3 create token --help 2>/dev/null | grep -q -- "--permission"; then
    # Enterprise: tokens limited to this database.
    influxdb3 create token --permission "db:$DATABASE:write" --name borderpath-agents \
        --format json | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' >"$TOKEN_DIR/agent-write.token"
    influxdb3 create token --permission "db:$DATABASE:read" --name grafana \
        --format json | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' >"$TOKEN_DIR/grafana-read.token"
    echo "database $DATABASE ($RETENTION); tokens in $TOKEN_DIR"
else
    echo "database $DATABASE ($RETENTION) ready. InfluxDB 3 Core has no scoped tokens:"
    echo "give agents and Grafana an admin token (influxdb3 create token --admin --name ...)."
fi
