import { AwsServiceError, type LocalAwsService } from '../aws-service';

/**
 * CloudWatch's PutMetricData, locally: the data points are recorded, in order, for tests and the
 * report to read; nothing is aggregated or alarmed on (there is no local CloudWatch beyond this).
 * Requests are checked as CloudWatch checks them: a Namespace, and 1 to 1000 MetricData entries
 * each with a MetricName.
 */

export interface RecordedMetricData {
  readonly namespace: string;
  /** Epoch ms, on the pipeline's clock. */
  readonly at: number;
  readonly datum: Readonly<Record<string, unknown>>;
}

export class LocalCloudWatch implements LocalAwsService {
  readonly signingName = 'monitoring';
  readonly recorded: RecordedMetricData[] = [];

  constructor(private readonly now: () => number) {}

  async call(action: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (action !== 'PutMetricData') {
      throw new AwsServiceError(
        'UnknownOperationException',
        `The local CloudWatch serves only PutMetricData, not ${action}`,
      );
    }
    const { Namespace, MetricData } = request;
    if (typeof Namespace !== 'string' || Namespace === '' || Namespace.startsWith('AWS/')) {
      throw new AwsServiceError(
        'InvalidParameterValue',
        `The value ${String(Namespace)} for parameter Namespace is not valid`,
      );
    }
    if (!Array.isArray(MetricData) || MetricData.length < 1 || MetricData.length > 1000) {
      throw new AwsServiceError('InvalidParameterValue', 'MetricData must hold 1 to 1000 entries');
    }
    for (const datum of MetricData as Array<Record<string, unknown>>) {
      if (typeof datum?.MetricName !== 'string' || datum.MetricName === '') {
        throw new AwsServiceError(
          'MissingParameter',
          'The parameter MetricData.member.N.MetricName is required',
        );
      }
      this.recorded.push({ namespace: Namespace, at: this.now(), datum });
    }
    return {};
  }
}
