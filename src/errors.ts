/**
 * Errors and reason codes. Every refusal carries a stable `code` (documented in docs/errors.md), a short
 * message and the details that explain it; one table maps codes to HTTP statuses.
 */

/** Reasons a proposed operation is refused or escalated; stable identifiers, never renamed. */
export const REASON_CODES = [
  // validate / authenticate
  "INVALID_REQUEST",
  "CHAIN_MISMATCH",
  "BAD_AGENT_SIGNATURE",
  "UNKNOWN_SESSION_KEY",
  "SESSION_KEY_EXPIRED",
  "DEADLINE_PASSED",
  "DEADLINE_TOO_FAR",
  "NONCE_USED",
  "WALLET_PAUSED",
  "WALLET_NOT_FOUND",
  "COSIGNER_MISMATCH",
  "NONCE_CONFLICT",
  "IDEMPOTENCY_CONFLICT",
  "BOUNDS_MISMATCH",
  // simulate
  "UPSTREAM_UNAVAILABLE",
  "FORK_STALE",
  "SIMULATION_FAILED",
  "SIMULATION_REVERTED",
  "BUSY",
  // compare (from the simulated changes)
  "INTENT_MISMATCH",
  "TRANSFER_SHORTFALL",
  "UNDECLARED_OUTFLOW",
  "UNDECLARED_INFLOW",
  "SWAP_SOLD_TOO_MUCH",
  "SWAP_BOUGHT_TOO_LITTLE",
  "STANDING_APPROVAL",
  "CONTROL_CHANGED",
  "WALLET_STATE_CHANGED",
  "UNREADABLE_BALANCE",
  "BALANCE_LOG_MISMATCH",
  "CALL_GAS_TOO_TIGHT",
  // decoded from the wallet's own custom errors
  "RECIPIENT_NOT_ALLOWED",
  "SPENDER_NOT_PERMITTED",
  "CALL_NOT_PERMITTED",
  "SELF_CALL",
  "MALFORMED_CALL",
  "OVER_BUDGET",
  "OVER_PER_OPERATION_CAP",
  "TOKEN_CALL_FAILED",
  "BOUND_VIOLATED",
  "INSUFFICIENT_GAS",
  // decide
  "ABOVE_REVIEW_THRESHOLD",
  "NEW_RECIPIENT",
  "ANOMALY_FLAGGED",
  "REJECTED_BY_APPROVER",
  "APPROVAL_STALE",
  "NOT_FOUND",
  "NOT_PENDING",
  // people in the loop (src/approvals)
  "APPROVAL_POLICY",
  "POLICY_DENIED",
  "APPROVAL_EXPIRED",
  "DUPLICATE_APPROVAL",
  // store / sign
  "STORE_UNAVAILABLE",
  // breaker
  "GUARDIAN_UNAVAILABLE",
  "NOT_A_GUARDIAN",
  // incidents
  "INCIDENT_NOT_OPEN",
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

/** One reason of a decision: a stable code and a sentence with the values that explain it. */
export interface Reason {
  code: ReasonCode;
  message: string;
}

/** HTTP status of a request refused before or instead of a decision. */
const STATUS: Partial<Record<ReasonCode, number>> = {
  INVALID_REQUEST: 400,
  CHAIN_MISMATCH: 400,
  BAD_AGENT_SIGNATURE: 401,
  UNKNOWN_SESSION_KEY: 401,
  SESSION_KEY_EXPIRED: 401,
  NONCE_USED: 409,
  NONCE_CONFLICT: 409,
  IDEMPOTENCY_CONFLICT: 409,
  WALLET_NOT_FOUND: 404,
  NOT_FOUND: 404,
  NOT_PENDING: 409,
  DUPLICATE_APPROVAL: 409,
  WALLET_PAUSED: 503,
  UPSTREAM_UNAVAILABLE: 503,
  FORK_STALE: 503,
  SIMULATION_FAILED: 503,
  BUSY: 503,
  STORE_UNAVAILABLE: 503,
  GUARDIAN_UNAVAILABLE: 503,
  NOT_A_GUARDIAN: 422,
  INCIDENT_NOT_OPEN: 409,
  DEADLINE_PASSED: 422,
  DEADLINE_TOO_FAR: 422,
  COSIGNER_MISMATCH: 422,
  BOUNDS_MISMATCH: 422,
  INSUFFICIENT_GAS: 422,
};

/**
 * The base error: a stable code, a short message and the details behind it (viem's BaseError shape).
 * @example throw new CountersignError("NONCE_CONFLICT", "nonce 7 was already decided with another digest", { nonce: 7n })
 */
export class CountersignError extends Error {
  override readonly name = "CountersignError";
  constructor(
    readonly code: ReasonCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The HTTP status this error answers with. */
  get status(): number {
    return STATUS[this.code] ?? 422;
  }
}

/** A request that failed validation: names the field and the reason. */
export class ValidationError extends CountersignError {
  constructor(readonly issues: { path: string; message: string }[]) {
    super("INVALID_REQUEST", issues.map((i) => `${i.path || "(body)"}: ${i.message}`).join("; "), { issues });
  }
}

/** What kind of failure an error from the chain, a node or the network is (revert, out of gas, upstream down). */
export { causes, errorData, hexDataOf, isOutOfGas, isRevert, isUpstreamFailure, RPC_ERROR_CODES } from "./errors/classify";
