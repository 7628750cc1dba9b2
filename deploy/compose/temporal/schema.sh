#!/bin/sh
# Creates Temporal's two databases (history and visibility) on PostgreSQL and brings their schemas to the version
# the server needs. Idempotent: run before every start, it is how the schema follows a server upgrade.
# Used by docker-compose.yml (service temporal-schema, temporalio/admin-tools image) and by the native production
# stack (scripts/production/temporal.sh).
#
# Environment: SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD (read by temporal-sql-tool itself);
# TEMPORAL_SQL_TOOL (default temporal-sql-tool on PATH); TEMPORAL_SCHEMA_DIR, the postgresql/v12 folder of the
# server's schema (default: where the admin-tools image has it); TEMPORAL_DB, TEMPORAL_VISIBILITY_DB.
set -eu

tool=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}
schema_dir=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
export SQL_PLUGIN=postgres12
export SQL_HOST="${SQL_HOST:-postgres}" SQL_PORT="${SQL_PORT:-5432}" SQL_USER="${SQL_USER:-temporal}"

prepare() {
  db=$1 schema=$2
  # create-database fails when the database exists (PostgreSQL has no CREATE DATABASE IF NOT EXISTS); that is the
  # one failure to tolerate, and setup-schema below fails loudly if the database is really unreachable.
  "$tool" --db "$db" create-database >/dev/null 2>&1 || true
  # Version 0.0 creates only the schema_version bookkeeping (a no-op once it exists); update-schema then applies
  # every versioned step the database does not have yet.
  "$tool" --db "$db" setup-schema -v 0.0
  "$tool" --db "$db" update-schema -d "$schema_dir/$schema/versioned"
  echo "temporal schema: $db is at the server's $schema schema version"
}

prepare "${TEMPORAL_DB:-temporal}" temporal
prepare "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}" visibility
