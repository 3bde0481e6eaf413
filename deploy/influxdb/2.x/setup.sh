#!/bin/sh
# borderpath on InfluxDB 2.x: org, buckets with retention, a write token for the agents,
# a read token for Grafana, DBRP mappings so the InfluxQL dashboards find the buckets,
# and the downsampling task. Needs the influx CLI (2.x) and an operator token.
#
#   INFLUX_HOST=http://influxdb:8086 INFLUX_TOKEN=<operator token> ./setup.sh
#
# Idempotent where the CLI allows: existing org, buckets and mappings are kept.
# The two tokens are written to $TOKEN_DIR (mode 600) and printed nowhere.
set -eu

ORG="${BORDERPATH_ORG:-borderpath}"
BUCKET="${BORDERPATH_BUCKET:-borderpath}"
RETENTION="${BORDERPATH_RETENTION:-30d}"
LONG_BUCKET="${BORDERPATH_LONG_BUCKET:-borderpath_long}"
LONG_RETENTION="${BORDERPATH_LONG_RETENTION:-400d}"
TOKEN_DIR="${TOKEN_DIR:-./tokens}"
HERE="$(cd "$(dirname "$0")" && pwd)"

: "${INFLUX_HOST:?set INFLUX_HOST, e.g. http://127.0.0.1:8086}"
: "${INFLUX_TOKEN:?set INFLUX_TOKEN to an operator (all-access) token}"
export INFLUX_HOST INFLUX_TOKEN

influx org list --name "$ORG" >/dev/null 2>&1 || influx org create --name "$ORG" >/dev/null

bucket_id() {
    influx bucket list --org "$ORG" --name "$1" --hide-headers 2>/dev/null | cut -f1
}
for spec in "$BUCKET:$RETENTION" "$LONG_BUCKET:$LONG_RETENTION"; do
    name="${spec%%:*}"
    [ -n "$(bucket_id "$name")" ] ||
        influx bucket create --org "$ORG" --name "$name" --retention "${spec#*:}" >/dev/null
done
raw_id="$(bucket_id "$BUCKET")"
long_id="$(bucket_id "$LONG_BUCKET")"

# InfluxQL names database "borderpath": its default retention policy "raw" is the bucket
# the agents write, "long" the 5-minute rollups (same names as the 1.x setup).
mapped() { influx v1 dbrp list --org "$ORG" --bucket-id "$1" --hide-headers 2>/dev/null | grep -q .; }
mapped "$raw_id" || influx v1 dbrp create --org "$ORG" --db borderpath --rp raw \
    --bucket-id "$raw_id" --default >/dev/null
mapped "$long_id" || influx v1 dbrp create --org "$ORG" --db borderpath --rp long \
    --bucket-id "$long_id" >/dev/null

influx task list --org "$ORG" --hide-headers 2>/dev/null | grep -q borderpath-downsample ||
    influx task create --org "$ORG" --file "$HERE/downsample.flux" >/dev/null

mkdir -p "$TOKEN_DIR"
umask 077
influx auth create --org "$ORG" --write-bucket "$raw_id" \
    --description "borderpath agents: write $BUCKET" --hide-headers | cut -f3 \
    >"$TOKEN_DIR/agent-write.token"
influx auth create --org "$ORG" --read-bucket "$raw_id" --read-bucket "$long_id" \
    --description "Grafana: read $BUCKET and $LONG_BUCKET" --hide-headers | cut -f3 \
    >"$TOKEN_DIR/grafana-read.token"
echo "org $ORG, buckets $BUCKET ($RETENTION) and $LONG_BUCKET ($LONG_RETENTION) ready;"
echo "tokens in $TOKEN_DIR: agent-write.token (agents), grafana-read.token (Grafana)"
