/**
 * POST /v1/operations on the wire: the request body as JSON, and the ONE encoder that builds it from typed values.
 * The encoder is the inverse of the service's parser (`parseOperationRequest`, src/intent/schema.ts): bigints become
 * decimal strings, addresses and hex pass as they are, so a body it builds parses back to the operation that was
 * signed (test/api/encode.spec.ts proves it by the EIP-712 digest).
 */
import type { Address, Hex } from "viem";
import type { z } from "zod";
import type { Bound, Call } from "../eip712";
import { operationRequestSchema, type Intent, type intentSchema } from "../intent/schema";

export { operationRequestSchema, parseOperationRequest, type OperationRequest } from "../intent/schema";

/** One call as JSON: `value` in wei as a decimal string. */
export interface CallBody {
  target: Address;
  value: string;
  data: Hex;
}

/** One outcome bound as JSON: `minDelta` in base units as a signed decimal string; `asset` zero = native ETH. */
export interface BoundBody {
  asset: Address;
  account: Address;
  minDelta: string;
}

/** An intent as JSON: amounts as decimal strings (what the service's intentSchema parses). */
export type IntentBody = z.input<typeof intentSchema>;

/** The body of POST /v1/operations, exactly as it goes on the wire. */
export interface OperationRequestBody {
  chainId: number;
  wallet: Address;
  calls: CallBody[];
  /** Decimal strings: unordered nonce; last valid second (unix seconds, inclusive); gas every call gets. */
  nonce: string;
  deadline: string;
  callGasLimit: string;
  bounds: BoundBody[];
  agentSignature: Hex;
  intent: IntentBody;
  idempotencyKey?: string;
}

/**
 * A typed operation request: the operation the session key signed (bigints), its signature and intent.
 * `intent` is typed (bigint amounts) or already JSON (sent as given, unchecked: the service validates it).
 */
export interface OperationRequestInput {
  chainId: number;
  wallet: Address;
  calls: readonly Call[];
  nonce: bigint;
  deadline: bigint;
  callGasLimit: bigint;
  bounds: readonly Bound[];
  intent: Intent | IntentBody;
  agentSignature: Hex;
  /** Makes a retried request answer the first decision; omitted from the body when empty. */
  idempotencyKey?: string;
}

/**
 * The JSON body of POST /v1/operations for a typed request (fields other than those of the body are ignored).
 * @example await fetch(`${url}/v1/operations`, { method: "POST", headers, body: JSON.stringify(encodeOperationRequest(proposal)) })
 */
export function encodeOperationRequest(req: OperationRequestInput): OperationRequestBody {
  const body: OperationRequestBody = {
    chainId: req.chainId,
    wallet: req.wallet,
    calls: req.calls.map((c) => ({ target: c.target, value: c.value.toString(), data: c.data })),
    nonce: req.nonce.toString(),
    deadline: req.deadline.toString(),
    callGasLimit: req.callGasLimit.toString(),
    bounds: req.bounds.map((b) => ({ asset: b.asset, account: b.account, minDelta: b.minDelta.toString() })),
    agentSignature: req.agentSignature,
    intent: encodeIntent(req.intent),
    ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
  };
  // Compile-time check: the body is an input the service's parser takes (a field it requires cannot be missing here).
  return body satisfies z.input<typeof operationRequestSchema>;
}

/**
 * The JSON form of an intent: amounts as decimal strings. An intent that carries no bigint is already JSON and is
 * returned as given.
 * @example encodeIntent({ kind: "transfer", asset: "native", to: alice, amount: 10n }) // { kind: "transfer", asset: "native", to: alice, amount: "10" }
 */
export function encodeIntent(intent: Intent | IntentBody): IntentBody {
  if (!carriesBigint(intent)) return intent as IntentBody;
  const typed = intent as Intent;
  switch (typed.kind) {
    case "transfer":
      return { ...typed, amount: typed.amount.toString() };
    case "swap":
      return {
        ...typed,
        sell: { asset: typed.sell.asset, maxAmount: typed.sell.maxAmount.toString() },
        buy: { asset: typed.buy.asset, minAmount: typed.buy.minAmount.toString() },
      };
    case "call":
      return { ...typed, expect: typed.expect.map((e) => ({ asset: e.asset, delta: e.delta.toString() })) };
  }
}

function carriesBigint(value: unknown): boolean {
  if (typeof value === "bigint") return true;
  return typeof value === "object" && value !== null && Object.values(value).some(carriesBigint);
}

/**
 * What the OpenAPI document says about the fields of POST /v1/operations (src/intent/schema.ts parses them; these
 * are the words for people and generated clients). Version 2 of the operation added callGasLimit and bounds.
 */
export const operationRequestDocs = {
  chainId: "Chain id of the wallet's chain (the co-signer serves one)",
  wallet: "The AgentWallet",
  calls: "The batch, in order: CALL target with value wei and data (0x = a native transfer)",
  nonce: "Unordered nonce (decimal string; each used once)",
  deadline: "Last second the operation may run (unix seconds, inclusive; decimal string)",
  callGasLimit:
    "Gas every call gets, exactly (decimal string, 1 to 1000000000; the SDK's default is 1000000). Signed: the wallet forwards " +
    "exactly this gas to each call and reverts InsufficientGas if the relayer left too little; the co-signer simulates with it " +
    "and refuses calls that use close to all of it (CALL_GAS_TOO_TIGHT)",
  bounds:
    "Outcome bounds, signed, checked by the wallet after the batch (BoundViolated otherwise): exactly deriveBounds(intent, wallet) " +
    "of src/intent/bounds.ts, in its order (transfer: wallet >= -amount, recipient >= +amount; swap: wallet >= -sell.maxAmount of " +
    "the sold asset, >= +buy.minAmount of the bought one; call: wallet >= each declared delta), or [] for a plain transfer of " +
    "native ETH or of a budgeted token. Anything else is rejected with BOUNDS_MISMATCH",
  "bounds[].asset": "Token address, or 0x0000000000000000000000000000000000000000 for native ETH",
  "bounds[].account": "Whose balance is bounded (the wallet, or a transfer's recipient)",
  "bounds[].minDelta": "Smallest allowed change of the balance, after minus before (signed decimal string in base units; negative = outflow)",
  agentSignature: "EIP-712 signature of Operation(calls, nonce, deadline, callGasLimit, bounds) by a session key (domain AgentWallet, version 2)",
  intent: "What the agent means to do; the fork's balance changes must match it",
  idempotencyKey: "A retried request with the same key answers the first decision",
} as const satisfies Record<string, string>;
