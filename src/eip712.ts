/**
 * THE typed-data definition of an AgentWallet operation (version 2). The co-signer, the SDK and the tests all
 * import it, so what is signed off chain is, by construction, what `AgentWallet.operationDigest` hashes on chain.
 */
import { keccak_256 } from "js-sha3";
import { bytesToHex, hashDomain, hexToBytes, stringToBytes, type Address, type Hex, type TypedDataDomain } from "viem";

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
  // EIP-712 by hand: viem's hashTypedData validates and re-derives the types on every call, which cost more than a
  // millisecond of every decision. test/eip712.spec.ts holds this equal to hashTypedData and to the contract.
  const callHashes = new Uint8Array(32 * op.calls.length);
  op.calls.forEach((c, i) => {
    const hash = structHash(CALL_TYPEHASH, 3, (words) => {
      putAddress(words, 32, c.target);
      putUint(words, 64, c.value);
      words.set(keccak(hexToBytes(c.data)), 96);
    });
    callHashes.set(hash, 32 * i);
  });
  const boundHashes = new Uint8Array(32 * op.bounds.length);
  op.bounds.forEach((b, i) => {
    const hash = structHash(BOUND_TYPEHASH, 3, (words) => {
      putAddress(words, 32, b.asset);
      putAddress(words, 64, b.account);
      putUint(words, 96, BigInt.asUintN(256, b.minDelta));
    });
    boundHashes.set(hash, 32 * i);
  });
  const operationHash = structHash(OPERATION_TYPEHASH, 5, (words) => {
    words.set(keccak(callHashes), 32);
    putUint(words, 64, op.nonce);
    putUint(words, 96, op.deadline);
    putUint(words, 128, op.callGasLimit);
    words.set(keccak(boundHashes), 160);
  });
  const message = new Uint8Array(66);
  message[0] = 0x19;
  message[1] = 0x01;
  message.set(domainSeparator(chainId, wallet), 2);
  message.set(operationHash, 34);
  return bytesToHex(keccak(message));
}

// js-sha3's keccak: a third of the CPU of viem's (noble's) for these 32–300-byte inputs (measured 8.4 against 26.8 µs
// a hash); a digest takes six or more. test/eip712.spec.ts holds the digest equal to viem's hashTypedData.
const keccak = (bytes: Uint8Array): Uint8Array => new Uint8Array(keccak_256.arrayBuffer(bytes));
const typeHash = (type: string) => keccak(stringToBytes(type));
// encodeType: the primary type, then the types it references in alphabetical order.
const CALL_TYPE = "Call(address target,uint256 value,bytes data)";
const BOUND_TYPE = "Bound(address asset,address account,int256 minDelta)";
const OPERATION_TYPEHASH = typeHash(
  `Operation(Call[] calls,uint256 nonce,uint256 deadline,uint256 callGasLimit,Bound[] bounds)${BOUND_TYPE}${CALL_TYPE}`,
);
const CALL_TYPEHASH = typeHash(CALL_TYPE);
const BOUND_TYPEHASH = typeHash(BOUND_TYPE);

/** hashStruct: keccak256 of `typeHash` followed by the `fields` words `fill` writes (at 32, 64, …). */
function structHash(typeHash: Uint8Array, fields: number, fill: (words: Uint8Array) => void): Uint8Array {
  const words = new Uint8Array(32 * (fields + 1));
  words.set(typeHash, 0);
  fill(words);
  return keccak(words);
}

/** `value` (0 ≤ value < 2^256) as a big-endian word at `offset`. */
function putUint(out: Uint8Array, offset: number, value: bigint): void {
  if (value < 0n || value >= 1n << 256n) throw new RangeError(`${value} is not a uint256`);
  let v = value;
  for (let i = offset + 31; i >= offset && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** `address` right-aligned in the word at `offset`. */
function putAddress(out: Uint8Array, offset: number, address: Address): void {
  const bytes = hexToBytes(address);
  if (bytes.length !== 20) throw new TypeError(`${address} is not an address`);
  out.set(bytes, offset + 12);
}

const domainSeparators = new Map<string, Uint8Array>();
/** The wallet's EIP-712 domain separator, computed once per (chain, wallet). */
function domainSeparator(chainId: number | bigint, wallet: Address): Uint8Array {
  const id = `${chainId}:${wallet.toLowerCase()}`;
  let separator = domainSeparators.get(id);
  if (!separator) {
    separator = hexToBytes(
      hashDomain({
        domain: { name: "AgentWallet", version: OPERATION_VERSION, chainId: BigInt(chainId), verifyingContract: wallet },
        types: {
          EIP712Domain: [
            { name: "name", type: "string" },
            { name: "version", type: "string" },
            { name: "chainId", type: "uint256" },
            { name: "verifyingContract", type: "address" },
          ],
        },
      }),
    );
    if (domainSeparators.size >= 4096) domainSeparators.clear();
    domainSeparators.set(id, separator);
  }
  return separator;
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
