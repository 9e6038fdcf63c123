/**
 * The in-process fork of the upstream chain that every operation is simulated on.
 *
 * Warm in fact: every account and slot a simulation reads from the upstream is copied into the fork's own state
 * (hydrated), so the next simulation runs at local speed with no upstream round trip. When the upstream moves to a
 * new head, the hydrated keys are re-read at that block in one batch, changed values are written into the fork,
 * and reads of anything else are answered at the new block by the UpstreamCache the fork is pointed at.
 */
import { randomBytes } from "node:crypto";
import { getAddress, toHex, type Address, type Hex } from "viem";
import { CountersignError } from "../errors";
import { isUpstreamFailure } from "../errors/classify";
import { loadArtifact } from "../chain/artifacts";
import { createEvm, type Rpc } from "./evm";
import { HeadWatcher, nextBaseFee, type Head } from "./head-watcher";
import { Mutex } from "./mutex";
import { webSocketUrlOf } from "./new-heads";
import { keyId, UpstreamCache, type StateKey } from "./upstream-cache";

type Json = unknown;

export type { Rpc };

export interface ForkOptions {
  /** The chain to fork. */
  upstreamUrl: string;
  /** EVM rules of the blocks the fork mines (default "prague"). */
  hardfork?: string;
  /** How often the upstream head is polled (ms, default 100). */
  pollMs?: number;
  /** Most uncached accounts and slots one simulation may read from the upstream (default 2000): bounds its time. */
  maxUpstreamReadsPerRun?: number;
  /**
   * The upstream's WebSocket URL for a `newHeads` subscription (default: the upstream URL with ws:// or wss://);
   * false for none. Without a live subscription every decision checks the head first (one shared eth_blockNumber).
   */
  upstreamWsUrl?: string | false;
  /** How long a decision waits for the fork to reach the head it must decide at (ms, default 1000). */
  advanceWaitMs?: number;
  /**
   * Most blocks the fork may be behind heads that arrived *after* the request did (default 2). Never a licence to
   * decide below the upstream head of the moment the request arrived: that one the fork always reaches first.
   */
  maxHeadLag?: number;
  /** Timeout of one upstream request (ms, default 5000). */
  upstreamTimeoutMs?: number;
  /** Above this many hydrated keys the fork starts afresh at the next head (default 20000). */
  maxHydratedKeys?: number;
  /** Priority fee of simulated transactions (wei, default 1 gwei): never a zero gas price. */
  priorityFee?: bigint;
  /**
   * Most runs waiting for or holding the fork at once (default 64); past it run() refuses with BUSY at once, so a
   * burst of requests cannot queue without end behind one another.
   */
  maxQueuedRuns?: number;
  /**
   * Wall-clock budget of one run once it holds the fork (ms, default 2000): past it every read the fork has not
   * cached answers empty at once and the run is refused (SIMULATION_FAILED).
   */
  runBudgetMs?: number;
}

/** The block environment a simulation runs in: what the real next block will look like. */
export interface BlockEnv {
  number: bigint;
  timestamp: bigint;
  baseFeePerGas: bigint;
  coinbase: string;
  gasLimit: bigint;
}

/** Figures about the fork's warmth, for /healthz, /metrics and the benchmark. */
export interface ForkStats {
  hydratedKeys: number;
  advances: number;
  lastAdvanceMs: number;
  refreshedKeys: number;
  resets: number;
}

/**
 * A fixed relayer for plain forks in benchmarks. The Fork itself never sends from it: a hand-picked constant is a
 * tell a contract can check (`tx.origin == RELAYER`, or its twelve leading zero bytes), so each Fork sends from a
 * random address with a plausible balance (see Fork.relayer).
 */
export const RELAYER: Address = "0x00000000000000000000000000000000C0515167";
/** What the simulated relayer holds beyond the gas it pays for (wei): a balance a real relayer might have. */
const RELAYER_SPARE = 250_000_000_000_000_000n;
/** Where the simulation-only state reader lives on the fork (never on a real chain). */
/** @deprecated A fixed address is a tell: use Fork.reader, which is random per fork. */
export const STATE_READER: Address = "0x00000000000000000000000000000000C0515168";

/**
 * A warm, head-following fork.
 * @example
 * const fork = await Fork.create({ upstreamUrl: "http://127.0.0.1:8545" });
 * const gas = await fork.run(async (rpc, env) => ...);
 */
export class Fork {
  readonly stats: ForkStats = { hydratedKeys: 0, advances: 0, lastAdvanceMs: 0, refreshedKeys: 0, resets: 0 };
  private readonly mutex = new Mutex();
  private readonly hydrated = new Map<string, { key: StateKey; value: Json }>();
  /** The simulated transactions' sender: random per fork, so that no contract can tell it from a real relayer. */
  readonly relayer: Address = getAddress(`0x${randomBytes(20).toString("hex")}`);
  /** Where the StateReader lives on this fork: random, so a contract cannot look for it to detect the simulation. */
  readonly reader: Address = getAddress(`0x${randomBytes(20).toString("hex")}`);
  private readonly localOnly = new Set([this.relayer.toLowerCase(), this.reader.toLowerCase()]);
  /** Seconds between recent consecutive upstream blocks (a slot chain's block time), newest last. */
  private readonly blockTimes: bigint[] = [];
  private providerGasLimit: bigint;
  private viewHead: Head;
  private localNumber: bigint;
  private localTimestamp: bigint;
  private advancing: Promise<void> = Promise.resolve();
  private pendingHead?: Head;
  private stopped = false;
  private dirty = false;
  /** Runs waiting for or holding the fork now (bounded by maxQueuedRuns). */
  private inFlight = 0;

  private constructor(
    private provider: Rpc,
    readonly cache: UpstreamCache,
    readonly watcher: HeadWatcher,
    readonly chainId: number,
    private readonly options: Required<ForkOptions>,
    head: Head,
  ) {
    this.viewHead = head;
    this.localNumber = head.number;
    this.localTimestamp = head.timestamp;
    this.providerGasLimit = head.gasLimit;
  }

  /** Forks the upstream at its head, mines the one block that makes calls work, and starts following the head. */
  static async create(options: ForkOptions): Promise<Fork> {
    const opts: Required<ForkOptions> = {
      hardfork: "prague",
      pollMs: 100,
      advanceWaitMs: 1_000,
      maxUpstreamReadsPerRun: 2_000,
      maxHeadLag: 2,
      upstreamWsUrl: webSocketUrlOf(options.upstreamUrl),
      upstreamTimeoutMs: 5_000,
      maxHydratedKeys: 20_000,
      priorityFee: 1_000_000_000n,
      maxQueuedRuns: 64,
      runBudgetMs: 2_000,
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ForkOptions),
    };
    const cache = new UpstreamCache({ upstreamUrl: opts.upstreamUrl, timeoutMs: opts.upstreamTimeoutMs });
    const watcher = new HeadWatcher(cache, opts.pollMs, opts.upstreamWsUrl || undefined);
    let head: Head;
    let chainId: number;
    try {
      head = await watcher.start();
      chainId = Number(await cache.upstream("eth_chainId"));
    } catch (err) {
      watcher.stop();
      throw new CountersignError("UPSTREAM_UNAVAILABLE", `cannot reach the upstream chain: ${(err as Error).message}`);
    }
    const url = await cache.start(head.number, head.number - 1n);
    const provider = await Fork.newProvider(url, chainId, head, opts.hardfork);
    const fork = new Fork(provider, cache, watcher, chainId, opts, head);
    await fork.prepare(head);
    watcher.on("head", (h: Head) => fork.follow(h));
    return fork;
  }

  private static newProvider(url: string, chainId: number, head: Head, hardfork: string): Promise<Rpc> {
    // Fork one block before the head and mine one: the mined block has the head's number, calls at it work
    // (calls at a fork block of chain 31337 fail), and the state is the head's because the cache answers at it.
    return createEvm({ chainId, gasLimit: head.gasLimit, hardfork, coinbase: head.miner, fork: { url, block: head.number - 1n } });
  }

  private async prepare(head: Head): Promise<void> {
    await this.rpc("hardhat_mine", ["0x1"]);
    await this.rpc("hardhat_impersonateAccount", [this.relayer]);
    await this.rpc("hardhat_setCode", [this.reader, loadArtifact("StateReader").deployedBytecode]);
    await this.alignTo(head);
    this.drainFetchedUnhydrated();
  }

  /** The upstream head the fork's state is at. */
  get head(): Head {
    return this.viewHead;
  }

  /** The newest upstream head seen. */
  get upstreamHead(): Head {
    return this.watcher.latest ?? this.viewHead;
  }

  /** How many blocks the fork is behind the upstream head. */
  get lag(): bigint {
    return this.upstreamHead.number - this.viewHead.number;
  }

  /**
   * Runs `fn` with exclusive use of the fork and returns its result only if the fork's state was at or past the
   * upstream's head of the moment of the call (and no more than maxHeadLag blocks behind heads known before it ran),
   * of a reachable upstream; `fn` must leave the fork as it found it (snapshot/revert). Hydrates what `fn` read.
   * Without a newHeads subscription, `fn` runs while the head check is out; a run on an older head is thrown away,
   * whatever it returned or threw, and `fn` runs again once the fork reached the head of the call.
   */
  async run<T>(fn: (rpc: Fork["rpc"], env: BlockEnv) => Promise<T>): Promise<T> {
    if (this.stopped) throw new CountersignError("SIMULATION_FAILED", "the fork is stopped");
    if (this.inFlight >= this.options.maxQueuedRuns) {
      throw new CountersignError("BUSY", `the fork already has ${this.inFlight} simulations queued (at most ${this.options.maxQueuedRuns}); try again shortly`, {
        queued: this.inFlight,
        retryAfterSeconds: 1,
      });
    }
    this.inFlight += 1;
    try {
      return await this.runQueued(fn);
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Runs waiting for or holding the fork now. */
  get queued(): number {
    return this.inFlight;
  }

  private async runQueued<T>(fn: (rpc: Fork["rpc"], env: BlockEnv) => Promise<T>): Promise<T> {
    if (!this.watcher.reachable()) {
      throw new CountersignError("UPSTREAM_UNAVAILABLE", `upstream not answering: ${this.watcher.lastError ?? "no answer"}`);
    }
    const arrival = this.watcher.headAtArrival();
    arrival.catch(() => undefined); // awaited below; an early failure must not be an unhandled rejection
    if (this.watcher.subscribed) await this.reachHead(await this.headOf(arrival));
    if (this.lag > 0n) {
      // A newer head is known: wait (boundedly) for the fork to move to it, so a guardian's pause or burnt nonce in
      // the newest block is seen. Past the wait, a fork within maxHeadLag still runs; beyond it, nothing does.
      this.follow(this.upstreamHead);
      await Promise.race([this.advancing, sleep(this.options.advanceWaitMs)]);
    }
    if (this.lag > BigInt(this.options.maxHeadLag)) {
      // Catch up now: also retries an advance that failed (a transient upstream error), which would otherwise leave
      // the fork stale until the next block arrives — forever on a chain that mines only on demand.
      this.follow(this.upstreamHead);
      await this.advancing;
    }
    if (this.lag > BigInt(this.options.maxHeadLag)) {
      throw new CountersignError(
        "FORK_STALE",
        `fork at block ${this.viewHead.number} is ${this.lag} blocks behind the upstream (max ${this.options.maxHeadLag})`,
      );
    }
    let attempt = await this.runLocked(fn);
    const required = await this.headOf(arrival);
    if (attempt.head < required) {
      // The run saw a state older than the head of the call: what it showed is not a decision. Run again on it.
      await this.reachHead(required);
      attempt = await this.runLocked(fn);
    }
    if (!attempt.ok) throw attempt.error;
    return attempt.value;
  }

  /** The head number a decision must be at, or UPSTREAM_UNAVAILABLE when the upstream could not say. */
  private async headOf(arrival: Promise<bigint>): Promise<bigint> {
    try {
      return await arrival;
    } catch (err) {
      throw new CountersignError("UPSTREAM_UNAVAILABLE", `cannot learn the upstream head: ${(err as Error).message}`);
    }
  }

  /**
   * Waits (boundedly) until the fork's state is at block `required` or later: a guardian's pause or revocation
   * mined before the request arrived is seen by the wallet reads of the run, whatever maxHeadLag says.
   */
  private async reachHead(required: bigint): Promise<void> {
    if (this.viewHead.number >= required) return;
    this.follow(this.upstreamHead);
    await Promise.race([this.advancing, sleep(this.options.advanceWaitMs)]);
    if (this.viewHead.number < required) {
      // Retries an advance that failed (a transient upstream error) rather than waiting for another block.
      this.follow(this.upstreamHead);
      await this.advancing;
    }
    if (this.viewHead.number < required) {
      throw new CountersignError(
        "FORK_STALE",
        `fork at block ${this.viewHead.number} is ${required - this.viewHead.number} blocks behind the upstream (max 0)`,
      );
    }
  }

  /** Runs `fn` under the fork's lock; returns its outcome and the head the fork's state was at. */
  private async runLocked<T>(
    fn: (rpc: Fork["rpc"], env: BlockEnv) => Promise<T>,
  ): Promise<{ head: bigint } & ({ ok: true; value: T } | { ok: false; error: unknown })> {
    let head = -1n;
    try {
      const value = await this.runExclusive(fn, (h) => (head = h));
      return { head, ok: true, value };
    } catch (error) {
      return { head, ok: false, error };
    }
  }

  private runExclusive<T>(fn: (rpc: Fork["rpc"], env: BlockEnv) => Promise<T>, onHead: (head: bigint) => void): Promise<T> {
    return this.mutex.run(async () => {
      if (this.dirty) {
        await this.reset(this.viewHead);
        this.dirty = false;
      }
      onHead(this.viewHead.number);
      const env = this.nextBlockEnv();
      const budgetMs = this.options.runBudgetMs;
      const started = performance.now();
      this.cache.beginRun(this.options.maxUpstreamReadsPerRun, started + budgetMs);
      let kept = false;
      const failedRun = (): CountersignError | undefined => {
        if (this.cache.budgetExceeded) {
          return new CountersignError(
            "SIMULATION_FAILED",
            `the simulation read more than ${this.options.maxUpstreamReadsPerRun} accounts and slots the fork did not hold; refused to bound the fork's time`,
          );
        }
        if (this.cache.timedOut || performance.now() - started > budgetMs) {
          return new CountersignError("SIMULATION_FAILED", `the simulation took longer than its budget of ${budgetMs} ms; refused to bound the fork's time`, {
            budgetMs,
          });
        }
        if (this.cache.runFailure) {
          return new CountersignError("UPSTREAM_UNAVAILABLE", `upstream failed during simulation: ${this.cache.runFailure}`);
        }
        return undefined;
      };
      try {
        const result = await fn(this.rpc, env);
        // A run that saw an empty answer in place of a failed or over-budget read is thrown away, whatever it showed.
        const failure = failedRun();
        if (failure) throw failure;
        kept = true;
        return result;
      } catch (err) {
        const failure = failedRun();
        if (failure) throw failure;
        if (err instanceof CountersignError) throw err;
        if (isUpstreamFailure(err)) {
          throw new CountersignError("UPSTREAM_UNAVAILABLE", `upstream failed during simulation: ${(err as Error).message}`);
        }
        throw err;
      } finally {
        this.cache.endRun();
        // Only a run that ended in a result keeps what it read: a refused or failed one (a stranger's request, a
        // read past the budget) must not grow the set of keys every new head re-reads.
        if (kept) await this.hydrateFetched();
        else this.drainFetchedUnhydrated();
      }
    });
  }

  /** The environment of the block a simulation mines now, set on the fork for the next block. */
  private nextBlockEnv(): BlockEnv {
    // The next real block's time: on a chain with a fixed block time it lies on the slot grid (head + k·blockTime),
    // never at an arbitrary "now" that a contract could recognise as a simulator's.
    const now = BigInt(Math.floor(Date.now() / 1000));
    const blockTime = this.blockTime();
    const head = this.viewHead.timestamp;
    let slots = now > head ? (now - head + blockTime - 1n) / blockTime : 1n;
    if (slots < 1n) slots = 1n;
    let timestamp = head + slots * blockTime;
    if (this.localTimestamp > timestamp) timestamp = this.localTimestamp;
    const gasLimit = this.viewHead.gasLimit < this.providerGasLimit ? this.viewHead.gasLimit : this.providerGasLimit;
    return {
      number: this.viewHead.number + 1n,
      timestamp,
      baseFeePerGas: nextBaseFee(this.viewHead),
      coinbase: this.viewHead.miner,
      gasLimit,
    };
  }

  /** The median gap between recent consecutive upstream blocks (seconds, at least 1). */
  private blockTime(): bigint {
    if (this.blockTimes.length === 0) return 1n;
    const sorted = [...this.blockTimes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return median > 0n ? median : 1n;
  }

  /** Marks the fork as holding effects it could not revert: it is rebuilt at the current head before the next run. */
  markDirty(): void {
    this.dirty = true;
  }

  /**
   * Sets the next block's timestamp and base fee, and gives the relayer what a real one would hold: the gas it
   * pays for plus RELAYER_SPARE (an implausible balance is a tell). Call right before sending the transaction.
   */
  async setNextBlock(env: BlockEnv): Promise<void> {
    const upfront = env.gasLimit * BigInt(this.feeFields(env).maxFeePerGas);
    await Promise.all([
      this.rpc("evm_setNextBlockTimestamp", [toHex(env.timestamp)]),
      this.rpc("hardhat_setNextBlockBaseFeePerGas", [toHex(env.baseFeePerGas)]),
      this.rpc("hardhat_setBalance", [this.relayer, toHex(upfront + RELAYER_SPARE)]),
    ]);
  }

  /** The fee fields of a simulated transaction: a real, non-zero gas price. */
  feeFields(env: BlockEnv): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } {
    const tip = this.options.priorityFee;
    return { maxFeePerGas: toHex(env.baseFeePerGas * 2n + tip), maxPriorityFeePerGas: toHex(tip) };
  }

  /** Sends one JSON-RPC request to the fork. Only inside run(), or for reads that snapshot nothing. */
  readonly rpc = async <T = unknown>(method: string, params: unknown[] = []): Promise<T> =>
    (await this.provider.request({ method, params })) as T;

  /** Moves the fork to the newest head, one advance at a time. */
  private follow(head: Head): void {
    this.pendingHead = head;
    this.advancing = this.advancing.then(async () => {
      const next = this.pendingHead;
      if (!next || next.number <= this.viewHead.number || this.stopped) return;
      this.pendingHead = undefined;
      try {
        await this.advance(next);
      } catch {
        // The watcher reports an unreachable upstream; run() refuses on lag. Nothing is signed on stale state.
      }
    });
  }

  /** Re-reads every hydrated key at `head` in one batch, writes what changed, and moves reads to `head`. */
  async advance(head: Head): Promise<void> {
    const started = performance.now();
    if (this.hydrated.size > this.options.maxHydratedKeys) {
      await this.mutex.run(() => this.reset(head));
    } else {
      const keys = [...this.hydrated.values()].map((h) => h.key);
      const answers = await this.cache.fetchAt(keys, head.number);
      await this.mutex.run(async () => {
        const missing = [...this.hydrated.values()].filter((h) => !answers.has(keyId(h.key))).map((h) => h.key);
        if (missing.length > 0) for (const [k, v] of await this.cache.fetchAt(missing, head.number)) answers.set(k, v);
        let refreshed = 0;
        for (const [id, entry] of this.hydrated) {
          const value = answers.get(id);
          if (value === undefined || sameValue(value, entry.value)) continue;
          await this.writeKey(entry.key, value);
          entry.value = value;
          refreshed += 1;
        }
        this.stats.refreshedKeys = refreshed;
        this.cache.moveView(head.number, answers);
        await this.alignTo(head);
      });
    }
    this.stats.advances += 1;
    this.stats.lastAdvanceMs = performance.now() - started;
  }

  /** Starts a fresh fork at `head` (when the hydrated set grew too large); it warms up again as it is used. */
  private async reset(head: Head): Promise<void> {
    this.cache.moveView(head.number);
    this.cache.forkBlock = head.number - 1n;
    this.provider = await Fork.newProvider(this.cache.url, this.chainId, head, this.options.hardfork);
    this.providerGasLimit = head.gasLimit;
    this.hydrated.clear();
    this.localNumber = head.number - 1n;
    await this.prepare(head);
    this.stats.resets += 1;
  }

  /** Makes the fork's latest block look like `head`: number, coinbase, randomness; remembers its timestamp. */
  private async alignTo(head: Head): Promise<void> {
    if (head.number === this.viewHead.number + 1n && head.timestamp >= this.viewHead.timestamp) {
      this.blockTimes.push(head.timestamp - this.viewHead.timestamp);
      if (this.blockTimes.length > 16) this.blockTimes.shift();
    }
    const latest = (await this.rpc<{ number: string; timestamp: string }>("eth_getBlockByNumber", ["latest", false]))!;
    this.localNumber = BigInt(latest.number);
    if (head.number > this.localNumber) {
      // The fork's latest block gets the head's number and timestamp, so reads at "latest" see the head's time.
      if (head.number - this.localNumber > 1n) {
        await this.rpc("hardhat_mine", [toHex(head.number - this.localNumber - 1n), "0x0"]);
      }
      const latestTs = BigInt(latest.timestamp);
      await this.rpc("evm_setNextBlockTimestamp", [toHex(head.timestamp > latestTs ? head.timestamp : latestTs)]);
      await this.rpc("hardhat_mine", ["0x1"]);
      this.localNumber = head.number;
    }
    await this.rpc("hardhat_setCoinbase", [getAddress(head.miner)]);
    await this.rpc("hardhat_setPrevRandao", [head.mixHash]);
    const after = (await this.rpc<{ timestamp: string }>("eth_getBlockByNumber", ["latest", false]))!;
    this.localTimestamp = BigInt(after.timestamp);
    this.viewHead = head;
  }

  /** Copies what the last simulation fetched from the upstream into the fork's own state. */
  private async hydrateFetched(): Promise<void> {
    for (const { key, value } of this.drainFetchedUnhydrated()) {
      await this.writeKey(key, value);
      this.hydrated.set(keyId(key), { key, value });
    }
    this.stats.hydratedKeys = this.hydrated.size;
  }

  private drainFetchedUnhydrated(): { key: StateKey; value: Json }[] {
    return this.cache
      .drainFetched()
      .filter(({ key }) => !this.localOnly.has(key.address) && !this.hydrated.has(keyId(key)));
  }

  private async writeKey(key: StateKey, value: Json): Promise<void> {
    switch (key.kind) {
      case "balance":
        return void (await this.rpc("hardhat_setBalance", [key.address, value]));
      case "nonce":
        return void (await this.rpc("hardhat_setNonce", [key.address, value]));
      case "code":
        return void (await this.rpc("hardhat_setCode", [key.address, value]));
      case "slot":
        return void (await this.rpc("hardhat_setStorageAt", [key.address, key.slot, padWord(value as string)]));
    }
  }

  /** Stops following the head and closes the cache endpoint. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher.stop();
    await this.advancing.catch(() => undefined);
    await this.cache.stop();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function sameValue(a: Json, b: Json): boolean {
  return typeof a === "string" && typeof b === "string" ? a.toLowerCase() === b.toLowerCase() : a === b;
}

function padWord(value: string): string {
  return `0x${BigInt(value).toString(16).padStart(64, "0")}`;
}
