#!/usr/bin/env bash
# The benchmark, from a clean clone: installs what is missing, brings the local stack up, builds precis (dist/) and
# the bare baselines' worker, then runs every scenario of bench/run.ts against the real engines and writes
# bench/results/<timestamp>.json and .md (charts in bench/results/<timestamp>/, copies as latest.json|md).
# Options are environment variables (see bench/options.ts), e.g.
#   BENCH_SCENARIOS=throughput,freshness npm run bench
#   BENCH_SMOKE=1 npm run bench          every scenario for a few seconds
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PRECIS_ROOT"

bash scripts/install.sh all
export PRECIS_INSTALLED=1
bash scripts/stack.sh up

log "building precis and the bare baselines"
npm run build --silent
node_modules/.bin/tsc -p bench/tsconfig.bare.json

log "running the benchmark (about 10 minutes; BENCH_SMOKE=1 for a quick run)"
exec node_modules/.bin/tsx bench/run.ts
