# The native production-shaped Temporal: the real server (frontend, history, matching and worker services in one
# process) on the stack's PostgreSQL with 4 history shards and SQL advanced visibility, plus the UI server; the same
# configuration as docker-compose.yml (deploy/compose/temporal/). Sourced by scripts/stack.sh for
# `up|down|status --production`, which provides start, stop and pid_alive; never run on its own.
#
# It listens apart from the dev server (7233/8233), which other tests keep using: frontend $PRODUCTION_TEMPORAL_PORT
# (7243), UI $PRODUCTION_TEMPORAL_UI_PORT (8243), Temporal's Prometheus metrics $PRODUCTION_TEMPORAL_METRICS_PORT
# (9243), internal services on 7244-7249 and membership on 6943-6949. Databases temporal_production and
# temporal_production_visibility; state, logs and pid files under $PRODUCTION_STATE.

production_address="127.0.0.1:$PRODUCTION_TEMPORAL_PORT"
production_db=temporal_production
production_visibility_db=temporal_production_visibility

# The server's schema folder, from the Go module the binaries were built from (go mod download prints its path).
production_schema_dir() {
  local dir
  dir=$(cd "$PRECIS_ROOT/scripts/production/temporal" &&
    go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [[ -d "$dir/schema/postgresql/v12" ]] || die "no schema folder in go.temporal.io/server@$TEMPORAL_SERVER_VERSION ($dir)"
  echo "$dir/schema/postgresql/v12"
}

# Role `temporal` (creates its own databases), like the compose deployment's; the local cluster trusts 127.0.0.1.
production_role() {
  "$pg_bin/psql" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    >>"$PRECIS_LOGS/temporal-schema.log" 2>&1 <<'SQL' || die "creating role temporal failed; see $PRECIS_LOGS/temporal-schema.log"
SELECT 'CREATE ROLE temporal LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal')\gexec
SQL
}

production_schema() {
  local t0; t0=$(now_ms)
  SQL_HOST=127.0.0.1 SQL_PORT="$POSTGRES_PORT" SQL_USER=temporal SQL_PASSWORD='' \
    TEMPORAL_SQL_TOOL="$TEMPORAL_SERVER_DIR/temporal-sql-tool" TEMPORAL_SCHEMA_DIR="$(production_schema_dir)" \
    TEMPORAL_DB=$production_db TEMPORAL_VISIBILITY_DB=$production_visibility_db \
    sh "$PRECIS_ROOT/deploy/compose/temporal/schema.sh" >>"$PRECIS_LOGS/temporal-schema.log" 2>&1 \
    || die "Temporal's schema setup failed; see $PRECIS_LOGS/temporal-schema.log"
  log "temporal schema up to date in $(($(now_ms) - t0)) ms ($production_db, $production_visibility_db)"
}

production_temporal_healthy() {
  port_open "$PRODUCTION_TEMPORAL_PORT" &&
    "$TEMPORAL_BIN" operator cluster health --address "$production_address" >/dev/null 2>&1
}

up_production_temporal() {
  export TEMPORAL_POSTGRES_HOST=127.0.0.1 TEMPORAL_POSTGRES_PORT="$POSTGRES_PORT" TEMPORAL_POSTGRES_USER=temporal \
    TEMPORAL_POSTGRES_PASSWORD='' TEMPORAL_DB=$production_db TEMPORAL_VISIBILITY_DB=$production_visibility_db \
    TEMPORAL_BIND_IP=127.0.0.1 TEMPORAL_BROADCAST_ADDRESS=127.0.0.1 \
    TEMPORAL_FRONTEND_PORT="$PRODUCTION_TEMPORAL_PORT" TEMPORAL_HISTORY_PORT=7244 TEMPORAL_MATCHING_PORT=7245 \
    TEMPORAL_WORKER_PORT=7249 TEMPORAL_FRONTEND_HTTP_PORT=7253 \
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT=6943 TEMPORAL_HISTORY_MEMBERSHIP_PORT=6944 \
    TEMPORAL_MATCHING_MEMBERSHIP_PORT=6945 TEMPORAL_WORKER_MEMBERSHIP_PORT=6949 \
    TEMPORAL_METRICS_PORT="$PRODUCTION_TEMPORAL_METRICS_PORT" \
    TEMPORAL_DYNAMIC_CONFIG="$PRECIS_ROOT/deploy/compose/temporal/dynamicconfig.yaml" \
    TEMPORAL_LOG_LEVEL="${TEMPORAL_LOG_LEVEL:-warn}"
  if ! port_open "$PRODUCTION_TEMPORAL_PORT"; then
    production_role
    production_schema
  fi
  # The server reads <config dir>/<env>.yaml: a link to the template that docker-compose.yml mounts the same way.
  mkdir -p "$PRODUCTION_STATE/temporal-config"
  ln -sfn "$PRECIS_ROOT/deploy/compose/temporal/server.yaml.tmpl" "$PRODUCTION_STATE/temporal-config/production.yaml"
  start temporal-production "$PRODUCTION_TEMPORAL_PORT" 120 production_temporal_healthy \
    "$TEMPORAL_SERVER_DIR/temporal-server" --root / --config "$PRODUCTION_STATE/temporal-config" --env production \
    --allow-no-auth start
  TEMPORAL_CLI="$TEMPORAL_BIN" TEMPORAL_ADDRESS="$production_address" \
    bash "$PRECIS_ROOT/deploy/compose/temporal/setup.sh" 2>>"$PRECIS_LOGS/temporal-setup.log" \
    || die "namespace/search attribute setup failed; see $PRECIS_LOGS/temporal-setup.log"
}

production_ui_healthy() { http_ok "http://127.0.0.1:$PRODUCTION_TEMPORAL_UI_PORT/"; }

up_production_ui() {
  local dir=$PRODUCTION_STATE/ui
  mkdir -p "$dir"
  # The UI server reads base.yaml, then <env>.yaml, from its config folder.
  printf '# Written by scripts/stack.sh up --production.\n' >"$dir/base.yaml"
  cat >"$dir/production.yaml" <<EOF
temporalGrpcAddress: $production_address
host: 127.0.0.1
port: $PRODUCTION_TEMPORAL_UI_PORT
enableUi: true
defaultNamespace: default
refreshInterval: 1m
cors:
  allowOrigins:
    - http://127.0.0.1:$PRODUCTION_TEMPORAL_UI_PORT
EOF
  start temporal-production-ui "$PRODUCTION_TEMPORAL_UI_PORT" 60 production_ui_healthy \
    "$TEMPORAL_SERVER_DIR/temporal-ui-server" --root / --config "$dir" --env production start
}

up_production() {
  # The engines precis needs besides Temporal (Kafka, Redis, PostgreSQL) come from the ordinary `up`.
  pg_bin=$(postgres_bin_dir)
  up_production_temporal
  up_production_ui
  log "production Temporal: $production_address (4 history shards, PostgreSQL), UI http://127.0.0.1:$PRODUCTION_TEMPORAL_UI_PORT"
  log "point precis at it: TEMPORAL_ADDRESS=$production_address TEMPORAL_UI_URL=http://127.0.0.1:$PRODUCTION_TEMPORAL_UI_PORT"
}

down_production() {
  stop temporal-production-ui
  stop temporal-production
}

status_production() {
  status "temporal-production:$PRODUCTION_TEMPORAL_PORT" "temporal-production-ui:$PRODUCTION_TEMPORAL_UI_PORT"
}
