/**
 * The chaos suite (test/chaos): precis's processes under faults on private engines. Run through
 * `npm run test:chaos` (scripts/chaos.sh test), which starts those engines first; never part of `npm test`.
 */
const { projects } = require('./jest.config');

const integration = projects.find((project) => project.displayName === 'integration');

module.exports = {
  ...integration,
  displayName: 'chaos',
  testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
  rootDir: __dirname,
};
