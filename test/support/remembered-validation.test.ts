import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import type {
  IPolicyValidationContext,
  IPolicyValidationPlugin,
  PolicyValidationPluginReport,
} from 'aws-cdk-lib';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';

import { rememberedReports } from './remembered-validation';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'remembered-validation-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A plugin (a pure unit here) that finds one violation per template and counts its runs. */
function countingPlugin(version = '1.0.0') {
  const plugin = {
    name: 'counting',
    version,
    runs: 0,
    validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
      plugin.runs++;
      return {
        success: false,
        violations: [
          {
            ruleName: 'r1',
            description: 'found',
            violatingResources: context.templatePaths.map((templatePath) => ({
              resourceLogicalId: JSON.parse(readFileSync(templatePath, 'utf8')).id,
              templatePath,
              locations: ['Properties'],
            })),
          },
        ],
      };
    },
  };
  return plugin;
}

/** The context aws-cdk-lib gives a plugin, for templates `{ id }` written under a fresh directory. */
function contextFor(...ids: string[]): IPolicyValidationContext {
  const dir = mkdtempSync(join(root, 'out-'));
  const templatePaths = ids.map((id, index) => {
    const path = join(dir, `Stack${index}.template.json`);
    writeFileSync(path, JSON.stringify({ id }));
    return path;
  });
  return {
    templatePaths,
    stackTemplates: templatePaths.map((templatePath, index) => ({
      stackConstructPath: `Stack${index}`,
      templatePath,
      accountId: undefined,
      region: undefined,
    })),
    appConstruct: new App(),
  };
}

test('the same templates elsewhere: the kept report, naming the templates where they are now', () => {
  const plugin = countingPlugin();
  const cacheDir = join(root, 'cache');
  const first = contextFor('A', 'B');
  const fresh = rememberedReports(plugin, 'slot', { directory: cacheDir }).validate(first);

  const second = contextFor('A', 'B');
  const kept = rememberedReports(plugin, 'slot', { directory: cacheDir }).validate(second);

  expect(plugin.runs).toBe(1);
  expect(kept).toEqual(plugin.validate(second));
  expect(kept.violations[0].violatingResources.map((r) => r.templatePath)).toEqual(second.templatePaths);
  expect(fresh.violations[0].violatingResources.map((r) => r.templatePath)).toEqual(first.templatePaths);
});

test('a changed template, another plugin version, another slot or what else it depends on is judged afresh', () => {
  const plugin = countingPlugin();
  const cacheDir = join(root, 'cache');
  rememberedReports(plugin, 'slot', { directory: cacheDir }).validate(contextFor('A', 'B'));

  const changed = rememberedReports(plugin, 'slot', { directory: cacheDir }).validate(contextFor('A', 'C'));
  expect(plugin.runs).toBe(2);
  expect(changed.violations[0].violatingResources.map((r) => r.resourceLogicalId)).toEqual(['A', 'C']);

  const upgraded = countingPlugin('2.0.0');
  rememberedReports(upgraded, 'slot', { directory: cacheDir }).validate(contextFor('A', 'C'));
  expect(upgraded.runs).toBe(1);

  rememberedReports(plugin, 'other', { directory: cacheDir }).validate(contextFor('A', 'C'));
  expect(plugin.runs).toBe(3);

  // what else decides the report (the version of the data the plugin reads) changed
  const dependent = (dependsOn: string[]) =>
    rememberedReports(plugin, 'dependent', { directory: cacheDir, dependsOn }).validate(contextFor('A', 'C'));
  dependent(['data 1']);
  dependent(['data 1']);
  expect(plugin.runs).toBe(4);
  dependent(['data 2']);
  expect(plugin.runs).toBe(5);
});

test('the plugin keeps the name, version and rules aws-cdk-lib reports it under', () => {
  const plugin: IPolicyValidationPlugin = { ...countingPlugin(), ruleIds: ['r1'] };
  const remembered = rememberedReports(plugin, 'slot', { directory: join(root, 'cache') });
  expect([remembered.name, remembered.version, remembered.ruleIds]).toEqual(['counting', '1.0.0', ['r1']]);
});

/** aws-cdk-lib's validation report of a one-bucket app with `plugin` remembered in `cacheDir`. */
function reportWith(plugin: IPolicyValidationPlugin, cacheDir: string): unknown {
  const outdir = mkdtempSync(join(root, 'cdk.out-'));
  const app = new App({ outdir });
  new s3.Bucket(new Stack(app, 'Bucket'), 'Bucket');
  Validations.of(app).addPlugins(rememberedReports(plugin, 'guard', { directory: cacheDir }));
  expect(() => app.synth()).toThrow(/CT\.S3\.PR\.11/);
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: unknown[];
  };
  return report.pluginReports;
}

test("with cfn-guard itself, aws-cdk-lib's report from a kept report is the one from a fresh run", () => {
  const guard = new CfnGuardValidator();
  let runs = 0;
  const counted: IPolicyValidationPlugin = {
    name: guard.name,
    version: guard.version,
    ruleIds: guard.ruleIds,
    validate: (context) => {
      runs++;
      return guard.validate(context);
    },
  };
  const cacheDir = join(root, 'cache');
  // (from one call site: the report carries the stack trace of the construct's creation)
  const [fresh, kept] = [0, 1].map(() => reportWith(counted, cacheDir));

  expect(runs).toBe(1);
  expect(kept).toEqual(fresh);
  expect(JSON.stringify(fresh)).toContain('s3_bucket_versioning_enabled_check');
});
