/**
 * THE typed-data definition of an AgentWallet operation (version 2). The co-signer, the SDK and the tests all
 * import it, so what is signed off chain is, by construction, what `AgentWallet.operationDigest` hashes on chain.
 */
import { hashTypedData, type Address, type Hex, type TypedDataDomain } from "viem";

/** One call of an operation: CALL `target` with `value` wei and `data` (empty = native transfer). */
export interface Call {
  target: Address;
  value: bigint;
  data: Hex;
}

/** After the batch, `account`'s balance of `asset` (zero address = native ETH) changed by at least `minDelta`. */
export interface Bound {
  asset: Address;
  account: Address;
  /** Smallest allowed change, after minus before (base units; negative = outflow). */
  minDelta: bigint;
}

/** What both signatures bind: the calls, an unordered nonce, the last valid second, each call's gas, the outcome. */
export interface Operation {
  calls: readonly Call[];
  nonce: bigint;
  /** Last second the operation may run (unix seconds, inclusive). */
  deadline: bigint;
  /** Gas every call gets, exactly (gas). */
  callGasLimit: bigint;
  /** Outcome bounds the wallet checks after the batch. */
  bounds: readonly Bound[];
}

/** The EIP-712 domain version of AgentWallet operations. */
export const OPERATION_VERSION = "2";

/** EIP-712 types of `Operation`, in the exact order the contract's type hash uses. */
export const operationTypes = {
  Operation: [
    { name: "calls", type: "Call[]" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
    { name: "callGasLimit", type: "uint256" },
    { name: "bounds", type: "Bound[]" },
  ],
  Bound: [
    { name: "asset", type: "address" },
    { name: "account", type: "address" },
    { name: "minDelta", type: "int256" },
  ],
  Call: [
    { name: "target", type: "address" },
    { name: "value", type: "uint256" },
    { name: "data", type: "bytes" },
  ],
} as const;

/**
 * The EIP-712 domain of one wallet on one chain.
 * @example walletDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
 */
export function walletDomain(chainId: number | bigint, wallet: Address): TypedDataDomain {
  return { name: "AgentWallet", version: OPERATION_VERSION, chainId: Number(chainId), verifyingContract: wallet };
}

/**
 * Everything `signTypedData` needs to sign `op` for `wallet` on `chainId`.
 * @example await sessionKey.signTypedData(operationTypedData(31337, wallet, op))
 */
export function operationTypedData(chainId: number | bigint, wallet: Address, op: Operation) {
  return {
    domain: walletDomain(chainId, wallet),
    types: operationTypes,
    primaryType: "Operation" as const,
    message: {
      calls: op.calls.map((c) => ({ ...c })),
      nonce: op.nonce,
      deadline: op.deadline,
      callGasLimit: op.callGasLimit,
      bounds: op.bounds.map((b) => ({ ...b })),
    },
  };
}

/**
 * The digest both signatures sign; equals `AgentWallet.operationDigest(calls, nonce, deadline, callGasLimit, bounds)`.
 * @example const digest = operationDigest(31337, wallet, { calls, nonce: 1n, deadline: 1700000000n, callGasLimit: 1_000_000n, bounds: [] })
 */
export function operationDigest(chainId: number | bigint, wallet: Address, op: Operation): Hex {
  return hashTypedData(operationTypedData(chainId, wallet, op));
}

/** The execute() arguments of a signed operation, in the contract's order. */
export function executeArgs(op: Operation, agentSignature: Hex, cosignerSignature: Hex) {
  return [
    op.calls.map((c) => ({ ...c })),
    op.nonce,
    op.deadline,
    op.callGasLimit,
    op.bounds.map((b) => ({ ...b })),
    agentSignature,
    cosignerSignature,
  ] as const;
}
