import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

import { Acknowledgement, acknowledgementsIn } from './support/acknowledgements';
import { ConfigurationName, CONFIGURATIONS, storedTemplate, synthPipeline } from './support/synth';

/**
 * Every mode the app can be configured into that changes which resources exist or what
 * a policy grants (backfillConcurrency changes neither, but an operator sets it).
 */
const NAMES: ConfigurationName[] = [
  'default',
  'kmsKeys',
  'kms',
  'destroy',
  'private',
  'ecrImage',
  'directoryImage',
  'spot',
  'spotWithFallback',
  'outputBucket',
  'existingVpc',
  'alarmEmail',
  'backfillConcurrency',
  'tagInputObjects',
];

/** Configurations that only change values the AwsSolutions rules do not read (sizes, prefixes, timeouts). */
const VALUES_ONLY: ConfigurationName[] = [
  'controlTower', // kms with a longer log retention
  'uploadsPrefix',
  'sized',
  'shortTimeout',
  'shortWait',
  'longestTimeout',
];

/** AwsSolutions rules that report one finding per resource or policy (`Rule[finding]`). */
const PER_FINDING_RULES = new Set(['AwsSolutions-IAM4', 'AwsSolutions-IAM5']);

interface Finding {
  readonly ruleName: string;
  readonly constructPath: string;
}

interface Checked {
  readonly template: unknown;
  readonly unacknowledged: Finding[];
  /** What the pack reports with every acknowledgement ignored. */
  readonly raw: Finding[];
  readonly acknowledgements: Acknowledgement[];
}

function findings(pack: AwsSolutionsChecks, app: App): Finding[] {
  return pack
    .validateScope(app)
    .violations.flatMap((v) =>
      v.violatingResources.map((r) => ({ ruleName: v.ruleName, constructPath: r.constructPath ?? '' })),
    );
}

const checked = new Map<string, Checked>();

beforeAll(() => {
  for (const name of NAMES) {
    // GIVEN the app in this configuration
    const { app, template } = synthPipeline(CONFIGURATIONS[name]);
    // WHEN AwsSolutions checks it, as bin/app.ts does on every synth
    const unacknowledged = findings(new AwsSolutionsChecks(app), app);
    // (and once more with acknowledgements ignored: NagPack.isAcknowledged is private,
    // so a rename in cdk-nag makes the "names a real finding" test below fail loudly)
    const ignoring = new AwsSolutionsChecks(app);
    (ignoring as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const acknowledgements = acknowledgementsIn(app).filter((a) => a.id.startsWith('AwsSolutions-'));
    checked.set(name, {
      template: template.toJSON(),
      unacknowledged,
      raw: findings(ignoring, app),
      acknowledgements,
    });
  }
});

describe.each(NAMES)('cdk-nag AwsSolutions with the %s configuration', (name) => {
  test('the templates the other test files read are those of the current code', () => {
    // (see "Synthesized templates, shared by all test files" in support/synth.ts)
    expect(storedTemplate(name)).toEqual(checked.get(name)?.template);
  });

  test('reports no unacknowledged finding', () => {
    expect(checked.get(name)?.unacknowledged).toEqual([]);
  });

  test('every acknowledgement carries a reason', () => {
    const { acknowledgements } = checked.get(name)!;
    expect(acknowledgements.length).toBeGreaterThan(0);
    const withoutReason = acknowledgements.filter(
      (a) => typeof a.reason !== 'string' || a.reason.trim() === '',
    );
    expect(withoutReason).toEqual([]);
  });

  test('every acknowledgement of a per-finding rule names one finding, not the whole rule', () => {
    const { acknowledgements, raw } = checked.get(name)!;
    // Rules seen reporting per finding here count too, should the pack grow more of them
    const perFinding = new Set([
      ...PER_FINDING_RULES,
      ...raw.filter((f) => f.ruleName.includes('[')).map((f) => f.ruleName.split('[')[0]),
    ]);
    const bare = acknowledgements.filter(
      (a) => perFinding.has(a.id) || (a.id.includes('[') && !a.id.endsWith(']')),
    );
    expect(bare).toEqual([]);
  });
});

describe('cdk-nag configurations', () => {
  test('every configuration in the fixture is checked above or listed as changing values only', () => {
    // (a configuration added to support/synth.ts for a new mode must be added to NAMES too)
    expect([...NAMES, ...VALUES_ONLY].sort()).toEqual(Object.keys(CONFIGURATIONS).sort());
  });
});

describe('cdk-nag acknowledgements', () => {
  test('each one matches a finding the pack reports under that construct (none is dead)', () => {
    // GIVEN every acknowledgement recorded in any configuration
    const dead = new Map<string, Acknowledgement>();
    const live = new Set<string>();
    for (const { acknowledgements, raw } of checked.values()) {
      for (const a of acknowledgements) {
        const key = `${a.path} ${a.id}`;
        const matches = raw.some(
          (f) =>
            f.ruleName === a.id && (f.constructPath === a.path || f.constructPath.startsWith(`${a.path}/`)),
        );
        if (matches) live.add(key);
        else dead.set(key, a);
      }
    }
    // THEN each one suppresses a real finding in at least one configuration: an acknowledgement
    // that matches nothing documents a risk that is not there and would hide one that appears later
    expect([...dead.entries()].filter(([key]) => !live.has(key)).map(([, a]) => a)).toEqual([]);
  });
});
