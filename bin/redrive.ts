#!/usr/bin/env node
/**
 * Runs again the failed executions of the deployed stack: `npm run redrive -- --help`.
 * The command is shared/commands/redrive.ts; set AWS_ENDPOINT_URL to run it against `npm start`'s endpoint.
 */
import { runFromCommandLine } from '../shared/commands/command';
import { redrive } from '../shared/commands/redrive';

runFromCommandLine(redrive);
