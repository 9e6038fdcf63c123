/**
 * The on-call signal: one JSON POST per incident to ALERT_WEBHOOK_URL, retried with exponential backoff. Delivery
 * runs in the background: the breaker never waits for it, and a webhook that is down never delays a pause.
 */
import type { Logger } from "pino";
import { toJson } from "../store";

export interface AlertWebhookOptions {
  url: string;
  /** Tries per alert, the first included (default 6). */
  attempts?: number;
  /** Delay before the first retry (ms, default 500); doubled each time up to `maxDelayMs`. */
  baseDelayMs?: number;
  /** Longest delay between tries (ms, default 30,000). */
  maxDelayMs?: number;
  /** Time allowed for one POST (ms, default 5,000). */
  timeoutMs?: number;
  logger?: Logger;
  /** Told how each alert ended (metrics). */
  onResult?: (outcome: "delivered" | "failed") => void;
}

/** How one alert's delivery ended. */
export interface AlertDelivery {
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

/**
 * Posts alerts to a webhook in the background.
 * @example const hook = new AlertWebhook({ url }); hook.notify({ type: "incident.opened", incident })
 */
export class AlertWebhook {
  private readonly inFlight = new Set<Promise<AlertDelivery>>();
  private stopped = false;

  constructor(private readonly options: AlertWebhookOptions) {}

  /**
   * Queues one alert and returns at once; the POST and its retries run in the background.
   * @example hook.notify({ type: "incident.opened", incident })
   */
  notify(alert: Record<string, unknown>): Promise<AlertDelivery> {
    const delivery = this.deliver(toJson(alert));
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
    return delivery;
  }

  /** Resolves once every queued alert was delivered or given up on (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops retrying (alerts in flight give up at their next wait). */
  stop(): void {
    this.stopped = true;
  }

  private async deliver(body: string): Promise<AlertDelivery> {
    const attempts = this.options.attempts ?? 6;
    let delay = this.options.baseDelayMs ?? 500;
    let last: AlertDelivery = { ok: false, attempts: 0 };
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        const res = await fetch(this.options.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        });
        // Drain the body so the connection is reused.
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.options.onResult?.("delivered");
          return { ok: true, attempts: attempt, status: res.status };
        }
        last = { ok: false, attempts: attempt, status: res.status, error: `HTTP ${res.status}` };
      } catch (err) {
        last = { ok: false, attempts: attempt, error: (err as Error).message };
      }
      this.options.logger?.warn({ attempt, attempts, error: last.error }, "alert webhook: delivery failed");
      if (attempt === attempts || this.stopped) break;
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, this.options.maxDelayMs ?? 30_000);
    }
    this.options.logger?.error({ attempts: last.attempts, error: last.error }, "alert webhook: gave up");
    this.options.onResult?.("failed");
    return last;
  }
}
