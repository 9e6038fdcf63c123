/**
 * The approval flow: a person approves or rejects a pending decision (the engine re-simulates and records), and the
 * outcome is counted. Called by the approval routes, and later by the approvals page and the monitor.
 */
import type { Decision } from "../api/decision";
import type { CosignerEngine } from "../engine";

/** Counts decisions by outcome and how long each took. */
export interface DecisionCounter {
  decided(decision: Decision, seconds: number, kind: "propose" | "approve" | "reject"): void;
}

/**
 * Approvals and rejections of pending decisions.
 * @example const decision = await approvals.approve("op_…", "alice")
 */
export class Approvals {
  constructor(
    private readonly engine: CosignerEngine,
    private readonly counter?: DecisionCounter,
  ) {}

  /** Approves: signed only if a fresh simulation still matches what the person saw. */
  async approve(id: string, approver: string): Promise<Decision> {
    const started = performance.now();
    const decision = await this.engine.approve(id, approver);
    this.counter?.decided(decision, (performance.now() - started) / 1000, "approve");
    return decision;
  }

  /** Rejects, for good. */
  async reject(id: string, approver: string, note?: string): Promise<Decision> {
    const started = performance.now();
    const decision = await this.engine.reject(id, approver, note);
    this.counter?.decided(decision, (performance.now() - started) / 1000, "reject");
    return decision;
  }
}
