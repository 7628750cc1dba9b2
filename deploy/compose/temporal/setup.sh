#!/usr/bin/env bash
# Waits until the Temporal cluster at TEMPORAL_ADDRESS serves requests, then creates namespace `default` and the
# search attributes precis sets on its workflows (scripts/lib.sh: TEMPORAL_SEARCH_ATTRIBUTES, the list the dev
# server registers too). Idempotent. Used by docker-compose.yml (service temporal-setup) and the native production
# stack (scripts/production/temporal.sh).
#
# Environment: TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE (default `default`), TEMPORAL_CLI (default
# `temporal` on PATH), TEMPORAL_SETUP_TIMEOUT_S (default 180).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The compose job mounts lib.sh next to the folder tree it expects (PRECIS_ROOT/scripts/lib.sh).
source "${PRECIS_ROOT:-$here/../../..}/scripts/lib.sh"

cli=${TEMPORAL_CLI:-temporal}
address=${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required (host:port of the frontend)}
namespace=${TEMPORAL_NAMESPACE:-default}

cluster_healthy() { "$cli" operator cluster health --address "$address" >/dev/null 2>&1; }
wait_for "temporal at $address" "${TEMPORAL_SETUP_TIMEOUT_S:-180}" cluster_healthy \
  || die "temporal at $address did not become healthy within ${TEMPORAL_SETUP_TIMEOUT_S:-180}s"

if ! "$cli" operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  # 3 days: long enough to investigate a failed summary in the UI, short enough to keep PostgreSQL small.
  "$cli" operator namespace create --address "$address" --namespace "$namespace" --retention 72h >/dev/null
  log "namespace $namespace created"
fi
# A new namespace takes a moment to reach every service (the namespace cache refreshes every few seconds).
namespace_ready() { "$cli" operator search-attribute list --address "$address" --namespace "$namespace" >/dev/null 2>&1; }
wait_for "namespace $namespace" 60 namespace_ready || die "namespace $namespace did not become usable"

existing=$("$cli" operator search-attribute list --address "$address" --namespace "$namespace" 2>/dev/null)
for attribute in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do
  name=${attribute%%=*} type=${attribute##*=}
  if grep -qw "$name" <<<"$existing"; then continue; fi
  "$cli" operator search-attribute create --address "$address" --namespace "$namespace" \
    --name "$name" --type "$type" >/dev/null
  log "search attribute $name ($type) registered"
done
log "temporal at $address ready: namespace $namespace, search attributes ${TEMPORAL_SEARCH_ATTRIBUTES[*]}"
