import {
  checkGateFaultStates,
  type GateFault,
  GateFaultError,
  GateFaults,
  parseGateFault,
} from '../../../local/faults/gate-faults';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import type { Json } from '../../../local/stepfunctions/asl/paths';
import type { StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import type { ExecutionServiceCall } from '../../../local/stepfunctions/executions';
import { statusChangeEvent } from '../../../local/stepfunctions/status-change-event';

/**
 * The gate's fault model as a pure unit: which calls are the gate's, which fault strikes which call
 * (counts, seeded rates, a state filter), what each does to the call (`send`) and how Step Functions
 * names the error; and which events can be missed.
 */

const TABLE = 'Gate-Slots';
const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Work';
const call = (resource: string, stateName = 'ClaimLaunchSlot', table = TABLE): ExecutionServiceCall => ({
  stateMachineArn: ARN,
  executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:one`,
  stateName,
  resource: `arn:aws:states:::${resource}`,
  parameters: { TableName: table, Key: {} },
});
const claim = call('aws-sdk:dynamodb:updateItem');

/** `send` that counts its calls and answers `{ n }`, the n-th call. */
function counter() {
  let sent = 0;
  return {
    send: async (): Promise<Json> => ({ n: ++sent }),
    get sent() {
      return sent;
    },
  };
}

const faults = (list: GateFault[], seed = 1) => new GateFaults({ faults: list, seed, tableNames: [TABLE] });
const outcome = (promise: Promise<Json>) =>
  promise.then(
    (answer) => ({ answer }),
    (error: StatesError) => ({ error: error.name }),
  );

describe('parseGateFault', () => {
  test.each([
    ['lost-before=0.01', { kind: 'lost-before', amount: { rate: 0.01 } }],
    ['duplicate=3', { kind: 'duplicate', amount: { count: 3 } }],
    ['throttle=1.0', { kind: 'throttle', amount: { rate: 1 } }],
    ['missed-event=0', { kind: 'missed-event', amount: { count: 0 } }],
    [
      'lost-after=2@ReleaseLaunchSlot',
      { kind: 'lost-after', amount: { count: 2 }, stateName: 'ReleaseLaunchSlot' },
    ],
  ])('%s', (raw, expected) => {
    expect(parseGateFault(raw)).toEqual(expected);
  });

  test.each([
    ['lost=1', /--gate-fault "lost=1" names no fault "lost": use <kind>=<rate or count>/],
    ['duplicate', /--gate-fault "duplicate" is not valid: use /],
    ['throttle=1.5', /is neither a rate from 0 to 1 nor a whole count: use /],
    ['throttle=-1', /--gate-fault "throttle=-1" is not valid/],
    ['throttle=x', /is not valid/],
    ['missed-event=1@ClaimLaunchSlot', /names a state, but events come from no state/],
  ])('%s is refused, naming the input and the fix', (raw, message) => {
    expect(() => parseGateFault(raw)).toThrow(GateFaultError);
    expect(() => parseGateFault(raw)).toThrow(message);
  });
});

describe('GateFaults.onServiceCall', () => {
  test('a count strikes the first n gate calls only; other calls are neither struck nor counted', async () => {
    const gate = faults([{ kind: 'throttle', amount: { count: 2 } }]);
    const service = counter();
    const results = [];
    for (const c of [
      call('aws-sdk:dynamodb:updateItem', 'ClaimLaunchSlot', 'OtherTable'),
      call('aws-sdk:sfn:describeExecution', 'DescribeHolder'),
      claim,
      call('aws-sdk:sfn:sendTaskSuccess', 'HandOnLaunchSlot'),
      claim,
    ])
      results.push(await outcome(gate.onServiceCall(c, service.send)));
    expect(results).toEqual([
      { answer: { n: 1 } },
      { answer: { n: 2 } },
      { error: 'DynamoDb.ProvisionedThroughputExceededException' },
      { error: 'Sfn.ThrottlingException' },
      { answer: { n: 3 } },
    ]);
    expect(gate.injected).toMatchObject({ throttle: 2, 'lost-before': 0 });
  });

  test('each kind, as Step Functions reports it, and whether the call took effect', async () => {
    const cases: Array<[GateFault['kind'], string, object, number]> = [
      [
        'throttle',
        'aws-sdk:dynamodb:putItem.waitForTaskToken',
        { error: 'DynamoDb.ProvisionedThroughputExceededException' },
        0,
      ],
      ['throttle', 'dynamodb:updateItem', { error: 'DynamoDB.ProvisionedThroughputExceededException' }, 0],
      ['lost-before', 'aws-sdk:dynamodb:updateItem', { error: 'DynamoDb.InternalServerErrorException' }, 0],
      ['lost-before', 'aws-sdk:sfn:sendTaskSuccess', { error: 'Sfn.InternalFailureException' }, 0],
      ['lost-after', 'aws-sdk:dynamodb:deleteItem', { error: 'DynamoDb.InternalServerErrorException' }, 1],
      ['lost-after', 'aws-sdk:sfn:sendTaskFailure', { error: 'Sfn.InternalFailureException' }, 1],
      ['lost-after', 'dynamodb:putItem', { error: 'DynamoDB.InternalServerError' }, 1],
      // Both deliveries take effect; the caller hears the second.
      ['duplicate', 'aws-sdk:dynamodb:query', { answer: { n: 2 } }, 2],
      ['duplicate', 'aws-sdk:sfn:sendTaskSuccess', { answer: { n: 2 } }, 2],
    ];
    for (const [kind, resource, expected, sent] of cases) {
      const service = counter();
      const result = await outcome(
        faults([{ kind, amount: { count: 1 } }]).onServiceCall(call(resource), service.send),
      );
      expect([kind, resource, result, service.sent]).toEqual([kind, resource, expected, sent]);
    }
  });

  test("lost-after loses an error answer too; a duplicate returns the second delivery's error", async () => {
    let sent = 0;
    const refuse = async (): Promise<Json> => {
      sent++;
      throw new StatesError('DynamoDb.ConditionalCheckFailedException', 'refused');
    };
    expect(
      await outcome(faults([{ kind: 'lost-after', amount: { count: 1 } }]).onServiceCall(claim, refuse)),
    ).toEqual({
      error: 'DynamoDb.InternalServerErrorException',
    });
    expect(
      await outcome(faults([{ kind: 'duplicate', amount: { count: 1 } }]).onServiceCall(claim, refuse)),
    ).toEqual({
      error: 'DynamoDb.ConditionalCheckFailedException',
    });
    expect(sent).toBe(3);
  });

  test("@state: only that state's calls are eligible, and only they count", async () => {
    const gate = faults([{ kind: 'lost-before', amount: { count: 1 }, stateName: 'ReleaseLaunchSlot' }]);
    const service = counter();
    expect(await outcome(gate.onServiceCall(claim, service.send))).toEqual({ answer: { n: 1 } });
    const release = call('aws-sdk:dynamodb:updateItem', 'ReleaseLaunchSlot');
    expect(await outcome(gate.onServiceCall(release, service.send))).toEqual({
      error: 'DynamoDb.InternalServerErrorException',
    });
    expect(await outcome(gate.onServiceCall(release, service.send))).toEqual({ answer: { n: 2 } });
  });

  test("one fault per call, in the kinds' order: counts are consumed one after the other", async () => {
    const gate = faults([
      { kind: 'duplicate', amount: { count: 1 } },
      { kind: 'lost-before', amount: { count: 1 } },
    ]);
    const service = counter();
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await outcome(gate.onServiceCall(claim, service.send)));
    expect(results).toEqual([
      { error: 'DynamoDb.InternalServerErrorException' },
      { answer: { n: 2 } },
      { answer: { n: 3 } },
    ]);
  });

  test('a rate: the same seed gives the same schedule, another seed another, at about the rate', async () => {
    const schedule = async (seed: number) => {
      const gate = faults([{ kind: 'lost-before', amount: { rate: 0.1 } }], seed);
      const struck: number[] = [];
      for (let i = 0; i < 1000; i++) {
        const result = await outcome(gate.onServiceCall(claim, counter().send));
        if ('error' in result) struck.push(i);
      }
      return struck;
    };
    const [first, again, other] = [await schedule(7), await schedule(7), await schedule(8)];
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    expect(first.length).toBeGreaterThan(70);
    expect(first.length).toBeLessThan(130);
  });

  test('no fault, or rate 0: every call is sent as it is', async () => {
    for (const gate of [faults([]), faults([{ kind: 'throttle', amount: { rate: 0 } }])]) {
      expect(gate.active).toBe(false);
      const service = counter();
      expect(await gate.onServiceCall(claim, service.send)).toEqual({ n: 1 });
    }
    expect(faults([{ kind: 'throttle', amount: { count: 1 } }]).active).toBe(true);
  });
});

describe('GateFaults.missesEvent', () => {
  const changed = (status: string) =>
    statusChangeEvent(
      {
        executionArn: `${ARN}:x`,
        stateMachineArn: ARN,
        name: 'x',
        status,
        startDate: 0,
        stopDate: 1,
        input: '{}',
        redriveCount: 0,
        redriveStatus: 'REDRIVABLE',
      },
      1,
    );

  test('only status-change events are eligible; a count misses the first n of them', () => {
    const gate = faults([{ kind: 'missed-event', amount: { count: 2 } }]);
    const objectCreated = { source: 'aws.s3', 'detail-type': 'Object Created', detail: {} };
    expect(gate.missesEvent(objectCreated)).toBe(false);
    expect([changed('ABORTED'), changed('FAILED'), changed('TIMED_OUT')].map(gate.missesEvent)).toEqual([
      true,
      true,
      false,
    ]);
    expect(gate.injected['missed-event']).toBe(2);
  });

  test('call faults never miss an event, and event faults never strike a call', async () => {
    const gate = faults([
      { kind: 'missed-event', amount: { count: 5 } },
      { kind: 'lost-before', amount: { count: 5 } },
    ]);
    expect(gate.missesEvent(changed('ABORTED'))).toBe(true);
    expect(gate.injected).toMatchObject({ 'missed-event': 1, 'lost-before': 0 });
    await outcome(gate.onServiceCall(claim, counter().send));
    expect(gate.injected).toMatchObject({ 'missed-event': 1, 'lost-before': 1 });
  });
});

describe('checkGateFaultStates', () => {
  const definition = {
    StartAt: 'Claim',
    States: {
      Claim: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem',
        Parameters: { TableName: TABLE },
        Next: 'Other',
      },
      Other: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:putItem',
        Parameters: { TableName: 'Records' },
        Next: 'Find',
      },
      // a JSONata state names its table in Arguments
      Find: {
        Type: 'Task',
        QueryLanguage: 'JSONata',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:query',
        Arguments: { TableName: TABLE },
        Next: 'Each',
      },
      Each: {
        Type: 'Map',
        ItemProcessor: {
          StartAt: 'Wake',
          States: {
            Wake: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:sfn:sendTaskSuccess', End: true },
          },
        },
        End: true,
      },
    },
  } as unknown as StateMachineDefinition;

  test('a state that makes gate calls, nested or not, passes; any other is refused, naming those that do', () => {
    const at = (stateName: string): GateFault => ({ kind: 'throttle', amount: { count: 1 }, stateName });
    expect(() =>
      checkGateFaultStates(
        [at('Claim'), at('Find'), at('Wake'), { kind: 'throttle', amount: { count: 1 } }],
        [definition],
        [TABLE],
      ),
    ).not.toThrow();
    expect(() => checkGateFaultStates([at('Other')], [definition], [TABLE])).toThrow(
      'no state machine has a Task state "Other" that calls the launch gate: use one of Claim, Find, Wake',
    );
  });
});
