import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';

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
  // ListObjects (v1), paged by Marker, lists what ListObjectsV2 lists. s3rver 3.7 cannot page v2: it
  // encrypts continuation tokens with DES, which the OpenSSL 3 of Node >= 17 lacks (InternalError).
  let marker: string | undefined;
  do {
    let page;
    try {
      page = await options.s3.send(
        new ListObjectsCommand({
          Bucket: String(request.Bucket),
          Prefix: request.Prefix === undefined ? undefined : String(request.Prefix),
          Marker: marker,
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
    // Without a delimiter S3 sends no NextMarker: the next page starts after the last key.
    marker = page.IsTruncated ? contents.at(-1)?.Key : undefined;
  } while (marker !== undefined && objects.length < maxItems);
  return objects.slice(0, maxItems);
}
