import type { LocalAwsService } from '../../../local/aws-service';
import { type LocalEndpoint, startLocalEndpoint } from '../../../local/endpoint/server';

/** The one access key a test endpoint knows. */
export const TEST_KEY = { accessKeyId: 'AKIALOCALTEST', secretAccessKey: 'local-secret' };

/**
 * The local endpoint on a free port, serving `services`, for a test that drives them through real SDK
 * clients: requests signed with TEST_KEY pass (their SigV4 signature checked), and every call is
 * allowed; IAM's decisions are other tests' subject.
 */
export async function startTestEndpoint(...services: LocalAwsService[]): Promise<LocalEndpoint> {
  const endpoint = await startLocalEndpoint({ port: 0 });
  endpoint.authorizeWith({
    secretOf: (id) => (id === TEST_KEY.accessKeyId ? TEST_KEY.secretAccessKey : undefined),
    authorize: async () => undefined,
  });
  for (const service of services) endpoint.register(service);
  return endpoint;
}

/** What an SDK client needs to call `endpoint` with TEST_KEY. */
export const testClientOptions = (endpoint: LocalEndpoint) => ({
  endpoint: endpoint.url,
  region: 'us-east-1',
  credentials: TEST_KEY,
});
