import { deployLocally, readTemplateFile } from '../../../local/cloudformation/template';
import { loadTaskDefinitions } from '../../../local/ecs/task-definitions';
import { findObjectCreatedRule } from '../../../local/events/rule-template';
import { decide, type Decision } from '../../../local/iam/policy-evaluator';
import { type Caller, TemplateIam } from '../../../local/iam/template-iam';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * TemplateIam remembers its decisions, and decides a request like an earlier one (another session of
 * the role, another object the same patterns match) by the earlier one's. Each answer here is checked
 * against the policy evaluator deciding the same request afresh.
 */

const tls = { 'aws:SecureTransport': 'true' };
const plain = { 'aws:SecureTransport': 'false' };

/** Asks `iam` (remembering) and the evaluator (afresh) the same question; both answers. */
async function bothWays(
  iam: TemplateIam,
  caller: Caller,
  action: string,
  resource: string,
  context: Record<string, string>,
): Promise<{ remembered: Decision; fresh: Decision }> {
  const principal = iam.principalOf(caller);
  const remembered = await iam.decide(caller, action, resource, context);
  const fresh = await decide(
    { principal, action, resource, resourceAccount: resource.split(':')[4] || '000000000000', context },
    {
      identity: 'role' in caller ? iam.identityPolicies(caller.role) : (caller.identity ?? []),
      resource: iam.resourcePolicyFor(resource),
    },
  );
  return { remembered, fresh };
}

describe("the synthesized template's task role and bucket policy", () => {
  let iam: TemplateIam;
  let taskRole: string;
  beforeAll(async () => {
    const template = readTemplateFile(await synthesizedTemplate());
    const deployment = deployLocally(template, {
      region: 'us-east-1',
      bucketNames: { [findObjectCreatedRule(template).dataBucketLogicalId]: 'data' },
    });
    iam = new TemplateIam(deployment);
    taskRole = loadTaskDefinitions(deployment)[0].taskRoleLogicalId!;
  });

  // Each row is asked after the rows before it, so most are answered from memory: by another
  // session, another object under the same prefix, or the same request again.
  test.each([
    ['task-1', 's3:GetObject', 'arn:aws:s3:::data/incoming/a.txt', tls, 'Allowed'],
    ['task-2', 's3:GetObject', 'arn:aws:s3:::data/incoming/b/c.txt', tls, 'Allowed'],
    ['task-2', 's3:GetObject', 'arn:aws:s3:::data/elsewhere/a.txt', tls, 'ImplicitlyDenied'],
    ['task-3', 's3:GetObject', 'arn:aws:s3:::data/incoming', tls, 'ImplicitlyDenied'],
    ['task-3', 's3:GetObject', 'arn:aws:s3:::data/Incoming/a.txt', tls, 'ImplicitlyDenied'],
    ['task-1', 's3:GetObject', 'arn:aws:s3:::data/incoming/a.txt', plain, 'ExplicitlyDenied'],
    ['task-4', 's3:GetObject', 'arn:aws:s3:::data/incoming/z.txt', plain, 'ExplicitlyDenied'],
    ['task-1', 's3:PutObject', 'arn:aws:s3:::data/processed/a.json', tls, 'Allowed'],
    ['task-5', 's3:PutObject', 'arn:aws:s3:::data/processed/b.json', tls, 'Allowed'],
    ['task-5', 's3:PutObject', 'arn:aws:s3:::data/incoming/b.json', tls, 'ImplicitlyDenied'],
    ['task-6', 's3:PutObject', 'arn:aws:s3:::data/processed/b.json', plain, 'ExplicitlyDenied'],
    ['task-6', 's3:ListBucket', 'arn:aws:s3:::data', tls, 'Allowed'],
    ['task-7', 's3:ListBucket', 'arn:aws:s3:::other', tls, 'ImplicitlyDenied'],
    ['task-7', 'dynamodb:PutItem', '*', tls, 'ImplicitlyDenied'],
    ['task-8', 'dynamodb:PutItem', '*', tls, 'ImplicitlyDenied'],
  ] as const)('session %s: %s on %s (%j) is %s', async (session, action, resource, context, expected) => {
    const answers = await bothWays(iam, { role: taskRole, session }, action, resource, context);
    expect(answers).toEqual({ remembered: expected, fresh: expected });
  });

  test("an administrator's object writes are refused only by the bucket policy's explicit denies", async () => {
    const owner: Caller = {
      principal: 'arn:aws:iam::000000000000:role/LocalS3Owner',
      identity: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }],
    };
    const kms = {
      ...tls,
      's3:x-amz-server-side-encryption': 'aws:kms',
      's3:x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:000000000000:key/k',
    };
    for (const [key, context, expected] of [
      ['incoming/1.txt', tls, 'Allowed'],
      ['incoming/2.txt', tls, 'Allowed'],
      ['incoming/3.txt', kms, 'ExplicitlyDenied'],
      ['elsewhere/4.txt', kms, 'ExplicitlyDenied'],
      ['elsewhere/5.txt', tls, 'Allowed'],
    ] as const) {
      const answers = await bothWays(iam, owner, 's3:PutObject', `arn:aws:s3:::data/${key}`, context);
      expect(answers).toEqual({ remembered: expected, fresh: expected });
    }
  });
});

describe('what tells two requests apart', () => {
  const bucketPolicy = (statement: Record<string, unknown>) => ({
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket' },
      BucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'Bucket' },
          PolicyDocument: { Version: '2012-10-17', Statement: [statement] },
        },
      },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: { Statement: [] },
          Policies: [
            {
              PolicyName: 'All',
              PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
            },
          ],
        },
      },
    },
  });
  const iamOf = (statement: Record<string, unknown>) =>
    new TemplateIam(
      deployLocally(bucketPolicy(statement), { region: 'us-east-1', bucketNames: { Bucket: 'data' } }),
    );

  test('a bucket policy that names one session denies that session only', async () => {
    const iam = iamOf({
      Effect: 'Deny',
      Principal: { AWS: 'arn:aws:sts::000000000000:assumed-role/Role/blocked' },
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::data/*',
    });
    const answers = await Promise.all(
      ['free', 'blocked', 'other'].map((session) =>
        bothWays(iam, { role: 'Role', session }, 's3:GetObject', 'arn:aws:s3:::data/a.txt', tls),
      ),
    );
    expect(answers.map((a) => [a.remembered, a.fresh])).toEqual([
      ['Allowed', 'Allowed'],
      ['ExplicitlyDenied', 'ExplicitlyDenied'],
      ['Allowed', 'Allowed'],
    ]);
  });

  test("a pattern's `?` and `*` are matched against the key, character by character", async () => {
    const iam = iamOf({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::data/in/?.txt',
    });
    const decisions: string[] = [];
    for (const key of ['in/a.txt', 'in/ab.txt', 'in/b.txt', 'in/a/txt', 'in/c.txt']) {
      const answers = await bothWays(iam, { role: 'Role' }, 's3:GetObject', `arn:aws:s3:::data/${key}`, tls);
      expect(answers.remembered).toBe(answers.fresh);
      decisions.push(answers.remembered);
    }
    expect(decisions).toEqual([
      'ExplicitlyDenied',
      'Allowed',
      'ExplicitlyDenied',
      'Allowed',
      'ExplicitlyDenied',
    ]);
  });

  test('a pattern with a policy variable decides each object afresh', async () => {
    const iam = iamOf({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::data/${aws:SecureTransport}/*',
    });
    const decisions: string[] = [];
    for (const key of ['true/a', 'false/a', 'true/b']) {
      const answers = await bothWays(iam, { role: 'Role' }, 's3:GetObject', `arn:aws:s3:::data/${key}`, tls);
      expect(answers.remembered).toBe(answers.fresh);
      decisions.push(answers.remembered);
    }
    expect(decisions).toEqual(['ExplicitlyDenied', 'Allowed', 'ExplicitlyDenied']);
  });
});
