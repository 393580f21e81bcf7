/**
 * List prices the simulator charges, us-east-1, November 2026: the ones README's "Cost" section and docs/launch-gate.md use.
 * Fargate bills each task per second with a one-minute minimum; Fargate Spot is charged at the
 * usual ~70% discount (its price floats; check the pricing page).
 */
export const PRICES = {
  fargateVcpuHour: { ARM64: 0.03238, X86_64: 0.04048 },
  fargateGbHour: { ARM64: 0.00356, X86_64: 0.004445 },
  spotFactor: 0.3,
  publicIpv4Hour: 0.005,
  stateTransition: 0.025 / 1000,
  /**
   * DynamoDB on-demand: $0.625 per million write request units since the November 2024 price cut
   * (aws.amazon.com/dynamodb/pricing/on-demand/); an UpdateItem of an item under 1 KB is one unit.
   */
  dynamodbWriteRequestUnit: 0.625 / 1_000_000,
  /** $0.125 per million read request units; a consistent read of up to 4 KB is one. */
  dynamodbReadRequestUnit: 0.125 / 1_000_000,
  /**
   * SQS standard queues: $0.40 per million requests past the first million a month (not deducted here),
   * each 64 KB of payload one request, empty receives included (aws.amazon.com/sqs/pricing/).
   */
  sqsRequest: 0.4 / 1_000_000,
  minimumBilledSeconds: 60,
  /**
   * EventBridge: $1.00 per million events put (PutEvents), each 64 KB of an entry one event; the
   * events AWS services put (Step Functions' status changes) are free (aws.amazon.com/eventbridge/pricing/).
   */
  eventBridgeEvent: 1 / 1_000_000,
  /** Step Functions Express: $1.00 per million requests, and $0.00001667 per GB-second of duration. */
  expressRequest: 1 / 1_000_000,
  expressGbSecond: 0.00001667,
} as const;

export type Architecture = keyof typeof PRICES.fargateVcpuHour;
