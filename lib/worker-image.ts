import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Where the worker's container image comes from: config `image`, parsed by `parseWorkerImage`.
 * - `directory`: built from a directory with a Dockerfile (a CDK image asset);
 * - `ecr`: an image in an Amazon ECR private repository, which the task may pull from;
 * - `registry`: any other registry's image, used as is.
 */
export type WorkerImage =
  | { readonly kind: 'directory'; readonly directory: string }
  | {
      readonly kind: 'ecr';
      readonly reference: string;
      readonly account: string;
      readonly region: string;
      readonly repositoryName: string;
      /** The digest when the reference has one (it pins the image; a tag beside it is only a label). */
      readonly tagOrDigest: string;
    }
  | { readonly kind: 'registry'; readonly reference: string };

/** A value `parseWorkerImage` refused: what is wrong with it and how to fix it. */
export interface ImageProblem {
  readonly problem: string;
  readonly fix: string;
}

// The image reference grammar of distribution/reference (regexp.go), which Docker and ECS follow.
// Written by hand: no maintained npm package parses references, and this is the grammar's whole core.
const ALPHANUMERIC = '[a-z0-9]+';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:(?:[._]|__|-+)${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = 'sha256:[a-f0-9]{64}';
const REFERENCE = new RegExp(
  `^(?<name>(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(?<tag>${TAG}))?(?:@(?<digest>${DIGEST}))?$`,
);
const MAX_NAME_LENGTH = 255;
/** A private ECR registry: `<account>.dkr.ecr.<region>.amazonaws.com` (`.com.cn` in China). */
const ECR_REGISTRY =
  /^(?<account>\d{12})\.dkr\.ecr\.(?<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

const EXAMPLES =
  'a directory with a Dockerfile (e.g. examples/python-worker) or an image reference with a tag or digest ' +
  '(e.g. public.ecr.aws/docker/library/python:3.13-slim or 123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker:1.0)';

/**
 * Reads config `image`. A value that names an existing path, or starts like one (`/`, `./`, `../`),
 * is a directory, resolved against `baseDirectory` (where `cdk` runs: the project root); anything
 * else must be an image reference pinned by a tag or a digest.
 */
export function parseWorkerImage(value: string, baseDirectory: string): WorkerImage | ImageProblem {
  if (/\s/.test(value)) {
    return {
      problem: 'contains white space',
      fix: `use ${EXAMPLES}, or leave image unset to build container/`,
    };
  }
  const directory = path.resolve(baseDirectory, value);
  if (existsSync(directory) || /^(\/|\.\.?(\/|$)|~)/.test(value)) return directoryImage(value, directory);

  const match = REFERENCE.exec(value);
  const { name, tag, digest } = match?.groups ?? {};
  if (!match || name.length > MAX_NAME_LENGTH) {
    return {
      problem: value.includes('@')
        ? 'has a malformed digest'
        : `is neither an existing directory (under ${baseDirectory}) nor an image reference`,
      fix: value.includes('@')
        ? 'write a digest as @sha256: and 64 lowercase hex digits, e.g. from `docker buildx imagetools inspect`'
        : `use ${EXAMPLES}; repository names are lowercase, at most ${MAX_NAME_LENGTH} characters`,
    };
  }
  if (tag === undefined && digest === undefined) {
    return {
      problem:
        `has no tag or digest (and no directory ${path.relative(baseDirectory, directory)} exists): ` +
        'each task would pull whatever the registry calls "latest" at that moment',
      fix: `pin the image with a tag or a digest, e.g. ${value}:1.0 or ${value}@sha256:<64 hex digits>`,
    };
  }
  const slash = name.indexOf('/');
  const ecr = slash > 0 ? ECR_REGISTRY.exec(name.slice(0, slash))?.groups : undefined;
  if (!ecr) return { kind: 'registry', reference: value };
  return {
    kind: 'ecr',
    reference: value,
    account: ecr.account,
    region: ecr.region,
    repositoryName: name.slice(slash + 1),
    tagOrDigest: digest ?? tag,
  };
}

function directoryImage(value: string, directory: string): WorkerImage | ImageProblem {
  if (value.startsWith('~')) {
    return {
      problem: 'starts with ~, which only a shell expands',
      fix: 'give the directory as an absolute path or relative to the project root',
    };
  }
  if (!existsSync(directory)) {
    return {
      problem: `is not a directory: ${directory} does not exist`,
      fix: `create it with a Dockerfile, or use ${EXAMPLES}`,
    };
  }
  if (!statSync(directory).isDirectory()) {
    return {
      problem: `is a file, not a directory`,
      fix: `give the directory that holds the Dockerfile${path.basename(directory) === 'Dockerfile' ? ` (${path.dirname(value)})` : ''}`,
    };
  }
  if (!existsSync(path.join(directory, 'Dockerfile'))) {
    return {
      problem: `has no Dockerfile (${path.join(directory, 'Dockerfile')} does not exist)`,
      fix: 'add a Dockerfile that builds the worker there (see examples/python-worker/Dockerfile), or point image at the directory that has one',
    };
  }
  return { kind: 'directory', directory };
}

/**
 * With `network=private` the tasks have no route to the internet: they pull only through the VPC's
 * ECR endpoints, which serve the ECR registries of the stack's own region. `region` is the stack's,
 * when known at synth; undefined skips the region check (an environment-agnostic stack).
 */
export function privateNetworkImageProblem(image: WorkerImage, region?: string): ImageProblem | undefined {
  if (image.kind === 'registry') {
    return {
      problem:
        'is not in Amazon ECR, and with network=private the tasks have no internet access to pull it: ' +
        'they reach only ECR, S3 and CloudWatch Logs, through VPC endpoints',
      fix: 'push the image to an ECR repository in the stack’s region and use that reference, use a directory with a Dockerfile (built into ECR by cdk deploy), or set network=public',
    };
  }
  if (image.kind === 'ecr' && region !== undefined && image.region !== region) {
    return {
      problem: `is in ECR in ${image.region}, but with network=private the tasks pull only through the VPC endpoints of ${region}`,
      fix: `replicate the repository to ${region} (ECR replication) and use that reference, or set network=public`,
    };
  }
  return undefined;
}
