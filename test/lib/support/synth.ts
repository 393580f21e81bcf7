/**
 * The whole app synthesized per configuration mode: live (`synthPipeline`), or read from a
 * cache that every test file shares (`synthesized`).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

import { parseConfig } from '../../../lib/config';
import { PipelineStack } from '../../../lib/pipeline-stack';
import { withCacheLockSync } from '../../support/cache-lock';
import { logicalIdOf } from './template';

/** A registry image (config `image`), so no test stages the container/ asset. */
export const TEST_IMAGE = 'public.ecr.aws/docker/library/node:22-alpine';
/** An image in ECR, which network=private can pull through the VPC endpoints. */
export const TEST_ECR_IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:test';
/** A customer managed key that uploads may use (config `kmsKeyArns`). */
export const TEST_KMS_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** Feature flags exactly as cdk.json sets them, so tests see what `cdk synth` produces. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const CDK_JSON_CONTEXT: Record<string, unknown> = require('../../../cdk.json').context;

export interface LiveSynthesis {
  readonly app: App;
  readonly stack: PipelineStack;
  readonly template: Template;
}

/** GIVEN the app configured with cdk.json's context plus `context` overrides (the construct tree too). */
export function synthPipeline(context: Record<string, unknown> = {}): LiveSynthesis {
  const { app, stack } = pipelineApp(context);
  return { app, stack, template: Template.fromStack(stack) };
}

/** The app as synthPipeline configures it, not yet synthesized (`outdir`: where its assembly goes). */
export function pipelineApp(
  context: Record<string, unknown> = {},
  outdir?: string,
): { app: App; stack: PipelineStack } {
  const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, image: TEST_IMAGE, ...context } });
  const config = parseConfig((key) => app.node.tryGetContext(key));
  return { app, stack: new PipelineStack(app, 'TestPipeline', { config }) };
}

// ---------------------------------------------------------------------------------------------
// Synthesized templates, shared by all test files
//
// Jest loads aws-cdk-lib afresh in every test file, and a synthesis of the whole stack costs
// seconds of CPU, far more than the assertions (two jest workers share two cores). So every
// configuration the template tests use is synthesized once, by the first test file that
// needs one (the other jest worker waits for it: test/support/cache-lock.ts), and stored under a key hashing everything the templates depend on: lib/,
// bin/, shared/, cdk.json, this folder and the installed aws-cdk-lib/constructs/cdk-nag. The other files
// read the JSON. nag-acknowledgements.test.ts synthesizes live and checks that the stored
// templates equal the live ones, so a stale entry cannot go unnoticed.

/** Every configuration the template tests use, by name. */
export const CONFIGURATIONS = {
  default: {},
  destroy: { removalPolicy: 'destroy' },
  private: { network: 'private', image: TEST_ECR_IMAGE },
  ecrImage: { image: TEST_ECR_IMAGE },
  directoryImage: { image: 'examples/python-worker' },
  spot: { capacity: 'spot' },
  spotWithFallback: { capacity: 'spot-with-fallback' },
  outputBucket: { outputBucket: 'some-bucket' },
  existingVpc: {
    vpcId: 'vpc-0123456789abcdef0',
    subnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  },
  alarmEmail: { alarmEmail: 'ops@example.com' },
  kmsKeys: { kmsKeyArns: TEST_KMS_KEY_ARN },
  kms: { encryption: 'kms' },
  // what an account with the Control Tower proactive controls on needs (docs/control-tower.md)
  controlTower: { encryption: 'kms', logRetentionDays: '365' },
  uploadsPrefix: { inputPrefix: 'uploads/' },
  // as `-c key=value` passes them: strings
  sized: { cpu: '1024', memoryMiB: '3072', architecture: 'X86_64', logRetentionDays: '7' },
  shortTimeout: { taskTimeoutMinutes: '5' },
  // the recorder tags input objects (under uploads/: the tagging permission follows the prefix)
  tagInputObjects: { tagInputObjects: 'true', inputPrefix: 'uploads/' },
  shortWait: { capacityWaitMinutes: '60' },
  backfillConcurrency: { backfillConcurrency: '25' },
  // the longest task timeout config.ts accepts (7 days), in the mode that can run a task twice
  longestTimeout: { capacity: 'spot-with-fallback', taskTimeoutMinutes: '10080' },
} satisfies Record<string, Record<string, unknown>>;
export type ConfigurationName = keyof typeof CONFIGURATIONS;

/** Logical IDs of the constructs the tests name. */
export interface ConstructIds {
  readonly dataBucket: string;
  readonly accessLogBucket: string;
  readonly deadLetterQueue: string;
  readonly rule: string;
  readonly cluster: string;
  readonly workerLogGroup: string;
  readonly taskSecurityGroup: string;
  readonly workflowStateMachine: string;
  readonly workflowLogGroup: string;
  readonly backfillStateMachine: string;
  readonly backfillLogGroup: string;
  readonly alarmTopic: string;
  readonly launchGateTable: string;
  /** The customer managed key of encryption=kms, if there is one. */
  readonly encryptionKey?: string;
  readonly launchGateCleanup: string;
  readonly launchGateReconciler: string;
  readonly launchGateCleanupRule: string;
  readonly launchGateSchedule: string;
  readonly objectRecordsTable: string;
  readonly objectRecorder: string;
  readonly objectRecorderRule: string;
  readonly objectRecordSweep: string;
}

export interface Synthesized {
  readonly name: ConfigurationName;
  readonly template: Template;
  readonly ids: ConstructIds;
}

interface Stored {
  readonly template: Record<string, unknown>;
  readonly ids: ConstructIds;
}

export function constructIds(stack: PipelineStack): ConstructIds {
  return {
    dataBucket: logicalIdOf(stack, stack.data.bucket),
    accessLogBucket: logicalIdOf(stack, stack.data.accessLogBucket),
    deadLetterQueue: logicalIdOf(stack, stack.deadLetters.queue),
    rule: logicalIdOf(stack, stack.trigger.rule),
    cluster: logicalIdOf(stack, stack.worker.cluster),
    workerLogGroup: logicalIdOf(stack, stack.worker.logGroup),
    taskSecurityGroup: logicalIdOf(stack, stack.network.taskSecurityGroup),
    workflowStateMachine: logicalIdOf(stack, stack.workflow.stateMachine),
    workflowLogGroup: logicalIdOf(stack, stack.workflow.logGroup),
    backfillStateMachine: logicalIdOf(stack, stack.backfill.stateMachine),
    backfillLogGroup: logicalIdOf(stack, stack.backfill.logGroup),
    alarmTopic: logicalIdOf(stack, stack.monitoring.topic),
    launchGateTable: logicalIdOf(stack, stack.launchGate.table),
    ...(stack.encryption.key && { encryptionKey: logicalIdOf(stack, stack.encryption.key) }),
    launchGateCleanup: logicalIdOf(stack, stack.launchGateCleanup.stateMachine),
    launchGateReconciler: logicalIdOf(stack, stack.launchGateReconciler.stateMachine),
    launchGateCleanupRule: logicalIdOf(stack, stack.launchGateCleanup.rule),
    launchGateSchedule: logicalIdOf(stack, stack.launchGateReconciler.schedule),
    objectRecordsTable: logicalIdOf(stack, stack.objectRecords.table),
    objectRecorder: logicalIdOf(stack, stack.objectRecorder.stateMachine),
    objectRecorderRule: logicalIdOf(stack, stack.objectRecorder.rule),
    objectRecordSweep: logicalIdOf(stack, stack.objectRecordSweep.stateMachine),
  };
}
const ROOT = path.join(__dirname, '..', '..', '..');

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? filesUnder(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
    )
    .sort();
}

/** A hash of everything the synthesized templates depend on. */
export function synthesisKey(): string {
  const hash = crypto.createHash('sha256');
  const inputs = [
    ...['lib', 'bin', 'shared', 'examples', path.join('test', 'lib', 'support')]
      .map((dir) => path.join(ROOT, dir))
      .filter((dir) => fs.existsSync(dir))
      .flatMap(filesUnder),
    path.join(ROOT, 'cdk.json'),
    ...['aws-cdk-lib', 'constructs', 'cdk-nag'].map((pkg) =>
      path.join(ROOT, 'node_modules', pkg, 'package.json'),
    ),
  ];
  for (const file of inputs)
    hash.update(path.relative(ROOT, file)).update('\0').update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 32);
}

const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 's3-fargate-pipeline-tests');
let stored: Record<string, Stored> | undefined;

function storedTemplates(): Record<string, Stored> {
  if (stored) return stored;
  const file = path.join(CACHE_DIR, `templates-${synthesisKey()}.json`);
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  stored = withCacheLockSync(file, () => {
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Stored>;
    const all: Record<string, Stored> = {};
    for (const [name, context] of Object.entries(CONFIGURATIONS)) {
      const { stack, template } = synthPipeline(context);
      all[name] = { template: template.toJSON(), ids: constructIds(stack) };
    }
    for (const old of fs
      .readdirSync(CACHE_DIR)
      .filter((f) => f.startsWith('templates-') && f.endsWith('.json'))) {
      fs.rmSync(path.join(CACHE_DIR, old), { force: true });
    }
    const partial = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(partial, JSON.stringify(all));
    fs.renameSync(partial, file);
    return all;
  });
  return stored;
}

/** GIVEN the app in the named configuration (cdk.json's context plus its overrides). */
export function synthesized(name: ConfigurationName): Synthesized {
  const { template, ids } = storedTemplates()[name];
  return { name, template: Template.fromJSON(template), ids };
}

/** The stored template of a configuration, to compare with a live synthesis. */
export function storedTemplate(name: ConfigurationName): Record<string, unknown> {
  return storedTemplates()[name].template;
}
