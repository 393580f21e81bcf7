import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

import { TemplateError } from '../../cloudformation/template';
import type { LocalSqs } from '../../sqs/queues';
import type { AslState } from '../definitions';
import type { TaskTokens } from '../task-tokens';
import { callDynamoDb, DYNAMODB_ACTIONS } from './dynamodb';
import { callSfn, SFN_SDK_ACTIONS } from './sfn';
import { callSqs, SQS_SDK_ACTIONS } from './sqs';

/**
 * Which local service serves a Task state, by its Resource: every Task state is served locally and
 * nothing calls AWS (aws-local-stepfunctions would invoke a Lambda function for a state it has no
 * handler for). `ecs:runTask.sync` goes to the local ECS (the caller's `runTask`: the only launch);
 * the rest to the local DynamoDB, SQS and task tokens. A Resource none of them serves is refused when
 * the definition is loaded, naming the state.
 */

/** The local services the state machines call (ECS aside: its handler comes with each execution). */
export interface LocalServices {
  readonly dynamodb?: DynamoDBClient;
  readonly sqs?: LocalSqs;
  /** @default - the state machine's own */
  readonly tokens?: TaskTokens;
}

export type TaskIntegration =
  | { readonly kind: 'ecs' }
  | {
      readonly kind: 'service';
      /** `.waitForTaskToken`: the call carries `$$.Task.Token`, then the state waits for it. */
      readonly waitForTaskToken: boolean;
      /** The call is I/O outside the clock (dynalite): the engine tracks it on the clock. */
      readonly io?: boolean;
      call(parameters: unknown): Promise<unknown>;
    };

const RESOURCE = /^arn:[^:]+:states:::(aws-sdk:)?([a-z0-9-]+):([A-Za-z0-9]+)(?:\.([A-Za-z0-9:]+))?$/;

const SERVED = [
  'ecs:runTask.sync',
  `dynamodb:${DYNAMODB_ACTIONS.join('|')}`,
  'sqs:sendMessage[.waitForTaskToken]',
  `aws-sdk:sqs:${SQS_SDK_ACTIONS.join('|')}`,
  `aws-sdk:sfn:${SFN_SDK_ACTIONS.join('|')}`,
];

export function taskIntegration(
  stateName: string,
  state: AslState,
  services: LocalServices & { readonly tokens: TaskTokens },
): TaskIntegration {
  const resource = String(state.Resource);
  const [, sdk, service, action, pattern] = RESOURCE.exec(resource) ?? [];
  const refuse = (why: string) => new TemplateError(`Task state "${stateName}" calls ${resource}: ${why}`);
  const unserved = () =>
    refuse(
      `the local Step Functions serves only ${SERVED.join(', ')}; serve it in local/stepfunctions/integrations/ or change the state`,
    );
  const needs = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw refuse(`no local ${what} was given to run it`);
    return value;
  };
  const waitForTaskToken = pattern === 'waitForTaskToken';
  if (pattern !== undefined && !waitForTaskToken && !(service === 'ecs' && pattern === 'sync')) {
    throw unserved();
  }
  if (!sdk && service === 'ecs' && action === 'runTask' && pattern === 'sync') return { kind: 'ecs' };
  if (!sdk && service === 'dynamodb' && DYNAMODB_ACTIONS.includes(action) && !waitForTaskToken) {
    const client = needs(services.dynamodb, 'DynamoDB');
    return { kind: 'service', waitForTaskToken, io: true, call: (p) => callDynamoDb(client, action, p) };
  }
  if (service === 'sqs' && (sdk ? SQS_SDK_ACTIONS.includes(action) : action === 'sendMessage')) {
    if (waitForTaskToken && action !== 'sendMessage') throw unserved();
    const sqs = needs(services.sqs, 'SQS');
    return {
      kind: 'service',
      waitForTaskToken,
      call: (p) => callSqs(sqs, action, p, sdk ? 'Sqs' : 'SQS'),
    };
  }
  if (sdk && service === 'sfn' && SFN_SDK_ACTIONS.includes(action) && !waitForTaskToken) {
    const { tokens } = services;
    return { kind: 'service', waitForTaskToken, call: async (p) => callSfn(tokens, action, p) };
  }
  throw unserved();
}
