import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * s3rver's filesystem store, made atomic per object as S3 is: a reader sees an object whole, before
 * or after a write, never a half-written file (s3rver streams a PutObject into the object's own
 * file) and never a new body with the old ETag or metadata (it keeps body, MD5 and metadata in
 * three files). Writes stream into a temporary file and then take the key's lock only to move it
 * into place; reads hold the key's lock while they read the metadata and open the body (an open
 * file keeps its content when a write replaces it). s3rver has no such option, and no maintained
 * library offers a reader-writer lock (async-mutex has a mutex only), so both are written here.
 */

/** The parts of s3rver's FilesystemStore (lib/stores/filesystem.js, untyped) that are overridden or used. */
interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5?: string): Promise<void>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  putObject(object: S3Object): Promise<{ size: number; md5: string }>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata: Record<string, unknown> | null,
  ): Promise<Record<string, unknown>>;
  deleteObject(bucket: string, key: string): Promise<void>;
  getBucket(bucket: string): Promise<unknown>;
  listObjects(
    bucket: string,
    options: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys?: number },
  ): Promise<ListedObjects>;
  putBucket(bucket: string): Promise<unknown>;
  deleteBucket(bucket: string): Promise<void>;
  getSubresource(bucket: string, key: string | undefined, resourceType: string): Promise<unknown>;
  putSubresource(bucket: string, key: string | undefined, resource: { readonly type: string }): Promise<void>;
  deleteSubresource(bucket: string, key: string | undefined, resourceType: string): Promise<void>;
  putPart(
    bucket: string,
    uploadId: string,
    partNumber: number,
    content: NodeJS.ReadableStream,
  ): Promise<{ size: number; md5: string }>;
}

/**
 * A listing of s3rver's store: the keys after `startAfter` under `prefix`, at most `maxKeys` of them,
 * and the common prefixes met on the way (not counted).
 */
export interface ListedObjects {
  readonly objects: readonly {
    readonly key: string;
    readonly size: number;
    readonly lastModifiedDate: Date;
    readonly metadata: Record<string, string>;
  }[];
  readonly commonPrefixes: readonly string[];
  readonly isTruncated: boolean;
}

/** s3rver's S3Object model, as putObject receives it. */
interface S3Object {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | NodeJS.ReadableStream;
  readonly metadata: Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const FilesystemStoreBase = require('s3rver/lib/stores/filesystem') as new (
  rootDirectory: string,
) => FilesystemStore;

/** Many readers or one writer per key; a reader never waits for a queued writer, so nested reads cannot deadlock. */
class KeyLocks {
  private readonly held = new Map<
    string,
    { readers: number; writing: boolean; waiting: Array<() => void> }
  >();

  read<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.run(key, (lock) => !lock.writing, 'read', work);
  }

  write<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.run(key, (lock) => !lock.writing && lock.readers === 0, 'write', work);
  }

  private async run<T>(
    key: string,
    free: (lock: { readers: number; writing: boolean }) => boolean,
    mode: 'read' | 'write',
    work: () => Promise<T>,
  ): Promise<T> {
    let lock = this.held.get(key);
    if (!lock) this.held.set(key, (lock = { readers: 0, writing: false, waiting: [] }));
    while (!free(lock)) await new Promise<void>((wake) => lock!.waiting.push(wake));
    if (mode === 'read') lock.readers++;
    else lock.writing = true;
    try {
      return await work();
    } finally {
      if (mode === 'read') lock.readers--;
      else lock.writing = false;
      const waiting = lock.waiting.splice(0);
      if (lock.readers === 0 && !lock.writing && waiting.length === 0) this.held.delete(key);
      for (const wake of waiting) wake();
    }
  }
}

export class AtomicFilesystemStore extends FilesystemStoreBase {
  private readonly locks = new KeyLocks();
  /**
   * What s3rver asks of a bucket on every request (does it exist; has it a CORS or website
   * configuration), kept from the first answer: each of those is a file read, and a missing
   * configuration an ENOENT error, per request. Every change to them goes through this store, which
   * forgets the answer then. Only a bucket found and a configuration found missing are kept.
   */
  private readonly buckets = new Map<string, Promise<unknown>>();
  private readonly missingConfigurations = new Set<string>();
  /** Counts changes to buckets and their configurations, so a read under way during one keeps nothing. */
  private changes = 0;

  /**
   * Each object's metadata (its ETag, size, time and stored headers), kept from its first read until
   * a write to its key: s3rver reads it on every GET and HEAD with a stat and two file reads. A read
   * holds the key's lock and every write to an object takes it and forgets the metadata first, so
   * what is kept is what a read of the files would find.
   */
  private readonly objectMetadata = new Map<string, Record<string, unknown>>();
  /**
   * The most objects whose metadata is kept, the first kept forgotten first: a pipeline reads an
   * object's metadata a few times within seconds, and a backfill of 100,000 objects would otherwise
   * keep them all in the process every local task is forked from.
   */
  private static readonly METADATA_KEPT = 1_000;

  override getMetadata(bucket: string, key: string) {
    const id = `${bucket}/${key}`;
    return this.locks.read(id, async () => {
      let metadata = this.objectMetadata.get(id);
      if (!metadata) {
        this.objectMetadata.set(id, (metadata = await super.getMetadata(bucket, key)));
        if (this.objectMetadata.size > AtomicFilesystemStore.METADATA_KEPT) {
          this.objectMetadata.delete(this.objectMetadata.keys().next().value!);
        }
      }
      return { ...metadata };
    });
  }

  /** A write to an object, under its key's lock, once its kept metadata is forgotten. */
  private writing<T>(bucket: string, key: string, write: () => Promise<T>): Promise<T> {
    const id = `${bucket}/${key}`;
    return this.locks.write(id, () => {
      this.objectMetadata.delete(id);
      return write();
    });
  }

  override existsObject(bucket: string, key: string) {
    return this.locks.read(`${bucket}/${key}`, () => super.existsObject(bucket, key));
  }

  override getObject(bucket: string, key: string, options?: unknown) {
    return this.locks.read(`${bucket}/${key}`, () => super.getObject(bucket, key, options));
  }

  override async putObject(object: S3Object) {
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    // Not the object suffix s3rver lists by, so a listing never shows it.
    const temporary = `${objectPath}.${randomUUID()}.tmp`;
    await mkdir(dirname(objectPath), { recursive: true });
    const md5 = createHash('md5');
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const content = Buffer.isBuffer(object.content) ? [object.content] : object.content;
    try {
      await pipeline(content, measure, createWriteStream(temporary));
      const digest = md5.digest('hex');
      await this.writing(object.bucket, object.key, async () => {
        await this.putMetadata(object.bucket, object.key, object.metadata, digest);
        await rename(temporary, objectPath);
      });
      return { size, md5: digest };
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /** The body, MD5 and metadata copied beside the destination first, then moved into place together. */
  override async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata: Record<string, unknown> | null,
  ) {
    const id = randomUUID();
    const files = ['object', 'object.md5', ...(replacementMetadata ? [] : ['metadata.json'])].map(
      (resource) => {
        const destination = this.getResourcePath(destBucket, destKey, resource);
        return {
          from: this.getResourcePath(srcBucket, srcKey, resource),
          to: destination,
          temporary: `${destination}.${id}.tmp`,
        };
      },
    );
    await mkdir(dirname(files[0].to), { recursive: true });
    try {
      await this.locks.read(`${srcBucket}/${srcKey}`, async () => {
        // s3rver writes the MD5 file on the first read of an object that lacks one
        await super.getMetadata(srcBucket, srcKey);
        for (const file of files) await copyFile(file.from, file.temporary);
      });
      await this.writing(destBucket, destKey, async () => {
        if (replacementMetadata) await this.putMetadata(destBucket, destKey, replacementMetadata);
        for (const file of files) await rename(file.temporary, file.to);
      });
    } finally {
      await Promise.all(files.map((file) => rm(file.temporary, { force: true })));
    }
    return this.getMetadata(destBucket, destKey);
  }

  override deleteObject(bucket: string, key: string) {
    return this.writing(bucket, key, () => super.deleteObject(bucket, key));
  }

  override getBucket(bucket: string) {
    const known = this.buckets.get(bucket);
    if (known) return known;
    const asked = this.changes;
    const found = super.getBucket(bucket);
    void found.then(
      (model) => model && this.changes === asked && this.buckets.set(bucket, found),
      () => undefined,
    );
    return found;
  }

  override putBucket(bucket: string) {
    return this.changing(() => super.putBucket(bucket));
  }

  override deleteBucket(bucket: string) {
    for (const id of this.objectMetadata.keys())
      if (id.startsWith(`${bucket}/`)) this.objectMetadata.delete(id);
    return this.changing(() => super.deleteBucket(bucket));
  }

  override async getSubresource(bucket: string, key: string | undefined, resourceType: string) {
    const configuration = key === undefined ? `${bucket}/${resourceType}` : undefined;
    if (configuration !== undefined && this.missingConfigurations.has(configuration)) return null;
    const asked = this.changes;
    const found = await super.getSubresource(bucket, key, resourceType);
    if (found === null && configuration !== undefined && this.changes === asked) {
      this.missingConfigurations.add(configuration);
    }
    return found;
  }

  override putSubresource(bucket: string, key: string | undefined, resource: { readonly type: string }) {
    return this.changing(() => super.putSubresource(bucket, key, resource));
  }

  override deleteSubresource(bucket: string, key: string | undefined, resourceType: string) {
    return this.changing(() => super.deleteSubresource(bucket, key, resourceType));
  }

  /** A change to a bucket or its configuration: what was kept is forgotten, also by reads under way. */
  private async changing<T>(change: () => Promise<T>): Promise<T> {
    this.changes++;
    this.buckets.clear();
    this.missingConfigurations.clear();
    try {
      return await change();
    } finally {
      this.changes++;
      this.buckets.clear();
      this.missingConfigurations.clear();
    }
  }
}
