/**
 * Runs the test projects in their order of cost: unit tests, then integration tests, then the browser test (which
 * needs everything the others prove to work, and a browser). Within a project, jest's own order (failed first, then
 * slowest first) applies.
 */
const Sequencer = require('@jest/test-sequencer').default;

const ORDER = ['unit', 'integration', 'browser'];

function rank(test) {
  const name = test.context.config.displayName?.name ?? '';
  const index = ORDER.indexOf(name);
  return index === -1 ? ORDER.length : index;
}

class ProjectOrderSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = ProjectOrderSequencer;
