/** Follows the upstream chain's head by polling, and says when the upstream stopped answering. */
import { EventEmitter } from "node:events";
import type { UpstreamCache } from "./upstream-cache";

/** The fields of a block header the simulated block copies. */
export interface Head {
  number: bigint;
  hash: string;
  timestamp: bigint;
  baseFeePerGas: bigint;
  gasUsed: bigint;
  gasLimit: bigint;
  miner: string;
  mixHash: string;
}

interface RawBlock {
  number: string;
  hash: string;
  timestamp: string;
  baseFeePerGas?: string;
  gasUsed: string;
  gasLimit: string;
  miner: string;
  mixHash?: string;
}

/** Parses an eth_getBlockByNumber answer. */
export function parseHead(raw: RawBlock): Head {
  return {
    number: BigInt(raw.number),
    hash: raw.hash,
    timestamp: BigInt(raw.timestamp),
    baseFeePerGas: BigInt(raw.baseFeePerGas ?? "0x0"),
    gasUsed: BigInt(raw.gasUsed),
    gasLimit: BigInt(raw.gasLimit),
    miner: raw.miner,
    mixHash: raw.mixHash ?? `0x${"00".repeat(32)}`,
  };
}

/** EIP-1559: the base fee of the block after `head`. */
export function nextBaseFee(head: Head): bigint {
  const target = head.gasLimit / 2n;
  if (target === 0n || head.gasUsed === target) return head.baseFeePerGas;
  if (head.gasUsed > target) {
    const delta = (head.baseFeePerGas * (head.gasUsed - target)) / target / 8n;
    return head.baseFeePerGas + (delta > 1n ? delta : 1n);
  }
  return head.baseFeePerGas - (head.baseFeePerGas * (target - head.gasUsed)) / target / 8n;
}

/**
 * Polls `eth_getBlockByNumber("latest")` every `pollMs` and emits "head" for each new block.
 * @example watcher.on("head", (head) => fork.advance(head))
 */
export class HeadWatcher extends EventEmitter {
  private timer?: NodeJS.Timeout;
  private polling = false;
  private pollStartedAt = 0;
  latest?: Head;
  lastError?: string;

  constructor(
    private readonly upstream: UpstreamCache,
    private readonly pollMs: number,
  ) {
    super();
  }

  /** Polls once (and throws if the upstream cannot answer), then keeps polling in the background. */
  async start(): Promise<Head> {
    await this.poll(true);
    this.timer = setInterval(() => void this.poll(false), this.pollMs);
    this.timer.unref();
    return this.latest!;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Whether the upstream answered the last poll, and no poll has been waiting longer than `staleAfterMs`.
   * (A busy event loop delays polls without making the upstream unreachable; a hanging upstream does not.)
   */
  reachable(staleAfterMs = Math.max(3 * this.pollMs, 2_000)): boolean {
    if (this.lastError !== undefined) return false;
    return !(this.polling && Date.now() - this.pollStartedAt > staleAfterMs);
  }

  /** Polls now; resolves when the answer is in. */
  async poll(throwOnError = false): Promise<void> {
    if (this.polling && !throwOnError) return;
    this.polling = true;
    this.pollStartedAt = Date.now();
    try {
      const head = parseHead((await this.upstream.upstream("eth_getBlockByNumber", ["latest", false])) as unknown as RawBlock);
      this.lastError = undefined;
      if (!this.latest || head.number > this.latest.number || head.hash !== this.latest.hash) {
        this.latest = head;
        this.emit("head", head);
      }
    } catch (err) {
      this.lastError = (err as Error).message;
      if (throwOnError) throw err;
    } finally {
      this.polling = false;
    }
  }
}
