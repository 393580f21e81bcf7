import { createHash } from 'node:crypto';

import { VirtualClock } from '../../../local/clock';
import type { CfnResource } from '../../../local/cloudformation/template';
import { releasedAfterEach, sha256, startTestPipeline, testDirectories } from '../support/pipeline';
import { editedTemplate, synthesizedTemplate } from '../support/synthesized-template';

/**
 * Every rule and schedule of the template through the whole local pipeline: the synthesized template
 * plus the kind of resources the launch gate adds (a rule on "Step Functions Execution Status Change"
 * events whose target is a state machine, and a rate schedule that starts one), each starting real
 * executions of the workflow with the real worker.
 */

let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});

const used = releasedAfterEach();

/** The synthesized template with `extra(workflowId)` added, written beside the test's data. */
function templateWith(dataDir: string, extra: (workflowId: string) => Record<string, CfnResource>): string {
  return editedTemplate(templatePath, dataDir, 'with-extra', (template) => {
    const [workflowId] = Object.entries(template.Resources).find(
      ([id, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine' && id.startsWith('Workflow'),
    )!;
    return { ...template, Resources: { ...template.Resources, ...extra(workflowId) } };
  });
}

/** The workflow's input for `key` in the pipeline's bucket, as the Object Created rule would give it. */
const inputFor = (bucket: string, key: string, body: string) =>
  JSON.stringify({
    bucket,
    key,
    etag: createHash('md5').update(body).digest('hex'),
    size: body.length,
    versionId: null,
  });

test('a status-change rule starts its state machine target for a FAILED execution', async () => {
  const dirs = (used.dirs = testDirectories());
  const bucket = 'local-pipeline-bucket';
  const path = templateWith(dirs.dataDir, (workflowId) => ({
    GateCleanupRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventPattern: {
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: workflowId }] },
        },
        Targets: [
          { Id: 'Again', Arn: { Ref: workflowId }, Input: inputFor(bucket, 'incoming/again.txt', 'again\n') },
        ],
      },
    },
  }));
  // The Object Created rule is disabled, so only the status-change rule starts anything.
  const pipeline = (used.pipeline = await startTestPipeline(path, { ...dirs, ruleState: 'DISABLED' }));
  await pipeline.upload('incoming/again.txt', 'again\n');
  const statusChange = (status: string) => ({
    version: '0',
    id: `status-${status}`,
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '000000000000',
    time: '2026-12-01T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    // as Step Functions sends it: the ended execution's ARN, input and times (an execution of no object here)
    detail: {
      executionArn: `${pipeline.stateMachine.arn.replace(':stateMachine:', ':execution:')}:gone-${status}`,
      stateMachineArn: pipeline.stateMachine.arn,
      name: `gone-${status}`,
      status,
      startDate: 1796169600000,
      stopDate: 1796169601000,
      input: inputFor(bucket, 'incoming/gone.txt', 'gone\n'),
      output: null,
      error: status === 'FAILED' ? 'States.TaskFailed' : null,
      cause: null,
    },
  });

  // SUCCEEDED reaches only the template's object recorder: an Express run, no object's execution
  expect((await pipeline.deliver(statusChange('SUCCEEDED')))?.express).toBe(true);
  // FAILED reaches the recorder, the gate's cleanup, and this rule (below: one object's execution)
  expect(await pipeline.deliver(statusChange('FAILED'))).toBeDefined();
  await pipeline.waitForIdle();
  const [started] = pipeline.executions();

  expect(pipeline.executions().map((e) => [e.name, e.key, e.status])).toEqual([
    [started.name, 'incoming/again.txt', 'SUCCEEDED'],
  ]);
  expect(await pipeline.readResult(started)).toMatchObject({
    key: 'incoming/again.txt',
    sha256: sha256('again\n'),
  });
});

test("a rate schedule starts its state machine on the pipeline's clock, and stops with the pipeline", async () => {
  const dirs = (used.dirs = testDirectories());
  const bucket = 'local-pipeline-bucket';
  const path = templateWith(dirs.dataDir, (workflowId) => ({
    HourlyReconcile: {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        ScheduleExpression: 'rate(1 hour)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: { Ref: workflowId },
          RoleArn: 'arn:aws:iam::000000000000:role/scheduler',
          Input: inputFor(bucket, 'incoming/hourly.txt', 'hourly\n'),
        },
      },
    },
  }));
  const clock = new VirtualClock();
  const pipeline = (used.pipeline = await startTestPipeline(path, { ...dirs, clock, ruleState: 'DISABLED' }));
  await pipeline.upload('incoming/hourly.txt', 'hourly\n');

  await clock.advance(0); // the first invocation: at once, as a rate schedule without a StartDate
  await pipeline.waitForIdle();
  expect(pipeline.executions().map((e) => [e.key, e.status])).toEqual([['incoming/hourly.txt', 'SUCCEEDED']]);

  await clock.advance(59 * 60_000);
  await pipeline.waitForIdle();
  expect(pipeline.executions()).toHaveLength(1);
  await clock.advance(60_000);
  await pipeline.waitForIdle();
  expect(pipeline.executions().map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);

  await pipeline.stop();
  used.pipeline = undefined;
  expect(clock.pending).toBe(0); // no schedule left waiting
});
