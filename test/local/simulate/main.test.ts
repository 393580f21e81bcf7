import { runNpmScript } from '../../support/project-commands';
import { synthesizedTemplate } from '../support/synthesized-template';

/** `npm run simulate -- <args>` as a user runs it, as a child process. */
const runSimulate = (args: readonly string[]) => runNpmScript('simulate', args);

let template: string;
beforeAll(async () => {
  template = await synthesizedTemplate();
});

test.each([
  ['--stop-rate', '2'],
  ['--lost-answer-rate', '1.5'],
  ['--missed-event-rate', 'often'],
])('%s %s: one line naming the option and the fix, exit 2', async (option, value) => {
  const { code, stdout, stderr } = await runSimulate(['--template', template, option, value]);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr).toBe(
    `error: ${option} ${JSON.stringify(value)} is not valid: use a share from 0 to 1, e.g. 0.01\n`,
  );
});

test('an option without its value: one line, exit 2', async () => {
  const { code, stderr } = await runSimulate(['--template', template, '--stop-rate', '-0.1']);
  expect(code).toBe(2);
  expect(stderr).toBe("error: Option '--stop-rate' argument is ambiguous; see --help\n");
});

test('every status-change event missed: the reconciler releases each stopped holder, the gate ends empty', async () => {
  const { code, stdout } = await runSimulate([
    '--template',
    template,
    ...['--objects', '40', '--arrival-seconds', '0', '--seed', '3'],
    ...['--stop-rate', '0.25', '--missed-event-rate', '1', '--json'],
  ]);
  expect(code).toBe(0);
  const result = JSON.parse(stdout) as Record<string, unknown> & {
    stopped: number;
    repairs: Record<string, number>;
    gateFaultsInjected: Record<string, number>;
  };
  expect(result).toMatchObject({ objects: 40, failed: 0, slotsLostAtRest: 0 });
  expect(result.stopped).toBeGreaterThan(0);
  expect(result.succeeded).toBe(40 - result.stopped);
  // every execution's ending event matched a rule (ABORTED: the cleanup's and the recorder's;
  // SUCCEEDED: the recorder's) and was missed...
  expect(result.gateFaultsInjected['missed-event']).toBe(40);
  // ...so the reconciler found each holder not running and released it
  expect(result.repairs.HoldersNotRunning).toBe(result.stopped);
  expect(result.maxIdleSlotSecondsWhileWaiting).toBeLessThanOrEqual(60);
});

test('the text report names the gate figures', async () => {
  const { code, stdout } = await runSimulate([
    '--template',
    template,
    ...['--objects', '30', '--arrival-seconds', '0', '--lost-answer-rate', '0.1'],
  ]);
  expect(code).toBe(0);
  expect(stdout).toMatch(/^stopped +0 /m);
  expect(stdout).toMatch(/^gateFaults +lost-before \d+, lost-after \d+ /m);
  expect(stdout).toMatch(/^slotsLostAtRest +0 /m);
  expect(stdout).toMatch(/^maxIdleSlotSecondsWhileWaiting +[\d.]+ /m);
  expect(stdout).toMatch(/^repairs +\d+/m);
});
