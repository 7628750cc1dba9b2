#!/usr/bin/env bash
# Brings precis's local engines up and down: Temporal dev server, Kafka (KRaft, one broker) and Redis.
#
#   scripts/stack.sh up       install what is missing, start what is not running, wait until healthy, create topics
#   scripts/stack.sh down     stop what this script started (pid files), nothing else
#   scripts/stack.sh status   what answers on each port and who started it
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
  # A database file (not the in-memory default) so that a restart keeps workflow history.
  start temporal "$TEMPORAL_GRPC_PORT" 60 temporal_healthy \
    "$TEMPORAL_BIN" server start-dev \
    --ip 127.0.0.1 --port "$TEMPORAL_GRPC_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$PRECIS_STATE/temporal/temporal.db" \
    --log-level warn "${args[@]}"
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

status() {
  local name port
  for pair in "temporal:$TEMPORAL_GRPC_PORT" "kafka:$KAFKA_PORT" "redis:$REDIS_PORT"; do
    name=${pair%%:*} port=${pair##*:}
    if pid_alive "$name"; then echo "$name: running on $port (pid $(cat "$PRECIS_PIDS/$name.pid"), started by precis)"
    elif port_open "$port"; then echo "$name: something answers on $port (not started by precis)"
    else echo "$name: down"; fi
  done
}

case "${1:-}" in
  up)
    # start.sh and test.sh install first and set PRECIS_INSTALLED so that the check is not repeated.
    [[ "${PRECIS_INSTALLED:-}" == 1 ]] || bash "$PRECIS_ROOT/scripts/install.sh" all
    up_redis
    up_temporal
    up_kafka
    create_topics
    log "Temporal UI: http://127.0.0.1:$TEMPORAL_UI_PORT  (logs: $PRECIS_LOGS)"
    ;;
  down)
    stop kafka
    stop temporal
    stop redis
    ;;
  status) status ;;
  *) die "usage: scripts/stack.sh up|down|status" ;;
esac
