#!/usr/bin/env bash
# Runs the whole system locally: the engines (Temporal, Kafka, Redis), the pipeline worker, the ingest consumer,
# the API and a demo producer that emits events for the sample dashboards. Ctrl-C stops the precis processes;
# the engines keep running (`npm run stack -- down` stops them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PRECIS_ROOT"

bash scripts/install.sh all
bash scripts/stack.sh up
log "building"
node_modules/.bin/tsc -p tsconfig.build.json

api_port="${PRECIS_API_PORT:-8080}"
pids=()
run() {
  local name=$1; shift
  node "$@" >"$PRECIS_LOGS/$name.log" 2>&1 &
  pids+=($!)
  log "$name started (pid $!, log $PRECIS_LOGS/$name.log)"
}
stop_all() {
  trap - INT TERM EXIT
  log "stopping precis processes"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all INT TERM EXIT

run pipeline-worker dist/workers/pipeline.js
run ingest dist/workers/ingest.js
run api dist/api/server.js
run demo-producer dist/workers/demo-producer.js

log "waiting for the first summaries"
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$api_port/v1/dashboards/sre-checkout/summary" >/dev/null 2>&1; then break; fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a precis process exited; see $PRECIS_LOGS"; done
  sleep 0.5
done

cat <<EOF2

  precis is running.
    Summaries (API):     http://127.0.0.1:$api_port/v1/dashboards
                         http://127.0.0.1:$api_port/v1/dashboards/sre-checkout/summary
    Runs (Temporal UI):  http://127.0.0.1:$TEMPORAL_UI_PORT/namespaces/default/workflows?query=DashboardId%3D%22sre-checkout%22
    Logs:                $PRECIS_LOGS
  Ctrl-C stops precis (the engines keep running; npm run stack -- down stops them).

EOF2
curl -fsS "http://127.0.0.1:$api_port/v1/dashboards" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    for (const d of JSON.parse(s).dashboards) console.log(`  ${d.id}: ${d.summary ? d.summary.headline : "(no summary yet)"}`);
  });'
echo
wait -n "${pids[@]}" || true
die "a precis process exited; see $PRECIS_LOGS"
