# Shared settings for precis's shell scripts. Sourced, never run.
# Everything built or downloaded lives in a per-user cache outside the repo so that later runs,
# CI and tests reuse it; everything a running stack writes (data, logs, pid files) lives under one state folder.

PRECIS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRECIS_CACHE="${PRECIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/precis}"
PRECIS_STATE="${PRECIS_STATE:-$PRECIS_CACHE/state}"
PRECIS_LOGS="$PRECIS_STATE/logs"
PRECIS_PIDS="$PRECIS_STATE/pids"

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
TEMPORAL_BIN="$PRECIS_CACHE/temporal-$TEMPORAL_CLI_VERSION/temporal"
TEMPORAL_GRPC_PORT="${TEMPORAL_GRPC_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$PRECIS_ROOT/scripts/kafka/pom.xml")"
KAFKA_LIBS="$PRECIS_CACHE/kafka-$KAFKA_VERSION/libs"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"

REDIS_PORT="${REDIS_PORT:-6379}"

# Search attributes precis sets on its workflows; registered when the dev server starts.
TEMPORAL_SEARCH_ATTRIBUTES=(DashboardId=Keyword PrecisStatus=Keyword PrecisDegraded=Bool PrecisModel=Keyword)

log() { printf '[precis] %s\n' "$*" >&2; }
die() { printf '[precis] error: %s\n' "$*" >&2; exit 1; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME SECONDS CHECK...: polls CHECK every 0.25 s until it succeeds or the time is up.
wait_for() {
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.25
  done
  log "$name is up"
}

# Elapsed-time helper for the timings recorded in notes and logs.
now_ms() { date +%s%3N; }
