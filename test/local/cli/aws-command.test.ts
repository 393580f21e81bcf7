import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { localClientSettings } from '../../../local/cli/aws-command';
import { runBackfill } from '../../../local/stepfunctions/backfill-map';
import { failures } from '../../../shared/commands/failures';
import { redrive } from '../../../shared/commands/redrive';
import { WORKER_BUNDLE } from '../../../shared/paths';
import { releasedAfterEach, sha256, startTestPipeline, testDirectories } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * The AWS commands against the local endpoint after a restart: a backfill's failed object is a
 * child of a Map Run of an earlier process, which the local Step Functions rebuilds from the journal
 * (ListMapRuns, ListExecutions by map run), so `npm start -- --failures` lists it and `--redrive`
 * restarts it, as they would on AWS.
 */

let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});

const used = releasedAfterEach();

interface FailuresDocument {
  failures: Array<{ key: string; error: string; backfillRunArn: string | null; executionArn: string }>;
}

test("a backfill's failed object of an earlier run is listed and restarted after a restart", async () => {
  const dirs = (used.dirs = testDirectories());
  const crashOnce = join(dirs.dataDir, '..', 'crash-once');
  // The tables kept across the restart, as npm start keeps them in its data directory
  const tablesDir = join(dirs.dataDir, '..', 'dynamodb');
  const worker = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(WORKER_BUNDLE)}`;
  // GIVEN a backfill whose first object's worker crashed, in a pipeline that then stopped
  let pipeline = (used.pipeline = await startTestPipeline(templatePath, {
    ...dirs,
    tablesDir,
    ruleState: 'DISABLED',
    workerCommand: [
      '/bin/sh',
      '-c',
      `if rm ${JSON.stringify(crashOnce)} 2>/dev/null; then exit 1; fi; ${worker}`,
    ],
  }));
  const key = `${pipeline.inputPrefix}restart/only.txt`;
  await pipeline.upload(key, 'only\n');
  writeFileSync(crashOnce, '');
  const backfill = await runBackfill(pipeline, { subPrefix: 'restart/' });
  expect(backfill).toMatchObject({ status: 'FAILED', items: 1, failed: 1 });
  await pipeline.stop();

  // WHEN a new pipeline on the same directories lists the failures through its endpoint
  pipeline = used.pipeline = await startTestPipeline(templatePath, { ...dirs, tablesDir });
  const printed: string[] = [];
  expect(await failures(['--json'], (line) => printed.push(line), localClientSettings(pipeline))).toBe(0);

  // THEN the object's execution is there, with the backfill run it belonged to
  const { failures: listed } = JSON.parse(printed.join('\n')) as FailuresDocument;
  expect(listed).toEqual([
    expect.objectContaining({
      key,
      error: 'States.TaskFailed',
      backfillRunArn: backfill.execution.executionArn,
      executionArn: backfill.executions[0].executionArn,
    }),
  ]);

  // AND redrive restarts it in the event-driven workflow, where it succeeds
  const lines: string[] = [];
  expect(await redrive([], (line) => lines.push(line), localClientSettings(pipeline))).toBe(0);
  expect(lines[0]).toMatch(/^restarted {10}incoming\/restart\/only\.txt {2}/);
  await pipeline.waitForIdle();
  const [restarted] = pipeline.executions();
  expect(restarted).toMatchObject({ key, status: 'SUCCEEDED' });
  expect(await pipeline.readResult(restarted)).toMatchObject({ sha256: sha256('only\n') });
});
