/** Time as the service sees it: injected everywhere so tests and the local stack can move it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that runs with real time plus an offset that only ever moves forward. */
export class AdjustableClock implements Clock {
  private offsetMs = 0;

  constructor(private readonly base: Clock = systemClock) {}

  now(): number {
    return this.base.now() + this.offsetMs;
  }

  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError('advance_seconds must be a non-negative number');
    this.offsetMs += seconds * 1000;
  }

  /** Moves forward to `ms` (epoch); never back. */
  advanceTo(ms: number): void {
    const now = this.now();
    if (ms > now) this.offsetMs += ms - now;
  }

  get offsetSeconds(): number {
    return this.offsetMs / 1000;
  }
}

export const isoAt = (ms: number): string => new Date(ms).toISOString();
