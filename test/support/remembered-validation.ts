import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type {
  IPolicyValidationContext,
  IPolicyValidationPlugin,
  PolicyValidationPluginReport,
} from 'aws-cdk-lib';

import { PROJECT_ROOT } from '../../shared/paths';

/**
 * A policy validation plugin whose report is kept and given back while the templates it judged are
 * byte for byte the same. cfn-guard takes ~1.2 s of CPU per template even over only the rule files
 * that apply (test/support/applicable-guard-rules.ts), against ~1.5 s for building and synthesizing
 * the app, and the template of most configurations does not change between two runs; a changed
 * template, plugin version or rule set is judged afresh.
 * aws-cdk-lib still maps the report to construct paths and applies the acknowledgements itself, on
 * the live construct tree. Written here: no library caches a validation plugin's report.
 */

export const VALIDATION_CACHE_DIR = join(
  PROJECT_ROOT,
  'node_modules',
  '.cache',
  's3-fargate-pipeline-tests',
  'validation',
);

interface Kept {
  readonly key: string;
  /** The report, each violating resource's templatePath replaced by its index in templatePaths ("0"). */
  readonly report: PolicyValidationPluginReport;
}

/**
 * `plugin`, remembering its last report under `slot` (one file in `directory`: a slot holds one
 * report, so the cache never grows beyond the slots a suite uses). Only for a plugin whose report
 * follows from its name, version, rule IDs and the templates (cfn-guard with the rules it ships), and
 * `dependsOn`: what else decides it, e.g. the version of the package whose data the plugin reads.
 */
export function rememberedReports(
  plugin: IPolicyValidationPlugin,
  slot: string,
  {
    directory = VALIDATION_CACHE_DIR,
    dependsOn = [],
  }: { directory?: string; dependsOn?: readonly string[] } = {},
): IPolicyValidationPlugin {
  const file = join(directory, `${slot}.json`);
  return {
    name: plugin.name,
    version: plugin.version,
    ruleIds: plugin.ruleIds,
    validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
      const key = reportKey(plugin, dependsOn, context.templatePaths);
      const kept = readKept(file);
      if (kept?.key === key) {
        return withTemplatePaths(kept.report, (index) => context.templatePaths[Number(index)]);
      }
      const report = plugin.validate(context);
      const stored: Kept = {
        key,
        report: withTemplatePaths(report, (path) => String(context.templatePaths.indexOf(path))),
      };
      mkdirSync(directory, { recursive: true });
      const partial = `${file}.${process.pid}.tmp`;
      writeFileSync(partial, JSON.stringify(stored));
      renameSync(partial, file);
      return report;
    },
  };
}

/** A hash of what decides the report: the plugin (its name, version and rules), `dependsOn` and the templates. */
function reportKey(
  plugin: IPolicyValidationPlugin,
  dependsOn: readonly string[],
  templatePaths: readonly string[],
): string {
  const { name, version, ruleIds } = plugin;
  const hash = createHash('sha256').update(JSON.stringify({ name, version, ruleIds, dependsOn }));
  for (const path of templatePaths) hash.update('\0').update(readFileSync(path));
  return hash.digest('hex');
}

function readKept(file: string): Kept | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Kept;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function withTemplatePaths(
  report: PolicyValidationPluginReport,
  map: (templatePath: string) => string,
): PolicyValidationPluginReport {
  return {
    ...report,
    violations: report.violations.map((violation) => ({
      ...violation,
      violatingResources: violation.violatingResources.map((resource) => ({
        ...resource,
        ...(resource.templatePath !== undefined && { templatePath: map(resource.templatePath) }),
      })),
    })),
  };
}
