import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';

import {
  CFN_GUARD_PLUGIN,
  CONTROL_RULES,
  type ControlId,
  controlRuleId,
} from '../../lib/control-tower-acknowledgements';
import { applicableControlTowerRules, controlTowerRuleFiles } from '../support/applicable-guard-rules';
import { rememberedReports } from '../support/remembered-validation';
import { acknowledgementsIn } from './support/acknowledgements';
import { type ConfigurationName, CONFIGURATIONS, pipelineApp, storedTemplate } from './support/synth';

// The AWS Control Tower proactive controls (the CloudFormation Guard rules that
// @cdklabs/cdk-validator-cfnguard ships, run by its cfn-guard binary) over the template of every
// configuration mode, through aws-cdk-lib's policy validation: what `cdk synth` reports with the
// plugin registered, acknowledgements applied by aws-cdk-lib itself. Each template is judged by the
// rule files that name its resource types (test/support/applicable-guard-rules.ts; the last tests
// here show that this leaves the report unchanged).

interface ReportedConstruct {
  readonly constructPath: string;
}
interface Violation {
  readonly ruleName: string;
  readonly description: string;
  readonly violatingConstructs: ReportedConstruct[];
}
interface Suppressed extends Violation {
  readonly acknowledgedId: string;
  readonly acknowledgedAt: string;
  readonly reason: unknown;
}
interface PluginReport {
  readonly pluginName: string;
  readonly violations: Violation[];
  readonly suppressedViolations?: Suppressed[];
}

interface Validated {
  readonly app: App;
  readonly reports: PluginReport[];
  readonly guard: PluginReport;
}

/**
 * GIVEN the app (with `change` made to its stack), synthesized with the cfn-guard plugin: the
 * validation report aws-cdk-lib writes (it throws when a finding is unacknowledged, after writing it).
 * cfn-guard's own report is kept under `slot` while the template stays the same (test/support/remembered-validation.ts).
 */
function validate(slot: string, context: Record<string, unknown>, change?: (app: App) => void): Validated {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-guard-'));
  try {
    const { app } = pipelineApp(context, outdir);
    change?.(app);
    Validations.of(app).addPlugins(rememberedReports(applicableControlTowerRules(), `control-tower-${slot}`));
    try {
      app.synth();
    } catch (error) {
      if (!fs.existsSync(path.join(outdir, 'validation-report.json'))) throw error;
    }
    const { pluginReports } = JSON.parse(
      fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'),
    ) as { pluginReports: PluginReport[] };
    const guard = pluginReports.find((r) => r.pluginName === CFN_GUARD_PLUGIN);
    if (!guard) throw new Error(`no ${CFN_GUARD_PLUGIN} report: ${pluginReports.map((r) => r.pluginName)}`);
    return { app, reports: pluginReports, guard };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** The control a finding is of, from its description: `[CT.S3.PR.9]: Require ...`. */
function controlIn(violation: Violation): string {
  return /^\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(violation.description)?.[1] ?? violation.description;
}

/** Each finding as a line: the control, the rule and the construct. */
function lines(violations: readonly Violation[]): string[] {
  return violations.flatMap((v) =>
    v.violatingConstructs.map((c) => `${controlIn(v)} ${v.ruleName} at ${c.constructPath}`),
  );
}

/** The acknowledged findings as `<control> <construct>` (the construct the acknowledgement is on). */
function acknowledged({ guard }: Validated): string[] {
  return (guard.suppressedViolations ?? [])
    .map((v) => `${controlIn(v)} ${v.acknowledgedAt.replace(/^TestPipeline\//, '')}`)
    .sort();
}

const NAMES = Object.keys(CONFIGURATIONS) as ConfigurationName[];

const byName = new Map<ConfigurationName, Validated>();
/** The named configuration, validated once for this file. */
function validated(name: ConfigurationName): Validated {
  if (!byName.has(name)) byName.set(name, validate(name, CONFIGURATIONS[name]));
  return byName.get(name)!;
}

describe.each(NAMES)('Control Tower proactive controls with the %s configuration', (name) => {
  let result: Validated;
  beforeAll(() => {
    result = validated(name);
  });

  test('no control fails unacknowledged', () => {
    expect(lines(result.guard.violations)).toEqual([]);
  });

  test("aws-cdk-lib's own template validation reports nothing either", () => {
    const others = result.reports.filter((r) => r.pluginName !== CFN_GUARD_PLUGIN);
    expect(others.flatMap((r) => lines(r.violations))).toEqual([]);
  });

  test('every acknowledgement suppresses a finding here, and says why', () => {
    const suppressed = result.guard.suppressedViolations ?? [];
    const acknowledgements = acknowledgementsIn(result.app).filter((a) =>
      a.id.startsWith(`${CFN_GUARD_PLUGIN}::`),
    );
    // (an acknowledgement that matches nothing documents a risk that is not there, and would hide
    // one that appears later)
    const dead = acknowledgements.filter(
      (a) => !suppressed.some((v) => v.acknowledgedAt === a.path && v.acknowledgedId === a.id),
    );
    expect(dead).toEqual([]);
    expect(suppressed.filter((v) => typeof v.reason !== 'string' || v.reason.trim() === '')).toEqual([]);
  });
});

/** Acknowledged in every mode: the controls the app does not meet by design (docs/control-tower.md). */
const ALWAYS_ACKNOWLEDGED = [
  'CT.LAMBDA.PR.3 BucketNotificationsHandler050a0587b7544547bf325f094a3db834',
  'CT.LAMBDA.PR.3 Custom::VpcRestrictDefaultSGCustomResourceProvider',
  'CT.S3.PR.10 Data/AccessLogs',
  'CT.S3.PR.2 Data/AccessLogs',
  'CT.S3.PR.4 Data/AccessLogs',
  'CT.S3.PR.4 Data/Bucket',
  'CT.S3.PR.9 Data/AccessLogs',
  'CT.S3.PR.9 Data/Bucket',
  'CT.SQS.PR.1 DeadLetters/Queue',
  'CT.STEPFUNCTIONS.PR.2 LaunchGateCleanup/StateMachine',
  'CT.STEPFUNCTIONS.PR.2 LaunchGateReconciler/StateMachine',
  'CT.STEPFUNCTIONS.PR.2 ObjectRecordSweep/StateMachine',
  'CT.STEPFUNCTIONS.PR.2 ObjectRecorder/StateMachine',
];
const LOG_GROUPS = [
  'Backfill/Logs',
  'LaunchGateCleanup/Logs',
  'LaunchGateReconciler/Logs',
  'Network/FlowLogs',
  'ObjectRecordSweep/Logs',
  'ObjectRecorder/Logs',
  'Worker/Logs',
  'Workflow/Logs',
];

describe('Control Tower: what passes in which mode', () => {
  test('encryption=kms with logRetentionDays=365 leaves only the controls acknowledged by design', () => {
    expect(acknowledged(validated('controlTower'))).toEqual(ALWAYS_ACKNOWLEDGED);
  });

  test('the default mode acknowledges, besides those, only the key and the log retention', () => {
    // (the container memory limit, the subnets' public IPs and the access-log bucket's versioning
    // pass: CT.ECS.PR.7, CT.EC2.PR.11 and CT.S3.PR.11 are neither reported nor acknowledged)
    expect(acknowledged(validated('default'))).toEqual(
      [
        ...ALWAYS_ACKNOWLEDGED,
        ...LOG_GROUPS.flatMap((g) => [`CT.CLOUDWATCH.PR.2 ${g}`, `CT.CLOUDWATCH.PR.3 ${g}`]),
        'CT.DYNAMODB.PR.2 LaunchGate/Slots',
        'CT.DYNAMODB.PR.2 ObjectRecords/Records',
        'CT.S3.PR.10 Data/Bucket',
      ].sort(),
    );
  });

  test('a resource nobody reviewed fails: the suite reports what is neither fixed nor acknowledged', () => {
    const { guard } = validate('unreviewed', CONFIGURATIONS.default, (app) => {
      new s3.Bucket(app.node.findChild('TestPipeline'), 'Unreviewed');
    });
    expect(lines(guard.violations)).toEqual(
      expect.arrayContaining([
        'CT.S3.PR.11 s3_bucket_versioning_enabled_check at TestPipeline/Unreviewed/Resource',
        'CT.S3.PR.9 s3_bucket_object_lock_enabled_check at TestPipeline/Unreviewed/Resource',
      ]),
    );
    expect(lines(guard.violations).every((line) => line.endsWith('TestPipeline/Unreviewed/Resource'))).toBe(
      true,
    );
  });
});

describe('Control Tower acknowledgements (lib/control-tower-acknowledgements.ts)', () => {
  /** Every control's guard file in the package: its `[CT.…]` tag and the rule it defines. */
  const guardRules = controlTowerRuleFiles().map(({ code }) => ({
    control: /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(code)?.[1],
    rule: /^rule (\w+) when is_cfn_template/m.exec(code)?.[1],
  }));

  test.each(Object.entries(CONTROL_RULES))('%s is checked by the guard rule %s', (control, rule) => {
    expect(guardRules).toContainEqual({ control, rule });
  });

  test('acknowledgement ids are those aws-cdk-lib gives the plugin findings', () => {
    expect(controlRuleId('CT.SQS.PR.1' satisfies ControlId)).toBe('cdk-validator-cfnguard::sqs_dlq_check');
  });

  test('docs/control-tower.md has a row for every acknowledged control', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'control-tower.md'), 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('| CT.'));
    expect(Object.keys(CONTROL_RULES).filter((c) => !rows.some((r) => r.startsWith(`| ${c} `)))).toEqual([]);
  });
});

describe('Control Tower rules judged by the resource types they name (test/support/applicable-guard-rules.ts)', () => {
  test('every rule file selects resources only by a type it names, and its rules run only on a selection that is not empty', () => {
    const files = controlTowerRuleFiles();
    expect(files.length).toBeGreaterThan(200);
    const typeTerm = /^Type == (%\w+|"AWS::\w+::\w+"|'AWS::\w+::\w+')$/;
    const offending = files.flatMap(({ name, code, resourceTypes }) => {
      // the file's own selections of resources (let x = Resources.*[ Type == %T or ... ])
      const selections = [...code.matchAll(/^let \w+\s*=\s*Resources(?:\.\*)?\[([^\]]*)\]/gm)].map(
        (m) => m[1],
      );
      const typesBound = [...code.matchAll(/^let (\w+)\s*=\s*["'](AWS::\w+::\w+)["']/gm)].map((m) => m[1]);
      const badSelections = selections.filter((body) =>
        body
          .split(/\bor\b/)
          .map((term) => term.trim())
          .some((term) => {
            const literal = typeTerm.exec(term)?.[1];
            return (
              literal === undefined || (literal.startsWith('%') && !typesBound.includes(literal.slice(1)))
            );
          }),
      );
      // each rule on a template: `rule r when is_cfn_template(%INPUT_DOCUMENT) %selection not empty {`
      const ungated = [...code.matchAll(/^rule (\w+) when is_cfn_template\([^)]*\)([^{]*)\{/gm)].filter(
        (m) => !/\bnot empty\b/.test(m[2]),
      );
      return [
        ...(selections.length === 0 || resourceTypes.length === 0
          ? [`${name}: selects no resource type`]
          : []),
        ...badSelections.map((body) => `${name}: selects by more than a type: [${body.trim()}]`),
        ...ungated.map((m) => `${name}: rule ${m[1]} runs on an empty selection`),
      ];
    });
    expect(offending).toEqual([]);
  });

  test("judged by the rule files that name its resource types, a template gets the whole rule set's report", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-guard-rules-'));
    try {
      const templatePath = path.join(dir, 'TestPipeline.template.json');
      fs.writeFileSync(templatePath, JSON.stringify(storedTemplate('default'), undefined, 1));
      // (both plugins read only the template paths of the context aws-cdk-lib passes them)
      const context = { templatePaths: [templatePath], stackTemplates: [], appConstruct: new App() };
      const applicable = applicableControlTowerRules().validate(context);
      expect(applicable.violations.length).toBeGreaterThan(0);
      // The whole rule set's report is kept while the template is the same (cfn-guard over all 237
      // files takes ~4.6 s of CPU); the selection, the code under test, runs every time.
      expect(applicable).toEqual(
        rememberedReports(new CfnGuardValidator(), 'control-tower-whole-rule-set').validate(context),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
