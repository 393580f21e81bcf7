import { listFailures, stepFunctionsClient } from '../../../shared/commands/execution-history';
import { BACKFILL_ARN, WORKFLOW_ARN } from './support/step-functions';

/**
 * Throttling is absorbed by the SDK's retry, which aws-sdk-client-mock cannot show: it replaces
 * `send`, and the retry middleware with it. So here the commands' real client (stepFunctionsClient)
 * runs its whole middleware stack against an HTTP handler that answers as Step Functions does when
 * it throttles: HTTP 400 with a ThrottlingException body.
 */

interface Exchange {
  readonly target: string;
  readonly status: number;
}

function throttlingHandler(throttledCalls: number, exchanges: Exchange[]) {
  let throttled = 0;
  return {
    async handle(request: { headers: Record<string, string> }) {
      const target = request.headers['x-amz-target'] ?? '';
      const throttle = throttled < throttledCalls;
      if (throttle) throttled++;
      exchanges.push({ target, status: throttle ? 400 : 200 });
      const body = throttle
        ? { __type: 'com.amazonaws.swf.service.v2.model#ThrottlingException', message: 'Rate exceeded' }
        : target.endsWith('ListMapRuns')
          ? { mapRuns: [] }
          : { executions: [] };
      return {
        response: {
          statusCode: throttle ? 400 : 200,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: new TextEncoder().encode(JSON.stringify(body)),
        },
      };
    },
  };
}

afterEach(() => jest.useRealTimers());

const query = { workflowArn: WORKFLOW_ARN, backfillArn: BACKFILL_ARN, since: new Date(0) };
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

test('throttled ListExecutions calls are retried by the client until they succeed', async () => {
  // GIVEN Step Functions throttles the first 2 calls
  const exchanges: Exchange[] = [];
  const sfn = stepFunctionsClient({
    region: 'us-east-1',
    credentials,
    requestHandler: throttlingHandler(2, exchanges),
  });
  // WHEN the commands list the failures, the retries' back-off and the adaptive mode's send-rate
  // waits passing on a clock the test runs (seconds of real time otherwise)
  jest.useFakeTimers({ now: 0 });
  const listing = listFailures(sfn, query);
  let settled = false;
  listing.then(
    () => (settled = true),
    () => (settled = true),
  );
  // (the client schedules each wait only after some promise turns: step the clock until it is done)
  while (!settled) await jest.advanceTimersByTimeAsync(100);
  const failures = await listing;
  // THEN the throttled call was sent again until it succeeded, and every later call went through
  expect(failures).toEqual([]);
  expect(exchanges.slice(0, 3)).toEqual([
    { target: 'AWSStepFunctions.ListExecutions', status: 400 },
    { target: 'AWSStepFunctions.ListExecutions', status: 400 },
    { target: 'AWSStepFunctions.ListExecutions', status: 200 },
  ]);
  // one successful call per failed status of the workflow, and one for the backfill runs
  expect(exchanges.filter((e) => e.status === 200)).toHaveLength(4);
});

test('the client is in adaptive retry mode with 10 attempts', async () => {
  const sfn = stepFunctionsClient({ region: 'us-east-1', credentials });
  expect(await sfn.config.retryStrategy()).toMatchObject({ mode: 'adaptive' });
  expect(await sfn.config.maxAttempts()).toBe(10);
});
