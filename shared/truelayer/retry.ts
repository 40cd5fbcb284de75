/** Bounded retries with full-jitter exponential backoff, so many Lambdas do not retry in lockstep. */

export interface RetryPolicy {
  /** Total attempts, the first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 };

export const resolveRetryPolicy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => {
  const policy = { ...defaultRetryPolicy, ...overrides };
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) throw new RangeError('retry.attempts must be an integer of at least 1');
  if (!(policy.baseDelayMs >= 0) || !(policy.maxDelayMs >= 0)) throw new RangeError('retry delays must be non-negative numbers');
  return policy;
};

/**
 * The wait before retry number `retry` (1 for the first retry): uniform in [0, min(max, base·2^(retry-1))]
 * ("full jitter", AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export const backoffDelayMs = (retry: number, policy: RetryPolicy, random: () => number = Math.random): number => {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
};

export const sleep = (ms: number): Promise<void> => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)));
