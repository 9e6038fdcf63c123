/**
 * The approval flow: people approve or reject a pending decision. An approval is a vote of a named approver, bound to
 * the figures they saw; once the rule's quorum of distinct approvers has approved the same figures, the engine
 * re-simulates and signs (or restates, APPROVAL_STALE). One rejection is final. A pending decision expires
 * (PENDING_TTL_SECONDS after it was proposed, never past its deadline): approving or rejecting it afterwards answers
 * 409 NOT_PENDING with `details.state` "expired", as an approved or rejected one answers with its state. Called by the
 * approval routes and the approvals page; counted for /metrics (outcomes per rule, time to decide, hasty approvals).
 */
import { createHash } from "node:crypto";
import type { Decision } from "../api/decision";
import type { CosignerEngine } from "../engine";
import { CountersignError } from "../errors";
import { type ApprovalRequestRecord, type ApprovalVote, type Store, type StoredDecision } from "../store";

/** Counts decisions by outcome and how long each took. */
export interface DecisionCounter {
  decided(decision: Decision, seconds: number, kind: "propose" | "approve" | "reject"): void;
  /** A person's approval was recorded, `secondsShown` after the figures it approved were first shown. */
  approvalVoted?(rule: string, secondsShown: number): void;
  /** A pending decision was settled (or expired, or restated), `secondsWaiting` after it was proposed. */
  approvalSettled?(rule: string, outcome: "approved" | "rejected" | "expired" | "stale", secondsWaiting: number): void;
}

/** Where a decision stands for people: still pending, or settled as approved, rejected or expired. */
export type ApprovalState = "pending" | "approved" | "rejected" | "expired";

/** A pending (or settled) decision with what people need to decide on it. */
export interface ApprovalStatus {
  decision: StoredDecision;
  state: ApprovalState;
  /** The rule that asked, how many distinct approvers, why, and whether it can be undone. */
  rule: string;
  approvalsRequired: number;
  reversible: boolean;
  description: string;
  /** After this instant (ISO 8601) it can no longer be approved. */
  expiresAt: string;
  /** Approvals that count now (of the figures shown now), oldest first. */
  approvals: { approver: string; at: string }[];
}

export interface ApprovalsOptions {
  /** Seconds a pending decision waits (PENDING_TTL_SECONDS, default 900); the shorter of this and the stored expiry applies. */
  pendingTtlSeconds?: number;
  /** Wall clock (ms); tests may pin it. */
  now?: () => number;
}

/**
 * Approvals and rejections of pending decisions.
 * @example const decision = await approvals.approve("op_…", { name: "alice" })
 */
export class Approvals {
  private readonly now: () => number;

  constructor(
    private readonly engine: CosignerEngine,
    private readonly store: Store,
    private readonly counter?: DecisionCounter,
    private readonly options: ApprovalsOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
  }

  /**
   * Records `approver`'s approval; signs (after re-simulating) once enough distinct approvers approved the figures
   * shown now. Answers the decision: still pending while the quorum is not met.
   * @throws CountersignError NOT_FOUND, NOT_PENDING (409, `details.state`), DUPLICATE_APPROVAL (409).
   */
  async approve(id: string, approver: { name: string }, label?: string): Promise<Decision> {
    const started = performance.now();
    const status = await this.openStatus(id);
    const shown = shownHash(status.decision);
    const at = new Date(this.now()).toISOString();
    const { added, votes } = await this.store.addApprovalVote(
      { decisionId: id, approver: approver.name, shown, at },
      { ...(label ? { label } : {}), rule: status.rule, required: status.approvalsRequired },
    );
    const counted = countedVotes(votes, shown);
    if (!added) {
      throw new CountersignError(
        "DUPLICATE_APPROVAL",
        `${approver.name} already approved decision ${id}; it needs ${status.approvalsRequired} distinct approvers (${counted.length} so far)`,
        { id, approvals: counted.map((v) => v.approver), required: status.approvalsRequired },
      );
    }
    const shownSince = Date.parse(status.decision.updatedAt);
    this.counter?.approvalVoted?.(status.rule, Math.max(0, (this.now() - shownSince) / 1000));
    if (counted.length < status.approvalsRequired) {
      const decision = await this.engine.get(id);
      if (!decision) throw new CountersignError("NOT_FOUND", `no decision ${id}`, { id });
      return decision;
    }
    const names = counted.map((v) => v.approver);
    const decidedBy = names.join(", ") + (label && names.length === 1 && label !== names[0] ? ` (${label})` : "");
    const decision = await this.engine.approve(id, decidedBy);
    this.counter?.decided(decision, (performance.now() - started) / 1000, "approve");
    const outcome = decision.status === "pending_approval" ? "stale" : decision.status;
    this.counter?.approvalSettled?.(status.rule, outcome, this.waited(status.decision));
    return decision;
  }

  /**
   * Rejects, for good: one approver's rejection is final.
   * @throws CountersignError NOT_FOUND, NOT_PENDING (409, `details.state`).
   */
  async reject(id: string, approver: { name: string }, note?: string, label?: string): Promise<Decision> {
    const started = performance.now();
    const status = await this.openStatus(id);
    const name = label && label !== approver.name ? `${approver.name} (${label})` : approver.name;
    const decision = await this.engine.reject(id, name, note);
    this.counter?.decided(decision, (performance.now() - started) / 1000, "reject");
    this.counter?.approvalSettled?.(status.rule, "rejected", this.waited(status.decision));
    return decision;
  }

  /**
   * Where a decision stands for people (expiring it first when its time is up), or undefined for an unknown id.
   * @example (await approvals.status("op_…"))?.approvals.map((a) => a.approver)
   */
  async status(id: string): Promise<ApprovalStatus | undefined> {
    const { store } = this;
    const decision = await store.get(id);
    if (!decision) return undefined;
    return this.describe(await this.expireIfDue(decision));
  }

  /**
   * Pending decisions of a chain, newest first, each expired (and left out) when its time is up.
   * @example const pending = await approvals.pending(31337)
   */
  async pending(chainId: number, limit = 100): Promise<ApprovalStatus[]> {
    const { store } = this;
    const out: ApprovalStatus[] = [];
    for (const d of await store.listPending({ chainId, limit })) {
      const status = await this.describe(await this.expireIfDue(d));
      if (status.state === "pending") out.push(status);
    }
    return out;
  }

  /**
   * Decisions people settled (or that expired), newest first.
   * @example const history = await approvals.history(31337, 20)
   */
  async history(chainId: number, limit = 50): Promise<ApprovalStatus[]> {
    return Promise.all((await this.store.listReviewed(chainId, limit)).map((d) => this.describe(d)));
  }

  /** The pending decision's status, or 404 / 409 saying which state it is in (expiring it when its time is up). */
  private async openStatus(id: string): Promise<ApprovalStatus> {
    const { store } = this;
    const stored = await store.get(id);
    if (!stored) throw new CountersignError("NOT_FOUND", `no decision ${id}`, { id });
    const status = await this.describe(await this.expireIfDue(stored));
    if (status.state !== "pending") {
      const words = { approved: "was already approved", rejected: "was rejected", expired: `expired at ${status.expiresAt}` }[status.state];
      throw new CountersignError("NOT_PENDING", `decision ${id} ${words}; it is no longer pending`, { id, state: status.state });
    }
    return status;
  }

  /** Settles a pending decision whose time is up as rejected (APPROVAL_EXPIRED); returns the decision as it is now. */
  private async expireIfDue(d: StoredDecision): Promise<StoredDecision> {
    if (d.status !== "pending_approval") return d;
    const request = await this.store.approvalRequest(d.id);
    const expiresAt = this.expiry(d, request);
    if (this.now() <= Date.parse(expiresAt)) return d;
    const { store } = this;
    const reasons = [{ code: "APPROVAL_EXPIRED" as const, message: `no approval before ${expiresAt}; the operation was not signed` }];
    try {
      const expired = await store.resolvePending(
        d.id,
        { status: "rejected", reasons, simulation: d.simulation, cosignerSignature: null, decidedBy: "expiry" },
        { status: "rejected", reasons, expiresAt },
      );
      this.counter?.approvalSettled?.(request?.rule ?? "unknown", "expired", this.waited(d));
      return expired;
    } catch (err) {
      // Settled by someone else meanwhile: what it is now.
      if (err instanceof CountersignError && err.code === "NOT_PENDING") return (await store.get(d.id)) ?? d;
      throw err;
    }
  }

  private async describe(d: StoredDecision): Promise<ApprovalStatus> {
    const request = await this.store.approvalRequest(d.id);
    const votes = await this.store.approvalVotes(d.id);
    const counted = d.status === "pending_approval" ? countedVotes(votes, shownHash(d)) : votes;
    return {
      decision: d,
      state: stateOf(d),
      rule: request?.rule ?? "review",
      approvalsRequired: request?.approvalsRequired ?? 1,
      reversible: request?.reversible ?? false,
      description: request?.description ?? d.reasons.map((r) => r.message).join("; "),
      expiresAt: this.expiry(d, request),
      approvals: counted.map((v) => ({ approver: v.approver, at: v.at })),
    };
  }

  /** The earliest of the stored expiry, the configured TTL from the proposal, and the operation's deadline. */
  private expiry(d: StoredDecision, request: ApprovalRequestRecord | undefined): string {
    const candidates = [Date.parse(d.createdAt) + (this.options.pendingTtlSeconds ?? 900) * 1000];
    if (request) candidates.push(Date.parse(request.expiresAt));
    const deadline = (d.request as { deadline?: unknown } | null)?.deadline;
    if (typeof deadline === "string" || typeof deadline === "number" || typeof deadline === "bigint") candidates.push(Number(deadline) * 1000);
    return new Date(Math.min(...candidates)).toISOString();
  }

  private waited(d: StoredDecision): number {
    return Math.max(0, (this.now() - Date.parse(d.createdAt)) / 1000);
  }

}

/**
 * A decision's state for people: a rejected decision whose reason is APPROVAL_EXPIRED expired.
 * @example stateOf(stored) // "expired"
 */
export function stateOf(d: StoredDecision): ApprovalState {
  if (d.status === "pending_approval") return "pending";
  if (d.status === "approved") return "approved";
  return d.reasons.some((r) => r.code === "APPROVAL_EXPIRED") ? "expired" : "rejected";
}

/** A hash of the figures a person is shown now (the decision's simulation): votes count only for the same figures. */
function shownHash(d: StoredDecision): string {
  return createHash("sha256").update(JSON.stringify(d.simulation ?? null)).digest("hex").slice(0, 32);
}

/** The distinct approvers of the figures `shown`, oldest first. */
function countedVotes(votes: readonly ApprovalVote[], shown: string): ApprovalVote[] {
  const seen = new Set<string>();
  return votes.filter((v) => v.shown === shown && !seen.has(v.approver) && seen.add(v.approver));
}
