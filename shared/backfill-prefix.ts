/**
 * Shared by `npm run backfill` (AWS) and `npm start -- --backfill` (local), and free of SDK
 * imports so the local CLI does not load AWS clients it never uses.
 */

/** The listing prefix: always inside the input prefix, the only place the worker may read. */
export function backfillPrefix(inputPrefix: string, subPrefix = ''): string {
  if (subPrefix.startsWith(inputPrefix) && inputPrefix !== '') return subPrefix;
  if (subPrefix.startsWith('/')) {
    throw new Error(`sub-prefix "${subPrefix}" starts with "/": S3 keys have no leading slash`);
  }
  return inputPrefix + subPrefix;
}
