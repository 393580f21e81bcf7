import { join } from 'node:path';

import { RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

import { PROJECT_ROOT } from '../shared/paths';
import { type Architecture, ConfigError, describe, resultsRetrigger } from './config';
import { acknowledgeWildcardResource } from './nag-acknowledgements';
import { privateNetworkImageProblem, type WorkerImage } from './worker-image';

/** The container's name: ECS logs, the state machine's overrides and the local runner refer to it. */
const WORKER_CONTAINER_NAME = 'worker';
/** The `node` user of the official Node images. */
const NON_ROOT_USER = '1000:1000';
const CONTAINER_DIR = join(PROJECT_ROOT, 'container');

export interface WorkerProps {
  /** The VPC of the cluster. */
  readonly vpc: ec2.IVpc;
  /** The bucket the worker reads from (it may read nothing else). */
  readonly inputBucket: s3.IBucket;
  /** The worker reads only keys under this prefix ("" for every key). */
  readonly inputPrefix: string;
  /** The bucket the worker writes results to (it may write nothing else). */
  readonly outputBucket: s3.IBucket;
  /** The worker writes only under this prefix: `outputPrefix + key + ".json"`. */
  readonly outputPrefix: string;
  /**
   * Customer managed KMS keys that input objects may be encrypted under (SSE-KMS): the task role
   * may decrypt with them, through S3 in the stack's region only.
   * @default [] - none
   */
  readonly decryptKeyArns?: readonly string[];
  /** Fargate task CPU units. */
  readonly cpu: number;
  /** Fargate task memory; Fargate accepts only certain sizes per `cpu`. */
  readonly memoryMiB: number;
  /** `ARM64` (Graviton, about 20% cheaper per vCPU-second) or `X86_64`. */
  readonly architecture: Architecture;
  /** How long the worker's log is kept. */
  readonly logRetention: logs.RetentionDays;
  /** What `cdk destroy` does with the worker's log group. */
  readonly logRemovalPolicy: RemovalPolicy;
  /**
   * Encrypts the worker's log group.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * The worker image (config `image`): built from a directory, pulled from an ECR repository (the
   * execution role may pull from that repository only), or any other registry's image as is.
   * @default - the image built from `container/` (its Dockerfile copies the esbuild bundle)
   */
  readonly image?: WorkerImage;
  /**
   * Whether the tasks reach AWS only through the VPC's endpoints (no internet route): the image
   * must then be in ECR in the stack's region (checked when the region is known at synth).
   * @default false
   */
  readonly pullThroughVpcEndpoints?: boolean;
}

/**
 * The ECS cluster and the Fargate task definition of the worker: one essential,
 * non-root container with a read-only root filesystem (a scratch volume at /tmp),
 * logging to CloudWatch Logs, with a task role that may read only the input prefix
 * and write only the output prefix.
 */
export class Worker extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WorkerProps) {
    super(scope, id);
    if (props.outputBucket === props.inputBucket && resultsRetrigger(props.inputPrefix, props.outputPrefix)) {
      throw new Error(
        `Worker: outputPrefix "${props.outputPrefix}" lies under inputPrefix "${props.inputPrefix}" in the same bucket: results would re-trigger the pipeline; choose an outputPrefix outside it or another outputBucket`,
      );
    }

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      enableFargateCapacityProviders: true,
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
      encryptionKey: props.logEncryptionKey,
    });

    const { architecture } = props;
    const image = props.image ?? { kind: 'directory', directory: CONTAINER_DIR };
    const region = Stack.of(this).region;
    if (props.pullThroughVpcEndpoints && image.kind !== 'directory') {
      const problem = privateNetworkImageProblem(image, Token.isUnresolved(region) ? undefined : region);
      if (problem) throw new ConfigError([describe('image', image.reference, problem.problem, problem.fix)]);
    }
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.of(architecture),
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      volumes: [{ name: 'scratch' }],
    });

    this.container = this.taskDefinition.addContainer('Worker', {
      containerName: WORKER_CONTAINER_NAME,
      image: this.containerImage(image, architecture),
      essential: true,
      // CT.ECS.PR.7: a hard limit, the task's whole memory (the one container may use it all).
      memoryLimitMiB: props.memoryMiB,
      user: NON_ROOT_USER,
      readonlyRootFilesystem: true,
      privileged: false,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'worker', logGroup: this.logGroup }),
      environment: {
        OUTPUT_BUCKET: props.outputBucket.bucketName,
        OUTPUT_PREFIX: props.outputPrefix,
      },
    });
    this.container.addMountPoints({ sourceVolume: 'scratch', containerPath: '/tmp', readOnly: false });

    grantObjectAccess(this.taskDefinition.taskRole, props);
    if (props.decryptKeyArns?.length) {
      this.taskDefinition.taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptInputUnderNamedKeys',
          actions: ['kms:Decrypt'],
          resources: [...props.decryptKeyArns],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
    if (image.kind !== 'registry') {
      // Pulling from ECR (an asset is pushed to the CDK asset repository) needs
      // ecr:GetAuthorizationToken, an API that takes no resource; aws-cdk-lib grants it on
      // the execution role.
      acknowledgeWildcardResource(
        this.taskDefinition.obtainExecutionRole(),
        '*',
        'ecr:GetAuthorizationToken takes no resource; the image pull itself is scoped to the one repository.',
      );
    }

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only the output bucket name and prefix, which are not secrets; per-object values come as overrides.',
    });
  }

  private containerImage(image: WorkerImage, architecture: Architecture): ecs.ContainerImage {
    switch (image.kind) {
      case 'directory':
        return ecs.ContainerImage.fromAsset(image.directory, {
          platform: architecture === 'ARM64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
        });
      case 'ecr': {
        // fromEcrRepository grants the execution role the pull actions on this repository only.
        const repository = ecr.Repository.fromRepositoryAttributes(this, 'ImageRepository', {
          repositoryName: image.repositoryName,
          repositoryArn: Stack.of(this).formatArn({
            service: 'ecr',
            account: image.account,
            region: image.region,
            resource: 'repository',
            resourceName: image.repositoryName,
          }),
        });
        return ecs.ContainerImage.fromEcrRepository(repository, image.tagOrDigest);
      }
      case 'registry':
        return ecs.ContainerImage.fromRegistry(image.reference);
    }
  }
}

/**
 * Least privilege by prefix. Written as statements rather than `grantRead`/`grantPut`,
 * which would add bucket-wide `s3:GetBucket*`/`s3:List*` and `s3:Abort*` wildcards.
 */
function grantObjectAccess(role: iam.IRole, props: WorkerProps): void {
  const inputObjects = props.inputBucket.arnForObjects(`${props.inputPrefix}*`);
  const outputObjects = props.outputBucket.arnForObjects(`${props.outputPrefix}*`);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadInputObjects',
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [inputObjects],
    }),
  );
  // Without ListBucket, S3 answers 403 instead of 404 for a deleted object, and the
  // worker could not tell "gone, nothing to do" from "forbidden".
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'TellMissingFromForbidden',
      actions: ['s3:ListBucket'],
      resources: [props.inputBucket.bucketArn],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteResults',
      actions: ['s3:PutObject'],
      resources: [outputObjects],
    }),
  );
  acknowledgeWildcardResource(
    role,
    inputObjects,
    'The worker reads any object under the input prefix: the key is only known per execution.',
  );
  acknowledgeWildcardResource(
    role,
    outputObjects,
    'The worker writes results under the output prefix: the key is only known per execution.',
  );
}
