/**
 * Type-checking happens once in `npm run typecheck`; here jest only transpiles. @swc/jest does that
 * natively, file by file (tsconfig.json's `isolatedModules: true` keeps every file transpilable
 * alone): on a cold cache it loads and transforms the ~300 modules of a run in ~7 s less CPU than
 * ts-jest's ts.transpileModule, and needs no TypeScript loaded in each jest worker. Its options mirror
 * tsconfig.json's `target` (ES2022, so class fields have define semantics) and `module` (CommonJS).
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
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript' },
          transform: { useDefineForClassFields: true },
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  // A guard against hangs, not a budget: every wait in the tests is on an event or a virtual clock,
  // and on this 2-core machine at a load of 20 the heaviest test (200 real tasks, a minute of CPU)
  // takes several minutes. No test sets a shorter one.
  testTimeout: 10 * 60_000,
  // This 2-core machine runs two suites at once: most suites wait on child processes and loopback I/O.
  maxWorkers: 2,
};
