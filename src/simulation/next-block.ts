/**
 * The next block's settings on the fork's EVM: its timestamp and base fee, and a relayer balance a real relayer
 * might have. Used by simulations (simulate.ts), next to the EVM (evm-host.ts).
 */
import { toHex, type Address, type Hex } from "viem";

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

/** A JSON-RPC request to an EVM. */
export type EvmCall = <T = unknown>(method: string, params?: unknown[]) => Promise<T>;

/**
 * The fee fields of a simulated transaction: a real, non-zero gas price.
 * @example feeFields(env, 1_000_000_000n) // { maxFeePerGas: "0x…", maxPriorityFeePerGas: "0x3b9aca00" }
 */
export function feeFields(env: BlockEnv, priorityFee: bigint): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } {
  return { maxFeePerGas: toHex(env.baseFeePerGas * 2n + priorityFee), maxPriorityFeePerGas: toHex(priorityFee) };
}

/**
 * Sets the next block's settings, once per state version and environment: EDR's revert restores the settings of
 * the snapshot, so set before a run's snapshot they hold for every later run at the same state version.
 * @example await nextBlock.set(rpc, env, version); const snapshot = await rpc("evm_snapshot")
 */
export class NextBlock {
  private setFor?: string;

  constructor(
    private readonly relayer: Address,
    private readonly priorityFee: bigint,
  ) {}

  /** Sets the timestamp and base fee of `env` and the relayer's balance (the gas it pays for plus RELAYER_SPARE). */
  async set(rpc: EvmCall, env: BlockEnv, version: number): Promise<void> {
    const key = `${version}:${env.timestamp}:${env.baseFeePerGas}:${env.gasLimit}`;
    if (this.setFor === key) return;
    this.setFor = undefined;
    const upfront = env.gasLimit * BigInt(feeFields(env, this.priorityFee).maxFeePerGas);
    await Promise.all([
      rpc("evm_setNextBlockTimestamp", [toHex(env.timestamp)]),
      rpc("hardhat_setNextBlockBaseFeePerGas", [toHex(env.baseFeePerGas)]),
      rpc("hardhat_setBalance", [this.relayer, toHex(upfront + RELAYER_SPARE)]),
    ]);
    this.setFor = key;
  }
}
