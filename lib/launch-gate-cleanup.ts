import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { createExpressStateMachine } from './express-state-machine';
import { type LaunchGate, releaseStates } from './launch-gate';
import type { StateMachineLogProps } from './traced-state-machine';

/** The endings that never reach the workflow's own release: Step Functions runs no Catch for them. */
export const ENDED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'];

export interface LaunchGateCleanupProps extends StateMachineLogProps {
  readonly gate: LaunchGate;
  /**
   * The state machines whose executions claim slots. A Distributed Map's child executions are
   * covered too: their state machine ARN is the parent's followed by `/<map run label>`.
   */
  readonly stateMachines: sfn.StateMachine[];
}

/**
 * Frees what an execution that ended without its release held: an EventBridge rule on "Step
 * Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED) of the gate's state machines
 * starts an Express state machine (SDK integrations only) that deletes the execution's waiter item,
 * deletes it from the holders and wakes one of the oldest waiters into the freed slot: the workflow's own
 * release states (lib/launch-gate.ts `releaseStates`), on the event's `detail.executionArn`.
 *
 * Every step is idempotent, so the at-least-once delivery of the events is harmless; they are
 * best-effort, so a missed one is the reconciler's (lib/launch-gate-reconciler.ts).
 */
export class LaunchGateCleanup extends Construct {
  public readonly rule: events.Rule;
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: LaunchGateCleanupProps) {
    super(scope, id);
    const { leaveLine } = releaseStates(this, props.gate, {
      holderPath: '$.detail.executionArn',
      done: new sfn.Succeed(this, 'Released'),
      resultPath: '$.launchSlot',
    });
    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = createExpressStateMachine(this, {
      ...props,
      comment:
        'Releases the launch slot (or the place in line) of an execution that ended without its own release, and hands the slot on',
      definition: leaveLine,
    }));

    this.rule = new events.Rule(this, 'Rule', {
      description:
        'An execution that claims launch slots failed, timed out or was aborted: release what it held',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ENDED_STATUSES,
          stateMachineArn: events.Match.anyOf(
            ...props.stateMachines.flatMap((machine) => [
              machine.stateMachineArn,
              events.Match.prefix(`${machine.stateMachineArn}/`),
            ]),
          ),
        },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }
}
