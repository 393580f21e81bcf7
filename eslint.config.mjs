import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

/**
 * The import directions (README "Architecture"), checked on relative specifiers. A file `depth` folders
 * below the repository root reaches the root with exactly `depth` "../"; a block per depth keeps that
 * exact, so `../test/` from local/pipeline.ts and `../../test/` from local/cli/main.ts are both caught
 * while `../events/` from local/cli/ is not. Packages from node_modules are never matched.
 */
const MAX_DEPTH = 6;

/**
 * Blocks for the files under `folder`: imports of the top-level `forbidden` folders are errors, or, with
 * `forbidden: 'outside'`, any relative import that leaves `folder`. `siblings` adds, for a subfolder,
 * the sibling subfolders it must not import: `{ ecs: { forbidden: ['events'], message } }`.
 */
function importDirections(folder, forbidden, message, siblings = {}) {
  const climbs = (depth) => `(\\.\\./){${depth}}`;
  return Array.from({ length: MAX_DEPTH }, (_, index) => {
    const depth = index + 1;
    const regex =
      forbidden === 'outside' ? `^${climbs(depth)}` : `^${climbs(depth)}(${forbidden.join('|')})(/|$)`;
    const below = '*/'.repeat(depth - 1);
    const blocks = [{ files: [`${folder}/${below}*.{ts,mjs,js}`], patterns: [{ regex, message }] }];
    if (depth >= 2) {
      for (const [subfolder, rule] of Object.entries(siblings)) {
        const sibling = `^${climbs(depth - 1)}(${rule.forbidden.join('|')})(/|$)`;
        blocks.push({
          files: [`${folder}/${subfolder}/${'*/'.repeat(depth - 2)}*.{ts,mjs,js}`],
          patterns: [
            { regex, message },
            { regex: sibling, message: rule.message },
          ],
        });
      }
    }
    return blocks.map(({ files, patterns }) => ({
      files,
      rules: { 'no-restricted-imports': ['error', { patterns }] },
    }));
  }).flat();
}

export default tseslint.config(
  {
    ignores: ['node_modules/', 'cdk.out/', 'container/dist/', '.local/', 'bench/out/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    plugins: { 'simple-import-sort': simpleImportSort },
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
    rules: {
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Config files the tools load with require().
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' },
    },
  },
  ...importDirections(
    'local',
    ['lib', 'bin', 'test', 'container'],
    'local/ runs the synthesized template and the worker bundle, never the constructs, the AWS commands, ' +
      "the worker's sources or tests: move shared code to shared/",
    {
      ecs: {
        forbidden: ['events'],
        message: 'The ECS emulator knows nothing of EventBridge: pipeline.ts wires the two together',
      },
    },
  ),
  ...importDirections(
    'bin',
    ['local', 'test'],
    'bin/ (the app and the AWS commands) never imports the emulator or tests: move shared code to shared/',
  ),
  ...importDirections(
    'lib',
    ['local', 'bin', 'bench', 'test'],
    'lib/ (the constructs) imports only lib/ and shared/',
  ),
  ...importDirections(
    'shared',
    'outside',
    'shared/ is imported by bin/, local/ and bench/, and imports none of them: keep it self-contained',
  ),
  ...importDirections(
    'container',
    'outside',
    'container/ is the image: it ships alone, so it imports nothing outside container/',
  ),
  ...importDirections(
    'bench',
    ['test'],
    'bench/ imports no test file: move what it needs into shared/ or bench/',
  ),
);
