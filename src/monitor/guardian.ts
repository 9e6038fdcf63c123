/**
 * The guardian key: the breaker's hand on the chain. It can only stop things (`pause()`, `revokeSessionKey(key)`); the owner
 * alone starts them again. The key is loaded once (a keystore, or a raw key in development), lives inside a viem
 * local account, and is never logged or serialised.
 */
import { inspect } from "node:util";
import { createPublicClient, createWalletClient, http, type Address, type Chain, type Hex, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { loadArtifact } from "../chain/artifacts";
import type { Config } from "../config";
import { CountersignError } from "../errors";
import { publicMessage } from "../errors/classify";
import { Mutex } from "../simulation/mutex";

/** What a breaker transaction (pause, revocation) sent on chain came to. */
export interface PauseResult {
  txHash: Hex;
  /** "confirmed" once mined and successful; "submitted" when no receipt came within the wait. */
  status: "confirmed" | "submitted";
  blockNumber?: bigint;
  /** The mined block's timestamp (unix seconds). */
  blockTimestamp?: bigint;
}

/** A breaker transaction sent but perhaps not yet mined: `mined` settles with its receipt (or rejects if it reverted). */
export interface SentBreakerTx {
  txHash: Hex;
  mined: Promise<PauseResult>;
}

/**
 * Sends breaker transactions with the guardian key: `pause()` and `revokeSessionKey(key)`, both of which only stop
 * things. Sending is serialised (one nonce at a time); waiting for receipts is not.
 * @example const guardian = await Guardian.fromConfig(config, upstreamUrl); await guardian?.pause(wallet)
 */
export class Guardian {
  readonly address: Address;
  readonly #account: LocalAccount;
  private readonly mutex = new Mutex();
  private chain?: Chain;

  constructor(
    account: LocalAccount,
    private readonly upstreamUrl: string,
    private readonly receiptTimeoutMs = 60_000,
  ) {
    this.#account = account;
    this.address = account.address;
  }

  /** The guardian from GUARDIAN_KEYSTORE_PATH (+ password) or GUARDIAN_PRIVATE_KEY; undefined when neither is set. */
  static async fromConfig(config: Config, upstreamUrl: string): Promise<Guardian | undefined> {
    if (config.GUARDIAN_KEYSTORE_PATH) {
      const { Wallet } = await import("ethers");
      const { readFile } = await import("node:fs/promises");
      const wallet = await Wallet.fromEncryptedJson(await readFile(config.GUARDIAN_KEYSTORE_PATH, "utf8"), config.GUARDIAN_KEYSTORE_PASSWORD ?? "");
      return new Guardian(privateKeyToAccount(wallet.privateKey as Hex), upstreamUrl);
    }
    if (config.GUARDIAN_PRIVATE_KEY) return new Guardian(privateKeyToAccount(config.GUARDIAN_PRIVATE_KEY as Hex), upstreamUrl);
    return undefined;
  }

  /**
   * Sends `pause()` to `wallet` on the upstream chain and waits for its receipt.
   * @throws CountersignError UPSTREAM_UNAVAILABLE when the chain cannot be reached or the transaction reverted.
   * @example const { txHash, status } = await guardian.pause(wallet)
   */
  async pause(wallet: Address): Promise<PauseResult> {
    return (await this.sendPause(wallet)).mined;
  }

  /**
   * Sends `revokeSessionKey(key)` to `wallet` and waits for its receipt: that key can sign nothing more.
   * @throws CountersignError UPSTREAM_UNAVAILABLE when the chain cannot be reached or the transaction reverted.
   * @example await guardian.revokeSessionKey(wallet, agentKey)
   */
  async revokeSessionKey(wallet: Address, key: Address): Promise<PauseResult> {
    return (await this.sendRevoke(wallet, key)).mined;
  }

  /**
   * Sends `pause()` and returns once the node accepted it; `mined` settles later.
   * @example const { txHash, mined } = await guardian.sendPause(wallet)
   */
  async sendPause(wallet: Address): Promise<SentBreakerTx> {
    return this.send(wallet, "pause", []);
  }

  /**
   * Sends `revokeSessionKey(key)` and returns once the node accepted it; `mined` settles later.
   * @example const { txHash, mined } = await guardian.sendRevoke(wallet, key)
   */
  async sendRevoke(wallet: Address, key: Address): Promise<SentBreakerTx> {
    return this.send(wallet, "revokeSessionKey", [key]);
  }

  /**
   * Sends a stuck breaker transaction again: when `previous` still waits in the node's pool, a replacement with the
   * same nonce and fees at least 25% higher (and at least what the chain asks now); when the node no longer knows it,
   * a new transaction. The caller checked that its effect does not hold on chain yet.
   * @example const { txHash, mined } = await guardian.resend(wallet, "pause", null, stuckTxHash)
   */
  async resend(wallet: Address, kind: "pause" | "revoke", key: Address | null, previous: Hex): Promise<SentBreakerTx> {
    const [functionName, args] = kind === "pause" ? (["pause", []] as const) : (["revokeSessionKey", [key!]] as const);
    const pub = createPublicClient({ transport: http(this.upstreamUrl, { timeout: 10_000, retryCount: 0 }) });
    let waiting: { nonce: number; maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint; gasPrice?: bigint } | undefined;
    try {
      const tx = await pub.getTransaction({ hash: previous });
      if (tx.blockNumber === null) waiting = tx;
    } catch {
      // Not known to the node (dropped from its pool): a new transaction.
    }
    if (!waiting) return this.send(wallet, functionName, args);
    let fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
    try {
      fees = await pub.estimateFeesPerGas();
    } catch (err) {
      throw new CountersignError("UPSTREAM_UNAVAILABLE", `fees could not be read to replace ${previous}: ${publicMessage(err)}`, { wallet });
    }
    const bump = (old: bigint | undefined) => ((old ?? 0n) * 125n) / 100n + 1n;
    const priority = max(fees.maxPriorityFeePerGas, bump(waiting.maxPriorityFeePerGas ?? waiting.gasPrice));
    const maxFee = max(fees.maxFeePerGas + priority, bump(waiting.maxFeePerGas ?? waiting.gasPrice));
    return this.send(wallet, functionName, args, { nonce: waiting.nonce, maxFeePerGas: maxFee, maxPriorityFeePerGas: priority });
  }

  /**
   * Whether `wallet` is paused at the upstream's latest block (not the fork's, which may be a block behind).
   * @example if (await guardian.isPaused(wallet)) return
   */
  async isPaused(wallet: Address): Promise<boolean> {
    return (await this.read(wallet, "paused", [])) as boolean;
  }

  /**
   * `sessionKeyValidUntil(key)` at the upstream's latest block: 0 for a key that is not (or no longer) registered.
   * @example const revoked = (await guardian.sessionKeyValidUntil(wallet, key)) === 0n
   */
  async sessionKeyValidUntil(wallet: Address, key: Address): Promise<bigint> {
    return BigInt((await this.read(wallet, "sessionKeyValidUntil", [key])) as number | bigint);
  }

  private async read(wallet: Address, functionName: string, args: readonly unknown[]): Promise<unknown> {
    const pub = createPublicClient({ transport: http(this.upstreamUrl, { timeout: 10_000, retryCount: 0 }) });
    try {
      return await pub.readContract({ address: wallet, abi: loadArtifact("AgentWallet").abi, functionName, args });
    } catch (err) {
      throw new CountersignError("UPSTREAM_UNAVAILABLE", `${functionName}() could not be read: ${publicMessage(err)}`, { wallet });
    }
  }

  private async send(
    wallet: Address,
    functionName: "pause" | "revokeSessionKey",
    args: readonly unknown[],
    replace?: { nonce: number; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
  ): Promise<SentBreakerTx> {
    const transport = http(this.upstreamUrl, { timeout: 10_000, retryCount: 0 });
    const pub = createPublicClient({ transport });
    const hash = await this.mutex.run(async () => {
      try {
        this.chain ??= localChain(await pub.getChainId(), this.upstreamUrl);
        const client = createWalletClient({ account: this.#account, chain: this.chain, transport });
        return await client.writeContract({ address: wallet, abi: loadArtifact("AgentWallet").abi, functionName, args, ...(replace ?? {}) });
      } catch (err) {
        throw new CountersignError("UPSTREAM_UNAVAILABLE", `${functionName}() could not be sent: ${publicMessage(err)}`, { wallet });
      }
    });
    const mined = (async (): Promise<PauseResult> => {
      let receipt;
      try {
        receipt = await pub.waitForTransactionReceipt({ hash, timeout: this.receiptTimeoutMs, pollingInterval: 100 });
      } catch {
        return { txHash: hash, status: "submitted" };
      }
      if (receipt.status !== "success") {
        throw new CountersignError("UPSTREAM_UNAVAILABLE", `${functionName}() transaction ${hash} reverted`, { wallet, txHash: hash });
      }
      let blockTimestamp: bigint | undefined;
      try {
        blockTimestamp = (await pub.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
      } catch {
        // The timestamp only feeds a metric.
      }
      return { txHash: hash, status: "confirmed", blockNumber: receipt.blockNumber, ...(blockTimestamp !== undefined ? { blockTimestamp } : {}) };
    })();
    // Whoever sent it decides whether to wait; an unobserved rejection must not crash the process.
    mined.catch(() => {});
    return { txHash: hash, mined };
  }

  toJSON(): { address: Address } {
    return { address: this.address };
  }

  [inspect.custom](): string {
    return `Guardian(${this.address})`;
  }
}

function localChain(id: number, url: string): Chain {
  return { id, name: `chain-${id}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [url] } } };
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
