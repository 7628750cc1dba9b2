#!/usr/bin/env bash
# Brings precis's local engines up and down: Temporal dev server, Kafka (KRaft, one broker), Redis, and the
# PostgreSQL and Prometheus that `postgres` and `prometheus` sources (and their integration tests) read.
#
#   scripts/stack.sh up       install what is missing, start what is not running, wait until healthy, create topics
#   scripts/stack.sh down     stop what this script started (pid files), nothing else
#   scripts/stack.sh status   what answers on each port and who started it
#   scripts/stack.sh up|down|status --production   the same for the production-shaped Temporal (server on
#                             PostgreSQL + UI, scripts/production/temporal.sh) next to the dev stack
#   scripts/stack.sh prometheus-config FILE   write the local Prometheus config (every precis process) to FILE
#
# An engine that already answers on its port (a system Redis, a Temporal you run yourself) is used as it is and
# never stopped by `down`. Data, logs and pid files live under $PRECIS_STATE (default ~/.cache/precis/state).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$PRECIS_LOGS" "$PRECIS_PIDS"

pid_alive() { [[ -f "$PRECIS_PIDS/$1.pid" ]] && kill -0 "$(cat "$PRECIS_PIDS/$1.pid")" 2>/dev/null; }

# start NAME PORT TIMEOUT_S HEALTH_FN COMMAND...: start COMMAND detached unless PORT already answers.
start() {
  local name=$1 port=$2 timeout=$3 health=$4; shift 4
  if port_open "$port"; then
    if pid_alive "$name"; then log "$name already running (pid $(cat "$PRECIS_PIDS/$name.pid"))"
    else log "$name: something already answers on port $port; using it as it is"; fi
    wait_for "$name" "$timeout" "$health" || die "$name on port $port is not healthy"
    return 0
  fi
  local t0; t0=$(now_ms)
  setsid nohup "$@" >>"$PRECIS_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PRECIS_PIDS/$name.pid"
  if ! wait_for "$name" "$timeout" "$health"; then
    tail -n 30 "$PRECIS_LOGS/$name.log" >&2 || true
    die "$name did not become healthy within ${timeout}s; log: $PRECIS_LOGS/$name.log"
  fi
  log "$name started in $(($(now_ms) - t0)) ms (pid $(cat "$PRECIS_PIDS/$name.pid"), log $PRECIS_LOGS/$name.log)"
}

temporal_healthy() {
  port_open "$TEMPORAL_GRPC_PORT" &&
    "$TEMPORAL_BIN" operator cluster health --address "127.0.0.1:$TEMPORAL_GRPC_PORT" >/dev/null 2>&1
}

up_temporal() {
  local args=() sa
  for sa in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
  mkdir -p "$PRECIS_STATE/temporal"
  # A database file (not the in-memory default) so that a restart keeps workflow history. Write-ahead logging
  # with synchronous=normal roughly doubles the dev server's workflow throughput on this kind of machine (the
  # SQLite commit is its ceiling); a crash of the process loses nothing, a power loss may lose the last commits.
  start temporal "$TEMPORAL_GRPC_PORT" 60 temporal_healthy \
    "$TEMPORAL_BIN" server start-dev \
    --ip 127.0.0.1 --port "$TEMPORAL_GRPC_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$PRECIS_STATE/temporal/temporal.db" \
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
    --log-level warn "${args[@]}"
}

# A dev server started by an older precis (its database keeps what it registered) lacks the search attributes added
# since, and `--search-attribute` only applies when the server starts: register the list on the running server too.
# One call per attribute: given several names of which one already exists, the server adds none of them and still
# answers success (seen on server 1.29.1). Creating one that exists with the same type succeeds, so this is
# idempotent; one that exists with another type fails, and so does `up`, naming it.
register_search_attributes() {
  local sa
  for sa in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do
    "$TEMPORAL_BIN" operator search-attribute create --name "${sa%%=*}" --type "${sa#*=}" \
      --address "127.0.0.1:$TEMPORAL_GRPC_PORT" >/dev/null 2>>"$PRECIS_LOGS/temporal-search-attributes.log" \
      || die "registering search attribute $sa failed; see $PRECIS_LOGS/temporal-search-attributes.log"
  done
  # Unregistered attributes would stall every run (its workflow task fails until they exist): check, don't trust.
  local listed; listed=$("$TEMPORAL_BIN" operator search-attribute list --address "127.0.0.1:$TEMPORAL_GRPC_PORT")
  for sa in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do
    grep -qw -- "${sa%%=*}" <<<"$listed" || die "search attribute ${sa%%=*} is not registered on the Temporal server"
  done
}

kafka_healthy() { port_open "$KAFKA_PORT"; }

write_kafka_config() {
  local dir=$PRECIS_STATE/kafka
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# One local broker: no reason to make new consumer groups wait for more members.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = info
EOF
}

up_kafka() {
  local dir=$PRECIS_STATE/kafka java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true)
  if ! port_open "$KAFKA_PORT"; then
    write_kafka_config
    if [[ ! -f "$dir/data/meta.properties" ]]; then
      local cluster_id
      cluster_id=$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
      java "-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool \
        format --standalone -t "$cluster_id" -c "$dir/server.properties" >"$PRECIS_LOGS/kafka-format.log" 2>&1 \
        || die "formatting Kafka storage failed; see $PRECIS_LOGS/kafka-format.log"
      log "kafka storage formatted (cluster $cluster_id)"
    fi
  fi
  start kafka "$KAFKA_PORT" 90 kafka_healthy \
    java "${java_opts[@]}" "-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$KAFKA_LIBS/*" \
    kafka.Kafka "$dir/server.properties"
}

redis_healthy() { [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

up_redis() {
  mkdir -p "$PRECIS_STATE/redis"
  start redis "$REDIS_PORT" 20 redis_healthy \
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$PRECIS_STATE/redis" \
    --appendonly yes --save "" --daemonize no
}

pg_bin=
postgres_healthy() { "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres; }

# as_postgres COMMAND...: runs a one-off command as the server's OS user when we are root (PostgreSQL refuses to
# run as root), as ourselves otherwise. From / so that the server user need not be able to read our cwd.
as_postgres() {
  if ((EUID == 0)); then (cd / && runuser -u "$POSTGRES_OS_USER" -- "$@"); else (cd / && "$@"); fi
}

# The data folder lives under $PRECIS_STATE, by default in root's home, which is mode 700: the server's OS user
# could not even reach it. Grant that one user search (x, not read) on the folders in the way, by ACL, rather
# than opening them to everyone.
postgres_reach_state() {
  ((EUID == 0)) || return 0
  runuser -u "$POSTGRES_OS_USER" -- test -x "$POSTGRES_DIR" 2>/dev/null && return 0
  command -v setfacl >/dev/null || die "setfacl not found; run scripts/install.sh postgres"
  local path='' part parts
  IFS=/ read -r -a parts <<<"${POSTGRES_DIR#/}"
  for part in "${parts[@]}"; do
    path+=/$part
    if ! runuser -u "$POSTGRES_OS_USER" -- test -x "$path" 2>/dev/null; then
      setfacl -m "u:$POSTGRES_OS_USER:x" "$path" || die "cannot let $POSTGRES_OS_USER reach $path (setfacl failed)"
      log "granted $POSTGRES_OS_USER search permission on $path (ACL) so that PostgreSQL can reach its data"
    fi
  done
}

init_postgres() {
  local major
  major=$("$pg_bin/postgres" --version | sed -n 's/.* \([0-9][0-9]*\)[.].*/\1/p')
  if [[ -f "$POSTGRES_DIR/.initialized" ]]; then
    # A data folder from another major version cannot be opened; say so instead of leaving it to the server log.
    [[ "$(cat "$POSTGRES_DATA/PG_VERSION")" == "$major" ]] ||
      die "$POSTGRES_DATA was made by PostgreSQL $(cat "$POSTGRES_DATA/PG_VERSION"), the server is $major; move it away"
    return 0
  fi
  if ((EUID == 0)); then
    id -u "$POSTGRES_OS_USER" >/dev/null 2>&1 || die "OS user $POSTGRES_OS_USER (to run PostgreSQL as) does not exist"
  fi
  # A half-made data folder (initdb interrupted) is started over; the marker is written only once all succeeded.
  rm -rf "$POSTGRES_DATA"
  mkdir -p "$POSTGRES_DATA" "$POSTGRES_DIR/run"
  if ((EUID == 0)); then chown "$POSTGRES_OS_USER:" "$POSTGRES_DATA" "$POSTGRES_DIR/run"; fi
  chmod 700 "$POSTGRES_DATA"
  postgres_reach_state
  local t0; t0=$(now_ms)
  # C locale and UTF-8: the same cluster on every machine, whatever locales are installed.
  as_postgres "$pg_bin/initdb" -D "$POSTGRES_DATA" -U postgres --no-locale -E UTF8 \
    >"$PRECIS_LOGS/postgres-initdb.log" 2>&1 || die "initdb failed; see $PRECIS_LOGS/postgres-initdb.log"
  # Local development only: trust over TCP from 127.0.0.1 alone (the server listens nowhere else), peer on the
  # socket; no ::1, no other host.
  cat >"$POSTGRES_DATA/pg_hba.conf" <<'HBA'
# Written by scripts/stack.sh: precis's local development cluster.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 peer
host    all       all   127.0.0.1/32  trust
HBA
  if ((EUID == 0)); then chown "$POSTGRES_OS_USER:" "$POSTGRES_DATA/pg_hba.conf"; fi
  touch "$POSTGRES_DIR/.initialized"
  log "postgres cluster initialised in $(($(now_ms) - t0)) ms ($POSTGRES_DATA, PostgreSQL $major)"
}

# Role and database precis, created once: each statement runs only when its object is missing.
ensure_postgres_db() {
  "$pg_bin/psql" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    >>"$PRECIS_LOGS/postgres-setup.log" 2>&1 <<'SQL' || die "creating role/database precis failed; see $PRECIS_LOGS/postgres-setup.log"
SELECT 'CREATE ROLE precis LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'precis')\gexec
SELECT 'CREATE DATABASE precis OWNER precis' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'precis')\gexec
SQL
}

up_postgres() {
  pg_bin=$(postgres_bin_dir)
  [[ -n "$pg_bin" ]] || die "no PostgreSQL server found; run scripts/install.sh postgres"
  if ! port_open "$POSTGRES_PORT"; then
    init_postgres
    postgres_reach_state
  fi
  # setpriv, not runuser, for the server: runuser stays behind as a parent that answers SIGTERM by forwarding it
  # and SIGKILLing the child two seconds later, which would cut a checkpointing PostgreSQL short. setpriv execs
  # (as do setsid and nohup), so the pid file holds the postmaster itself.
  local as_user=()
  if ((EUID == 0)); then
    as_user=(setpriv "--reuid=$POSTGRES_OS_USER" "--regid=$POSTGRES_OS_USER" --init-groups --reset-env --)
  fi
  start postgres "$POSTGRES_PORT" 30 postgres_healthy \
    "${as_user[@]}" "$pg_bin/postgres" -D "$POSTGRES_DATA" -p "$POSTGRES_PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$POSTGRES_DIR/run"
  if pid_alive postgres; then ensure_postgres_db; fi
}

# A fast shutdown (SIGINT to the postmaster alone): sessions end, open transactions roll back, a checkpoint is
# written. The generic stop's SIGTERM to the whole process group is a "smart" shutdown that waits for clients to
# disconnect and signals every backend and helper at once; it stays as the fallback.
stop_postgres() {
  pid_alive postgres || return 0
  local pid; pid=$(cat "$PRECIS_PIDS/postgres.pid")
  kill -INT "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then stop postgres; else rm -f "$PRECIS_PIDS/postgres.pid"; log "postgres stopped"; fi
}

prometheus_healthy() { http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }

# write_prometheus_config [FILE]: the local Prometheus's config (default $PROMETHEUS_DIR/prometheus.yml). Ports
# follow the precis processes' settings (PRECIS_API_PORT, PRECIS_INGEST_METRICS_PORT, PRECIS_PIPELINE_METRICS_PORT,
# PRECIS_LLM_WORKER_METRICS_PORT), with their defaults. `scripts/stack.sh prometheus-config FILE` writes one
# elsewhere (tests check it with promtool and run a Prometheus of their own on it).
write_prometheus_config() {
  local file=${1:-$PROMETHEUS_DIR/prometheus.yml}
  mkdir -p "$(dirname "$file")"
  # Prometheus scrapes itself every second so that real series (up, prometheus_http_requests_total, ...) exist
  # moments after it starts, for `prometheus` sources and their integration tests; precis's own processes every 5 s.
  # A process that is not running is only a target that is down (up == 0), never an error.
  cat >"$file" <<PROM
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - '$PRECIS_ROOT/deploy/prometheus/rules/precis.yml'
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$PROMETHEUS_PORT']
  - job_name: precis-api
    scrape_interval: 5s
    static_configs:
      - targets: ['127.0.0.1:${PRECIS_API_PORT:-8080}']
  - job_name: precis-ingest
    scrape_interval: 5s
    static_configs:
      - targets: ['127.0.0.1:${PRECIS_INGEST_METRICS_PORT:-9464}']
  - job_name: precis-pipeline
    scrape_interval: 5s
    static_configs:
      - targets: ['127.0.0.1:${PRECIS_PIPELINE_METRICS_PORT:-9465}']
  - job_name: precis-llm
    scrape_interval: 5s
    static_configs:
      - targets: ['127.0.0.1:${PRECIS_LLM_WORKER_METRICS_PORT:-9466}']
PROM
}

up_prometheus() {
  command -v prometheus >/dev/null || die "prometheus not found; run scripts/install.sh prometheus"
  # A running Prometheus keeps the config it started with (it may be shared); the next start picks up this one.
  port_open "$PROMETHEUS_PORT" || write_prometheus_config
  # A week of 1 s samples from one target is some tens of MB; the retention keeps the state folder from growing.
  start prometheus "$PROMETHEUS_PORT" 30 prometheus_healthy \
    prometheus --config.file="$PROMETHEUS_DIR/prometheus.yml" --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn
}

create_topics() {
  (cd "$PRECIS_ROOT" && node_modules/.bin/tsx scripts/ensure-topics.ts) >>"$PRECIS_LOGS/topics.log" 2>&1 \
    || die "creating Kafka topics failed; see $PRECIS_LOGS/topics.log"
  log "kafka topics ready"
}

stop() {
  local name=$1 pid
  if ! pid_alive "$name"; then rm -f "$PRECIS_PIDS/$name.pid"; return 0; fi
  pid=$(cat "$PRECIS_PIDS/$name.pid")
  # setsid made the engine a process-group leader: signal the group so that children stop too.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within 30 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PRECIS_PIDS/$name.pid"
  log "$name stopped"
}

# status NAME:PORT...: what answers on each port and who started it.
status() {
  local name port
  for pair in "$@"; do
    name=${pair%%:*} port=${pair##*:}
    if pid_alive "$name"; then echo "$name: running on $port (pid $(cat "$PRECIS_PIDS/$name.pid"), started by precis)"
    elif port_open "$port"; then echo "$name: something answers on $port (not started by precis)"
    else echo "$name: down"; fi
  done
}

# --production: the production-shaped Temporal (scripts/production/temporal.sh) next to the dev stack. `up` brings
# the dev stack up first (Kafka, Redis, PostgreSQL are shared); `down` stops only the production Temporal and UI.
if [[ "${2:-}" == --production ]]; then
  source "$PRECIS_ROOT/scripts/production/temporal.sh"
  mode=$1
  if [[ "$mode" == up ]]; then
    [[ "${PRECIS_INSTALLED:-}" == 1 ]] || bash "$PRECIS_ROOT/scripts/install.sh" temporal-server
    bash "$PRECIS_ROOT/scripts/stack.sh" up
  fi
  PRECIS_LOGS=$PRODUCTION_STATE/logs PRECIS_PIDS=$PRODUCTION_STATE/pids
  mkdir -p "$PRECIS_LOGS" "$PRECIS_PIDS"
  case "$mode" in
    up) up_production ;;
    down) down_production ;;
    status) status_production ;;
    *) die "usage: scripts/stack.sh up|down|status --production" ;;
  esac
  exit 0
fi

case "${1:-}" in
  up)
    # start.sh and test.sh install first and set PRECIS_INSTALLED so that the check is not repeated.
    [[ "${PRECIS_INSTALLED:-}" == 1 ]] || bash "$PRECIS_ROOT/scripts/install.sh" all
    up_redis
    up_postgres
    up_prometheus
    up_temporal
    register_search_attributes
    up_kafka
    create_topics
    log "Temporal UI: http://127.0.0.1:$TEMPORAL_UI_PORT  (logs: $PRECIS_LOGS)"
    ;;
  down)
    stop kafka
    stop temporal
    stop redis
    stop prometheus
    stop_postgres
    ;;
  status)
    status "temporal:$TEMPORAL_GRPC_PORT" "kafka:$KAFKA_PORT" "redis:$REDIS_PORT" \
      "postgres:$POSTGRES_PORT" "prometheus:$PROMETHEUS_PORT"
    ;;
  prometheus-config) write_prometheus_config "${2:?usage: scripts/stack.sh prometheus-config FILE}" ;;
  *) die "usage: scripts/stack.sh up|down|status [--production] | prometheus-config FILE" ;;
esac
