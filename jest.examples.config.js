/**
 * `npm run test:examples`: the examples end to end (examples/python-worker needs /usr/bin/python3 with
 * boto3, from Debian's python3-boto3), kept out of `npm test`, which needs nothing but Node.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, roots: ['<rootDir>/test/examples'], testPathIgnorePatterns: ['/node_modules/'] };
