import { spawnSync } from 'node:child_process';

import { PROJECT_ROOT } from '../../shared/paths';
import { npmScript } from './project-commands';

/**
 * One of the project's AWS commands (`npm run <script>`, e.g. `failures`) as npm runs it, on a
 * machine with no AWS configuration at all: no AWS_* variables but `env`, no config or credentials
 * files, no instance metadata. The real SDK, and no network reached.
 */
export function runWithoutAws(
  script: 'failures' | 'status' | 'redrive' | 'replay-dead-letters' | 'backfill',
  args: readonly string[] = [],
  env: Record<string, string> = {},
) {
  const bare = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^AWS_/.test(name)));
  return spawnSync(...npmScript(script, args), {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: {
      ...bare,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...env,
    },
    timeout: 60_000,
  });
}
