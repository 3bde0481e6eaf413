#!/bin/sh
# Runs once inside the influxdb:2.7 container after its initial setup: borderpath's
# buckets, DBRP mappings, downsampling task and tokens (deploy/influxdb/2.x/setup.sh).
set -eu
INFLUX_HOST=http://127.0.0.1:8086 INFLUX_TOKEN="$DOCKER_INFLUXDB_INIT_ADMIN_TOKEN" \
    TOKEN_DIR="${TOKEN_DIR:-/tokens}" BORDERPATH_ORG="$DOCKER_INFLUXDB_INIT_ORG" \
    sh /borderpath/setup.sh
chmod 644 "${TOKEN_DIR:-/tokens}/grafana-read.token"
