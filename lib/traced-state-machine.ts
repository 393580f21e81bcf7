import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { acknowledgeRunTaskSyncWildcard, acknowledgeWildcardResourcesOf } from './nag-acknowledgements';

/** Where a state machine's execution log goes. */
export interface StateMachineLogProps {
  /** How long the execution log is kept. */
  readonly logRetention: logs.RetentionDays;
  /** What `cdk destroy` does with the execution log group. */
  readonly logRemovalPolicy: RemovalPolicy;
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
 */
export function createTracedStateMachine(
  scope: Construct,
  props: TracedStateMachineProps,
): { stateMachine: sfn.StateMachine; logGroup: logs.LogGroup } {
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    retention: props.logRetention,
    removalPolicy: props.logRemovalPolicy,
  });
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineType: sfn.StateMachineType.STANDARD,
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    comment: props.comment,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    timeout: props.timeout,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    tracingEnabled: true,
  });
  acknowledgeRunTaskSyncWildcard(stateMachine.role);
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
