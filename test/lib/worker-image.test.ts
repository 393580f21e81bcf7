import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

import { ConfigError, parseConfig } from '../../lib/config';
import { Worker } from '../../lib/worker';
import { parseWorkerImage, type WorkerImage } from '../../lib/worker-image';
import { workerProps } from './support/constructs';

const ROOT = join(__dirname, '..', '..');
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const ECR_REFERENCE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker:1.0';

/** Config `image` as `-c image=<value>` sets it: the parsed image, or the messages synth fails with. */
function parse(value: string, context: Record<string, string> = {}): WorkerImage | string {
  // (jest runs in the project root, as cdk does)
  try {
    const values: Record<string, string> = { ...context, image: value };
    return parseConfig((key) => values[key]).image!;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.join('\n');
  }
}

describe('parseWorkerImage: accepted values', () => {
  test('a directory with a Dockerfile, relative to the project root or absolute', () => {
    const directory = join(ROOT, 'examples', 'python-worker');
    expect(parse('examples/python-worker')).toEqual({ kind: 'directory', directory });
    expect(parse('./examples/python-worker/')).toEqual({ kind: 'directory', directory });
    expect(parseWorkerImage(directory, tmpdir())).toEqual({ kind: 'directory', directory });
  });

  test.each([
    'python:3.13-slim',
    'public.ecr.aws/docker/library/python:3.13-slim',
    'ghcr.io/some-org/some-worker:v1.2.3',
    'localhost:5000/worker:dev',
    `docker.io/library/python@${DIGEST}`,
    `quay.io/org/worker:1.0@${DIGEST}`,
  ])('a reference of another registry, with a tag or digest, is used as is: %s', (reference) => {
    expect(parse(reference)).toEqual({ kind: 'registry', reference });
  });

  test('an ECR private repository, with its account, region and repository name', () => {
    expect(parse(ECR_REFERENCE)).toEqual({
      kind: 'ecr',
      reference: ECR_REFERENCE,
      account: '123456789012',
      region: 'eu-west-1',
      repositoryName: 'team/worker',
      tagOrDigest: '1.0',
    });
  });

  test('an ECR reference with a digest is pinned by the digest, even beside a tag', () => {
    expect(parse(`123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/worker:1.0@${DIGEST}`)).toMatchObject({
      kind: 'ecr',
      region: 'cn-north-1',
      repositoryName: 'worker',
      tagOrDigest: DIGEST,
    });
  });
});

describe('parseWorkerImage: refused values name image, the value and the fix', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'worker-image-'));
    mkdirSync(join(scratch, 'no-dockerfile'));
    writeFileSync(join(scratch, 'no-dockerfile', 'worker.py'), '');
    mkdirSync(join(scratch, 'with-dockerfile'));
    writeFileSync(join(scratch, 'with-dockerfile', 'Dockerfile'), 'FROM scratch\n');
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test('a directory without a Dockerfile', () => {
    const directory = join(scratch, 'no-dockerfile');
    expect(parse(directory)).toBe(
      `image "${directory}" has no Dockerfile (${join(scratch, 'no-dockerfile', 'Dockerfile')} does not exist): ` +
        'add a Dockerfile that builds the worker there (see examples/python-worker/Dockerfile), or point image at the directory that has one',
    );
  });

  test('a path that does not exist', () => {
    expect(parse('./missing-dir')).toBe(
      `image "./missing-dir" is not a directory: ${join(ROOT, 'missing-dir')} does not exist: create it with a Dockerfile, ` +
        'or use a directory with a Dockerfile (e.g. examples/python-worker) or an image reference with a tag or digest ' +
        '(e.g. public.ecr.aws/docker/library/python:3.13-slim or 123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker:1.0)',
    );
  });

  test('the Dockerfile itself instead of its directory', () => {
    const dockerfile = join(scratch, 'with-dockerfile', 'Dockerfile');
    expect(parse(dockerfile)).toBe(
      `image "${dockerfile}" is a file, not a directory: give the directory that holds the Dockerfile (${join(scratch, 'with-dockerfile')})`,
    );
  });

  test('a home-relative path, which no shell expanded', () => {
    expect(parse('~/worker')).toMatch(/^image "~\/worker" starts with ~, which only a shell expands: /);
  });

  test.each([
    'python',
    'public.ecr.aws/docker/library/python',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker',
  ])('a reference without a tag or digest: %s', (reference) => {
    expect(parse(reference)).toBe(
      `image "${reference}" has no tag or digest (and no directory ${reference} exists): each task would pull ` +
        `whatever the registry calls "latest" at that moment: pin the image with a tag or a digest, e.g. ` +
        `${reference}:1.0 or ${reference}@sha256:<64 hex digits>`,
    );
  });

  test.each([
    'Python:3.13',
    'python:3.13 slim',
    'python::3',
    'http://example.com/worker:1',
    'a'.repeat(256) + ':1',
  ])('a malformed value: %s', (value) => {
    expect(parse(value)).toMatch(
      new RegExp(
        `^image ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (is neither an existing directory|contains white space).*: use a directory with a Dockerfile`,
      ),
    );
  });

  test('a malformed digest', () => {
    expect(parse('python@sha256:abc')).toBe(
      'image "python@sha256:abc" has a malformed digest: write a digest as @sha256: and 64 lowercase hex digits, ' +
        'e.g. from `docker buildx imagetools inspect`',
    );
  });
});

describe('image with network=private (isolated subnets: no internet, only VPC endpoints)', () => {
  test('refuses any image outside ECR, saying the tasks could not pull it', () => {
    expect(parse('python:3.13-slim', { network: 'private' })).toBe(
      'image "python:3.13-slim" is not in Amazon ECR, and with network=private the tasks have no internet access ' +
        'to pull it: they reach only ECR, S3 and CloudWatch Logs, through VPC endpoints: push the image to an ECR ' +
        'repository in the stack’s region and use that reference, use a directory with a Dockerfile (built into ECR ' +
        'by cdk deploy), or set network=public',
    );
  });

  test('accepts an ECR image, a directory (an asset in ECR), and any image in an existing VPC (which may have NAT)', () => {
    expect(parse(ECR_REFERENCE, { network: 'private' })).toMatchObject({ kind: 'ecr' });
    expect(parse('examples/python-worker', { network: 'private' })).toMatchObject({ kind: 'directory' });
    const existingVpc = { vpcId: 'vpc-0123456789abcdef0', subnetIds: 'subnet-0123456789abcdef0' };
    expect(parse('python:3.13-slim', { network: 'private', ...existingVpc })).toMatchObject({
      kind: 'registry',
    });
  });

  test('the Worker refuses an ECR image of another region than the stack’s, whose endpoints the tasks cannot reach', () => {
    const ecrImage = parse(ECR_REFERENCE) as WorkerImage;
    expect(() => buildWorker(ecrImage, { region: 'us-east-1', pullThroughVpcEndpoints: true })).toThrow(
      new ConfigError([
        `image "${ECR_REFERENCE}" is in ECR in eu-west-1, but with network=private the tasks pull only through the ` +
          'VPC endpoints of us-east-1: replicate the repository to us-east-1 (ECR replication) and use that reference, ' +
          'or set network=public',
      ]),
    );
    expect(() => buildWorker(ecrImage, { region: 'eu-west-1', pullThroughVpcEndpoints: true })).not.toThrow();
    // (an environment-agnostic stack's region is unknown at synth: nothing to compare with)
    expect(() => buildWorker(ecrImage, { pullThroughVpcEndpoints: true })).not.toThrow();
    expect(() => buildWorker(ecrImage, { region: 'us-east-1' })).not.toThrow();
  });

  test('the Worker refuses an image outside ECR when it pulls through the VPC endpoints only', () => {
    expect(() =>
      buildWorker({ kind: 'registry', reference: 'python:3.13-slim' }, { pullThroughVpcEndpoints: true }),
    ).toThrow(/^Invalid configuration .*\n {2}- image "python:3.13-slim" is not in Amazon ECR/);
  });
});

// ---------------------------------------------------------------------------------------------
// Worker built alone, once per image form

interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly worker: Worker;
  readonly template: Template;
}

function buildWorker(
  image?: WorkerImage,
  options: { region?: string; pullThroughVpcEndpoints?: boolean } = {},
): Built {
  const app = new App();
  const stack = new Stack(app, 'Stack', {
    env: options.region ? { account: '123456789012', region: options.region } : undefined,
  });
  const worker = new Worker(
    stack,
    'Worker',
    workerProps(stack, { image, pullThroughVpcEndpoints: options.pullThroughVpcEndpoints }),
  );
  return { app, stack, worker, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function containerOf(built: Built): Record<string, unknown> {
  const [definition] = Object.values(built.template.findResources('AWS::ECS::TaskDefinition'));
  return (definition.Properties.ContainerDefinitions as Record<string, unknown>[])[0];
}

function executionRoleStatements(built: Built): unknown[] {
  const role = built.worker.taskDefinition.executionRole!.node.defaultChild as CfnElement;
  const executionRole = built.stack.resolve(role.logicalId) as string;
  const policies = Object.values(built.template.findResources('AWS::IAM::Policy') as Resources).filter((p) =>
    JSON.stringify(p.Properties.Roles).includes(executionRole),
  );
  return policies.flatMap((p) => (p.Properties.PolicyDocument as { Statement: unknown[] }).Statement);
}

/** The template with the container's image and the execution role's policy taken out. */
function withoutImage(built: Built): Resources {
  const resources = structuredClone(built.template.toJSON().Resources) as Resources;
  for (const resource of Object.values(resources)) {
    if (resource.Type === 'AWS::ECS::TaskDefinition') {
      for (const container of resource.Properties.ContainerDefinitions as Record<string, unknown>[]) {
        delete container.Image;
      }
    }
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::IAM::Policy' && id.includes('ExecutionRole')) delete resources[id];
  }
  return resources;
}

function unacknowledgedFindings(built: Built): string[] {
  return new AwsSolutionsChecks(built.app)
    .validateScope(built.app)
    .violations.flatMap((v) =>
      v.violatingResources
        .filter((r) => r.constructPath?.startsWith('Stack/Worker'))
        .map((r) => `${v.ruleName} ${r.constructPath}`),
    );
}

describe('Worker image', () => {
  let registry: Built;
  let ecrRepository: Built;
  let directory: Built;
  beforeAll(() => {
    // GIVEN the worker task with a public registry image, an ECR image, and a directory
    registry = buildWorker({ kind: 'registry', reference: 'public.ecr.aws/docker/library/python:3.13-slim' });
    ecrRepository = buildWorker(parse(ECR_REFERENCE) as WorkerImage);
    directory = buildWorker(parse('examples/python-worker') as WorkerImage);
  });

  test('another registry’s image is used as is, and the execution role gets no ECR permission', () => {
    expect(containerOf(registry).Image).toBe('public.ecr.aws/docker/library/python:3.13-slim');
    expect(JSON.stringify(executionRoleStatements(registry))).not.toContain('ecr:');
  });

  test('an ECR image is pulled from its repository, the only one the execution role may pull from', () => {
    expect(containerOf(ecrRepository).Image).toEqual({
      'Fn::Join': ['', ['123456789012.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/team/worker:1.0']],
    });
    expect(executionRoleStatements(ecrRepository)).toEqual(
      expect.arrayContaining([
        {
          Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          Effect: 'Allow',
          Resource: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:123456789012:repository/team/worker'],
            ],
          },
        },
        { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
      ]),
    );
  });

  test('an ECR image given by digest is pulled by that digest', () => {
    const byDigest = buildWorker(
      parse(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker@${DIGEST}`) as WorkerImage,
    );
    expect(containerOf(byDigest).Image).toEqual({
      'Fn::Join': ['', ['123456789012.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, `/worker@${DIGEST}`]],
    });
  });

  test('a directory becomes an image asset of exactly its Dockerfile’s files, for the task’s CPU architecture', () => {
    const assembly = directory.app.synth();
    const assets = JSON.parse(readFileSync(join(assembly.directory, 'Stack.assets.json'), 'utf8'));
    const images = Object.values(assets.dockerImages) as {
      source: { directory: string; platform?: string };
    }[];
    expect(images).toHaveLength(1);
    expect(images[0].source.platform).toBe('linux/arm64');
    expect(readdirSync(join(assembly.directory, images[0].source.directory)).sort()).toEqual([
      '.dockerignore',
      'Dockerfile',
      'requirements.txt',
      'worker.py',
    ]);
    expect(JSON.stringify(containerOf(directory).Image)).toContain('container-assets');
    expect(JSON.stringify(executionRoleStatements(directory))).toContain('ecr:BatchGetImage');
  });

  test('the environment, roles, logging, user and mounts are the same whatever the image', () => {
    const reference = withoutImage(registry);
    expect(withoutImage(ecrRepository)).toEqual(reference);
    expect(withoutImage(directory)).toEqual(reference);
    expect(containerOf(directory)).toMatchObject({
      Environment: [
        { Name: 'OUTPUT_BUCKET', Value: { Ref: expect.any(String) } },
        { Name: 'OUTPUT_PREFIX', Value: 'processed/' },
      ],
      User: '1000:1000',
      ReadonlyRootFilesystem: true,
    });
  });

  test('cdk-nag reports nothing unacknowledged under the worker task in any form', () => {
    expect(unacknowledgedFindings(registry)).toEqual([]);
    expect(unacknowledgedFindings(ecrRepository)).toEqual([]);
    expect(unacknowledgedFindings(directory)).toEqual([]);
  });
});
