/**
 * Fargate's account quotas, as one account has them: what the local ECS enforces on every RunTask
 * and what `npm run simulate` plans against, in virtual time. Pure: time is passed in, in seconds.
 *
 * - vCPU at once, per capacity type: On-Demand (quota L-3032A538) and Spot (L-36FBB829), 6 each in
 *   a new account; a task counts the vCPU of its task definition (`Cpu` / 1024).
 * - Task launches: a token bucket per capacity type, 100 tokens, refilled at 20 a second.
 * - The RunTask API: 20 calls a second sustained (burst 100), every call counted, refused or not.
 *
 * Hand-written: the token bucket is a few lines, and no maintained library models AWS quotas.
 */

export type CapacityType = 'FARGATE' | 'FARGATE_SPOT';

export const DEFAULT_VCPU_QUOTA = 6;
export const LAUNCH_BURST = 100;
export const LAUNCH_REFILL_PER_SECOND = 20;
export const RUN_TASK_BURST = 100;
export const RUN_TASK_REFILL_PER_SECOND = 20;

/** ECS task CPU units per vCPU. */
const CPU_UNITS_PER_VCPU = 1024;

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    nowSeconds: number,
  ) {
    this.tokens = capacity;
    this.updatedAt = nowSeconds;
  }

  /** Takes one token if there is one. */
  take(nowSeconds: number): boolean {
    const elapsed = Math.max(0, nowSeconds - this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.refillPerSecond);
    this.updatedAt = Math.max(this.updatedAt, nowSeconds);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface FargateQuotaOptions {
  /** On-Demand vCPU at once. @default 6 */
  readonly vcpuQuota?: number;
  /** Spot vCPU at once. @default 6 */
  readonly spotVcpuQuota?: number;
}

/** Why a RunTask call launched nothing. */
export type LaunchRefusal = 'throttled' | 'launch-rate' | 'vcpu-quota';

/** An error as Step Functions reports a failed `ecs:runTask.sync` launch: matched by `name`. */
export interface LaunchErrorReport {
  readonly name: string;
  readonly cause: string;
}

export class FargateQuotas {
  private readonly quotaUnits: Record<CapacityType, number>;
  private readonly usedUnits: Record<CapacityType, number> = { FARGATE: 0, FARGATE_SPOT: 0 };
  private readonly launches: Record<CapacityType, TokenBucket>;
  private readonly calls: TokenBucket;
  private running = 0;
  /** The most tasks that ran at once. */
  peakRunningTasks = 0;

  constructor(options: FargateQuotaOptions, nowSeconds: number) {
    this.quotaUnits = {
      FARGATE: vcpuToUnits(options.vcpuQuota ?? DEFAULT_VCPU_QUOTA),
      FARGATE_SPOT: vcpuToUnits(options.spotVcpuQuota ?? DEFAULT_VCPU_QUOTA),
    };
    this.launches = {
      FARGATE: new TokenBucket(LAUNCH_BURST, LAUNCH_REFILL_PER_SECOND, nowSeconds),
      FARGATE_SPOT: new TokenBucket(LAUNCH_BURST, LAUNCH_REFILL_PER_SECOND, nowSeconds),
    };
    this.calls = new TokenBucket(RUN_TASK_BURST, RUN_TASK_REFILL_PER_SECOND, nowSeconds);
  }

  /**
   * One RunTask call for a task of `cpuUnits` (the task definition's `Cpu`) on `capacity`: reserves
   * its vCPU and a launch token and returns undefined, or returns why nothing was launched.
   */
  runTask(capacity: CapacityType, cpuUnits: number, nowSeconds: number): LaunchRefusal | undefined {
    if (!this.calls.take(nowSeconds)) return 'throttled';
    if (this.usedUnits[capacity] + cpuUnits > this.quotaUnits[capacity]) return 'vcpu-quota';
    if (!this.launches[capacity].take(nowSeconds)) return 'launch-rate';
    this.usedUnits[capacity] += cpuUnits;
    this.running++;
    this.peakRunningTasks = Math.max(this.peakRunningTasks, this.running);
    return undefined;
  }

  /** A task launched by `runTask` stopped: its vCPU are free again. */
  release(capacity: CapacityType, cpuUnits: number): void {
    this.usedUnits[capacity] -= cpuUnits;
    this.running--;
  }

  /** Tasks of `cpuUnits` that fit in the quota of `capacity` at once. */
  slots(capacity: CapacityType, cpuUnits: number): number {
    return Math.floor(this.quotaUnits[capacity] / cpuUnits);
  }
}

function vcpuToUnits(vcpu: number): number {
  if (!(vcpu >= 0) || !Number.isFinite(vcpu)) {
    throw new RangeError(`vCPU quota ${vcpu} is not valid: use a number of vCPU of at least 0, e.g. 6`);
  }
  return Math.round(vcpu * CPU_UNITS_PER_VCPU);
}

/** The error Step Functions raises for a refused launch. */
export function launchRefusalError(refusal: LaunchRefusal, requestId: string): LaunchErrorReport {
  return refusal === 'vcpu-quota'
    ? unknownLaunchError(
        "You've reached the limit on the number of vCPUs you can run concurrently",
        requestId,
      )
    : throttlingError(requestId);
}

/** Throttled RunTask calls and launches: ThrottlingException, which Step Functions names ECS.AmazonECSException. */
export function throttlingError(requestId: string): LaunchErrorReport {
  return {
    name: 'ECS.AmazonECSException',
    cause: `Rate exceeded (Service: AmazonECS; Status Code: 400; Error Code: ThrottlingException; Request ID: ${requestId}; Proxy: null)`,
  };
}

/** A RunTask whose `Failures` list is not empty (vCPU quota, no capacity): Step Functions' AmazonECS.Unknown. */
export function unknownLaunchError(reason: string, requestId: string): LaunchErrorReport {
  return {
    name: 'AmazonECS.Unknown',
    cause: `${reason} (Service: AmazonECS; Status Code: 400; Error Code: Unknown; Request ID: ${requestId}; Proxy: null)`,
  };
}

export const NO_CAPACITY_REASON =
  'Capacity is unavailable at this time. Please try again later or in a different availability zone';
