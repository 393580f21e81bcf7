import type { RoleSessions } from '../iam/role-sessions';
import type { TemplateIam } from '../iam/template-iam';
import type { EndpointAccess } from './server';

/**
 * The local account's credentials, the same for every service the endpoint serves as for S3: one
 * administrator key (yours, the CLI's and the emulator's), and each running task's session of its
 * task role (local/iam/role-sessions.ts), decided by that role's policies from the template. Any other
 * key was never issued: refused as AWS refuses it.
 *
 * A session's call is decided on the action with resource `*`: the endpoint does not work out each
 * action's resource ARN, so a policy that allows the action only on named resources refuses it here
 * (stricter than AWS, never kinder).
 */
export function localAccess(options: {
  readonly admin: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly sessions: RoleSessions;
  readonly iam: TemplateIam;
}): EndpointAccess {
  return {
    secretOf: (accessKeyId) =>
      accessKeyId === options.admin.accessKeyId
        ? options.admin.secretAccessKey
        : options.sessions.find(accessKeyId)?.secretAccessKey,
    async authorize(accessKeyId, signingName, action) {
      const session = options.sessions.find(accessKeyId);
      if (!session) return undefined; // the administrator
      const caller = { role: session.roleLogicalId, session: session.sessionName };
      const iamAction = `${signingName}:${action}`;
      const decision = await options.iam.decide(caller, iamAction, '*', { 'aws:SecureTransport': 'true' });
      if (decision === 'Allowed') return undefined;
      return `User: ${options.iam.principalOf(caller)} is not authorized to perform: ${iamAction} on resource: "*"`;
    },
  };
}
