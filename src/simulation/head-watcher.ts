/**
 * Follows the upstream chain's head: by a `newHeads` subscription where the upstream offers one, by one shared head
 * check per burst of requests where it does not, and by polling always (the fallback). Says when the upstream
 * stopped answering, and which head a decision taken now must be at least at.
 */
import { EventEmitter } from "node:events";
import { publicMessage } from "../errors/classify";
import { NewHeadsSubscription } from "./new-heads";
import { UpstreamError, type UpstreamCache } from "./upstream-cache";

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
 * Emits "head" for each new block: pushed by a `newHeads` subscription (when `webSocketUrl` is given and the
 * upstream serves it), learnt by a head check per burst of requests (headAtArrival) while there is none, and
 * polled with `eth_getBlockByNumber("latest")` every `pollMs` in any case.
 * @example watcher.on("head", (head) => fork.advance(head))
 */
export class HeadWatcher extends EventEmitter {
  private timer?: NodeJS.Timeout;
  private polling = false;
  private pollStartedAt = 0;
  private subscription?: NewHeadsSubscription;
  /** Set once a live subscription has been followed by a poll: heads mined before it are known too. */
  private caughtUp = false;
  private nextCheck?: Promise<bigint>;
  latest?: Head;
  lastError?: string;
  /** Head checks sent (eth_blockNumber; one per burst of requests) and heads pushed by the subscription. */
  readonly stats = { headChecks: 0, pushedHeads: 0 };

  constructor(
    private readonly upstream: UpstreamCache,
    private readonly pollMs: number,
    private readonly webSocketUrl?: string,
  ) {
    super();
  }

  /** Polls once (and throws if the upstream cannot answer), subscribes where it can, then keeps polling. */
  async start(): Promise<Head> {
    await this.poll(true);
    this.timer = setInterval(() => void this.poll(false), this.pollMs);
    this.timer.unref();
    if (this.webSocketUrl) {
      const sub = new NewHeadsSubscription({ url: this.webSocketUrl });
      this.subscription = sub;
      sub.on("head", (raw: RawBlock) => void this.pushed(raw));
      sub.on("down", () => (this.caughtUp = false));
      // Heads mined while the socket was down were never pushed: only a poll after it is live makes it trusted.
      sub.on("live", () => void this.catchUp());
      if (await sub.start()) await this.catchUp();
    }
    return this.latest!;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.subscription?.stop();
  }

  /** Whether new heads arrive by a live subscription (then no request needs a head check of its own). */
  get subscribed(): boolean {
    return this.caughtUp && this.subscription?.live === true;
  }

  /**
   * The number of the upstream's head at the moment of the call, or a later one: no decision may be taken on an
   * older state. With a live subscription it is the newest pushed head; without, one `eth_blockNumber` sent after
   * the call, shared by every call made before it is sent (the requests that arrive together). Throws
   * UpstreamError when the upstream does not answer. A newer head is fetched and emitted before this resolves.
   * @example const required = await watcher.headAtArrival(); // then decide only on a fork at `required` or later
   */
  headAtArrival(): Promise<bigint> {
    if (this.subscribed && this.latest) return Promise.resolve(this.latest.number);
    if (!this.nextCheck) {
      this.nextCheck = new Promise<bigint>((resolve, reject) => {
        setImmediate(() => {
          this.nextCheck = undefined; // later arrivals need a check sent after them
          this.checkHead().then(resolve, reject);
        });
      });
    }
    return this.nextCheck;
  }

  private async checkHead(): Promise<bigint> {
    this.stats.headChecks += 1;
    const number = BigInt((await this.upstream.upstream("eth_blockNumber")) as string);
    if (!this.latest || number > this.latest.number) {
      const raw = await this.upstream.upstream("eth_getBlockByNumber", [`0x${number.toString(16)}`, false]);
      if (!raw) throw new UpstreamError(`upstream has no block ${number} though it named it its head`);
      this.accept(parseHead(raw as unknown as RawBlock));
    }
    return number;
  }

  private async catchUp(): Promise<void> {
    await this.poll(false, true);
    if (this.subscription?.live && this.lastError === undefined) this.caughtUp = true;
  }

  /** A pushed header: used as is when complete, fetched by number otherwise (some upstreams trim it). */
  private async pushed(raw: RawBlock): Promise<void> {
    this.stats.pushedHeads += 1;
    let head: Head;
    try {
      head = parseHead(raw);
      if (!head.hash || !head.miner) throw new Error("incomplete header");
    } catch {
      try {
        const full = await this.upstream.upstream("eth_getBlockByNumber", [raw.number, false]);
        if (!full) return;
        head = parseHead(full as unknown as RawBlock);
      } catch {
        this.caughtUp = false; // a head we could not read: check per request until a poll succeeds again
        void this.catchUp();
        return;
      }
    }
    this.accept(head);
  }

  /** Takes a head newer than the newest known (or the same height with another hash), and emits it. */
  private accept(head: Head): void {
    if (this.latest && (head.number < this.latest.number || (head.number === this.latest.number && head.hash === this.latest.hash))) return;
    this.latest = head;
    this.emit("head", head);
  }

  /**
   * Whether the upstream answered the last poll, and no poll has been waiting longer than `staleAfterMs`.
   * (A busy event loop delays polls without making the upstream unreachable; a hanging upstream does not.)
   */
  reachable(staleAfterMs = Math.max(3 * this.pollMs, 2_000)): boolean {
    if (this.lastError !== undefined) return false;
    return !(this.polling && Date.now() - this.pollStartedAt > staleAfterMs);
  }

  /** Polls now (`force`: even while another poll is out); resolves when the answer is in. */
  async poll(throwOnError = false, force = false): Promise<void> {
    if (this.polling && !throwOnError && !force) return;
    this.polling = true;
    this.pollStartedAt = Date.now();
    try {
      const head = parseHead((await this.upstream.upstream("eth_getBlockByNumber", ["latest", false])) as unknown as RawBlock);
      this.lastError = undefined;
      this.accept(head);
    } catch (err) {
      this.lastError = publicMessage(err);
      if (throwOnError) throw err;
    } finally {
      this.polling = false;
    }
  }
}
