/**
 * The synthesized state machines' record writes run as deployed: the project's Step Functions engine
 * (local/stepfunctions, JSONata included) on a virtual clock that moves by itself, against the local DynamoDB (dynalite)
 * holding the template's tables, indexes and all. What the engine needs from outside (the task, the
 * event bus) the test gives.
 */
import { type AttributeValue, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Template } from 'aws-cdk-lib/assertions';

import type { LocalAwsService } from '../../../local/aws-service';
import { AutoClock } from '../../../local/clock';
import {
  type CfnTemplate,
  deployLocally,
  type LocalDeployment,
} from '../../../local/cloudformation/template';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../local/dynamodb/server';
import { ExecutionHistory } from '../../../local/stepfunctions/asl/history';
import type { Json } from '../../../local/stepfunctions/asl/paths';
import { loadStateMachine, type StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import {
  type ExecutionOutcome,
  LocalStateMachine,
  type TaskHandler,
} from '../../../local/stepfunctions/state-machine';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';
import { objectRecordKey } from '../../../shared/object-record';

export const START_MS = Date.parse('2026-12-01T12:00:00.000Z');

const NO_STEP_FUNCTIONS: LocalAwsService = {
  signingName: 'states',
  call: (action) => Promise.reject(new Error(`this test expected no Step Functions call, got ${action}`)),
};

export interface RecordsRig {
  readonly deployment: LocalDeployment;
  readonly dynamodb: LocalDynamoDb;
  /** The records table's local name. */
  readonly table: string;
  definitionOf(logicalId: string): StateMachineDefinition;
  close(): Promise<void>;
}

export async function recordsRig(template: Template, recordsTableId: string): Promise<RecordsRig> {
  const deployment = deployLocally(template.toJSON() as CfnTemplate, { region: 'us-east-1' });
  const dynamodb = await startLocalDynamoDb(deployment);
  return {
    deployment,
    dynamodb,
    table: deployment.ref(recordsTableId),
    definitionOf: (id) => loadStateMachine(deployment, id).definition,
    close: () => dynamodb.close(),
  };
}

export interface RunProps {
  readonly name?: string;
  readonly stateMachineArn?: string;
  readonly runTask?: TaskHandler;
  /** The event bus, as PutEvents. */
  readonly events?: LocalAwsService;
  /** The Step Functions API. @default - one that answers nothing (no run here wakes a waiter) */
  readonly stepFunctions?: LocalAwsService;
  readonly startMs?: number;
  readonly type?: 'STANDARD' | 'EXPRESS';
}

/** One execution of `definition` to its end on a virtual clock; its outcome and ARN. */
export async function runExecution(
  rig: RecordsRig,
  definition: StateMachineDefinition,
  input: Json,
  props: RunProps = {},
): Promise<ExecutionOutcome & { executionArn: string }> {
  const { name = 'e1', startMs = START_MS } = props;
  const stateMachineArn =
    props.stateMachineArn ?? 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow';
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  // Moves by itself whenever nothing runs: dynalite's answers are tracked, timeouts and retries exact.
  const clock = new AutoClock(startMs);
  const machine = new LocalStateMachine(definition, {
    clock,
    tokens: new TaskTokens(clock),
    services: {
      dynamodb: rig.dynamodb.client,
      events: props.events,
      stepFunctions: () => props.stepFunctions ?? NO_STEP_FUNCTIONS,
    },
    random: () => 0.5,
    type: props.type,
  });
  const running = machine.run(input, {
    identity: { executionArn, name, stateMachineArn, startTime: new Date(startMs).toISOString() },
    history: new ExecutionHistory(clock),
    runTask: props.runTask,
  });
  return { ...(await running), executionArn };
}

/** A stopped task as `ecs:runTask.sync` returns it: exited `exitCode`, ECS times in epoch milliseconds. */
export function stoppedTask(
  exitCode: number,
  times: { createdAt: number; startedAt: number; stoppedAt: number },
) {
  return {
    TaskArn: 'arn:aws:ecs:us-east-1:000000000000:task/c/1',
    StopCode: 'EssentialContainerExited',
    StoppedReason: 'Essential container in task exited',
    Containers: [{ Name: 'worker', ExitCode: exitCode }],
    CreatedAt: times.createdAt,
    StartedAt: times.startedAt,
    StoppedAt: times.stoppedAt,
  };
}

/** The record of (bucket, key, etag), as DynamoDB holds it. */
export async function recordOf(
  rig: RecordsRig,
  bucket: string,
  key: string,
  etag: string,
): Promise<Record<string, AttributeValue> | undefined> {
  const found = await rig.dynamodb.client.send(
    new GetItemCommand({
      TableName: rig.table,
      Key: Object.fromEntries(
        Object.entries(objectRecordKey(bucket, key, etag)).map(([name, value]) => [name, { S: value }]),
      ),
      ConsistentRead: true,
    }),
  );
  return found.Item;
}
