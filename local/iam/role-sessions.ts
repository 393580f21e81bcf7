import { randomBytes } from 'node:crypto';

/**
 * Temporary credentials for sessions of the template's roles, as STS issues them to an ECS task for
 * its task role: each task gets its own access key, secret and session token, valid until the task
 * stops. A request signed with one is decided with that role's policies (local/s3/access-control.ts).
 */

export interface RoleSession {
  readonly roleLogicalId: string;
  /** e.g. the task ID, as ECS names a task role's session. */
  readonly sessionName: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

export class RoleSessions {
  private readonly byAccessKey = new Map<string, RoleSession>();

  /** Starts a session of the role, with fresh credentials. */
  issue(roleLogicalId: string, sessionName: string): RoleSession {
    // "ASIA" marks temporary (STS) access keys; 16 more characters as AWS's keys have.
    const session: RoleSession = {
      roleLogicalId,
      sessionName,
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(48).toString('base64'),
    };
    this.byAccessKey.set(session.accessKeyId, session);
    return session;
  }

  /** The live session an access key belongs to, if any. */
  find(accessKeyId: string): RoleSession | undefined {
    return this.byAccessKey.get(accessKeyId);
  }

  /** Ends the session: its credentials stop working, as when the task has stopped. */
  revoke(session: RoleSession): void {
    this.byAccessKey.delete(session.accessKeyId);
  }
}

/** The environment that hands a session's credentials to a process, as any AWS SDK reads it. */
export function sessionEnvironment(session: RoleSession): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: session.accessKeyId,
    AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
    AWS_SESSION_TOKEN: session.sessionToken,
  };
}
