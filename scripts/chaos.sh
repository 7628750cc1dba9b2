#!/usr/bin/env bash
# The chaos suite's private engines and its run (issue #10, "Nothing lost, nothing paid twice").
#
#   scripts/chaos.sh test [jest args]   install what is missing, start the private engines, run test/chaos, print
#                                       the results (also in $PRECIS_STATE/chaos-results.json)
#   scripts/chaos.sh up|down|status     the private engines alone
#   scripts/chaos.sh stop ENGINE        stop one private engine (temporal|kafka|redis), keeping its data
#   scripts/chaos.sh start ENGINE       start what is not running again and wait until healthy
#
# The engines are the project's own (scripts/stack.sh) on other ports and another state folder, so that stopping
# and restarting them never disturbs the shared dev engines on the default ports. Run one scenario alone with
# `scripts/chaos.sh test -t 'redis'`. In CI (CI=true) the private engines are stopped at the end.
set -euo pipefail

export PRECIS_STATE="${PRECIS_CHAOS_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/precis/chaos-state}"
export TEMPORAL_GRPC_PORT="${CHAOS_TEMPORAL_GRPC_PORT:-17233}"
export TEMPORAL_UI_PORT="${CHAOS_TEMPORAL_UI_PORT:-18233}"
export KAFKA_PORT="${CHAOS_KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${CHAOS_KAFKA_CONTROLLER_PORT:-19093}"
export REDIS_PORT="${CHAOS_REDIS_PORT:-16379}"
export POSTGRES_PORT="${CHAOS_POSTGRES_PORT:-55433}"
export PROMETHEUS_PORT="${CHAOS_PROMETHEUS_PORT:-19090}"
# stack.sh creates precis's default topics after Kafka starts: on the private broker, not the shared one.
export PRECIS_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STACK="$PRECIS_ROOT/scripts/stack.sh"
RESULTS="$PRECIS_STATE/chaos-results.json"

install_missing() {
  [[ "${PRECIS_INSTALLED:-}" == 1 ]] && return 0
  # npm dependencies only when there are none: a chaos run is not the place to reinstall a working tree's modules.
  local parts=(temporal kafka redis postgres prometheus)
  [[ -d "$PRECIS_ROOT/node_modules" ]] || parts=(node "${parts[@]}")
  bash "$PRECIS_ROOT/scripts/install.sh" "${parts[@]}"
  export PRECIS_INSTALLED=1
}

# stop_engine NAME: SIGTERM to the engine's process group (stack.sh started it with setsid), wait until it is gone.
stop_engine() {
  local name=$1 pid_file="$PRECIS_PIDS/$1.pid" pid
  [[ -f "$pid_file" ]] || die "$name: no pid file in $PRECIS_PIDS (was it started by scripts/chaos.sh up?)"
  pid=$(cat "$pid_file")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -f "$pid_file"
  log "$name stopped (private chaos engine)"
}

# stack_up: scripts/stack.sh up, tried up to 3 times. Right after a broker (re)start, warming the consumer-group
# coordinator (scripts/ensure-topics.ts) can fail with NOT_COORDINATOR, a retriable error it does not retry.
stack_up() {
  local attempt
  for attempt in 1 2 3; do
    if bash "$STACK" up; then return 0; fi
    log "stack.sh up failed (attempt $attempt of 3)"
    sleep 2
  done
  die "the private engines did not come up; logs: $PRECIS_LOGS"
}

print_results() {
  [[ -f "$RESULTS" ]] || { log "no results file ($RESULTS)"; return 0; }
  node -e '
    const results = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const mark = (v) => (v === true ? "pass" : v === false ? "FAIL" : "-");
    const names = [...new Set(results.flatMap((r) => Object.keys(r.invariants)))];
    console.log(["scenario", "result", "recovery s", ...names].join(" | "));
    for (const r of results) {
      const recovery = r.recoveryMs === null ? "never" : (r.recoveryMs / 1000).toFixed(1);
      console.log([r.scenario, r.passed ? "pass" : "FAIL", recovery, ...names.map((n) => mark(r.invariants[n]?.holds))].join(" | "));
    }
    const passed = results.filter((r) => r.passed).length;
    console.log(`chaos results: ${passed}/${results.length} scenarios passed (details: ${process.argv[1]})`);
  ' "$RESULTS"
}

case "${1:-}" in
  up) install_missing; stack_up ;;
  down) bash "$STACK" down ;;
  status) bash "$STACK" status ;;
  stop) [[ -n "${2:-}" ]] || die "usage: scripts/chaos.sh stop temporal|kafka|redis"; stop_engine "$2" ;;
  start) PRECIS_INSTALLED=1 stack_up ;;
  test)
    shift
    install_missing
    stack_up
    rm -f "$RESULTS"
    status=0
    (
      cd "$PRECIS_ROOT"
      CHAOS_RESULTS_FILE="$RESULTS" CHAOS_SCRIPT="$PRECIS_ROOT/scripts/chaos.sh" \
        CHAOS_TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_GRPC_PORT" CHAOS_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" \
        CHAOS_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" CHAOS_LOG_DIR="$PRECIS_LOGS" \
        node_modules/.bin/jest -c jest.chaos.config.js --runInBand --forceExit "$@"
    ) || status=$?
    print_results
    if [[ "${CI:-}" == true ]]; then bash "$STACK" down; fi
    exit "$status"
    ;;
  *) die "usage: scripts/chaos.sh test [jest args] | up | down | status | stop ENGINE | start" ;;
esac
