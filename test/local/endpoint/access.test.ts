import { deployLocally, readTemplateFile } from '../../../local/cloudformation/template';
import { loadTaskDefinitions } from '../../../local/ecs/task-definitions';
import { localAccess } from '../../../local/endpoint/access';
import { RoleSessions } from '../../../local/iam/role-sessions';
import { TemplateIam } from '../../../local/iam/template-iam';
import { LOCAL_S3_CREDENTIALS } from '../../../local/s3/server';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * Who the endpoint lets call what, with the synthesized template's IAM through the real policy
 * evaluator: the administrator key, a running task's session (its task role's policies), anyone else.
 */

let access: ReturnType<typeof localAccess>;
let sessions: RoleSessions;
let taskRole: string;

beforeAll(async () => {
  const deployment = deployLocally(readTemplateFile(await synthesizedTemplate()), { region: 'us-east-1' });
  taskRole = loadTaskDefinitions(deployment).find((t) => t.taskRoleLogicalId)!.taskRoleLogicalId!;
  sessions = new RoleSessions();
  access = localAccess({ admin: LOCAL_S3_CREDENTIALS, sessions, iam: new TemplateIam(deployment) });
});

test('the administrator key is known and may call anything', async () => {
  expect(access.secretOf(LOCAL_S3_CREDENTIALS.accessKeyId)).toBe(LOCAL_S3_CREDENTIALS.secretAccessKey);
  expect(await access.authorize(LOCAL_S3_CREDENTIALS.accessKeyId, 'sqs', 'PurgeQueue')).toBeUndefined();
});

test("a task's session is known while it lives, and refused what its role does not allow", async () => {
  const session = sessions.issue(taskRole, 'task-1');
  expect(access.secretOf(session.accessKeyId)).toBe(session.secretAccessKey);
  expect(await access.authorize(session.accessKeyId, 'sqs', 'SendMessage')).toMatch(
    /^User: arn:aws:sts::000000000000:assumed-role\/.+\/task-1 is not authorized to perform: sqs:SendMessage on resource: "\*"$/,
  );
  expect(await access.authorize(session.accessKeyId, 'states', 'StartExecution')).toMatch(/not authorized/);
  sessions.revoke(session);
  expect(access.secretOf(session.accessKeyId)).toBeUndefined();
});

test('a key never issued has no secret', () => {
  expect(access.secretOf('AKIAEXAMPLE')).toBeUndefined();
});
