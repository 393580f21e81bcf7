import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../shared/paths';

/** A Node binary the worker is measured on. */
export interface NodeRuntime {
  readonly execPath: string;
  readonly version: string;
  /** Why it is in the table, e.g. "the image's major, glibc build" or "this machine's". */
  readonly role: string;
}

/** The major version of the Dockerfile's `FROM node:<major>-...`. */
export async function readImageNodeMajor(): Promise<number> {
  const dockerfile = await readFile(join(PROJECT_ROOT, 'container', 'Dockerfile'), 'utf8');
  const from = dockerfile.match(/^FROM node:(\d+)/m);
  if (!from) throw new Error('container/Dockerfile needs FROM node:<major>-...');
  return Number(from[1]);
}

/**
 * The runtimes to measure the worker on: the image's Node major first, then this machine's if it
 * differs (`npm start` runs the worker on it). The image's is this Node when the majors match, or else
 * the `node` package on npm, which repackages the nodejs.org Linux build (glibc; the Alpine image is
 * musl) and which npm caches after the first run. Memory and start-up differ between majors (Node 24's
 * GC and built-in code cache are not Node 20's), so a figure measured on another major would not
 * stand for the image's.
 */
export async function workerRuntimes(
  nodeMajor: number,
): Promise<{ runtimes: NodeRuntime[]; notes: string[] }> {
  const here: NodeRuntime = { execPath: process.execPath, version: process.version, role: "this machine's" };
  if (Number(process.versions.node.split('.')[0]) === nodeMajor) {
    return { runtimes: [{ ...here, role: "the image's and this machine's" }], notes: [] };
  }
  try {
    const { stdout } = await promisify(execFile)(
      'npm',
      [
        'exec',
        '--yes',
        `--package=node@${nodeMajor}`,
        '--',
        'node',
        '-p',
        'process.execPath + " " + process.version',
      ],
      { cwd: PROJECT_ROOT, timeout: 300_000 },
    );
    const [execPath, version] = stdout.trim().split('\n').at(-1)?.split(' ') ?? [];
    if (!execPath || !version?.startsWith(`v${nodeMajor}.`)) throw new Error(`unexpected output: ${stdout}`);
    return { runtimes: [{ execPath, version, role: "the image's major, glibc build" }, here], notes: [] };
  } catch (error) {
    return {
      runtimes: [here],
      notes: [
        `The image's Node ${nodeMajor} could not be fetched (npm exec --package=node@${nodeMajor}: ` +
          `${(error as Error).message.split('\n')[0]}), so the worker was measured on this machine's Node only.`,
      ],
    };
  }
}
