#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine (see compose-check/main.go): builds the checker once
# (scripts/install.sh compose-check), then runs it on the repository's compose file and Prometheus config.
#
#   scripts/production/compose-check.sh                    checks docker-compose.yml
#   scripts/production/compose-check.sh [flags] FILE       another compose file (flags: -project-directory DIR)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bash "$PRECIS_ROOT/scripts/install.sh" compose-check >&2
cd "$PRECIS_ROOT"
if (($# == 0)); then set -- docker-compose.yml; fi
exec "$PRECIS_CACHE/compose-check/compose-check" -prometheus deploy/prometheus/prometheus.yml "$@"
