/** The in-process EVM (Hardhat's EDR) the co-signer simulates on: one configuration for the fork and the benchmarks. */
import type { Response } from "@nomicfoundation/edr";
import { InvalidArgumentsError, ProviderError } from "hardhat/internal/core/providers/errors";
import { createHardhatNetworkProvider } from "hardhat/internal/hardhat-network/provider/provider";
import { encodeSolidityStackTrace } from "hardhat/internal/hardhat-network/stack-traces/solidity-errors";

/** A JSON-RPC request function (EIP-1193 style). */
export interface Rpc {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

/** One JSON-RPC request to an EVM. */
export interface EvmRequest {
  method: string;
  params: unknown[];
}

/** The in-process EVM: single requests, and batches that cross into EDR once. */
export interface Evm extends Rpc {
  /**
   * Runs `requests` in order as one request to EDR: their answers, or the first one's failure (as `request` would
   * throw it), and then the requests after it did not run. EDR's cost is per request crossed, whatever it does (a
   * thread hand-off each way and the JSON): measured, an `eth_getStorageAt` costs 90–180 µs of CPU alone and 21–24 µs
   * in a batch of five.
   */
  batch(requests: readonly EvmRequest[]): Promise<unknown[]>;
}

/** What Hardhat's provider wraps: EDR's own provider, which takes JSON-RPC batches (Hardhat's `request` does not). */
interface EdrProvider {
  handleRequest(request: string): Promise<Response>;
}

type JsonRpcAnswer = { result: unknown } | { error: { code: number; message: string; data?: { data?: unknown; transactionHash?: unknown } } };

/**
 * The error Hardhat's provider throws for the same failure (its EdrProviderWrapper.request, Hardhat 2.29): a
 * SolidityError when EDR has a stack trace for it, else a ProviderError; the classifiers (errors/classify.ts) read both.
 */
function providerErrorOf(answer: Extract<JsonRpcAnswer, { error: unknown }>, response: Response): Error {
  const { code, message, data } = answer.error;
  let stackTrace = null;
  try {
    stackTrace = response.stackTrace();
  } catch {
    // As Hardhat: no stack trace, the plain error.
  }
  if (stackTrace !== null) {
    const error = encodeSolidityStackTrace(message, stackTrace) as Error & { data?: unknown; transactionHash?: unknown };
    error.data = data?.data ?? undefined;
    error.transactionHash = data?.transactionHash ?? undefined;
    return error;
  }
  const error = code === InvalidArgumentsError.CODE ? new InvalidArgumentsError(message) : new ProviderError(message, code);
  (error as ProviderError & { data?: unknown }).data = data;
  return error;
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
export async function createEvm(options: EvmOptions): Promise<Evm> {
  const provider = (await createHardhatNetworkProvider(
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
      // simulate.ts takes a sent transaction that did not throw for one that succeeded (status 1).
      throwOnTransactionFailures: true,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: true,
      ...(options.coinbase ? { coinbase: options.coinbase } : {}),
      ...(options.fork ? { forkConfig: { jsonRpcUrl: options.fork.url, blockNumber: Number(options.fork.block) } } : {}),
      enableTransientStorage: true,
      enableRip7212: false,
    },
    { enabled: false },
  )) as Rpc & { _provider?: Partial<EdrProvider> };
  const edr = provider._provider;
  // Hardhat's wrapper keeps EDR's provider in a private field: a Hardhat whose wrapper differs fails here, at start.
  if (typeof edr?.handleRequest !== "function") throw new Error("Hardhat's EDR provider is not where Hardhat 2.29 keeps it (its _provider): batches cannot be sent");
  const handle = edr.handleRequest.bind(edr);
  return Object.assign(provider, {
    async batch(requests: readonly EvmRequest[]): Promise<unknown[]> {
      if (requests.length === 0) return [];
      const response = await handle(JSON.stringify(requests.map((r, id) => ({ jsonrpc: "2.0", id, method: r.method, params: r.params }))));
      const answer = (typeof response.data === "string" ? JSON.parse(response.data) : response.data) as JsonRpcAnswer;
      if ("error" in answer) throw providerErrorOf(answer, response);
      return answer.result as unknown[];
    },
  });
}

