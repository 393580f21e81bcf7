import { AwsServiceError } from '../../../local/aws-service';
import {
  decodeJsonRequest,
  encodeJsonError,
  encodeJsonResponse,
} from '../../../local/endpoint/json-protocol';
import { WIRE_MODELS } from '../../../local/endpoint/wire-models';

/** The JSON codec's own rules: timestamps as epoch seconds, errors with the model's namespace and status. */

const states = WIRE_MODELS.get('states')!;
const sqs = WIRE_MODELS.get('sqs')!;

test('dates go out as epoch seconds, as the JSON protocols carry timestamps', () => {
  const answer = encodeJsonResponse(
    states,
    { executionArn: 'arn', startDate: new Date(Date.UTC(2026, 11, 1, 0, 0, 1, 500)) },
    'r',
  );
  expect(JSON.parse(answer.body)).toEqual({ executionArn: 'arn', startDate: 1796083201.5 });
  expect(answer.headers).toEqual({ 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-RequestId': 'r' });
});

test("a modelled error carries the service's namespace; another its bare code", () => {
  const modelled = encodeJsonError(
    states,
    new AwsServiceError('ExecutionDoesNotExist', 'Execution Does Not Exist'),
    'r',
  );
  expect(modelled.status).toBe(400);
  expect(JSON.parse(modelled.body)).toEqual({
    __type: 'com.amazonaws.sfn#ExecutionDoesNotExist',
    message: 'Execution Does Not Exist',
  });
  expect(modelled.headers).not.toHaveProperty('x-amzn-query-error');
  const bare = encodeJsonError(sqs, new AwsServiceError('InvalidParameterValue', 'bad'), 'r');
  expect(JSON.parse(bare.body)).toEqual({ __type: 'InvalidParameterValue', message: 'bad' });
  expect(bare.headers['x-amzn-query-error']).toBe('InvalidParameterValue;Sender');
});

test('a body that is not a JSON object is SerializationException; an empty one is {}', () => {
  expect(decodeJsonRequest('')).toEqual({});
  for (const body of ['{', '[]', '"text"']) {
    expect(() => decodeJsonRequest(body)).toThrow(
      expect.objectContaining({ code: 'SerializationException', statusCode: 400 }),
    );
  }
});
