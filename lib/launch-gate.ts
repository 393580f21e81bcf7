import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

import { PipelineTable } from './pipeline-table';

/**
 * Why a gate at all: Fargate runs 24 tasks of 0.25 vCPU at once on a default account, and S3 can
 * upload thousands of objects a minute. Executions that each retry RunTask on their own either call
 * it far above the account's 20 calls/s or leave freed capacity idle between their backoffs. The
 * gate lets `limit` executions hold a slot; the others wait (no state transitions) until a finishing
 * one wakes them.
 *
 * Its state is keyed by the executions it stands for (docs/launch-gate.md), so every call is safe to
 * repeat and a cleanup or a reconciler can re-derive it from DescribeExecution:
 * - the slot item (`pk` = `sk` = "slots") holds `holders`, a string set of the ARNs of the executions
 *   that hold a slot, and `limit`, how many may. A claim adds its ARN on condition that it is already
 *   there or the set is smaller than `limit`; a release deletes it. Adding or deleting a set member
 *   twice changes nothing, so a retried or late call cannot count anyone twice.
 * - each waiting execution has one waiter item (`pk` = "waiters", `sk` = its ARN) with its task token
 *   and arrival time; the `ByArrival` index (local, so it reads consistently) gives the oldest first.
 * - a release counts itself on the slot item (`releases`: its ticket) and wakes one of the oldest
 *   waiters, the one its ticket picks (HAND_ON_CHOICES): it adds the waiter to `holders` with the
 *   claim's own condition (so it cannot give out more than `limit` slots), sends SendTaskSuccess with
 *   its token, then deletes its waiter item on condition that it still holds that token (a waiter
 *   that retried its wait has a new one).
 *
 * The limit is written into the slot item by the reconciler (lib/launch-gate-reconciler.ts) from the
 * deployed configuration every minute, and by the first claim on an empty table; no definition
 * compares against a number of its own, so a deploy that changes it acts on every execution at once.
 */

/** The slot item's key. */
export const SLOTS_KEY = { pk: 'slots', sk: 'slots' } as const;
/** The partition of the waiter items (their sort key is the waiting execution's ARN). */
export const WAITERS_PARTITION = 'waiters';
/** The local secondary index ordering the waiters by `arrivedAt`. */
export const ARRIVAL_INDEX = 'ByArrival';
/**
 * Each of the gate's service calls; a call that hangs past it fails and is retried like any failure.
 */
export const GATE_CALL_TIMEOUT = Duration.seconds(30);
/**
 * Every gate call retries every error 6 times (1 s doubling, full jitter: each delay drawn from 0 to
 * its ceiling, so 63 s of delays at most and about half that on average): each call is idempotent, so
 * repeating one whose answer was lost changes nothing. A call whose every attempt fails gives up; a
 * claim or a wait in line then fails its object (npm run redrive starts it again), any other call
 * leaves the rest to the cleanup or the reconciler.
 */
export const GATE_RETRY: sfn.RetryProps = {
  errors: ['States.ALL'],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 6,
  jitterStrategy: sfn.JitterType.FULL,
};
/**
 * The calls that free a slot and hand it on (a release's, the cleanup's, and the reconciler's) retry
 * every error more often and sooner than GATE_RETRY: a slot idles for as long as they retry while
 * someone may wait, and their own last resort, the reconciler, runs again a period later. The
 * backoff is capped at 2 s (full jitter: about 1 s a retry, 19 s of delays at most for 10). At a rate
 * of 0.3 of each fault (an attempt fails with odds 0.66) a call still fails all 11 attempts about once
 * in 100, where GATE_RETRY's 7 fail once in 20 and only after up to 63 s. Short retries also keep a
 * hand-on's grant close to its read of the line: within 19 s, less than any task runs, so the waiter
 * it read cannot have been woken elsewhere, run and released meanwhile (a grant would then hold a
 * slot for an ended execution until the reconciler's next run). The load added is one caller's
 * calls, one a second at most.
 */
export const RELEASE_RETRY: sfn.RetryProps = {
  errors: ['States.ALL'],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxDelay: Duration.seconds(2),
  maxAttempts: 10,
  jitterStrategy: sfn.JitterType.FULL,
};
/** A DynamoDB write refused by its condition, as an SDK integration names it. */
export const CONDITION_FAILED = 'DynamoDb.ConditionalCheckFailedException';
/** A claim or grant refused by its condition: every slot is taken. */
export const SLOTS_TAKEN = CONDITION_FAILED;
/**
 * SendTaskSuccess on a token whose task is no longer waiting. Step Functions names an AWS SDK
 * integration's errors `<Service>.<Exception>`.
 */
export const STALE_TOKEN_ERRORS = [
  'Sfn.TaskTimedOutException',
  'Sfn.InvalidTokenException',
  'Sfn.TaskDoesNotExistException',
];
/**
 * How many of the oldest waiters a hand-on reads and picks among: the one at its release's ticket,
 * modulo those read. Releasers that finish together read the line at once; all taking its oldest
 * waiter, all but one would find its token answered and read again. Their tickets are consecutive,
 * so up to this many pick different waiters of one read (more than a default account's 24 slots).
 * The price: the line is served in arrival order only roughly, a waiter among the this many oldest
 * being woken after this many hand-ons on average, as in arrival order, and after at most ~120
 * (docs/launch-gate.md, "Releasers that finish together"). The items read (~1 KB each, a task token
 * the most of it) stay far within the 256 KB a task result may hold.
 */
export const HAND_ON_CHOICES = 25;
/**
 * How many waiters one release tries to wake at most: it looks for the next one only when the last
 * was not waiting any more, and each round deletes that one's item, so the loop ends anyway; the cap
 * bounds the execution's history when many such items pile up (the reconciler deletes them too).
 */
export const MAX_HAND_ON_ROUNDS = 5;
/**
 * The most slots one gate holds: `holders` lives in one item (400 KB at most), and each member is an
 * execution ARN of up to ~250 bytes with its overhead; the reconciler reads the whole item, within Step Functions' 256 KiB payload.
 */
export const MAX_SLOTS = 500;

export interface LaunchGateProps {
  /**
   * How many worker tasks may run at once: the Fargate vCPU quota the pipeline may fill, divided
   * by one task's vCPU. Written into the table at run time (by the reconciler).
   */
  readonly slots: number;
  /**
   * Encrypts the table.
   * @default - DynamoDB's AWS owned key
   */
  readonly encryptionKey?: kms.IKey;
}

/** The gate's table; the states that use it are made per state machine by `gateStates` and `releaseStates`. */
export class LaunchGate extends Construct {
  public readonly table: dynamodb.Table;
  public readonly slots: number;

  constructor(scope: Construct, id: string, props: LaunchGateProps) {
    super(scope, id);
    if (!Number.isInteger(props.slots) || props.slots < 1 || props.slots > MAX_SLOTS) {
      throw new Error(
        `LaunchGate slots ${props.slots} is not a whole number from 1 to ${MAX_SLOTS}: set fargateVcpuQuota to between one and ${MAX_SLOTS} tasks' vCPU`,
      );
    }
    this.slots = props.slots;
    this.table = new PipelineTable(this, 'Slots', {
      partitionKey: 'pk',
      sortKey: 'sk',
      encryptionKey: props.encryptionKey,
      // Who holds and who waits among running executions: nothing to keep once the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Local, not global: a local index reads consistently, so a releaser never wakes a waiter that
    // was just woken and deleted, nor misses one that just arrived.
    this.table.addLocalSecondaryIndex({
      indexName: ARRIVAL_INDEX,
      sortKey: { name: 'arrivedAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}

export interface GateStates {
  /** Claims a slot, or waits for one, then goes to `onSlot`. */
  readonly claim: sfn.State;
  /** Gives this execution's slot back and wakes one of the oldest waiters (its ticket's) into it, then goes to `done`. */
  readonly release: sfn.State;
}

/** An AWS SDK DynamoDB call on the gate's table, with the gate's timeout and retry. */
export function tableCall(
  scope: Construct,
  id: string,
  gate: LaunchGate,
  action: 'updateItem' | 'deleteItem' | 'query' | 'putItem' | 'getItem',
  props: {
    comment?: string;
    parameters: Record<string, unknown>;
    resultPath?: string;
    resultSelector?: Record<string, unknown>;
    /** A JSONata state instead, whose output is this expression (no resultPath or resultSelector). */
    outputs?: string;
    integrationPattern?: sfn.IntegrationPattern;
    taskTimeout?: Duration;
    retry?: sfn.RetryProps[];
  },
): tasks.CallAwsService {
  const common = {
    comment: props.comment,
    service: 'dynamodb',
    action,
    parameters: { TableName: gate.table.tableName, ...props.parameters },
    iamAction: `dynamodb:${action[0].toUpperCase()}${action.slice(1)}`,
    iamResources:
      action === 'query' ? [`${gate.table.tableArn}/index/${ARRIVAL_INDEX}`] : [gate.table.tableArn],
    integrationPattern: props.integrationPattern,
    taskTimeout: sfn.Timeout.duration(props.taskTimeout ?? GATE_CALL_TIMEOUT),
  };
  const task =
    props.outputs === undefined
      ? new tasks.CallAwsService(scope, id, {
          ...common,
          resultPath: props.resultPath ?? sfn.JsonPath.DISCARD,
          resultSelector: props.resultSelector,
        })
      : tasks.CallAwsService.jsonata(scope, id, { ...common, outputs: props.outputs });
  for (const retry of props.retry ?? [GATE_RETRY]) task.addRetry(retry);
  return task;
}

export const stringSetOf = (path: string) => ({ SS: sfn.JsonPath.array(sfn.JsonPath.stringAt(path)) });
export const stringAt = (path: string) => ({ S: sfn.JsonPath.stringAt(path) });

/**
 * The condition of a claim (and of a grant to a waiter): `holder` already holds a slot (a retry whose
 * first answer was lost), or fewer than `limit` do. On an empty table (no `holders`) it holds.
 */
export const CLAIM_CONDITION =
  'attribute_not_exists(holders) OR contains(holders, :holder) OR size(holders) < #limit';

/** UpdateItem on the slot item adding `holderPath`'s execution to `holders`, if there is room. */
export function addHolder(
  scope: Construct,
  id: string,
  gate: LaunchGate,
  holderPath: string,
  comment: string,
  /** What a fault is retried with. @default GATE_RETRY */
  retry: sfn.RetryProps = GATE_RETRY,
) {
  return tableCall(scope, id, gate, 'updateItem', {
    comment,
    parameters: {
      Key: { pk: { S: SLOTS_KEY.pk }, sk: { S: SLOTS_KEY.sk } },
      // The limit is the reconciler's to keep current; a claim only writes it into an empty table.
      UpdateExpression: 'ADD holders :holders SET #limit = if_not_exists(#limit, :deployedLimit)',
      ConditionExpression: CLAIM_CONDITION,
      ExpressionAttributeNames: { '#limit': 'limit' },
      ExpressionAttributeValues: {
        ':holders': stringSetOf(holderPath),
        ':holder': stringAt(holderPath),
        ':deployedLimit': { N: String(gate.slots) },
      },
    },
    // The condition failing is an answer (every slot is taken), not a fault to retry.
    retry: [{ errors: [SLOTS_TAKEN], maxAttempts: 0 }, retry],
  });
}

export interface ReleaseStates {
  /** Deletes `holder`'s waiter item, then releases. */
  readonly leaveLine: sfn.State;
  /** Deletes `holder` from the holders, then wakes one of the oldest waiters (its ticket's) into the free slot. */
  readonly release: sfn.State;
}

/**
 * Releasing the slot of the execution at `holderPath` (its own `$$.Execution.Id`, or the ARN in a
 * status-change event) and handing it on: the states, in `scope`, that end at `done` whatever
 * happens (a call that fails past its retries leaves the rest to the reconciler; leaving the line
 * that fails still releases). `resultPrefix` is
 * where in the state they keep their results.
 */
export function releaseStates(
  scope: Construct,
  gate: LaunchGate,
  props: {
    holderPath: string;
    done: sfn.IChainable;
    resultPath: string;
    /**
     * Where the usual path (nobody waiting) goes when `when` holds, instead of `done`: the choice
     * that looks for a waiter makes the caller's own choice too, one state fewer on every object's path.
     */
    outcome?: { when: sfn.Condition; then: sfn.IChainable };
  },
): ReleaseStates {
  const { holderPath, done, resultPath, outcome } = props;
  const onFailure = (task: tasks.CallAwsService) =>
    task.addCatch(done, { errors: ['States.ALL'], resultPath: `${resultPath}.error` });

  const leaveLine = tableCall(scope, 'LeaveLaunchLine', gate, 'deleteItem', {
    comment: 'Removes this execution from the line, if it is in it.',
    parameters: { Key: { pk: { S: WAITERS_PARTITION }, sk: stringAt(holderPath) } },
    retry: [RELEASE_RETRY],
  });
  const release = tableCall(scope, 'ReleaseLaunchSlot', gate, 'updateItem', {
    comment:
      'Gives the slot back (deleting a member that is not in the set changes nothing) and draws this release\u2019s ticket.',
    parameters: {
      Key: { pk: { S: SLOTS_KEY.pk }, sk: { S: SLOTS_KEY.sk } },
      UpdateExpression: 'DELETE holders :holders ADD releases :one',
      ExpressionAttributeValues: { ':holders': stringSetOf(holderPath), ':one': { N: '1' } },
      ReturnValues: 'UPDATED_NEW',
    },
    // The hand-on's rounds start at 0 (see CountHandOnRound); the ticket picks its waiter.
    resultSelector: { count: 0, 'ticket.$': 'States.StringToJson($.Attributes.releases.N)' },
    resultPath: `${resultPath}.rounds`,
    retry: [RELEASE_RETRY],
  });
  // The JSONata query keeps the waiter its ticket picks of the line it read, under
  // `${resultPath}.line.waiter`; none if no one waits.
  const resultKey = /^\$\.([A-Za-z]\w*)$/.exec(resultPath)?.[1];
  if (!resultKey) throw new Error(`releaseStates: resultPath ${resultPath} is not $.<name>`);
  const findWaiter = tableCall(scope, 'FindWaitingExecution', gate, 'query', {
    comment: `The ${HAND_ON_CHOICES} oldest waiters, read consistently: this release\u2019s ticket picks one.`,
    parameters: {
      IndexName: ARRIVAL_INDEX,
      KeyConditionExpression: 'pk = :waiters',
      ExpressionAttributeValues: { ':waiters': { S: WAITERS_PARTITION } },
      ConsistentRead: true,
      Limit: HAND_ON_CHOICES,
    },
    outputs:
      `{% ( $items := $states.result.Items; $slot := $states.input.${resultKey}; ` +
      `$merge([$states.input, {'${resultKey}': $merge([$slot, {'line': $count($items) = 0 ? {} : ` +
      `{'waiter': $items[$slot.rounds.ticket % $count($items)]}}])}]) ) %}`,
    retry: [RELEASE_RETRY],
  });
  const waiter = `${resultPath}.line.waiter`;
  const grant = addHolder(
    scope,
    'GrantLaunchSlot',
    gate,
    `${waiter}.sk.S`,
    'Gives the waiter the free slot, on the claim\u2019s own condition: someone may have claimed it meanwhile.',
    RELEASE_RETRY,
  );
  const sendTaskSuccess = (id: string, comment: string) =>
    new tasks.CallAwsService(scope, id, {
      comment,
      service: 'sfn',
      action: 'sendTaskSuccess',
      parameters: { TaskToken: sfn.JsonPath.stringAt(`${waiter}.taskToken.S`), Output: '{}' },
      // SendTaskSuccess has no resource-level permissions: the token names the task.
      iamResources: ['*'],
      iamAction: 'states:SendTaskSuccess',
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
    });
  // The first call has no retry: a stale token on it means no call of this release woke the waiter,
  // so someone else did (two releasers whose reads of the line differed picked the same waiter, or
  // the reconciler woke it: this grant changed nothing) or it stopped waiting (its own ending releases
  // what it was granted). Either way this release looks for the next waiter. A stale token on a retry
  // may be this release's own lost success: it stops.
  const wake = sendTaskSuccess('HandOnLaunchSlot', 'Wakes the waiter: it runs in the slot it was granted.');
  const wakeAgain = sendTaskSuccess(
    'HandOnLaunchSlotAgain',
    'The wake-up failed without an answer: sent again, retried; a stale token now may be its own lost success.',
  );
  wakeAgain.addRetry({ errors: STALE_TOKEN_ERRORS, maxAttempts: 0 });
  wakeAgain.addRetry(RELEASE_RETRY);
  const removeWaiter = (id: string, comment: string) =>
    tableCall(scope, id, gate, 'deleteItem', {
      comment,
      parameters: {
        Key: { pk: { S: WAITERS_PARTITION }, sk: stringAt(`${waiter}.sk.S`) },
        ConditionExpression: 'taskToken = :token',
        ExpressionAttributeValues: { ':token': stringAt(`${waiter}.taskToken.S`) },
      },
      retry: [{ errors: [SLOTS_TAKEN], maxAttempts: 0 }, RELEASE_RETRY],
    });
  const dropWaiter = removeWaiter(
    'RemoveWokenWaiter',
    'Deletes the waiter item, on condition that it still holds the token this woke (a waiter that retried its wait has a new one).',
  );
  const dropStale = removeWaiter(
    'RemoveStaleWaiter',
    'Deletes the item of a waiter that was not waiting any more.',
  );
  const countRound = new sfn.Pass(scope, 'CountHandOnRound', {
    parameters: {
      'count.$': `States.MathAdd(${resultPath}.rounds.count, 1)`,
      'ticket.$': `${resultPath}.rounds.ticket`,
    },
    resultPath: `${resultPath}.rounds`,
  });
  wake.addRetry({ errors: STALE_TOKEN_ERRORS, maxAttempts: 0 });
  wake.addCatch(dropStale, { errors: STALE_TOKEN_ERRORS, resultPath: `${resultPath}.error` });
  wake.addCatch(wakeAgain, { errors: ['States.ALL'], resultPath: `${resultPath}.error` });
  wakeAgain.addCatch(dropWaiter, { errors: STALE_TOKEN_ERRORS, resultPath: `${resultPath}.error` });
  // A waiter item left behind (its delete failed every attempt) holds nobody's slot: the slot is still
  // released, and the item, whose token is stale, is deleted by the next hand-on or the reconciler.
  leaveLine.addCatch(release, { errors: ['States.ALL'], resultPath: `${resultPath}.error` });
  for (const task of [release, grant, wakeAgain, dropWaiter]) onFailure(task);
  findWaiter.addCatch(done, {
    errors: ['States.ALL'],
    outputs:
      `{% $merge([$states.input, {'${resultKey}': $merge([$states.input.${resultKey}, ` +
      `{'error': $states.errorOutput}])}]) %}`,
  });
  // Its condition failing (someone deleted it first) or not, the next waiter is looked for.
  dropStale.addCatch(countRound, { errors: ['States.ALL'], resultPath: `${resultPath}.error` });

  leaveLine.next(release);
  release.next(findWaiter);
  const isAnyoneWaiting = new sfn.Choice(scope, 'IsAnyoneWaiting').when(
    sfn.Condition.isPresent(waiter),
    grant,
  );
  if (outcome) isAnyoneWaiting.when(outcome.when, outcome.then);
  findWaiter.next(isAnyoneWaiting.otherwise(done));
  grant.next(wake);
  wake.next(dropWaiter);
  wakeAgain.next(dropWaiter);
  dropWaiter.next(done);
  dropStale.next(countRound);
  countRound.next(
    new sfn.Choice(scope, 'IsHandOnRoundLeft')
      .when(sfn.Condition.numberLessThan(`${resultPath}.rounds.count`, MAX_HAND_ON_ROUNDS), findWaiter)
      .otherwise(done),
  );
  return { leaveLine, release };
}

/**
 * The gate's states for the per-object workflow, in `scope` (one set per state machine: state names
 * are per machine). `onSlot` runs holding a slot; `done` comes after the release, whatever the
 * task's outcome (a claim or wait that could not complete releases too, with the error under
 * `$.error`).
 */
export function gateStates(
  scope: Construct,
  gate: LaunchGate,
  targets: {
    onSlot: sfn.IChainable;
    done: sfn.IChainable;
    /** The usual outcome, decided by the release's own choice (see `releaseStates`). */
    outcome?: { when: sfn.Condition; then: sfn.IChainable };
    capacityWait: Duration;
    /** Runs before the execution joins the line (every slot taken), and goes on to it. */
    beforeWaiting?: sfn.TaskStateBase;
  },
): GateStates {
  const me = '$$.Execution.Id';
  const { leaveLine, release } = releaseStates(scope, gate, {
    holderPath: me,
    done: targets.done,
    outcome: targets.outcome,
    resultPath: '$.launchSlot',
  });

  const claim = addHolder(
    scope,
    'ClaimLaunchSlot',
    gate,
    me,
    'Takes a slot if fewer executions than the limit hold one.',
  );
  const waitInLine = tableCall(scope, 'WaitForLaunchSlot', gate, 'putItem', {
    comment:
      'Every slot is taken: joins the line with this task token, and waits (no state transitions) until a releaser grants this execution a slot and wakes it, for at most capacityWaitMinutes.',
    parameters: {
      Item: {
        pk: { S: WAITERS_PARTITION },
        sk: stringAt(me),
        arrivedAt: stringAt('$$.State.EnteredTime'),
        taskToken: { S: sfn.JsonPath.taskToken },
      },
    },
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    taskTimeout: targets.capacityWait,
    // A failed put is retried with a new token (the item is overwritten: the same key); the wait's
    // own timeout is an outcome.
    retry: [{ errors: ['States.Timeout'], maxAttempts: 0 }, GATE_RETRY],
  });
  // A claim that failed past its retries may have been applied; a wait that ended may have been
  // granted a slot meanwhile: both release.
  const { beforeWaiting } = targets;
  if (beforeWaiting) {
    beforeWaiting.next(waitInLine);
    beforeWaiting.addCatch(waitInLine, { errors: ['States.ALL'], outputs: '{% $states.input %}' });
  }
  claim.addCatch(beforeWaiting ?? waitInLine, { errors: [SLOTS_TAKEN], resultPath: sfn.JsonPath.DISCARD });
  claim.addCatch(release, { errors: ['States.ALL'], resultPath: '$.error' });
  claim.next(targets.onSlot);
  waitInLine.addCatch(leaveLine, { errors: ['States.ALL'], resultPath: '$.error' });
  waitInLine.next(targets.onSlot);
  return { claim, release };
}
