/** The in-process EVM (Hardhat's EDR) the co-signer simulates on: one configuration for the fork and the benchmarks. */
import { createHardhatNetworkProvider } from "hardhat/internal/hardhat-network/provider/provider";

/** A JSON-RPC request function (EIP-1193 style). */
export interface Rpc {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface EvmOptions {
  chainId: number;
  /** Block gas limit (gas). */
  gasLimit: bigint;
  /** EVM rules of the blocks it mines. */
  hardfork: string;
  /** Coinbase of the blocks it mines. */
  coinbase?: string;
  /** Fork `url` at `block` (state reads of anything not held locally go there). */
  fork?: { url: string; block: bigint };
}

/**
 * An automining in-process chain that throws on failed transactions and calls (the revert data is on the error).
 * @example const rpc = await createEvm({ chainId: 31337, gasLimit: 30_000_000n, hardfork: "prague" })
 */
export async function createEvm(options: EvmOptions): Promise<Rpc> {
  return (await createHardhatNetworkProvider(
    {
      hardfork: options.hardfork,
      chainId: options.chainId,
      networkId: options.chainId,
      blockGasLimit: Number(options.gasLimit),
      minGasPrice: 0n,
      automine: true,
      intervalMining: 0,
      mempoolOrder: "priority",
      chains: new Map(),
      genesisAccounts: [],
      allowUnlimitedContractSize: false,
      throwOnTransactionFailures: true,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: true,
      ...(options.coinbase ? { coinbase: options.coinbase } : {}),
      ...(options.fork ? { forkConfig: { jsonRpcUrl: options.fork.url, blockNumber: Number(options.fork.block) } } : {}),
      enableTransientStorage: true,
      enableRip7212: false,
    },
    { enabled: false },
  )) as Rpc;
}

