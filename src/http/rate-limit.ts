/**
 * Per-key request limits: a token bucket per key (an agent signer, a client IP) that holds `perMinute` requests and
 * refills continuously, the same shape as the wallet's budgets (no window edge to burst across).
 */

/** The answer for one request. */
export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * An in-memory set of token buckets, one per key.
 * @example const limiter = new RateLimiter(120); if (!limiter.take(signer).ok) reply 429
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = () => Date.now(),
    /** Above this many keys, full (idle) buckets are dropped. */
    private readonly maxKeys = 10_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one request from `key`'s bucket. */
  take(key: string): Take {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.sweep(now);
    return { ok: true };
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
    }
  }
}
