import { randomUUID } from 'node:crypto';

import { AwsServiceError, type LocalAwsService } from '../aws-service';
import type { Clock } from '../clock';

/**
 * The EventBridge API of the local default bus: PutEvents puts each entry on the bus as the event
 * EventBridge would deliver (its id, account, region and time filled in, its Detail parsed), where
 * every rule of the template sees it; the rest (DescribeRule, ListTargetsByRule) is the rules' read
 * side (rules-api.ts). One service, as EventBridge is one signing name on the endpoint.
 */

export interface EventBridgeApiOptions {
  readonly rules: LocalAwsService;
  /** Puts one event on the local bus (its deliveries go on without the caller, as on AWS). */
  readonly put: (event: Record<string, unknown>) => void;
  readonly clock: Clock;
  readonly accountId: string;
  readonly region: string;
}

/** PutEvents takes at most 10 entries a call. */
const MAX_ENTRIES = 10;

export class EventBridgeApi implements LocalAwsService {
  readonly signingName = 'events';

  constructor(private readonly options: EventBridgeApiOptions) {}

  async call(action: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (action !== 'PutEvents') return this.options.rules.call(action, request);
    const entries = Array.isArray(request.Entries) ? (request.Entries as Array<Record<string, unknown>>) : [];
    if (entries.length === 0 || entries.length > MAX_ENTRIES) {
      throw new AwsServiceError(
        'ValidationException',
        `PutEvents takes 1 to ${MAX_ENTRIES} Entries; ${entries.length} were given`,
      );
    }
    const results = entries.map((entry) => this.putEntry(entry));
    return {
      FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
      Entries: results,
    };
  }

  private putEntry(entry: Record<string, unknown>): Record<string, unknown> {
    const bus = entry.EventBusName;
    if (bus !== undefined && bus !== 'default' && !String(bus).endsWith(':event-bus/default')) {
      return {
        ErrorCode: 'NotAuthorizedForSourceException',
        ErrorMessage: `No local event bus ${String(bus)}`,
      };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(String(entry.Detail ?? '{}'));
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON' };
    }
    if (typeof entry.Source !== 'string' || typeof entry.DetailType !== 'string') {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'An entry needs a Source and a DetailType' };
    }
    const id = randomUUID();
    const time =
      entry.Time === undefined
        ? new Date(this.options.clock.now())
        : new Date(typeof entry.Time === 'number' ? entry.Time * 1000 : String(entry.Time));
    this.options.put({
      version: '0',
      id,
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: this.options.accountId,
      time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.options.region,
      resources: Array.isArray(entry.Resources) ? entry.Resources : [],
      detail,
    });
    return { EventId: id };
  }
}
