import type { CfnTemplate } from '../../../local/cloudformation/template';
import { type Synthesized, synthesized } from '../support/synth';
import {
  alarmTopicExpectations,
  customerKeyExpectations,
  deployed,
  kmsExpectations,
  stateMachineRoleExpectations,
  taskRoleExpectations,
  violations,
} from './expectations';

// The evaluation suite (permissions.test.ts) fails on templates with the defects it exists to catch.

interface PolicyDocument {
  Statement: Record<string, unknown>[];
}
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

let synth: Synthesized;
beforeAll(() => {
  synth = synthesized('default');
});

/** The default template, changed by `edit` (a copy: the stored template is left alone). */
function edited(edit: (resources: Resources) => void): CfnTemplate {
  const template = structuredClone(synth.template.toJSON()) as CfnTemplate;
  edit(template.Resources as Resources);
  return template;
}

function policyOfRole(resources: Resources, roleId: string) {
  return Object.values(resources).find(
    (r) =>
      r.Type === 'AWS::IAM::Policy' &&
      (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId),
  )!.Properties.PolicyDocument as PolicyDocument;
}

test('a task role with s3:* added fails the task role expectations', async () => {
  const stack = deployed(synth);
  const broken = deployed(
    synth,
    edited((resources) =>
      policyOfRole(resources, stack.roles.task).Statement.push({
        Effect: 'Allow',
        Action: 's3:*',
        Resource: '*',
      }),
    ),
  );
  const found = await violations(
    broken,
    taskRoleExpectations(broken, { inputPrefix: 'incoming/', outputPrefix: 'processed/' }),
  );
  expect(found).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^task role: s3:DeleteObject on arn:aws:s3:::\S+\/incoming\/a\.csv should be denied, is Allowed$/,
      ),
      expect.stringMatching(
        /^task role: s3:PutObject on arn:aws:s3:::\S+\/incoming\/a\.csv should be denied, is Allowed$/,
      ),
      expect.stringMatching(
        /^task role: s3:GetObject on arn:aws:s3:::\S+\/elsewhere\/a\.csv should be denied, is Allowed$/,
      ),
    ]),
  );
  expect(found.every((line) => line.endsWith('should be denied, is Allowed'))).toBe(true);
});

test('the topic policy as it was (the TLS Deny alone) fails: no alarm can notify', async () => {
  const broken = deployed(
    synth,
    edited((resources) => {
      const topicPolicy = Object.values(resources).find((r) => r.Type === 'AWS::SNS::TopicPolicy')!;
      const document = topicPolicy.Properties.PolicyDocument as PolicyDocument;
      document.Statement = document.Statement.filter((s) => s.Effect === 'Deny');
    }),
  );
  expect(await violations(broken, alarmTopicExpectations(broken))).toEqual([
    expect.stringMatching(
      /^this account's alarm: sns:Publish on \S+ should be allowed, is ImplicitlyDenied$/,
    ),
  ]);
});

test('RunTask on the deployed revision only, as it was, fails: the next revision is refused', async () => {
  const stack = deployed(synth);
  const broken = deployed(
    synth,
    edited((resources) => {
      const taskDefinition = Object.keys(resources).find(
        (id) => resources[id].Type === 'AWS::ECS::TaskDefinition',
      )!;
      for (const role of [stack.roles.workflow, stack.roles.backfill]) {
        const runTask = policyOfRole(resources, role).Statement.find((s) => s.Action === 'ecs:RunTask')!;
        runTask.Resource = { Ref: taskDefinition };
        delete runTask.Condition;
      }
    }),
  );
  const found = await violations(broken, stateMachineRoleExpectations(broken));
  expect(found).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^workflow role: ecs:RunTask on \S+:task-definition\/\S+:2 should be allowed, is ImplicitlyDenied$/,
      ),
      expect.stringMatching(
        /^backfill role: ecs:RunTask on \S+:task-definition\/\S+:2 should be allowed, is ImplicitlyDenied$/,
      ),
      // and without ecs:cluster, the deployed revision runs in any cluster
      expect.stringMatching(
        /^workflow role: ecs:RunTask on \S+:task-definition\/\S+:1 should be denied, is Allowed$/,
      ),
    ]),
  );
});

test('a bucket policy without the SSE-KMS Deny fails: uploads the worker could not read are accepted', async () => {
  const broken = deployed(
    synth,
    edited((resources) => {
      const bucketPolicy = Object.values(resources).find(
        (r) =>
          r.Type === 'AWS::S3::BucketPolicy' &&
          (r.Properties.Bucket as { Ref: string }).Ref === synth.ids.dataBucket,
      )!;
      const document = bucketPolicy.Properties.PolicyDocument as PolicyDocument;
      document.Statement = document.Statement.filter((s) => s.Sid !== 'DenyUploadsUnderOtherCustomerKeys');
    }),
  );
  expect(
    await violations(
      broken,
      kmsExpectations(broken, { inputPrefix: 'incoming/', outputPrefix: 'processed/' }),
    ),
  ).toEqual([
    expect.stringMatching(
      /^an uploader, SSE-KMS under another customer key: s3:PutObject on \S+ should be explicitly denied, is Allowed$/,
    ),
    expect.stringMatching(
      /^an uploader, DSSE-KMS under another customer key: s3:PutObject on \S+ should be explicitly denied, is Allowed$/,
    ),
  ]);
});

test('encryption=kms: a state machine role whose key grant is not scoped to DynamoDB (no kms:ViaService, no Deny) fails', async () => {
  const kms = synthesized('kms');
  const roles = deployed(kms).roles;
  const template = structuredClone(kms.template.toJSON()) as CfnTemplate;
  const policy = policyOfRole(template.Resources as Resources, roles.workflow);
  policy.Statement = policy.Statement.filter((s) => s.Sid !== 'UseTheKeyOnlyThroughThoseServices').map(
    (s) => {
      if (!JSON.stringify(s.Action).includes('kms:')) return s;
      const unscoped = { ...s };
      delete unscoped.Condition;
      return unscoped;
    },
  );
  const broken = deployed(kms, template);
  expect(
    await violations(
      broken,
      customerKeyExpectations(broken, { inputPrefix: 'incoming/', outputPrefix: 'processed/' }),
    ),
  ).toEqual([
    expect.stringMatching(/^workflow role, through SQS: kms:Decrypt on \S+ should be denied, is Allowed$/),
    expect.stringMatching(/^workflow role, through S3: kms:Decrypt on \S+ should be denied, is Allowed$/),
    expect.stringMatching(/^workflow role, directly: kms:Decrypt on \S+ should be denied, is Allowed$/),
  ]);
});
