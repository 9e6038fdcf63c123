/**
 * The SDK's errors: the co-signer refused (a decision with reasons), the co-signer could not decide (an HTTP error
 * body), or the wallet refused on chain (a decoded custom error). Each has a stable `code` to branch on.
 */
import type { Hex, TransactionReceipt } from "viem";
import type { Decision } from "../api";
import type { Reason, ReasonCode } from "../errors";
import { describeRevert, revertReason } from "../policy/revert-reasons";

/**
 * The base of every SDK error (viem's BaseError shape: a stable code, a short message, the details).
 * @example catch (e) { if (e instanceof CosignerClientError) log(e.code) }
 */
export class CosignerClientError extends Error {
  override name = "CosignerClientError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The co-signer decided `rejected` (HTTP 422 with a decision): its reasons say why, e.g. RECIPIENT_NOT_ALLOWED.
 * @example try { await client.transfer(t) } catch (e) { if (e instanceof CosignerRejectedError) console.log(e.codes) }
 */
export class CosignerRejectedError extends CosignerClientError {
  override name = "CosignerRejectedError";
  /** The reason codes, in the co-signer's order. */
  readonly codes: ReasonCode[];
  readonly reasons: Reason[];
  constructor(readonly decision: Decision) {
    super(decision.reasons[0]?.code ?? "REJECTED", `the co-signer rejected operation ${decision.id}: ${formatReasons(decision.reasons)}`);
    this.reasons = decision.reasons;
    this.codes = decision.reasons.map((r) => r.code);
  }
}

/**
 * The co-signer answered with an error body instead of a decision (400, 401, 404, 409, 429, 503), or could not be
 * reached (status 0, code UNREACHABLE).
 * @example catch (e) { if (e instanceof CosignerRequestError && e.code === "WALLET_PAUSED") stop() }
 */
export class CosignerRequestError extends CosignerClientError {
  override name = "CosignerRequestError";
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(code, `${status ? `HTTP ${status} ` : ""}${code}: ${message}`);
  }
}

/**
 * `execute` reverted: the wallet (or a call it made) refused. `errorName`/`args` are the decoded custom error,
 * `code` the co-signer's reason code for it (e.g. BudgetExceeded → OVER_BUDGET). `txHash` is set when the
 * transaction was mined and reverted; unset when the revert was found before sending (gas estimation).
 * @example catch (e) { if (e instanceof ExecutionRevertedError && e.errorName === "BudgetExceeded") wait() }
 */
export class ExecutionRevertedError extends CosignerClientError {
  override name = "ExecutionRevertedError";
  /** The decoded error, e.g. "BudgetExceeded" ("" when it could not be decoded). */
  readonly errorName: string;
  readonly args: readonly unknown[];
  /** Human text, e.g. `BudgetExceeded(0x…, 500000000, 380000000)`. */
  readonly text: string;
  constructor(
    readonly data: Hex | undefined,
    readonly stage: "estimate" | "mined",
    readonly txHash?: Hex,
    readonly receipt?: TransactionReceipt,
  ) {
    const decoded = describeRevert(data);
    const reason = revertReason(data);
    super(reason.code, `execute reverted ${stage === "mined" ? `on chain in ${txHash}` : "(found before sending)"}: ${decoded.text}`);
    this.errorName = decoded.name;
    this.args = decoded.args;
    this.text = decoded.text;
  }
}

function formatReasons(reasons: readonly Reason[]): string {
  return reasons.length ? reasons.map((r) => `${r.code} (${r.message})`).join("; ") : "no reason given";
}
