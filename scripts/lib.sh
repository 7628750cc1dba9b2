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

TEMPORAL_TEST_SERVER_VERSION="$(sed -n 's:.*<temporal.test-server.version>\(.*\)</temporal.test-server.version>.*:\1:p' "$PRECIS_ROOT/scripts/temporal-test-server/pom.xml")"
TEMPORAL_TEST_SERVER_LIBS="$PRECIS_CACHE/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION/libs"

REDIS_PORT="${REDIS_PORT:-6379}"

# Not 5432, so that precis's own cluster never collides with a system PostgreSQL.
POSTGRES_PORT="${POSTGRES_PORT:-55432}"
POSTGRES_DIR="$PRECIS_STATE/postgres"
POSTGRES_DATA="$POSTGRES_DIR/data"
# The server runs as this OS user when the scripts run as root (PostgreSQL refuses to run as root).
POSTGRES_OS_USER="${POSTGRES_OS_USER:-postgres}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
PROMETHEUS_DIR="$PRECIS_STATE/prometheus"

# postgres_bin_dir: the newest PostgreSQL server's bin folder (Debian: /usr/lib/postgresql/<major>/bin, whose
# binaries are not on PATH), else the folder of `postgres` on PATH; prints nothing when no server is installed.
# A client-only package also creates /usr/lib/postgresql/<major>/bin, hence the test for the server binary.
postgres_bin_dir() {
  local newest
  # sort -V so that 16 wins over 9 (a plain glob sorts 16 first).
  newest=$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1 || true)
  if [[ -n "$newest" ]]; then dirname "$newest"
  elif command -v postgres >/dev/null; then dirname "$(command -v postgres)"
  fi
}

# http_ok URL: true when URL answers 2xx (curl when present, else a bare HTTP/1.0 request over /dev/tcp).
http_ok() {
  local url=$1
  if command -v curl >/dev/null; then curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; return; fi
  local rest=${url#http://} hostport path status
  hostport=${rest%%/*} path=/${rest#*/}
  [[ "$rest" == */* ]] || path=/
  (
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
    read -r -t 2 _ status _ <&3 && [[ "$status" == 2?? ]]
  ) 2>/dev/null
}

# The native production-shaped Temporal (`npm run stack -- up --production`, scripts/production/temporal.sh): the
# server, its SQL schema tool and the UI server, built from the Go module versions pinned in
# scripts/production/temporal/go.mod, on the stack's PostgreSQL, on ports apart from the dev server's so that both run.
TEMPORAL_SERVER_VERSION="$(sed -n 's:^\s*go.temporal.io/server \(v[^ ]*\).*:\1:p' "$PRECIS_ROOT/scripts/production/temporal/go.mod" 2>/dev/null | head -n 1)"
TEMPORAL_SERVER_DIR="$PRECIS_CACHE/temporal-server-$TEMPORAL_SERVER_VERSION"
PRODUCTION_STATE="${PRODUCTION_STATE:-$PRECIS_CACHE/production}"
PRODUCTION_TEMPORAL_PORT="${PRODUCTION_TEMPORAL_PORT:-7243}"
PRODUCTION_TEMPORAL_UI_PORT="${PRODUCTION_TEMPORAL_UI_PORT:-8243}"
PRODUCTION_TEMPORAL_METRICS_PORT="${PRODUCTION_TEMPORAL_METRICS_PORT:-9243}"


# Search attributes precis sets on its workflows (workflows/search-attributes.ts); registered when the dev server
# starts, and on `stack.sh up` against a server that is already running (one started by an older precis).
TEMPORAL_SEARCH_ATTRIBUTES=(DashboardId=Keyword PrecisStatus=Keyword PrecisDegraded=Bool PrecisModel=Keyword
  PrecisOutcome=Keyword PrecisHeadline=Keyword PrecisCostUsd=Double)

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
