import { Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { acknowledgeRunTaskSyncWildcards, acknowledgeWildcardResourcesOf } from './nag-acknowledgements';

/** Where a state machine's execution log goes. */
export interface StateMachineLogProps {
  /** How long the execution log is kept. */
  readonly logRetention: logs.RetentionDays;
  /** What `cdk destroy` does with the execution log group. */
  readonly logRemovalPolicy: RemovalPolicy;
  /**
   * Encrypts the execution log group.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

export interface TracedStateMachineProps extends StateMachineLogProps {
  /** The state machine's Comment, shown in the console. */
  readonly comment: string;
  /** Its states, from the start state. */
  readonly definition: sfn.IChainable;
  /** The execution fails with States.Timeout past this. */
  readonly timeout: Duration;
}

/**
 * Creates, directly in `scope` (ids `Logs` and `StateMachine`), a Standard JSONPath
 * state machine as this app runs them all: every event logged with execution data to
 * its own log group, X-Ray tracing on.
 *
 * The log group is named `/aws/vendedlogs/states/<stack>-<scope id>-<stack UUID>`: log delivery
 * writes every group under `/aws/vendedlogs/` through one entry of the account's CloudWatch Logs
 * resource policy, where a group named otherwise adds its own entry to that 5,120-character
 * policy, and creating a state machine fails once it is full (AWS's Step Functions logging guide).
 * The stack UUID keeps a group retained from a destroyed stack from blocking the name when the
 * stack is deployed again.
 */
export function createTracedStateMachine(
  scope: Construct,
  props: TracedStateMachineProps,
): { stateMachine: sfn.StateMachine; logGroup: logs.LogGroup } {
  const logGroup = stateMachineLogGroup(scope, props);
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineType: sfn.StateMachineType.STANDARD,
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    comment: props.comment,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    timeout: props.timeout,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    tracingEnabled: true,
  });
  acknowledgeRunTaskSyncWildcards(stateMachine.role);
  // aws-cdk-lib adds this policy to any state machine with a Distributed Map in it.
  const mapPolicy = stateMachine.node.tryFindChild('DistributedMapPolicy');
  if (mapPolicy instanceof iam.Policy) {
    acknowledgeWildcardResourcesOf(
      mapPolicy,
      "The Distributed Map starts and stops its own child executions, whose names exist only at run time; the ARNs are scoped to this state machine's executions.",
    );
  }
  return { stateMachine, logGroup };
}

/** The log group `Logs` in `scope`, named as createTracedStateMachine explains. */
export function stateMachineLogGroup(scope: Construct, props: StateMachineLogProps): logs.LogGroup {
  const stack = Stack.of(scope);
  const stackUuid = Fn.select(2, Fn.split('/', stack.stackId));
  return new logs.LogGroup(scope, 'Logs', {
    logGroupName: `/aws/vendedlogs/states/${stack.stackName}-${scope.node.id}-${stackUuid}`,
    retention: props.logRetention,
    removalPolicy: props.logRemovalPolicy,
    encryptionKey: props.logEncryptionKey,
  });
}
