import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';

import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import type {
  IPolicyValidationContext,
  IPolicyValidationPlugin,
  PolicyValidationPluginReport,
} from 'aws-cdk-lib';

/** The AWS Control Tower proactive controls that @cdklabs/cdk-validator-cfnguard ships, one `.guard` file each. */
export const CONTROL_TOWER_RULES_DIR = join(
  dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json')),
  'rules',
  'control-tower',
  'cfn-guard',
);

export interface GuardRuleFile {
  readonly file: string;
  /** The file's base name, which the plugin's `disabledRules` takes. */
  readonly name: string;
  /** Its text without comment lines. */
  readonly code: string;
  /** The resource types it names (`'AWS::S3::Bucket'`). */
  readonly resourceTypes: readonly string[];
}

/** Every Control Tower rule file the plugin ships. */
export function controlTowerRuleFiles(): GuardRuleFile[] {
  return readdirSync(CONTROL_TOWER_RULES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.guard'))
    .map((relative) => {
      const file = join(CONTROL_TOWER_RULES_DIR, relative);
      const code = readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('#'))
        .join('\n');
      const resourceTypes = [...new Set([...code.matchAll(/["'](AWS::\w+::\w+)["']/g)].map((m) => m[1]))];
      return { file, name: parse(file).name, code, resourceTypes };
    });
}

/**
 * The cfn-guard plugin with its Control Tower rules, each template judged only by the rule files
 * that name one of the template's resource types. Every rule in those files selects resources by
 * `Type ==` a type its file names and runs only when that selection is not empty
 * (test/lib/control-tower.test.ts checks both of every file), so a file naming none of the
 * template's types reports nothing: the report is the whole rule set's. cfn-guard copies the
 * template for each rule file, and this app's types are named by about 53 of the 237 files: ~1.2 s of
 * CPU per template instead of ~4.6 s. Written here: the plugin picks rules by name only
 * (`disabledRules`), not by what a template holds.
 */
export function applicableControlTowerRules(): IPolicyValidationPlugin {
  const plugin = new CfnGuardValidator();
  const ruleFiles = controlTowerRuleFiles();
  return {
    name: plugin.name,
    // The selection is part of what decides the report: a kept one (remembered-validation.ts) is
    // judged afresh when this file changes.
    version: `${plugin.version} (rules selected by ${SELECTION_CODE})`,
    ruleIds: plugin.ruleIds,
    validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
      const present = new Set(context.templatePaths.flatMap(resourceTypesIn));
      const disabledRules = ruleFiles
        .filter((rule) => !rule.resourceTypes.some((type) => present.has(type)))
        .map((rule) => rule.name);
      return new CfnGuardValidator({ disabledRules }).validate(context);
    },
  };
}

/** A hash of this file, where the rule files are selected. */
const SELECTION_CODE = createHash('sha256').update(readFileSync(__filename)).digest('hex').slice(0, 16);

function resourceTypesIn(templatePath: string): string[] {
  const { Resources = {} } = JSON.parse(readFileSync(templatePath, 'utf8')) as {
    Resources?: Record<string, { Type: string }>;
  };
  return Object.values(Resources).map((resource) => resource.Type);
}
