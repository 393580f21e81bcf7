import { PutItemCommand } from '@aws-sdk/client-dynamodb';

import type { LocalAwsService } from '../../local/aws-service';
import { matchesEventPattern } from '../../local/events/event-pattern';
import type { Json } from '../../local/stepfunctions/asl/paths';
import { definitionOf } from './support/asl';
import { recordOf, recordsRig, runExecution, START_MS } from './support/records';
import { synthesized } from './support/synth';
import { evaluate } from './support/template';

const ARN = (machine: string) => `arn:aws:states:us-east-1:123456789012:stateMachine:<${machine}>`;

describe("the recorder's rule", () => {
  const synth = synthesized('default');
  const rule = synth.template.toJSON().Resources[synth.ids.objectRecorderRule];
  const pattern = evaluate(synth.template, rule.Properties.EventPattern);
  const statusChange = (stateMachineArn: string, status: string) => ({
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { stateMachineArn, status, executionArn: 'arn:x' },
  });

  test.each(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'])(
    'matches the workflow and the backfill children ending %s',
    (status) => {
      expect(matchesEventPattern(pattern, statusChange(ARN(synth.ids.workflowStateMachine), status))).toBe(
        true,
      );
      const child = `${ARN(synth.ids.backfillStateMachine)}/1a2b3c4d-label`;
      expect(matchesEventPattern(pattern, statusChange(child, status))).toBe(true);
    },
  );

  test('not a running execution, nor a backfill run itself (its input is a prefix, not an object), nor another machine', () => {
    expect(matchesEventPattern(pattern, statusChange(ARN(synth.ids.workflowStateMachine), 'RUNNING'))).toBe(
      false,
    );
    expect(matchesEventPattern(pattern, statusChange(ARN(synth.ids.backfillStateMachine), 'FAILED'))).toBe(
      false,
    );
    expect(matchesEventPattern(pattern, statusChange(ARN(synth.ids.launchGateCleanup), 'FAILED'))).toBe(
      false,
    );
  });

  test('starts the recorder', () => {
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { Ref: synth.ids.objectRecorder } }),
    ]);
  });
});

describe('the recorder with and without tagInputObjects', () => {
  test('tags only with tagInputObjects, and only objects under the input prefix', () => {
    const plain = definitionOf(synthesized('default'), {
      stateMachine: synthesized('default').ids.objectRecorder,
    });
    expect(Object.keys(plain.States).filter((name) => /Tag/.test(name))).toEqual([]);
    expect(plain.States.AnnounceEnding.Next).toBe('Recorded');
    const tagging = synthesized('tagInputObjects');
    const tagged = definitionOf(tagging, { stateMachine: tagging.ids.objectRecorder });
    expect(tagged.States.AnnounceEnding.Next).toBe('IsInputObject');
    expect(JSON.stringify(tagged.States.IsInputObject)).toContain(
      `$substring($states.input.key.key, 0, 8) = \\"uploads/\\"`,
    );
    expect(
      Object.keys(tagged.States)
        .filter((name) => /Tag/.test(name))
        .sort(),
    ).toEqual(['ReadTags', 'ReadTagsVersion', 'WriteStatusTag', 'WriteStatusTagVersion']);
    expect(JSON.stringify(tagged.States.WriteStatusTagVersion.Arguments)).toContain('processing-status');
  });
});

describe('the record sweep, run as deployed', () => {
  test('an open record whose execution ended starts the recorder with the status-change detail; one still running does not', async () => {
    const synth = synthesized('default');
    const rig = await recordsRig(synth.template, synth.ids.objectRecordsTable);
    try {
      const bucket = rig.deployment.ref(synth.ids.dataBucket);
      const arn = (name: string) => `arn:aws:states:us-east-1:000000000000:execution:Workflow:${name}`;
      const open = async (key: string, execution: string, since: number) =>
        rig.dynamodb.client.send(
          new PutItemCommand({
            TableName: rig.table,
            Item: {
              bucket: { S: bucket },
              objectVersion: { S: `${key}#e` },
              status: { S: 'RUNNING' },
              executionArn: { S: arn(execution) },
              openSince: { S: new Date(since).toISOString() },
            },
          }),
        );
      // GIVEN two open records older than 15 minutes and one just opened
      await open('incoming/ended.csv', 'ended', START_MS - 3_600_000);
      await open('incoming/running.csv', 'running', START_MS - 3_600_000);
      await open('incoming/new.csv', 'new', START_MS - 60_000);
      const input = { bucket, key: 'incoming/ended.csv', etag: 'e', versionId: 'v' };
      const described: string[] = [];
      const started: Json[] = [];
      const stepFunctions: LocalAwsService = {
        signingName: 'states',
        call: async (action, request) => {
          if (action === 'DescribeExecution') {
            const executionArn = String(request.executionArn);
            described.push(executionArn);
            return executionArn === arn('ended')
              ? {
                  executionArn,
                  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow',
                  status: 'SUCCEEDED',
                  input: JSON.stringify(input),
                  output: JSON.stringify({ ...input, task: { ExitCodes: [0] } }),
                  startDate: (START_MS - 3_600_000) / 1000,
                  stopDate: (START_MS - 3_000_000) / 1000,
                }
              : { executionArn, status: 'RUNNING', startDate: 1 };
          }
          expect(action).toBe('StartExecution');
          started.push(JSON.parse(String(request.input)));
          return { executionArn: 'arn:recorder-run', startDate: 1 };
        },
      };
      // WHEN the sweep runs
      const run = await runExecution(
        rig,
        rig.definitionOf(synth.ids.objectRecordSweep),
        {},
        {
          type: 'EXPRESS',
          stepFunctions,
        },
      );
      expect(run.status).toBe('SUCCEEDED');
      // THEN it asked about the two old ones only, and started the recorder for the one that ended
      expect(described.sort()).toEqual([arn('ended'), arn('running')]);
      expect(started).toEqual([
        {
          source: 'aws.states',
          'detail-type': 'Step Functions Execution Status Change',
          detail: {
            executionArn: arn('ended'),
            stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow',
            status: 'SUCCEEDED',
            input: JSON.stringify(input),
            output: JSON.stringify({ ...input, task: { ExitCodes: [0] } }),
            startDate: START_MS - 3_600_000,
            stopDate: START_MS - 3_000_000,
          },
        },
      ]);
      // (the record itself is the recorder's to end)
      expect((await recordOf(rig, bucket, 'incoming/ended.csv', 'e'))?.status).toEqual({ S: 'RUNNING' });
    } finally {
      await rig.close();
    }
  });
});
