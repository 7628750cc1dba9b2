#!/usr/bin/env bash
# Installs whatever precis needs and is missing: npm dependencies, the Temporal CLI (built from source with Go),
# the Apache Kafka broker jars (resolved with Maven), and Redis, PostgreSQL and Prometheus (Debian packages).
# Idempotent: a warm run takes a second.
#
#   scripts/install.sh [all|node|temporal|kafka|test-server|redis|postgres|prometheus|temporal-server|compose-check|chromium]...
#
# `chromium` (Debian's Chromium, driven by playwright-core in the browser test of the Temporal UI) is not part of
# `all`: only the test script needs it, and it installs it itself.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$PRECIS_CACHE" "$PRECIS_LOGS"

timed() {
  local what=$1; shift
  local t0; t0=$(now_ms)
  "$@"
  log "$what ready in $(($(now_ms) - t0)) ms"
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if ((apt_updated == 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$PRECIS_LOGS/apt-update.log" 2>&1 || true
    apt_updated=1
  fi
  log "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$PRECIS_LOGS/apt-install.log" 2>&1 \
    || die "apt-get install $* failed; see $PRECIS_LOGS/apt-install.log"
}

install_node() {
  command -v node >/dev/null || die "Node.js >= 20.3 is required"
  cd "$PRECIS_ROOT"
  # A node_modules that is a symlink belongs to another checkout (a git worktree sharing the main one's): `npm ci`
  # here would empty that checkout's install under everyone using it. Its owner installs it.
  if [[ -L node_modules ]]; then return 0; fi
  # Reinstall when the lock file changed since the last install (npm writes node_modules/.package-lock.json).
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error >"$PRECIS_LOGS/npm-ci.log" 2>&1 \
      || die "npm ci failed; see $PRECIS_LOGS/npm-ci.log"
  fi
}

install_temporal() {
  [[ -x "$TEMPORAL_BIN" ]] && return 0
  command -v go >/dev/null || die "the Go toolchain is required to build the Temporal CLI (go install)"
  log "building the Temporal CLI $TEMPORAL_CLI_VERSION from source (several minutes on a cold Go cache)"
  GOBIN="$(dirname "$TEMPORAL_BIN")" GOFLAGS=-mod=mod \
    go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >"$PRECIS_LOGS/temporal-build.log" 2>&1 \
    || die "go install of the Temporal CLI failed; see $PRECIS_LOGS/temporal-build.log"
}

# The production-shaped Temporal (`scripts/stack.sh up --production`): server, temporal-sql-tool and UI server, built
# from the versions pinned in scripts/production/temporal/go.mod (not part of `all`: only that stack needs them).
install_temporal_server() {
  local binary package bins=(
    "temporal-server go.temporal.io/server/cmd/server"
    "temporal-sql-tool go.temporal.io/server/cmd/tools/sql"
    "temporal-ui-server github.com/temporalio/ui-server/v2/cmd/server"
  )
  ensure_go
  mkdir -p "$TEMPORAL_SERVER_DIR"
  for pair in "${bins[@]}"; do
    binary=${pair%% *} package=${pair#* }
    [[ -x "$TEMPORAL_SERVER_DIR/$binary" ]] && continue
    log "building $binary ($package, Temporal server $TEMPORAL_SERVER_VERSION; several minutes on a cold Go cache)"
    (cd "$PRECIS_ROOT/scripts/production/temporal" && go build -o "$TEMPORAL_SERVER_DIR/$binary" "$package") \
      >>"$PRECIS_LOGS/temporal-server-build.log" 2>&1 \
      || die "building $binary failed; see $PRECIS_LOGS/temporal-server-build.log"
  done
}

# Go for the tools above. Debian's golang-go may be older than the modules need; Go then fetches the toolchain
# their go.mod asks for by itself (GOTOOLCHAIN=auto, the default).
ensure_go() {
  command -v go >/dev/null || apt_install golang-go
}

# compose-check (scripts/production/compose-check): validates docker-compose.yml without Docker. Rebuilt when its
# sources changed since the last build.
install_compose_check() {
  local src=$PRECIS_ROOT/scripts/production/compose-check bin=$PRECIS_CACHE/compose-check/compose-check
  if [[ -x "$bin" && ! "$src/main.go" -nt "$bin" && ! "$src/go.mod" -nt "$bin" && ! "$src/go.sum" -nt "$bin" ]]; then
    return 0
  fi
  ensure_go
  log "building compose-check"
  (cd "$src" && go build -o "$bin" .) >>"$PRECIS_LOGS/compose-check-build.log" 2>&1 \
    || die "building compose-check failed; see $PRECIS_LOGS/compose-check-build.log"
}

# maven_resolve WHAT POM DEST: copies the runtime classpath POM declares into DEST (skipped once DEST is complete).
maven_resolve() {
  local what=$1 pom=$2 dest=$3 log
  [[ -f "$dest/.complete" ]] && return 0
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  log "resolving $what jars with Maven"
  log="$PRECIS_LOGS/$(basename "$(dirname "$pom")")-resolve.log"
  rm -rf "$dest"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$dest" -DincludeScope=runtime >"$log" 2>&1 \
    || die "resolving $what with Maven failed; see $log"
  touch "$dest/.complete"
}

install_kafka() {
  maven_resolve "Apache Kafka $KAFKA_VERSION" "$PRECIS_ROOT/scripts/kafka/pom.xml" "$KAFKA_LIBS"
}

install_test_server() {
  maven_resolve "Temporal's time-skipping test server $TEMPORAL_TEST_SERVER_VERSION" \
    "$PRECIS_ROOT/scripts/temporal-test-server/pom.xml" "$TEMPORAL_TEST_SERVER_LIBS"
}

install_redis() {
  command -v redis-server >/dev/null && return 0
  apt_install redis-server
  # Debian's package may start a system instance; precis runs its own, so stop the packaged one if it started.
  if command -v service >/dev/null; then service redis-server stop >/dev/null 2>&1 || true; fi
}

install_postgres() {
  # As root, stack.sh lets the server's OS user reach a state folder under /root with an ACL (setfacl).
  if ((EUID == 0)) && ! command -v setfacl >/dev/null; then apt_install acl; fi
  [[ -n "$(postgres_bin_dir)" ]] && return 0
  # Debian's postgresql package creates a cluster "main" on 5432 and may start it. precis runs its own cluster on
  # $POSTGRES_PORT, so that one never holds our port; stop it all the same, like Redis, so that nothing answers
  # that precis did not start. An existing install returned above and is never touched.
  apt_install postgresql
  if command -v service >/dev/null; then service postgresql stop >/dev/null 2>&1 || true; fi
  [[ -n "$(postgres_bin_dir)" ]] || die "the postgresql package installed no server binary (postgres)"
}

install_prometheus() {
  command -v prometheus >/dev/null && return 0
  # Without recommends: they pull in node-exporter, smartmontools, ipmitool and more that precis does not use.
  apt_install --no-install-recommends prometheus
  # The packaged service listens on :9090, the port precis's own Prometheus (own config, 1 s self-scrape) wants.
  if command -v service >/dev/null; then service prometheus stop >/dev/null 2>&1 || true; fi
}

# The browser test (test/browser/) drives Debian's Chromium with playwright-core, which downloads no browser itself.
install_chromium() {
  [[ -x /usr/bin/chromium ]] && return 0
  apt_install --no-install-recommends chromium
}

targets=("$@")
((${#targets[@]})) || targets=(all)
for target in "${targets[@]}"; do
  case "$target" in
    all)
      timed node install_node
      timed temporal install_temporal
      timed kafka install_kafka
      timed test-server install_test_server
      timed redis install_redis
      timed postgres install_postgres
      timed prometheus install_prometheus
      ;;
    node | temporal | kafka | redis | postgres | prometheus | chromium) timed "$target" "install_$target" ;;
    test-server) timed "$target" install_test_server ;;
    temporal-server) timed "$target" install_temporal_server ;;
    compose-check) timed "$target" install_compose_check ;;
    *) die "unknown install target '$target' (expected all, node, temporal, kafka, test-server, redis, postgres, prometheus, temporal-server, compose-check or chromium)" ;;
  esac
done
