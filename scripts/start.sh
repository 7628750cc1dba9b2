#!/usr/bin/env bash
# Runs the whole system locally: the engines (Temporal, Kafka, Redis), the pipeline worker, the ingest consumer,
# the API and a demo producer that emits events for the sample dashboards. Ctrl-C stops the precis processes;
# the engines keep running (`npm run stack -- down` stops them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PRECIS_ROOT"

bash scripts/install.sh all
export PRECIS_INSTALLED=1
bash scripts/stack.sh up
log "building"
node_modules/.bin/tsc -p tsconfig.build.json

api_port="${PRECIS_API_PORT:-8080}"

# The API refuses to start without keys. For the local demo: one random key, kept under $PRECIS_STATE so that it
# stays the same across runs; only its SHA-256 reaches the API. Keys of your own (PRECIS_API_KEYS) win.
dev_key="" dev_key_file="$PRECIS_STATE/api-dev-key"
if [[ -z "${PRECIS_API_KEYS:-}" && "${PRECIS_API_AUTH:-enabled}" != disabled ]]; then
  mkdir -p "$PRECIS_STATE"
  if [[ ! -s "$dev_key_file" ]]; then
    (umask 077 && node -e 'process.stdout.write(`pk_dev_${require("crypto").randomBytes(24).toString("base64url")}`)' >"$dev_key_file")
  fi
  dev_key=$(<"$dev_key_file")
  dev_key_sha256=$(printf '%s' "$dev_key" | sha256sum | cut -d' ' -f1)
  export PRECIS_API_KEYS="[{\"id\":\"dev\",\"sha256\":\"$dev_key_sha256\",\"scopes\":[\"read\",\"refresh\",\"metrics\"]}]"
fi
pids=()
run() {
  local name=$1; shift
  # Each process runs with the Node settings in config/node-runtime.env (heap limit, malloc arenas).
  env $(grep -v '^#' config/node-runtime.env | xargs) node "$@" >"$PRECIS_LOGS/$name.log" 2>&1 &
  pids+=($!)
  log "$name started (pid $!, log $PRECIS_LOGS/$name.log)"
}
stop_all() {
  trap - INT TERM EXIT
  log "stopping precis processes"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop_all INT TERM EXIT

started_at=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
run pipeline-worker dist/workers/pipeline.js
run llm-worker dist/workers/llm.js
run ingest dist/workers/ingest.js
run api dist/api/server.js
run demo-producer dist/workers/demo-producer.js

log "waiting for fresh summaries of every dashboard"
headlines_file="$PRECIS_STATE/first-headlines.txt"
PRECIS_API_KEY="${PRECIS_API_KEY:-$dev_key}" node dist/scripts/await-summaries.js "http://127.0.0.1:$api_port" "$started_at" 180 >"$headlines_file" &
waiter=$!
# Stop waiting as soon as a precis process dies (a bad dashboard file, a wrong setting) instead of timing out.
while kill -0 "$waiter" 2>/dev/null; do
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a precis process exited; see $PRECIS_LOGS"; done
  sleep 0.5
done
wait "$waiter" || die "no fresh summaries within 180 s; see $PRECIS_LOGS"
headlines=$(cat "$headlines_file")

if [[ -n "$dev_key" ]]; then
  api_auth="    API key (dev):       $dev_key   (kept in $dev_key_file)
    Try it:              curl -H \"Authorization: Bearer $dev_key\" http://127.0.0.1:$api_port/v1/dashboards/sre-checkout/summary
    Live (SSE):          curl -N -H \"Authorization: Bearer $dev_key\" http://127.0.0.1:$api_port/v1/dashboards/sre-checkout/stream"
else
  api_auth="    API keys:            from PRECIS_API_KEYS (or PRECIS_API_AUTH=disabled)"
fi
cat <<EOF2

  precis is running.
    Summaries (API):     http://127.0.0.1:$api_port/v1/dashboards
                         http://127.0.0.1:$api_port/v1/dashboards/sre-checkout/summary
$api_auth
    API reference:       http://127.0.0.1:$api_port/docs
    Runs (Temporal UI):  http://127.0.0.1:$TEMPORAL_UI_PORT/namespaces/default/workflows?query=DashboardId%3D%22sre-checkout%22
    Logs:                $PRECIS_LOGS
  Ctrl-C stops precis (the engines keep running; npm run stack -- down stops them).

EOF2
echo "$headlines"
echo
wait -n "${pids[@]}" || true
die "a precis process exited; see $PRECIS_LOGS"
