/**
 * Exactly one replica follows the chain: the one holding the store's "monitor" lease (a PostgreSQL advisory lock held
 * by a session of its own; the embedded store's lease is always its own process's). The others stand by and try again
 * every `retryMs`; when the holder dies its session ends, the lock goes with it, and the next try takes over.
 */
import type { Logger } from "pino";
import type { Lease, Leases } from "../store";

/** What the leased follower must do: start following, stop following. */
export interface Followable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface LeaseRunnerOptions {
  /** The lease's name (default "monitor"). */
  name?: string;
  /** Milliseconds between tries while another replica holds the lease (default 2,000). */
  retryMs?: number;
  logger?: Logger;
}

/**
 * Runs `follower` while this process holds the lease.
 * @example const runner = new LeaseRunner(store, monitor); await runner.start(); ...; await runner.stop()
 */
export class LeaseRunner {
  private lease?: Lease;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private attempt?: Promise<void>;

  constructor(
    private readonly leases: Leases,
    private readonly follower: Followable,
    private readonly options: LeaseRunnerOptions = {},
  ) {}

  /** Whether this process follows the chain now. */
  get holding(): boolean {
    return this.lease !== undefined;
  }

  /**
   * Tries once now (a follower that cannot start is an error of the caller's start-up), then keeps trying in the
   * background while another replica holds the lease.
   */
  async start(): Promise<void> {
    await this.tryOnce();
  }

  /** Stops following and releases the lease. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempt?.catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    if (lease) {
      await this.follower.stop();
      await lease.release();
    }
  }

  private async tryOnce(): Promise<void> {
    this.attempt = (async () => {
      const name = this.options.name ?? "monitor";
      const lease = await this.leases.tryLease(name);
      if (!lease) {
        this.options.logger?.debug({ lease: name }, "another replica follows the chain; standing by");
        return;
      }
      if (this.stopped) {
        await lease.release();
        return;
      }
      try {
        await this.follower.start();
      } catch (err) {
        await lease.release();
        throw err;
      }
      this.lease = lease;
      this.options.logger?.info({ lease: name }, "this replica follows the chain");
      void lease.lost.then(() => this.lost(lease));
    })();
    try {
      await this.attempt;
    } finally {
      this.schedule();
    }
  }

  /** The database session behind the lease ended: stop following at once, and try again. */
  private async lost(lease: Lease): Promise<void> {
    if (this.lease !== lease || this.stopped) return;
    this.lease = undefined;
    this.options.logger?.warn({ lease: this.options.name ?? "monitor" }, "lost the monitor lease; stopping the follower");
    await this.follower.stop();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.lease) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.tryOnce().catch((err: unknown) => this.options.logger?.error({ err }, "the monitor lease could not be tried; trying again"));
    }, this.options.retryMs ?? 2_000);
    this.timer.unref();
  }
}
