import type { LocalAwsService } from '../../aws-service';
import type { Clock } from '../../clock';
import { TemplateError } from '../../cloudformation/template';
import type { DynamoDbSender } from '../../dynamodb/json-requests';
import type { LocalSqs } from '../../sqs/queues';
import { DESCRIBE_OWN_CHILD } from '../api';
import { StatesError } from '../asl/errors';
import type { Json } from '../asl/paths';
import type { AslState } from '../definitions';
import type { TaskTokens } from '../task-tokens';
import { callService, type ServiceCall } from './aws-service';
import { callDynamoDb, dynamoDbCommand, OPTIMIZED_DYNAMODB_ACTIONS } from './dynamodb';
import { SDK_SERVICE_NAMES } from './error-names';
import { callSqs, SQS_SDK_ACTIONS } from './sqs';

/**
 * Which local service serves a Task state, by its Resource: every Task state is served locally,
 * by the same service objects real clients reach, and nothing calls AWS. `ecs:runTask.sync` goes to
 * the local ECS (the run's `runTask`); DynamoDB to dynalite (its full API for `aws-sdk:dynamodb:*`),
 * SQS to the local queues, `aws-sdk:sfn:*` and `states:startExecution` to the Step Functions API,
 * `aws-sdk:cloudwatch:putMetricData` to the local CloudWatch, `events:putEvents` to the local event
 * bus. `.waitForTaskToken` works on any of them but ECS. A Resource none of them serves is refused
 * when the definition loads, naming the state.
 */

/** The local services the state machines call (ECS aside: its handler comes with each run). */
export interface LocalServices {
  /** The SDK's client, or the local DynamoDB's `stepFunctionsRequests`. */
  readonly dynamodb?: DynamoDbSender;
  readonly sqs?: LocalSqs;
  /** @default - the engine's own */
  readonly tokens?: TaskTokens;
  /** The Step Functions API; a function, as it is built on the engine that calls it. */
  readonly stepFunctions?: () => LocalAwsService;
  readonly cloudwatch?: LocalAwsService;
  /** The local event bus, as PutEvents. */
  readonly events?: LocalAwsService;
}

export type TaskIntegration =
  | { readonly kind: 'ecs' }
  | {
      readonly kind: 'service';
      /** `.waitForTaskToken`: the call carries `$$.Task.Token`, then the state waits for it. */
      readonly waitForTaskToken: boolean;
      /** The call is I/O outside the clock (dynalite): the engine tracks it on the clock. */
      readonly io?: boolean;
      /** `submitted`: a `.sync` call's first answer (StartExecution's), recorded as TaskSubmitted. */
      call(parameters: unknown, submitted: (response: Json) => void): Promise<unknown>;
    };

const RESOURCE = /^arn:[^:]+:states:::(aws-sdk:)?([a-z0-9-]+):([A-Za-z0-9]+)(?:\.([A-Za-z0-9:]+))?$/;

const SERVED = [
  'ecs:runTask.sync',
  `dynamodb:${OPTIMIZED_DYNAMODB_ACTIONS.join('|')}`,
  'aws-sdk:dynamodb:*',
  'sqs:sendMessage',
  `aws-sdk:sqs:${SQS_SDK_ACTIONS.join('|')}`,
  'aws-sdk:sfn:*',
  'states:startExecution[.sync|.sync:2]',
  'aws-sdk:cloudwatch:putMetricData',
  'events:putEvents',
];

/** How often a `states:startExecution.sync` state looks at its child execution, as Step Functions polls it. */
const SYNC_POLL_MS = 1_000;

export function taskIntegration(
  stateName: string,
  state: AslState,
  services: LocalServices & { readonly tokens: TaskTokens; readonly clock?: Clock },
): TaskIntegration {
  const resource = String(state.Resource);
  const [, sdk, service, action, pattern] = RESOURCE.exec(resource) ?? [];
  const refuse = (why: string) => new TemplateError(`Task state "${stateName}" calls ${resource}: ${why}`);
  const unserved = () =>
    refuse(
      `the local Step Functions serves only ${SERVED.join(', ')} (each also .waitForTaskToken, ECS aside); ` +
        'serve it in local/stepfunctions/integrations/ or change the state',
    );
  const needs = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw refuse(`no local ${what} was given to run it`);
    return value;
  };
  const waitForTaskToken = pattern === 'waitForTaskToken';
  const sync = pattern === 'sync' || pattern === 'sync:2';
  if (pattern !== undefined && !waitForTaskToken && !sync) throw unserved();
  const served = (
    call: (parameters: unknown, submitted: (response: Json) => void) => Promise<unknown>,
    io = false,
  ): TaskIntegration => ({
    kind: 'service',
    waitForTaskToken,
    io,
    call,
  });
  const viaService = (target: LocalAwsService, call: Omit<ServiceCall, 'service'>) =>
    served((parameters) => callService({ service: target, ...call }, parameters));

  if (sync) {
    if (!sdk && service === 'ecs' && action === 'runTask' && pattern === 'sync') return { kind: 'ecs' };
    if (!sdk && service === 'states' && action === 'startExecution') {
      const api = needs(services.stepFunctions, 'Step Functions API');
      const clock = needs(services.clock, 'clock');
      return served((parameters, submitted) =>
        startExecutionSync(api(), clock, parameters, pattern === 'sync:2', submitted),
      );
    }
    throw unserved();
  }
  if (!sdk) {
    if (service === 'dynamodb' && OPTIMIZED_DYNAMODB_ACTIONS.includes(action)) {
      const client = needs(services.dynamodb, 'DynamoDB');
      return served((p) => callDynamoDb(client, dynamoDbCommand(action)!, p, 'DynamoDB'), true);
    }
    if (service === 'sqs' && action === 'sendMessage') {
      const sqs = needs(services.sqs, 'SQS');
      return served((p) => callSqs(sqs, action, p, 'SQS'));
    }
    if (service === 'states' && action === 'startExecution') {
      const api = needs(services.stepFunctions, 'Step Functions API');
      return served((p) =>
        callService(
          { service: api(), action: 'StartExecution', camelCase: true, errorPrefix: 'StepFunctions' },
          inputAsText(p),
        ),
      );
    }
    if (service === 'events' && action === 'putEvents') {
      const events = needs(services.events, 'event bus');
      const call = { service: events, action: 'PutEvents', camelCase: false, errorPrefix: 'EventBridge' };
      return served((p) => callService(call, detailsAsText(p)));
    }
    throw unserved();
  }
  const sdkName = SDK_SERVICE_NAMES[service];
  const apiAction = action ? `${action[0].toUpperCase()}${action.slice(1)}` : '';
  if (service === 'dynamodb' && dynamoDbCommand(action)) {
    const client = needs(services.dynamodb, 'DynamoDB');
    const command = dynamoDbCommand(action)!;
    return served((p) => callDynamoDb(client, command, p, 'DynamoDb'), true);
  }
  if (service === 'sqs' && SQS_SDK_ACTIONS.includes(action)) {
    const sqs = needs(services.sqs, 'SQS');
    return served((p) => callSqs(sqs, action, p, 'Sqs'));
  }
  if (service === 'sfn') {
    const api = needs(services.stepFunctions, 'Step Functions API');
    return served((p) =>
      callService({ service: api(), action: apiAction, camelCase: true, errorPrefix: sdkName }, p),
    );
  }
  if (service === 'cloudwatch' && action === 'putMetricData') {
    return viaService(needs(services.cloudwatch, 'CloudWatch'), {
      action: apiAction,
      camelCase: false,
      errorPrefix: sdkName,
    });
  }
  throw unserved();
}

/** `events:putEvents` takes each entry's Detail as JSON; the API (PutEvents) takes text. */
function detailsAsText(parameters: unknown): unknown {
  const request = (parameters ?? {}) as { Entries?: Array<Record<string, unknown>> };
  return {
    ...request,
    Entries: request.Entries?.map((entry) =>
      entry.Detail === undefined || typeof entry.Detail === 'string'
        ? entry
        : { ...entry, Detail: JSON.stringify(entry.Detail) },
    ),
  };
}

/** `states:startExecution` takes its Input as JSON or as text; the API takes text. */
function inputAsText(parameters: unknown): unknown {
  const request = { ...((parameters ?? {}) as Record<string, unknown>) };
  if (request.Input !== undefined && typeof request.Input !== 'string')
    request.Input = JSON.stringify(request.Input);
  return request;
}

/**
 * `states:startExecution.sync` (`.sync:2`): starts the child, waits for it to end, answers with its
 * DescribeExecution (PascalCase; `.sync:2` parses Input and Output as JSON). A child that did not
 * succeed fails the state with States.TaskFailed, the description as the Cause.
 */
async function startExecutionSync(
  api: LocalAwsService,
  clock: Clock,
  parameters: unknown,
  parsed: boolean,
  submitted: (response: Json) => void,
): Promise<unknown> {
  const call = (action: string, request: unknown) =>
    callService({ service: api, action, camelCase: true, errorPrefix: 'StepFunctions' }, request) as Promise<
      Record<string, unknown>
    >;
  const started = await call('StartExecution', inputAsText(parameters));
  submitted(started as Json);
  const { ExecutionArn } = started;
  for (;;) {
    // Step Functions' own read: an Express child too, which a client's DescribeExecution is refused.
    const described = await call(DESCRIBE_OWN_CHILD, { ExecutionArn });
    if (described.Status !== 'RUNNING') {
      const answer = parsed
        ? {
            ...described,
            Input: JSON.parse(String(described.Input ?? 'null')),
            Output: described.Output === undefined ? undefined : JSON.parse(String(described.Output)),
          }
        : described;
      if (described.Status === 'SUCCEEDED') return answer;
      throw new StatesError('States.TaskFailed', JSON.stringify(answer));
    }
    await clock.sleep(SYNC_POLL_MS);
  }
}
