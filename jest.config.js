/**
 * Three projects, run in this order (test/support/sequencer.js): fast unit tests, integration tests that need the
 * local stack (scripts/stack.sh up), and the browser test of the Temporal UI (Debian's Chromium, installed by
 * scripts/install.sh chromium).
 */
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
  // ESM-only dependencies (cookie, pulled in by Fastify's inject) must become CommonJS for Jest on Node 20.
  '^.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
};
const transformIgnorePatterns = ['/node_modules/(?!cookie/)'];

module.exports = {
  testSequencer: '<rootDir>/test/support/sequencer.js',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      setupFilesAfterEnv: ['<rootDir>/test/support/integration-setup.ts'],
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
    {
      displayName: 'browser',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      setupFilesAfterEnv: ['<rootDir>/test/support/integration-setup.ts'],
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
    },
  ],
};
