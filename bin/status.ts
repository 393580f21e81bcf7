#!/usr/bin/env node
/**
 * What happened to an object: `npm run status -- --help`.
 * The command is shared/commands/status.ts; set AWS_ENDPOINT_URL to run it against `npm start`'s endpoint.
 */
import { runFromCommandLine } from '../shared/commands/command';
import { status } from '../shared/commands/status';

runFromCommandLine(status);
