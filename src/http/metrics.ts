/**
 * What /metrics exposes (Prometheus, prom-client): decisions by status and reason code, refusals, decision latency,
 * the fork's head and lag, hydrated keys, upstream requests, audit records, rate-limited requests, breaker trips, the
 * breaker's state per wallet, incidents by rule and state, and the time from an offending block to the pause.
 * Each service has its own registry, so several can live in one process (tests).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Cosigner } from "../cosigner";
import type { Decision } from "../api";
import type { MonitorStatus } from "../monitor/follower";

/** A served wallet's breaker state: "stopping" while a pause is sent but not yet seen by the fork. */
export type BreakerState = "ok" | "flagged" | "stopping" | "paused";
const BREAKER_STATES: BreakerState[] = ["ok", "flagged", "stopping", "paused"];

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
  // --- the breaker and its incidents (issue 10 part B) ---
  /** Incidents opened, by rule and action (pause, revoke, flag). */
  readonly incidentsOpened: Counter<"rule" | "action">;
  /** From the offending block to the breaker's transaction being mined, in blocks and in chain seconds. */
  readonly breakerLatencyBlocks: Histogram<"rule" | "action">;
  readonly breakerLatencySeconds: Histogram<"rule" | "action">;
  /** Alerts posted to ALERT_WEBHOOK_URL, by outcome (delivered, failed). */
  readonly alerts: Counter<"outcome">;
  /** Each served wallet's breaker state (ok, flagged, stopping, paused); set by the server. */
  breakerStates?: () => Promise<{ wallet: string; state: BreakerState }[]>;
  // --- people in the loop: approval fatigue (issue 11) ---
  /** New decisions by the approval policy's rule and outcome (auto, person, refused). */
  private readonly policyDecisions: Counter<"rule" | "outcome">;
  /** Pending decisions settled by people or by expiry, by rule and outcome (approved, rejected, expired, stale). */
  private readonly approvalOutcomes: Counter<"rule" | "outcome">;
  /** From proposal to a person's decision (or expiry), by outcome. */
  private readonly approvalWait: Histogram<"outcome">;
  /** Approvals given, and those given less than 5 s after the figures were shown (approval fatigue), by rule. */
  private readonly approvalVotes: Counter<"rule">;
  private readonly hastyApprovals: Counter<"rule">;

  constructor(cosigner: Cosigner, options: { defaultMetrics?: boolean; monitor?: { status(): MonitorStatus } } = {}) {
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
      help: "Pause transactions the breaker sent (POST /v1/wallets/:address/pause and the monitor's rules)",
      registers,
    });
    this.httpRequests = new Counter({
      name: "countersign_http_requests_total",
      help: "HTTP requests answered, by method, route and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.incidentsOpened = new Counter({
      name: "countersign_incidents_opened_total",
      help: "Incidents opened by the breaker, by rule and action (pause, revoke, flag)",
      labelNames: ["rule", "action"],
      registers,
    });
    this.breakerLatencyBlocks = new Histogram({
      name: "countersign_breaker_latency_blocks",
      help: "Blocks from the offending block to the breaker's transaction (pause, revoke) being mined",
      labelNames: ["rule", "action"],
      buckets: [0, 1, 2, 3, 5, 10, 20],
      registers,
    });
    this.breakerLatencySeconds = new Histogram({
      name: "countersign_breaker_latency_seconds",
      help: "Seconds (block timestamps) from the offending block to the breaker's transaction being mined",
      labelNames: ["rule", "action"],
      buckets: [0, 1, 2, 5, 12, 30, 60, 120],
      registers,
    });
    this.alerts = new Counter({
      name: "countersign_alerts_total",
      help: "Incident alerts posted to ALERT_WEBHOOK_URL, by outcome (delivered, failed after every retry)",
      labelNames: ["outcome"],
      registers,
    });
    this.policyDecisions = new Counter({
      name: "countersign_policy_decisions_total",
      help: "New decisions by the approval policy rule that decided and the outcome (auto: signed without a person, person: pending approval, refused)",
      labelNames: ["rule", "outcome"],
      registers,
    });
    this.approvalOutcomes = new Counter({
      name: "countersign_approval_outcomes_total",
      help: "Pending decisions settled by people or expiry, by rule and outcome (approved, rejected, expired, stale: re-simulation changed the figures)",
      labelNames: ["rule", "outcome"],
      registers,
    });
    this.approvalWait = new Histogram({
      name: "countersign_approval_decide_seconds",
      help: "Seconds from a proposal to a person's decision on it (or its expiry), by outcome",
      labelNames: ["outcome"],
      buckets: [5, 15, 30, 60, 120, 300, 600, 900, 1800],
      registers,
    });
    this.approvalVotes = new Counter({
      name: "countersign_approvals_total",
      help: "Approvals people gave (one per approver and figures shown), by rule",
      labelNames: ["rule"],
      registers,
    });
    this.hastyApprovals = new Counter({
      name: "countersign_approvals_under_5s_total",
      help: "Approvals given less than 5 seconds after the figures were shown, by rule: a sign of approval fatigue",
      labelNames: ["rule"],
      registers,
    });
    const metrics = this;
    new Gauge({
      name: "countersign_breaker_state",
      help: "Each served wallet's breaker state: 1 for the state it is in (ok, flagged, stopping, paused), 0 for the others",
      labelNames: ["wallet", "state"],
      registers,
      async collect() {
        this.reset();
        try {
          for (const { wallet, state } of (await metrics.breakerStates?.()) ?? []) {
            for (const s of BREAKER_STATES) this.set({ wallet, state: s }, s === state ? 1 : 0);
          }
        } catch {
          // The upstream or the store is failing; /healthz says so.
        }
      },
    });
    new Gauge({
      name: "countersign_incidents",
      help: "Incidents by the rule that opened them and their state (open, acknowledged, resolved)",
      labelNames: ["rule", "state"],
      registers,
      async collect() {
        this.reset();
        try {
          for (const { rule, state, count } of await cosigner.store.countIncidents()) this.set({ rule, state }, count);
        } catch {
          // The store is closed or failing; /healthz says so.
        }
      },
    });
    // --- end breaker ---
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
    if (options.monitor) monitorMetrics(options.monitor, registers);
  }

  /** Counts a decision and how long it took. */
  decided(decision: Decision, seconds: number, action: "propose" | "approve" | "reject" = "propose"): void {
    this.decisions.inc({ status: decision.status });
    for (const r of decision.reasons) this.reasons.inc({ status: decision.status, code: r.code });
    this.latency.observe({ action }, seconds);
  }

  /** Counts a new decision under the approval policy rule that decided it. */
  policyDecided(rule: string, status: Decision["status"]): void {
    this.policyDecisions.inc({ rule, outcome: status === "approved" ? "auto" : status === "pending_approval" ? "person" : "refused" });
  }

  /** Counts a person's approval, and whether it came less than 5 s after the figures were shown. */
  approvalVoted(rule: string, secondsShown: number): void {
    this.approvalVotes.inc({ rule });
    if (secondsShown < 5) this.hastyApprovals.inc({ rule });
  }

  /** Counts a pending decision settled (or expired, or restated) and how long it waited. */
  approvalSettled(rule: string, outcome: "approved" | "rejected" | "expired" | "stale", secondsWaiting: number): void {
    this.approvalOutcomes.inc({ rule, outcome });
    this.approvalWait.observe({ outcome }, secondsWaiting);
  }

  /** Counts a request refused with `code`. */
  refused(code: string): void {
    this.refusals.inc({ code });
  }
}

/**
 * The chain follower's metrics: its lag and last block, and executions by whether they matched their simulation.
 * @example monitorMetrics(monitor, [registry])
 */
export function monitorMetrics(monitor: { status(): MonitorStatus }, registers: Registry[]): void {
  new Gauge({
    name: "countersign_monitor_lag_blocks",
    help: "Blocks the monitor's follower is behind the upstream head",
    registers,
    collect() {
      this.set(Number(monitor.status().lagBlocks));
    },
  });
  new Gauge({
    name: "countersign_monitor_last_block",
    help: "The last block the monitor recorded (-1 before the first)",
    registers,
    collect() {
      const last = monitor.status().lastBlock;
      this.set(last === null ? -1 : Number(last));
    },
  });
  const seen = { true: 0, false: 0, none: 0 };
  new Counter({
    name: "countersign_monitor_executions_total",
    help: 'Executions the monitor recorded, by matches_simulation ("true", "false", or "none": no approved decision)',
    labelNames: ["matches_simulation"],
    registers,
    collect() {
      const { matched, mismatched, unattributed } = monitor.status().executions;
      for (const [label, now] of [
        ["true", matched],
        ["false", mismatched],
        ["none", unattributed],
      ] as const) {
        if (now > seen[label]) this.inc({ matches_simulation: label }, now - seen[label]);
        seen[label] = now;
      }
    },
  });
}
