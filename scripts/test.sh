#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what is missing, brings the local stack up, type-checks,
# lints, runs unit and integration tests (real Kafka, Temporal and Redis), and prints one closing line
# "tests: N passed, N failed". Extra arguments go to jest (e.g. `npm test -- test/unit`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PRECIS_ROOT"

# chromium: Debian's Chromium for the browser test of the Temporal UI (test/browser/), not part of `all`.
bash scripts/install.sh all chromium
export PRECIS_INSTALLED=1
stack_was_up=$(bash scripts/stack.sh status | grep -c 'started by precis' || true)
bash scripts/stack.sh up
if [[ "${CI:-}" == true && "$stack_was_up" == 0 ]]; then
  # In CI nothing may outlive the run; locally the stack stays up for the next run (`npm run stack -- down`).
  trap 'bash scripts/stack.sh down' EXIT
fi

log "type-checking and linting"
node_modules/.bin/tsc -p tsconfig.json --noEmit
node_modules/.bin/biome check .

results="$PRECIS_STATE/jest-results.json"
rm -f "$results"
status=0
# --forceExit: a failed test can leave a consumer or worker behind (its afterAll timed out); the run must still end
# and report, never hang until CI's limit.
node_modules/.bin/jest --runInBand --forceExit --json --outputFile="$results" "$@" || status=$?
if [[ -f "$results" ]]; then
  node -e '
    const r = require(process.argv[1]);
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  ' "$results"
fi
exit "$status"
