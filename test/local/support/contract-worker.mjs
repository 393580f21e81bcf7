// A worker that is not the bundled one, for `npm start -- --task-command`: it keeps the worker contract
// (docs/worker-contract.md) with its own code and its own result, so a test can tell who ran. Its
// result records the environment it got (names, and the values that are not secrets), and a key
// containing "exit-3" makes it fail with exit code 3 before writing anything.
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const env = process.env;
const log = (fields) => process.stdout.write(`${JSON.stringify({ worker: 'contract-worker', ...fields })}\n`);

process.once('SIGTERM', () => {
  log({ message: 'received SIGTERM', summary: true, exitCode: 143 });
  process.exit(143);
});

if (env.KEY.includes('exit-3')) {
  log({ message: 'failing on purpose', summary: true, exitCode: 3 });
  process.exit(3);
}
if (env.KEY.includes('wait-for-sigterm')) {
  log({ message: 'waiting for SIGTERM' });
  globalThis.setInterval(() => {}, 1000);
} else {
  const s3 = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: env.AWS_S3_FORCE_PATH_STYLE === 'true',
  });
  const object = await s3.send(new GetObjectCommand({ Bucket: env.BUCKET, Key: env.KEY }));
  let bytes = 0;
  for await (const chunk of object.Body) bytes += chunk.length;
  const result = {
    worker: 'contract-worker',
    key: env.KEY,
    bytes,
    environmentNames: Object.keys(env).sort(),
    environment: Object.fromEntries(
      ['BUCKET', 'KEY', 'OUTPUT_BUCKET', 'OUTPUT_PREFIX', 'AWS_REGION', 'AWS_DEFAULT_REGION'].map((name) => [
        name,
        env[name],
      ]),
    ),
  };
  const resultKey = `${env.OUTPUT_PREFIX}${env.KEY}.json`;
  await s3.send(
    new PutObjectCommand({ Bucket: env.OUTPUT_BUCKET, Key: resultKey, Body: JSON.stringify(result) }),
  );
  log({ message: 'processed', summary: true, exitCode: 0 });
  s3.destroy();
}
