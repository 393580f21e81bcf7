import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

import { StatesError } from './asl/errors';

/**
 * A Distributed Map's `s3:listObjectsV2` ItemReader, on the local S3: every page of the listing, as
 * items of ListObjectsV2's shape (the ETag quoted, LastModified in epoch seconds), up to MaxItems.
 * S3's errors are named as Step Functions names an S3 integration's (`S3.NoSuchBucket`).
 */

/** A listing entry as the ItemReader hands it to the Map. */
export interface ListedObject {
  readonly Key: string;
  readonly Etag: string;
  readonly Size: number;
  /** Seconds since the epoch. */
  readonly LastModified: number;
  readonly StorageClass: string;
}

export interface S3ItemReaderOptions {
  readonly s3: S3Client;
  /** Keys per page. @default 1000 (S3's maximum) */
  readonly pageSize?: number;
}

export async function listObjectItems(
  options: S3ItemReaderOptions,
  request: { readonly Bucket?: unknown; readonly Prefix?: unknown },
  maxItems = Infinity,
): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    let page;
    try {
      page = await options.s3.send(
        new ListObjectsV2Command({
          Bucket: String(request.Bucket),
          Prefix: request.Prefix === undefined ? undefined : String(request.Prefix),
          ContinuationToken: token,
          MaxKeys: options.pageSize,
        }),
      );
    } catch (error) {
      throw new StatesError(`S3.${(error as Error).name}`, (error as Error).message);
    }
    const contents = page.Contents ?? [];
    for (const entry of contents) {
      objects.push({
        Key: entry.Key ?? '',
        Etag: entry.ETag ?? '',
        Size: entry.Size ?? 0,
        LastModified: Math.floor((entry.LastModified?.getTime() ?? 0) / 1000),
        StorageClass: entry.StorageClass ?? 'STANDARD',
      });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined && objects.length < maxItems);
  return objects.slice(0, maxItems);
}
