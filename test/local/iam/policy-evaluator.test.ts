import { deployLocally } from '../../../local/cloudformation/template';
import { ANONYMOUS, decide, PolicyEvaluationError } from '../../../local/iam/policy-evaluator';
import { TemplateIam } from '../../../local/iam/template-iam';

const READ_INCOMING = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::data/incoming/*' }],
};
const TLS_ONLY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:*',
      Resource: ['arn:aws:s3:::data', 'arn:aws:s3:::data/*'],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ],
};
const ROLE_SESSION = 'arn:aws:sts::000000000000:assumed-role/TaskRole/task-1';
const request = (action: string, resource: string, secure = 'true') => ({
  principal: ROLE_SESSION,
  action,
  resource,
  resourceAccount: '000000000000',
  context: { 'aws:SecureTransport': secure },
});

describe('decide', () => {
  test('allows what an identity policy grants and the resource policy does not deny', async () => {
    const policies = { identity: [READ_INCOMING], resource: TLS_ONLY };
    expect(await decide(request('s3:GetObject', 'arn:aws:s3:::data/incoming/a'), policies)).toBe('Allowed');
    expect(await decide(request('s3:GetObject', 'arn:aws:s3:::data/other/a'), policies)).toBe(
      'ImplicitlyDenied',
    );
    expect(await decide(request('s3:GetObject', 'arn:aws:s3:::data/incoming/a', 'false'), policies)).toBe(
      'ExplicitlyDenied',
    );
  });

  test('an anonymous caller gets only what a resource policy grants', async () => {
    const anonymous = { ...request('s3:GetObject', 'arn:aws:s3:::data/incoming/a'), principal: ANONYMOUS };
    expect(await decide(anonymous, { identity: [], resource: TLS_ONLY })).toBe('ImplicitlyDenied');
  });

  test('an unknown action is an error, never a denial', async () => {
    await expect(
      decide(request('s3:GetObjekt', 'arn:aws:s3:::data/incoming/a'), { identity: [READ_INCOMING] }),
    ).rejects.toThrow(PolicyEvaluationError);
  });

  test('an ARN of the wrong resource type for the action is an error', async () => {
    await expect(
      decide(request('s3:GetObject', 'arn:aws:sns:us-east-1:000000000000:topic'), {
        identity: [READ_INCOMING],
      }),
    ).rejects.toThrow(/s3:GetObject on arn:aws:sns:us-east-1:000000000000:topic/);
  });
});

describe('TemplateIam', () => {
  const template = {
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket' },
      BucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'Bucket' },
          PolicyDocument: {
            Statement: [
              {
                Effect: 'Deny',
                Principal: { AWS: '*' },
                Action: 's3:*',
                Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              },
            ],
          },
        },
      },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'ecs-tasks.amazonaws.com' },
                Action: 'sts:AssumeRole',
              },
            ],
          },
          Policies: [
            {
              PolicyName: 'Inline',
              PolicyDocument: {
                Statement: [
                  { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': ['Bucket', 'Arn'] } },
                ],
              },
            },
          ],
        },
      },
      RolePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: [{ Ref: 'Role' }],
          PolicyDocument: {
            Statement: [
              {
                Effect: 'Allow',
                Action: 's3:PutObject',
                Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/out/*']] },
              },
            ],
          },
        },
      },
      Managed: {
        Type: 'AWS::IAM::Role',
        Properties: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
      },
    },
  };
  const iam = new TemplateIam(
    deployLocally(template, { region: 'us-east-1', bucketNames: { Bucket: 'data' } }),
  );
  const tls = { 'aws:SecureTransport': 'true' };

  test("a role may do what its inline and attached policies grant, within the bucket's policy", async () => {
    expect(await iam.decide({ role: 'Role' }, 's3:ListBucket', 'arn:aws:s3:::data', tls)).toBe('Allowed');
    expect(await iam.decide({ role: 'Role' }, 's3:PutObject', 'arn:aws:s3:::data/out/a', tls)).toBe(
      'Allowed',
    );
    expect(await iam.decide({ role: 'Role' }, 's3:PutObject', 'arn:aws:s3:::data/in/a', tls)).toBe(
      'ImplicitlyDenied',
    );
    expect(
      await iam.decide({ role: 'Role' }, 's3:PutObject', 'arn:aws:s3:::data/out/a', {
        'aws:SecureTransport': 'false',
      }),
    ).toBe('ExplicitlyDenied');
  });

  test("a role's trust policy is its resource policy for sts:AssumeRole", async () => {
    const role = iam.roleArn('Role');
    expect(role).toBe('arn:aws:iam::000000000000:role/Role');
    expect(await iam.decide({ principal: 'ecs-tasks.amazonaws.com' }, 'sts:AssumeRole', role, tls)).toBe(
      'Allowed',
    );
    expect(await iam.decide({ principal: 'states.amazonaws.com' }, 'sts:AssumeRole', role, tls)).toBe(
      'ImplicitlyDenied',
    );
  });

  test('a role with managed policies cannot be evaluated, and says why', () => {
    expect(() => iam.identityPolicies('Managed')).toThrow(
      /Role Managed has managed policies \(\["arn:aws:iam::aws:policy\/AdministratorAccess"\]\) whose statements are not in the template/,
    );
  });
});
