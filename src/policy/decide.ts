/**
 * Decide: refuse on any reason; otherwise ask a person when the operation is large, pays someone new, or the
 * wallet is flagged; otherwise approve.
 */
import type { Address } from "viem";
import type { Reason } from "../errors";
import type { Intent } from "../intent/schema";
import type { AssetChange } from "../simulation/changes";

export type { DecisionStatus } from "../api/decision";
import type { DecisionStatus } from "../api/decision";

/** When a person must look: amounts per asset ("native" or a token address) and new recipients. */
export interface ReviewPolicy {
  /** An outflow above this (base units) of the asset needs a person. */
  thresholds: ReadonlyMap<string, bigint>;
  /** Whether paying a recipient this co-signer never approved a payment to needs a person. */
  reviewNewRecipients: boolean;
}

export interface DecideInput {
  reasons: Reason[];
  intent: Intent;
  wallet: Address;
  changes: readonly AssetChange[];
  /**
   * The wallet's gross outflow per asset (simulation.grossOutflow): what leaves it, not netted against what comes in,
   * so an inflow in the same batch (a borrow, a withdrawal) cannot hide a payment from the review threshold.
   */
  grossOutflow?: ReadonlyMap<string, bigint>;
  /** Accounts this operation pays that this wallet never paid through the co-signer. */
  newRecipients: readonly Address[];
  /** An active anomaly flag on the wallet or the session key, if any. */
  anomaly?: string;
}

/**
 * The accounts an operation pays: a transfer's recipient, or for swaps and calls every account other than the
 * wallet that ends up with more of any asset (a DEX, a router's recipient of the bought token). Used for the
 * new-recipient review.
 * @example payees(intent, wallet, changes) // ["0x9965…A4dc"]
 */
export function payees(intent: Intent, wallet: Address, changes: readonly AssetChange[]): Address[] {
  if (intent.kind === "transfer") return [intent.to];
  return [...new Set(changes.filter((c) => c.account !== wallet && c.delta > 0n).map((c) => c.account))];
}

/**
 * The status and the reasons behind it.
 * @example decide({ reasons: [], intent, wallet, changes, newRecipients: [] }, policy) // { status: "approved", reasons: [] }
 */
export function decide(input: DecideInput, policy: ReviewPolicy): { status: DecisionStatus; reasons: Reason[] } {
  if (input.reasons.length > 0) return { status: "rejected", reasons: input.reasons };
  const review: Reason[] = [];
  // Per asset, the larger of the gross outflow and the net decrease (NFTs have only the latter).
  const outflow = new Map(input.grossOutflow ?? []);
  for (const c of input.changes) {
    if (c.account !== input.wallet || c.delta >= 0n) continue;
    if (-c.delta > (outflow.get(c.asset) ?? 0n)) outflow.set(c.asset, -c.delta);
  }
  for (const [asset, amount] of outflow) {
    const threshold = policy.thresholds.get(asset);
    if (threshold !== undefined && amount > threshold) {
      review.push({ code: "ABOVE_REVIEW_THRESHOLD", message: `gross outflow ${amount} of ${asset} is above the review threshold ${threshold}` });
    }
  }
  if (policy.reviewNewRecipients) {
    for (const r of input.newRecipients) {
      review.push({ code: "NEW_RECIPIENT", message: `${r} has never been paid by this wallet through the co-signer` });
    }
  }
  if (input.anomaly) review.push({ code: "ANOMALY_FLAGGED", message: `anomaly flagged: ${input.anomaly}` });
  return review.length > 0 ? { status: "pending_approval", reasons: review } : { status: "approved", reasons: [] };
}
