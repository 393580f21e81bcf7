import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../../shared/paths';

/**
 * The import directions of eslint.config.mjs, proven to fire: each case is linted as if it were a file at
 * that path, with the project's own configuration, through ESLint's Node API. In a child process because
 * ESLint loads eslint.config.mjs with a dynamic import, which Jest's module sandbox does not run.
 */

interface Case {
  readonly filePath: string;
  readonly code: string;
}

async function restrictedImports(cases: readonly Case[]): Promise<string[][]> {
  const script = `
    const { ESLint } = require('eslint');
    const cases = JSON.parse(process.argv[1]);
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd() });
      const found = [];
      for (const { filePath, code } of cases) {
        const [result] = await eslint.lintText(code, { filePath });
        found.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message));
      }
      console.log(JSON.stringify(found));
    })().catch((error) => { console.error(error); process.exit(1); });`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, JSON.stringify(cases)], {
    cwd: PROJECT_ROOT,
  });
  return JSON.parse(stdout) as string[][];
}

const forbidden: Case[] = [
  { filePath: 'local/pipeline.ts', code: "import '../lib/pipeline-stack';\n" },
  {
    filePath: 'local/events/event-bus.ts',
    code: "import type { PipelineStack } from '../../lib/pipeline-stack';\nexport type S = PipelineStack;\n",
  },
  { filePath: 'local/cli/main.ts', code: "import '../../bin/stack-outputs';\n" },
  { filePath: 'local/ecs/task-runner.ts', code: "import '../../test/local/support/pipeline';\n" },
  { filePath: 'local/ecs/task-runner.ts', code: "import '../../container/src/config';\n" },
  { filePath: 'local/ecs/task-runner.ts', code: "import '../events/target-delivery';\n" },
  { filePath: 'bin/replay-dead-letters.ts', code: "import '../local/pipeline';\n" },
  {
    filePath: 'bin/start-backfill.ts',
    code: "export { runBackfill } from '../local/stepfunctions/backfill-map';\n",
  },
  { filePath: 'container/src/worker.ts', code: "import '../../shared/paths';\n" },
  { filePath: 'container/build.mjs', code: "import '../shared/paths.js';\n" },
  { filePath: 'bench/worker.ts', code: "import '../test/container/fixtures';\n" },
  { filePath: 'shared/paths.ts', code: "import '../local/pipeline';\n" },
  { filePath: 'lib/pipeline-stack.ts', code: "import '../bin/stack-outputs';\n" },
];

const allowed: Case[] = [
  { filePath: 'local/cli/main.ts', code: "import '../pipeline';\nimport '../../shared/paths';\n" },
  { filePath: 'local/pipeline.ts', code: "import './events/event-bus';\nimport 'aws-cdk-lib';\n" },
  {
    filePath: 'local/ecs/task-runner.ts',
    code: "import '../cloudformation/intrinsics';\nimport '../stepfunctions/errors';\n",
  },
  { filePath: 'bin/app.ts', code: "import '../lib/pipeline-stack';\nimport '../shared/stack-name';\n" },
  { filePath: 'container/src/worker.ts', code: "import './config';\nimport '@aws-sdk/client-s3';\n" },
  { filePath: 'container/src/processors/x.ts', code: "import '../config';\n" },
  { filePath: 'bench/worker.ts', code: "import '../shared/paths';\nimport '../local/s3/server';\n" },
  {
    filePath: 'test/local/pipeline.test.ts',
    code: "import '../../local/pipeline';\nimport '../lib/fixture';\n",
  },
];

test('lint rejects every import against the directions, naming the fix', async () => {
  const messages = await restrictedImports(forbidden);
  forbidden.forEach((entry, index) => {
    expect({ ...entry, messages: messages[index] }).toEqual({
      ...entry,
      messages: [expect.stringMatching(/imports|import/)],
    });
  });
  expect(messages[0][0]).toMatch(/move shared code to shared\//);
});

test('lint accepts the imports the directions allow', async () => {
  const messages = await restrictedImports(allowed);
  allowed.forEach((entry, index) =>
    expect({ ...entry, messages: messages[index] }).toEqual({ ...entry, messages: [] }),
  );
});
