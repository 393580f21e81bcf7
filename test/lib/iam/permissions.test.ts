import type { CfnTemplate } from '../../../local/cloudformation/template';
import { type ConfigurationName, synthesized, TEST_ECR_IMAGE, TEST_KMS_KEY_ARN } from '../support/synth';
import {
  alarmTopicExpectations,
  bucketExpectations,
  customerKeyExpectations,
  deadLetterQueueExpectations,
  deployed,
  type DeployedStack,
  executionRoleExpectations,
  kmsExpectations,
  launchGateHousekeepingExpectations,
  type ModeSettings,
  objectRecordExpectations,
  ruleRoleExpectations,
  stateMachineRoleExpectations,
  taskRoleExpectations,
  trustExpectations,
  violations,
} from './expectations';

// Every principal's permissions, evaluated as IAM evaluates them (an IAM policy simulator over the
// synthesized identity, trust and resource policies), in every configuration mode.

const ECR_REPOSITORY = `arn:aws:ecr:us-east-1:123456789012:repository/${TEST_ECR_IMAGE.split('/')[1].split(':')[0]}`;
const DEFAULTS = { inputPrefix: 'incoming/', outputPrefix: 'processed/' };
const MODES: ReadonlyArray<[ConfigurationName, ModeSettings]> = [
  ['default', DEFAULTS],
  ['spotWithFallback', DEFAULTS],
  ['private', { ...DEFAULTS, imageRepository: ECR_REPOSITORY }],
  ['outputBucket', { ...DEFAULTS, outputBucket: 'some-bucket' }],
  ['destroy', DEFAULTS],
  ['kmsKeys', { ...DEFAULTS, kmsKeyArns: [TEST_KMS_KEY_ARN] }],
  ['kms', DEFAULTS],
  ['tagInputObjects', { inputPrefix: 'uploads/', outputPrefix: 'processed/', tagInputObjects: true }],
];

describe.each(MODES)('permissions, evaluated (%s)', (name, mode) => {
  let stack: DeployedStack;
  beforeAll(() => {
    const synth = synthesized(name);
    stack = deployed(synth, synth.template.toJSON() as CfnTemplate, mode.kmsKeyArns);
  });

  test('task role: reads only under the input prefix, writes only under the output prefix, deletes nothing', async () => {
    expect(await violations(stack, taskRoleExpectations(stack, mode))).toEqual([]);
  });

  test('execution role: pulls only its image, writes only its log group', async () => {
    expect(await violations(stack, executionRoleExpectations(stack, mode))).toEqual([]);
  });

  test('state machine roles: run the worker family (any revision) in its cluster, pass only the task roles, manage only the runTask.sync rule, cannot start the other workflow', async () => {
    expect(await violations(stack, stateMachineRoleExpectations(stack))).toEqual([]);
  });

  test("the rule's role starts only the event workflow", async () => {
    expect(await violations(stack, ruleRoleExpectations(stack))).toEqual([]);
  });

  test('launch gate cleanup and reconciler: the gate table, waking waiters, describing the gate executions, their own metric namespace; the rule and schedule start only their own', async () => {
    expect(await violations(stack, launchGateHousekeepingExpectations(stack))).toEqual([]);
  });

  test('object records: the per-object machines write them, the recorder ends them, announces on the default bus only and tags only input objects (with tagInputObjects); the sweep reads open records; the task role touches none', async () => {
    expect(await violations(stack, objectRecordExpectations(stack, mode))).toEqual([]);
  });

  test('dead-letter queue: only the rule can send to it', async () => {
    expect(await violations(stack, deadLetterQueueExpectations(stack))).toEqual([]);
  });

  // Failed before the topic allowed cloudwatch.amazonaws.com: "this account's alarm ... is ImplicitlyDenied"
  test("alarm topic: this account's CloudWatch alarms can publish, another account's cannot", async () => {
    expect(await violations(stack, alarmTopicExpectations(stack))).toEqual([]);
  });

  test('both buckets refuse plain HTTP, anonymous and cross-account requests; access logs come only from the data bucket', async () => {
    expect(await violations(stack, bucketExpectations(stack, mode))).toEqual([]);
  });

  test('each role can be assumed only by the service it is for', async () => {
    expect(await violations(stack, trustExpectations(stack))).toEqual([]);
  });

  test("encryption=kms: the stack's key is used only through the service each principal needs it for", async () => {
    const rows = customerKeyExpectations(stack, mode);
    // (only the kms mode has a key; the others have none to grant)
    expect(rows.length > 0).toBe(stack.synth.ids.encryptionKey !== undefined);
    expect(stack.deployment.resourcesOfType('AWS::KMS::Key').length).toBe(rows.length > 0 ? 1 : 0);
    expect(await violations(stack, rows)).toEqual([]);
  });

  // Failed before the bucket refused them: the object was stored, and every run of it failed
  test('uploads under a customer managed KMS key are refused unless the key is named in kmsKeyArns', async () => {
    expect(await violations(stack, kmsExpectations(stack, mode))).toEqual([]);
  });
});
