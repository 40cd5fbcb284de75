/**
 * The unattended budget: calls made without the user present (no X-PSU-IP) that may go to the bank,
 * per connection, account and endpoint, over a sliding 24 hours. UK banks allow four; past that the
 * bank answers 429, so the service stops first and answers from its cache instead.
 *
 * Each counter is one item holding the times of the calls in the window and a version. Taking a slot
 * reads it and writes the new list back on the condition that the version has not moved: of many
 * concurrent callers exactly one wins each round, and the losers read again, so the budget is never
 * exceeded however many Lambdas run at once.
 */
import type { Clock } from '../clock';
import { DependencyUnavailableError } from '../errors';
import { keyHash, type ReadPaceStore } from './read-pace-store';

export const unattendedWindowMs = 24 * 60 * 60 * 1000;

/** The counter a call belongs to: the endpoint as TrueLayer's template writes it, and its account. */
export interface BudgetScope {
  connectionId: string;
  template: string;
  accountId?: string | undefined;
}

export type BudgetDecision =
  | { granted: true; remaining: number; slot: number }
  | { granted: false; remaining: 0; retryAfterSeconds: number };

// Rounds of read-and-write before giving up; each round at least one contender wins.
const maxRounds = 64;

const endpointHash = (scope: BudgetScope): string => keyHash(`${scope.template}|${scope.accountId ?? ''}`);

export class UnattendedBudget {
  constructor(private readonly options: { store: ReadPaceStore; clock: Clock; limit: number }) {}

  get limit(): number {
    return this.options.limit;
  }

  /** Takes one slot if the last 24 hours have fewer than `limit` calls. */
  async take(scope: BudgetScope): Promise<BudgetDecision> {
    const { store, clock, limit } = this.options;
    const hash = endpointHash(scope);
    for (let round = 0; round < maxRounds; round += 1) {
      const now = clock.now();
      const counter = await store.readCounter(scope.connectionId, hash);
      const recent = counter.calls.filter((at) => at > now - unattendedWindowMs && at <= now + unattendedWindowMs).sort((a, b) => a - b);
      if (recent.length >= limit) {
        // The oldest call in the window leaves it first; with a limit of 0 nothing ever frees.
        const oldest = recent[recent.length - limit];
        const frees = oldest === undefined ? now + unattendedWindowMs : oldest + unattendedWindowMs;
        return { granted: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil((frees - now) / 1000)) };
      }
      const calls = [...recent, now];
      if (await store.writeCounter(scope.connectionId, hash, counter.version, calls, now + unattendedWindowMs)) {
        return { granted: true, remaining: limit - calls.length, slot: now };
      }
    }
    throw new DependencyUnavailableError('Too many concurrent reads of this endpoint; try again shortly.');
  }

  /**
   * Gives a slot back when no call reached TrueLayer after all (the token could not be refreshed,
   * the connection turned out inactive). A call that was sent counts, whatever came back: the bank
   * counts the calls it receives, and a timeout may well have reached it.
   */
  async release(scope: BudgetScope, slot: number): Promise<void> {
    const { store, clock } = this.options;
    const hash = endpointHash(scope);
    for (let round = 0; round < maxRounds; round += 1) {
      const counter = await store.readCounter(scope.connectionId, hash);
      const index = counter.calls.indexOf(slot);
      if (index < 0) return;
      const calls = counter.calls.filter((_, i) => i !== index);
      if (await store.writeCounter(scope.connectionId, hash, counter.version, calls, clock.now() + unattendedWindowMs)) return;
    }
  }
}
