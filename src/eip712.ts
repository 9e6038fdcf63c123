/**
 * THE typed-data definition of an AgentWallet operation. The co-signer, the SDK and the tests all import it,
 * so what is signed off chain is, by construction, what `AgentWallet.operationDigest` hashes on chain.
 */
import { hashTypedData, type Address, type Hex, type TypedDataDomain } from "viem";

/** One call of an operation: CALL `target` with `value` wei and `data` (empty = native transfer). */
export interface Call {
  target: Address;
  value: bigint;
  data: Hex;
}

/** What both signatures bind: the calls, an unordered nonce and the last valid second. */
export interface Operation {
  calls: readonly Call[];
  nonce: bigint;
  /** Last second the operation may run (unix seconds, inclusive). */
  deadline: bigint;
}

/** EIP-712 types of `Operation`, in the exact order the contract's type hash uses. */
export const operationTypes = {
  Operation: [
    { name: "calls", type: "Call[]" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
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
  return { name: "AgentWallet", version: "1", chainId: Number(chainId), verifyingContract: wallet };
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
    message: { calls: op.calls.map((c) => ({ ...c })), nonce: op.nonce, deadline: op.deadline },
  };
}

/**
 * The digest both signatures sign; equals `AgentWallet.operationDigest(calls, nonce, deadline)`.
 * @example const digest = operationDigest(31337, wallet, { calls, nonce: 1n, deadline: 1700000000n })
 */
export function operationDigest(chainId: number | bigint, wallet: Address, op: Operation): Hex {
  return hashTypedData(operationTypedData(chainId, wallet, op));
}
