/**
 * The production-shape suite (test/production): precis end to end against the native production Temporal of
 * `npm run stack -- up --production` (server on PostgreSQL, 4 history shards, SQL visibility). Opt-in, never part of
 * `npm test` (the default projects match test/unit and test/integration only), because it needs that cluster:
 *
 *   npm run stack -- up --production && node_modules/.bin/jest -c test/production/jest.config.js --runInBand
 */
const { projects } = require('../../jest.config');

const integration = projects.find((project) => project.displayName === 'integration');

module.exports = {
  ...integration,
  displayName: 'production',
  rootDir: '../..',
  testMatch: ['<rootDir>/test/production/**/*.test.ts'],
};
