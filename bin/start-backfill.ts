#!/usr/bin/env node
/**
 * Starts a backfill run over the objects already in the bucket: `npm run backfill -- --help`.
 * The command is shared/commands/start-backfill.ts; set AWS_ENDPOINT_URL to run it against `npm start`'s endpoint.
 */
import { runFromCommandLine } from '../shared/commands/command';
import { startBackfill } from '../shared/commands/start-backfill';

runFromCommandLine(startBackfill);
