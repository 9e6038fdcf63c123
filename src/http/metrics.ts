/**
 * What /metrics exposes (Prometheus, prom-client): decisions by status and reason code, refusals, decision latency,
 * the fork's head and lag, hydrated keys, upstream requests, audit records, rate-limited requests and breaker trips.
 * Each service has its own registry, so several can live in one process (tests).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Cosigner } from "../cosigner";
import type { Decision } from "../api";

/**
 * The service's metrics.
 * @example const metrics = new ServiceMetrics(cosigner); metrics.decided(decision, 0.012)
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly decisions: Counter<"status">;
  private readonly reasons: Counter<"status" | "code">;
  private readonly refusals: Counter<"code">;
  private readonly latency: Histogram<"action">;
  readonly rateLimited: Counter<"scope">;
  readonly breakerTrips: Counter;
  readonly httpRequests: Counter<"method" | "route" | "status">;

  constructor(cosigner: Cosigner, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: "countersign_process_" });
    this.decisions = new Counter({
      name: "countersign_decisions_total",
      help: "Decisions answered, by status (approved, rejected, pending_approval)",
      labelNames: ["status"],
      registers,
    });
    this.reasons = new Counter({
      name: "countersign_decision_reasons_total",
      help: "Reasons given with decisions, by decision status and reason code",
      labelNames: ["status", "code"],
      registers,
    });
    this.refusals = new Counter({
      name: "countersign_refusals_total",
      help: "Requests refused before or instead of a decision (invalid, unauthenticated, conflict, outage), by code",
      labelNames: ["code"],
      registers,
    });
    this.latency = new Histogram({
      name: "countersign_decision_duration_seconds",
      help: "Time from request to decision (propose, approve), including the simulation",
      labelNames: ["action"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rateLimited = new Counter({
      name: "countersign_rate_limited_total",
      help: "Requests answered 429, by scope (signer, ip)",
      labelNames: ["scope"],
      registers,
    });
    this.breakerTrips = new Counter({
      name: "countersign_breaker_pauses_total",
      help: "Wallets paused through POST /v1/wallets/:address/pause",
      registers,
    });
    this.httpRequests = new Counter({
      name: "countersign_http_requests_total",
      help: "HTTP requests answered, by method, route and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    const { fork, store } = cosigner;
    new Gauge({
      name: "countersign_fork_head_block",
      help: "The upstream block the fork's state is at",
      registers,
      collect() {
        this.set(Number(fork.head.number));
      },
    });
    new Gauge({
      name: "countersign_upstream_head_block",
      help: "The newest upstream block seen",
      registers,
      collect() {
        this.set(Number(fork.upstreamHead.number));
      },
    });
    new Gauge({
      name: "countersign_fork_lag_blocks",
      help: "Blocks the fork is behind the upstream head",
      registers,
      collect() {
        this.set(Number(fork.lag));
      },
    });
    new Gauge({
      name: "countersign_upstream_reachable",
      help: "1 when the upstream answered its last poll, else 0",
      registers,
      collect() {
        this.set(fork.watcher.reachable() ? 1 : 0);
      },
    });
    new Gauge({
      name: "countersign_fork_hydrated_keys",
      help: "Accounts and slots copied from the upstream into the fork's own state",
      registers,
      collect() {
        this.set(fork.stats.hydratedKeys);
      },
    });
    let upstreamSeen = 0;
    new Counter({
      name: "countersign_upstream_requests_total",
      help: "Requests sent to the upstream chain (a JSON-RPC batch counts once)",
      registers,
      collect() {
        const now = fork.cache.stats.upstreamRequests;
        if (now > upstreamSeen) this.inc(now - upstreamSeen);
        upstreamSeen = now;
      },
    });
    new Gauge({
      name: "countersign_audit_records",
      help: "Records in the hash-chained audit log",
      registers,
      async collect() {
        try {
          this.set((await store.auditHead()).seq);
        } catch {
          // The store is closed or failing; /healthz says so.
        }
      },
    });
  }

  /** Counts a decision and how long it took. */
  decided(decision: Decision, seconds: number, action: "propose" | "approve" | "reject" = "propose"): void {
    this.decisions.inc({ status: decision.status });
    for (const r of decision.reasons) this.reasons.inc({ status: decision.status, code: r.code });
    this.latency.observe({ action }, seconds);
  }

  /** Counts a request refused with `code`. */
  refused(code: string): void {
    this.refusals.inc({ code });
  }
}
