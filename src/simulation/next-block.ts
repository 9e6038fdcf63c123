/**
 * The next block's settings on the fork's EVM: its timestamp and base fee, and a relayer balance a real relayer
 * might have. Used by simulations (simulate.ts), next to the EVM (evm-host.ts).
 */
import { toHex, type Address, type Hex } from "viem";
import type { EvmRequest } from "./evm";

/** The block environment a simulation runs in: what the real next block will look like. */
export interface BlockEnv {
  number: bigint;
  timestamp: bigint;
  baseFeePerGas: bigint;
  coinbase: string;
  gasLimit: bigint;
}

/** What the simulated relayer holds beyond the gas it pays for (wei): a balance a real relayer might have. */
export const RELAYER_SPARE = 250_000_000_000_000_000n;

/**
 * A JSON-RPC request to an EVM; `batch`, when the EVM takes batches, sends several as one (see Evm.batch).
 * @example const [receipt, code] = await batchOf(rpc)([{ method: "eth_getTransactionReceipt", params: [hash] }, …])
 */
export type EvmCall = (<T = unknown>(method: string, params?: unknown[]) => Promise<T>) & { batch?: EvmBatch };

/** Requests run in order as one: their answers, or the first failure (the requests after it did not run). */
export type EvmBatch = (requests: readonly EvmRequest[]) => Promise<unknown[]>;

/**
 * `rpc`'s batches: its own, or its requests one after another (the same answers and the same first failure).
 * @example const [a, b] = await batchOf(rpc)([{ method: "eth_chainId", params: [] }, { method: "eth_blockNumber", params: [] }])
 */
export function batchOf(rpc: EvmCall): EvmBatch {
  if (rpc.batch) return rpc.batch;
  return async (requests) => {
    const answers: unknown[] = [];
    for (const r of requests) answers.push(await rpc(r.method, r.params));
    return answers;
  };
}

/**
 * The fee fields of a simulated transaction: a real, non-zero gas price.
 * @example feeFields(env, 1_000_000_000n) // { maxFeePerGas: "0x…", maxPriorityFeePerGas: "0x3b9aca00" }
 */
export function feeFields(env: BlockEnv, priorityFee: bigint): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } {
  return { maxFeePerGas: toHex(env.baseFeePerGas * 2n + priorityFee), maxPriorityFeePerGas: toHex(priorityFee) };
}

/**
 * The next block's settings on the fork's EVM: its timestamp and base fee, and the relayer's balance (the gas it pays
 * for plus RELAYER_SPARE). EDR's revert restores the settings of the snapshot, so set before a run's snapshot they
 * hold for every later run at the same state version (`key`).
 * @example if (set !== nextBlock.key(env, version)) await batchOf(rpc)([...nextBlock.requests(env), snapshot])
 */
export class NextBlock {
  constructor(
    private readonly relayer: Address,
    private readonly priorityFee: bigint,
  ) {}

  /** What the settings of `env` at state version `version` are: equal keys, equal settings. */
  key(env: BlockEnv, version: number): string {
    return `${version}:${env.timestamp}:${env.baseFeePerGas}:${env.gasLimit}`;
  }

  /** The requests that set them. */
  requests(env: BlockEnv): EvmRequest[] {
    const upfront = env.gasLimit * BigInt(feeFields(env, this.priorityFee).maxFeePerGas);
    return [
      { method: "evm_setNextBlockTimestamp", params: [toHex(env.timestamp)] },
      { method: "hardhat_setNextBlockBaseFeePerGas", params: [toHex(env.baseFeePerGas)] },
      { method: "hardhat_setBalance", params: [this.relayer, toHex(upfront + RELAYER_SPARE)] },
    ];
  }
}
