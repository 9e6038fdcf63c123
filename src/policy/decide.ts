/**
 * Decide: refuse on any reason; otherwise the approval policy (src/approvals/policy.ts: ordered rules, first match
 * wins) says auto, approve(n) or deny; a flagged wallet always goes to a person.
 */
import { getAddress, type Address } from "viem";
import { evaluatePolicy, policyFromShorthands, type ApprovalPolicy, type RuleDecision, type WalletFacts } from "../approvals/policy";
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
  /** The approval policy (APPROVAL_POLICY_FILE); without it, `thresholds` and `reviewNewRecipients` as rules. */
  rules?: ApprovalPolicy;
  /** Reads the wallet's owner, allowlist and available budgets when a rule needs them (wired to the fork). */
  walletFacts?: (wallet: Address) => Promise<WalletFacts>;
  /** How long a pending decision waits for people (seconds, default 900; PENDING_TTL_SECONDS). */
  pendingTtlSeconds?: number;
}

/** What the policy decided for an operation it did not refuse: the rule, its decision, and whether it is reversible. */
export interface PolicyDecision {
  rule: string;
  decide: RuleDecision;
  /** Distinct approvers needed (0 when signed without a person). */
  approvalsRequired: number;
  reversible: boolean;
  description: string;
}

const shorthandPolicies = new WeakMap<ReviewPolicy, ApprovalPolicy>();

/**
 * The approval policy in force: the file's, or the one REVIEW_THRESHOLDS and REVIEW_NEW_RECIPIENTS stand for.
 * @example effectivePolicy(review).rules[0].name
 */
export function effectivePolicy(policy: ReviewPolicy): ApprovalPolicy {
  if (policy.rules) return policy.rules;
  let derived = shorthandPolicies.get(policy);
  if (!derived) {
    derived = policyFromShorthands(policy.thresholds, policy.reviewNewRecipients);
    shorthandPolicies.set(policy, derived);
  }
  return derived;
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
  /** The wallet's owner, allowlist and budgets, when the policy needs them. */
  facts?: WalletFacts;
  /** The time of day rules see (default now). */
  now?: Date;
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
 * The status, the reasons behind it, and the rule that decided (absent when the operation was refused before the policy).
 * @example decide({ reasons: [], intent, wallet, changes, newRecipients: [] }, policy) // { status: "approved", reasons: [], policy: { rule: "default", … } }
 */
export function decide(input: DecideInput, policy: ReviewPolicy): { status: DecisionStatus; reasons: Reason[]; policy?: PolicyDecision } {
  if (input.reasons.length > 0) return { status: "rejected", reasons: input.reasons };
  // Per asset, the larger of the gross outflow and the net decrease (NFTs have only the latter).
  const outflow = new Map<string, bigint>();
  for (const [asset, amount] of input.grossOutflow ?? []) outflow.set(assetKey(asset), amount);
  for (const c of input.changes) {
    if (c.account !== input.wallet || c.delta >= 0n) continue;
    if (-c.delta > (outflow.get(assetKey(c.asset)) ?? 0n)) outflow.set(assetKey(c.asset), -c.delta);
  }
  const rules = effectivePolicy(policy);
  const outcome = evaluatePolicy(rules, {
    kind: input.intent.kind,
    wallet: input.wallet,
    outflow,
    payees: payees(input.intent, input.wallet, input.changes),
    newPayees: input.newRecipients,
    facts: input.facts,
    now: input.now ?? new Date(),
  });
  let decision: PolicyDecision = {
    rule: outcome.rule,
    decide: outcome.decide,
    approvalsRequired: typeof outcome.decide === "object" ? outcome.decide.approve : 0,
    reversible: outcome.reversible,
    description: outcome.description,
  };
  if (outcome.decide === "deny") return { status: "rejected", reasons: outcome.reasons, policy: decision };
  const review = [...outcome.reasons];
  if (input.anomaly) {
    review.push({ code: "ANOMALY_FLAGGED", message: `anomaly flagged: ${input.anomaly}` });
    if (decision.approvalsRequired === 0) {
      decision = { ...decision, rule: "anomaly", decide: { approve: 1 }, approvalsRequired: 1, description: "the wallet is flagged: a person looks at every operation until the flag is cleared" };
    }
  }
  return decision.approvalsRequired > 0 ? { status: "pending_approval", reasons: review, policy: decision } : { status: "approved", reasons: [], policy: decision };
}

/** A token address checksummed, anything else ("native", "<contract>/<id>") as it is. */
function assetKey(asset: string): string {
  return /^0x[0-9a-fA-F]{40}$/.test(asset) ? getAddress(asset) : asset;
}
