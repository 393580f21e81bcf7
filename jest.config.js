/**
 * Type-checking happens once in `npm run typecheck`; here ts-jest only transpiles, which cuts a
 * suite from ~20 s / 2 GB to ~5 s. ts-jest 29.4 transpiles each file alone (ts.transpileModule) when
 * tsconfig.json sets `isolatedModules: true`; its own option of that name is deprecated.
 */
// Every App a test builds synthesizes as bin/app.ts does, without aws-cdk-lib's built-in
// CloudFormation validation (aws-cdk-lib reads CDK_VALIDATION at synth; jest's workers inherit it):
// test/lib/cloudformation-validation.test.ts runs that validator on every configuration's template.
process.env.CDK_VALIDATION = 'false';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The examples need more than Node (examples/python-worker: Python with boto3): `npm run test:examples`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/examples/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // A guard against hangs, not a budget: every wait in the tests is on an event or a virtual clock,
  // and on this 2-core machine at a load of 20 the heaviest test (200 real tasks, a minute of CPU)
  // takes several minutes. No test sets a shorter one.
  testTimeout: 10 * 60_000,
  // This 2-core machine runs two suites at once: most suites wait on child processes and loopback I/O.
  maxWorkers: 2,
};
