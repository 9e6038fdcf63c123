/**
 * The guardian key: the breaker's hand on the chain. It can only stop things (`pause()` on a wallet); the owner
 * alone starts them again. The key is loaded once (a keystore, or a raw key in development), lives inside a viem
 * local account, and is never logged or serialised.
 */
import { inspect } from "node:util";
import { createPublicClient, createWalletClient, http, type Address, type Chain, type Hex, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { loadArtifact } from "../chain/artifacts";
import type { Config } from "../config";
import { CountersignError } from "../errors";
import { Mutex } from "../simulation/mutex";

/** What a pause sent on chain came to. */
export interface PauseResult {
  txHash: Hex;
  /** "confirmed" once mined and successful; "submitted" when no receipt came within the wait. */
  status: "confirmed" | "submitted";
  blockNumber?: bigint;
}

/**
 * Sends breaker transactions with the guardian key.
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
   */
  async pause(wallet: Address): Promise<PauseResult> {
    return this.mutex.run(async () => {
      const transport = http(this.upstreamUrl, { timeout: 10_000, retryCount: 0 });
      const pub = createPublicClient({ transport });
      let hash: Hex;
      try {
        this.chain ??= localChain(await pub.getChainId(), this.upstreamUrl);
        const client = createWalletClient({ account: this.#account, chain: this.chain, transport });
        hash = await client.writeContract({ address: wallet, abi: loadArtifact("AgentWallet").abi, functionName: "pause", args: [] });
      } catch (err) {
        throw new CountersignError("UPSTREAM_UNAVAILABLE", `pause() could not be sent: ${shortMessage(err)}`, { wallet });
      }
      try {
        const receipt = await pub.waitForTransactionReceipt({ hash, timeout: this.receiptTimeoutMs, pollingInterval: 250 });
        if (receipt.status !== "success") {
          throw new CountersignError("UPSTREAM_UNAVAILABLE", `pause() transaction ${hash} reverted`, { wallet, txHash: hash });
        }
        return { txHash: hash, status: "confirmed", blockNumber: receipt.blockNumber };
      } catch (err) {
        if (err instanceof CountersignError) throw err;
        return { txHash: hash, status: "submitted" };
      }
    });
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

function shortMessage(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string };
  return (e?.shortMessage ?? e?.message ?? String(err)).split("\n")[0]!;
}
