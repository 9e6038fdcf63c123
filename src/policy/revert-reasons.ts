/**
 * The one mapper from the wallet's custom errors to reason codes: a reverting simulation is refused with the
 * decoded error, its arguments, and the reason code a caller can act on.
 */
import { decodeErrorResult, type Abi, type Hex } from "viem";
import { loadArtifact } from "../chain/artifacts";
import type { Reason, ReasonCode } from "../errors";

const WALLET_ERRORS: Record<string, ReasonCode> = {
  WalletPaused: "WALLET_PAUSED",
  DeadlineExpired: "DEADLINE_PASSED",
  NonceAlreadyUsed: "NONCE_USED",
  InvalidAgentSignature: "BAD_AGENT_SIGNATURE",
  UnknownSessionKey: "UNKNOWN_SESSION_KEY",
  SessionKeyExpired: "SESSION_KEY_EXPIRED",
  CosignerNotSet: "COSIGNER_MISMATCH",
  InvalidCosignerSignature: "COSIGNER_MISMATCH",
  SelfCallNotAllowed: "SELF_CALL",
  RecipientNotAllowed: "RECIPIENT_NOT_ALLOWED",
  SpenderNotPermitted: "SPENDER_NOT_PERMITTED",
  CallNotPermitted: "CALL_NOT_PERMITTED",
  MalformedCall: "MALFORMED_CALL",
  TokenCallFailed: "TOKEN_CALL_FAILED",
  PerOperationCapExceeded: "OVER_PER_OPERATION_CAP",
  BudgetExceeded: "OVER_BUDGET",
  StandingApproval: "STANDING_APPROVAL",
  InvalidCallCount: "MALFORMED_CALL",
  // The request schema caps bounds at MAX_BOUNDS already; a wallet that still refuses the count is malformed input.
  InvalidBoundCount: "MALFORMED_CALL",
  BoundViolated: "BOUND_VIOLATED",
  InsufficientGas: "INSUFFICIENT_GAS",
  BalanceUnreadable: "UNREADABLE_BALANCE",
};

const STANDARD_ERRORS: Abi = [
  { type: "error", name: "Error", inputs: [{ name: "message", type: "string" }] },
  { type: "error", name: "Panic", inputs: [{ name: "code", type: "uint256" }] },
];

let abis: Abi[] | undefined;
function errorAbis(): Abi[] {
  abis ??= [
    loadArtifact("AgentWallet").abi,
    loadArtifact("MockDex").abi,
    loadArtifact("MockERC20").abi,
    STANDARD_ERRORS,
  ];
  return abis;
}

/** A decoded revert: the error's name and arguments as text, e.g. `BudgetExceeded(0xA0b8…, 600000000, 500000000)`. */
export function describeRevert(data: Hex | undefined): { name: string; text: string; args: readonly unknown[] } {
  if (!data || data === "0x") return { name: "", text: "reverted without data", args: [] };
  for (const abi of errorAbis()) {
    try {
      const decoded = decodeErrorResult({ abi, data });
      const args = (decoded.args ?? []) as readonly unknown[];
      if (decoded.errorName === "CallReverted") {
        const inner = describeRevert(args[1] as Hex);
        return { name: decoded.errorName, text: `CallReverted(call ${args[0]}: ${inner.text})`, args };
      }
      return { name: decoded.errorName, text: `${decoded.errorName}(${args.map(show).join(", ")})`, args };
    } catch {
      // not this ABI's error
    }
  }
  return { name: "", text: `reverted with unknown data ${data.slice(0, 74)}`, args: [] };
}

/**
 * The reason of a reverting simulation: the wallet's own refusals keep their code, anything else is SIMULATION_REVERTED.
 * @example revertReason("0x…") // { code: "OVER_BUDGET", message: "the wallet refuses: BudgetExceeded(…)" }
 */
export function revertReason(data: Hex | undefined): Reason {
  const { name, text } = describeRevert(data);
  const code = WALLET_ERRORS[name];
  if (code) return { code, message: `the wallet refuses on chain: ${text}` };
  return { code: "SIMULATION_REVERTED", message: `the operation reverts on the fork: ${text}` };
}

function show(v: unknown): string {
  return typeof v === "bigint" ? v.toString() : String(v);
}
