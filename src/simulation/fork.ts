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
import type { AuthRule } from "../authenticate/wallet-auth";
import type { Rpc } from "./evm";
import { EvmProcess, type EvmUsage } from "./evm-process";
import { HeadWatcher, nextBaseFee, type Head } from "./head-watcher";
import { Mutex } from "./mutex";
import { webSocketUrlOf } from "./new-heads";
import { RELAYER_SPARE, type BlockEnv, type EvmCall } from "./next-block";

export type { BlockEnv };
import type { SimulationInput, SimulationResult } from "./simulate";
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
  /**
   * After this many runs the fork's EVM is replaced by a fresh one holding the same state, built beside the serving
   * one in its process (default 5000; 0 never): the keys no run read since the last replacement are dropped.
   */
  recycleEvery?: number;
  /**
   * The fork's EVM is replaced in a new process once its process has grown by this many MiB since it began serving
   * (checked every RSS_CHECK_EVERY runs; default 160, 0 never), and the old process ends: EDR keeps memory for as long
   * as its process lives (about 3–4 KiB a decision with its cache of mined blocks' states bounded, see evm-process.ts,
   * and all of an EVM once closed: measured, nothing came back), so this is what bounds the process's memory.
   */
  recycleGrowthMiB?: number;
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

/** Runs between two reads of the serving EVM process's memory (for recycleGrowthMiB): one message to it each time. */
const RSS_CHECK_EVERY = 100;

/** Figures about the fork's warmth, for /healthz, /metrics and the benchmark. */
export interface ForkStats {
  hydratedKeys: number;
  /** EVMs replaced by a fresh one (recycleEvery), and attempts thrown away because the state moved meanwhile. */
  recycles: number;
  /**
   * Replacements started because the serving EVM's process had grown by recycleGrowthMiB (the others: by count). Those
   * start a new process; one by count is built in the serving EVM's process.
   */
  recyclesForGrowth: number;
  recyclesDiscarded: number;
  /** How long the last replacement took to build beside the serving EVM (ms). */
  lastRecycleMs: number;
  /** Why the last replacement was thrown away, if one was. */
  lastRecycleDiscarded?: string;
  advances: number;
  lastAdvanceMs: number;
  refreshedKeys: number;
  resets: number;
  /** Hydrated keys a replacement did not carry (no run had fetched them since the replacement before it). */
  droppedKeys: number;
}

/** A key copied into the fork's state, with the generation (replacements so far) in which a run fetched it. */
interface HydratedKey {
  key: StateKey;
  value: Json;
  generation: number;
}

/**
 * A fixed relayer for plain forks in benchmarks. The Fork itself never sends from it: a hand-picked constant is a
 * tell a contract can check (`tx.origin == RELAYER`, or its twelve leading zero bytes), so each Fork sends from a
 * random address with a plausible balance (see Fork.relayer).
 */
export const RELAYER: Address = "0x00000000000000000000000000000000C0515167";
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
  readonly stats: ForkStats = {
    hydratedKeys: 0,
    advances: 0,
    lastAdvanceMs: 0,
    refreshedKeys: 0,
    resets: 0,
    recycles: 0,
    recyclesForGrowth: 0,
    recyclesDiscarded: 0,
    lastRecycleMs: 0,
    droppedKeys: 0,
  };
  private readonly mutex = new Mutex();
  private readonly hydrated = new Map<string, HydratedKey>();
  /** Replacements so far: the generation of the serving EVM (see HydratedKey). */
  private generation = 0;
  /**
   * The operation of the last run that ended in a result (not a refused one: a stranger's, or one past the read
   * budget): a replacement replays it to learn which older keys are still read. `simulating`: the current run's.
   */
  private lastSimulated?: { input: SimulationInput & { signer: Address }; self: Address };
  private simulating?: { input: SimulationInput & { signer: Address }; self: Address };
  private readonly localOnly: Set<string>;
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
  /**
   * Changes whenever the fork's state (between runs) may have changed: every write, advance and reset. Between
   * runs the fork holds exactly the state of `head` (each run reverts what it did), so what a run read is still
   * true for a later run with the same version: a cache keyed by it is never stale.
   */
  private version = 0;
  /** Changes when the fork starts afresh (reset): a replacement built before it is thrown away. */
  private epoch = 0;
  /** Names the cache endpoint of each EVM (see UpstreamCache.endpoint). */
  private providerSeq = 0;
  private runsSinceRecycle = 0;
  private recycling?: Promise<void>;
  /**
   * The serving EVM process's resident memory at its first check (bytes), the base recycleGrowthMiB counts from: the
   * process's, whichever of its EVMs serves now (a replacement by count is built in the same process).
   */
  private servingRssBase?: { provider: EvmProcess; bytes: number };
  /** Runs so far (the growth check comes every RSS_CHECK_EVERY of them). */
  private runs = 0;
  /** The serving EVM's process grew by recycleGrowthMiB: the next replacement starts a new process. */
  private newProcessDue = false;
  /** A replacement in a new process that was thrown away is tried again from this run on. */
  private newProcessRetryAt = 0;
  /** CPU time of the EVM processes already replaced and ended (µs), for evmUsage. */
  private retiredCpuMicros = 0;
  /** Replaced EVM processes not yet ended: evmUsage counts their CPU as it goes, so its total never jumps. */
  private readonly retiring = new Set<EvmProcess>();

  private provider!: EvmProcess;

  private constructor(
    readonly cache: UpstreamCache,
    readonly watcher: HeadWatcher,
    readonly chainId: number,
    private readonly options: Required<ForkOptions>,
    head: Head,
    /** The simulated transactions' sender: random per fork, so that no contract can tell it from a real relayer. */
    readonly relayer: Address,
    /** Where the StateReader lives on this fork: random, so a contract cannot look for it to detect the simulation. */
    readonly reader: Address,
  ) {
    this.localOnly = new Set([relayer.toLowerCase(), reader.toLowerCase()]);
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
      recycleEvery: 5_000,
      recycleGrowthMiB: 160,
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
    await cache.start(head.number, head.number - 1n);
    cache.serve("0");
    const random = () => getAddress(`0x${randomBytes(20).toString("hex")}`);
    const fork = new Fork(cache, watcher, chainId, opts, head, random(), random());
    try {
      fork.provider = await fork.startEvm(cache.endpoint("0"), head);
      await fork.prepare(head);
    } catch (err) {
      watcher.stop();
      fork.provider?.stop();
      await cache.stop();
      throw err;
    }
    watcher.on("head", (h: Head) => fork.follow(h));
    return fork;
  }

  /**
   * Starts an EVM forking `url` (a cache endpoint) one block before `head`: in a new process, or `beside` an EVM in
   * that one's process.
   */
  private async startEvm(url: string, head: Head, beside?: EvmProcess): Promise<EvmProcess> {
    // Fork one block before the head and mine one: the mined block has the head's number, calls at it work
    // (calls at a fork block of chain 31337 fail), and the state is the head's because the cache answers at it.
    const options = { chainId: this.chainId, gasLimit: head.gasLimit, hardfork: this.options.hardfork, coinbase: head.miner, fork: { url, block: head.number - 1n } };
    const settings = { relayer: this.relayer, reader: this.reader, priorityFee: this.options.priorityFee };
    const evm = await (beside ? beside.beside(options, settings) : EvmProcess.start(options, settings));
    // A serving EVM whose process died, or that holds a simulation it could not revert, is rebuilt before the next run.
    evm.onDirty = () => {
      if (this.provider === evm) this.markDirty();
    };
    return evm;
  }

  /**
   * Simulates `input` on the fork (simulate.ts, run in the EVM's process), the wallet's auth state checked against
   * `rule` before the operation runs. Only inside run().
   */
  simulate(env: BlockEnv, input: SimulationInput & { signer: Address }, self: Address, rule?: AuthRule): Promise<SimulationResult> {
    this.simulating = { input, self };
    return this.provider.simulate({ version: this.version, env, input, self, rule });
  }

  /**
   * Starts a replacement: in a process of its own when the serving one grew (newProcessDue), or when no growth limit
   * is set (recycleGrowthMiB 0: then the count is all that bounds the process's memory); beside the serving EVM
   * otherwise.
   */
  private startRecycle(): void {
    if (this.stopped) return;
    const forGrowth = this.newProcessDue;
    if (forGrowth) this.stats.recyclesForGrowth += 1;
    this.recycling = this.recycle(forGrowth || this.options.recycleGrowthMiB === 0).finally(() => (this.recycling = undefined));
  }

  /**
   * Makes the next replacement one in a new process when the serving EVM's process has grown by recycleGrowthMiB
   * since its first check (whichever of its EVMs served then). A process that cannot tell its usage is left to its
   * own failure, which rebuilds it.
   */
  private async checkGrowth(): Promise<void> {
    const provider = this.provider;
    let rss: number;
    try {
      rss = (await provider.usage()).rssBytes;
    } catch {
      return;
    }
    // A replacement being built counts: its EVM's memory is the process's too.
    if (this.provider !== provider || this.stopped) return;
    const base = this.servingRssBase;
    if (!base?.provider.sharesProcessWith(provider)) {
      this.servingRssBase = { provider, bytes: rss };
      return;
    }
    if (rss - base.bytes > this.options.recycleGrowthMiB * 2 ** 20) this.newProcessDue = true;
  }

  /**
   * CPU time (µs) of every EVM process this fork ran, the resident memory (bytes) of the serving EVM's process, and
   * the serving EVM's requests by method and crossings (its own: they start again with each replacement).
   */
  async evmUsage(): Promise<EvmUsage> {
    const retiring = [...this.retiring];
    const [now, ...others] = await Promise.all([this.provider.usage(), ...retiring.map((evm) => evm.usage().then((u) => u.cpuMicros, () => 0))]);
    // A replaced process that ended meanwhile is in retiredCpuMicros now: counted there, not twice.
    const stillRetiring = others.reduce((sum, cpu, i) => sum + (this.retiring.has(retiring[i]!) ? cpu : 0), 0);
    return { ...now, cpuMicros: this.retiredCpuMicros + stillRetiring + now.cpuMicros };
  }

  /** The replacement of the EVM being built, if one is: settles once it is swapped in or thrown away (benchmarks). */
  get replacing(): Promise<void> | undefined {
    return this.recycling;
  }

  /** How much the serving EVM's process may grow before a new one replaces it (MiB; 0: no limit), for benchmarks. */
  get recycleGrowthMiB(): number {
    return this.options.recycleGrowthMiB;
  }

  /** The process id of the serving EVM. */
  get evmPid(): number | undefined {
    return this.provider.pid;
  }

  private async prepare(head: Head): Promise<void> {
    await this.install(this.rpc);
    await this.alignTo(head);
    this.drainFetchedUnhydrated();
  }

  /** Mines the block that makes calls work, and installs the relayer and the StateReader in a new EVM. */
  private async install(rpc: Fork["rpc"]): Promise<void> {
    await rpc("hardhat_mine", ["0x1"]);
    await rpc("hardhat_impersonateAccount", [this.relayer]);
    // Loads the relayer's account now (a replacement EVM would otherwise read it through the cache on its first run).
    await rpc("hardhat_setBalance", [this.relayer, toHex(RELAYER_SPARE)]);
    await rpc("hardhat_setCode", [this.reader, loadArtifact("StateReader").deployedBytecode]);
  }

  /** The fork's state version (see `version`): equal versions, equal state at "latest" between runs. */
  get stateVersion(): number {
    return this.version;
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
      this.simulating = undefined;
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
        if (kept && this.simulating) this.lastSimulated = this.simulating;
        this.runsSinceRecycle += 1;
        this.runs += 1;
        if (this.options.recycleGrowthMiB > 0 && this.runs % RSS_CHECK_EVERY === 0) void this.checkGrowth();
        if (!this.recycling) {
          const byCount = this.options.recycleEvery > 0 && this.runsSinceRecycle >= this.options.recycleEvery;
          if (byCount || (this.newProcessDue && this.runs >= this.newProcessRetryAt)) this.startRecycle();
        }
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

  /** Sends one JSON-RPC request to the fork. Only inside run(), or for reads that snapshot nothing. */
  readonly rpc: EvmCall = (method, params) => callOf(this.provider)(method, params);

  /**
   * Replaces the EVM with a fresh one holding the same state, off the request path: built and hydrated beside the
   * serving EVM (whose runs go on), then swapped in under the lock once brought to where the serving one is: the
   * keys hydrated or refreshed meanwhile written, and the blocks of heads that arrived meanwhile mined, as an advance
   * does. A fork that started afresh meanwhile, or a failed read, throws it away (tried again later). The old EVM is
   * closed once requests already sent to it are answered, and its process ends with it when it was the last one there.
   *
   * By count (`newProcess` false) the new EVM is opened in the serving EVM's process: a new process costs its start-up
   * (a second of CPU) and then runs its code as V8 compiles it again, measured at a fifth to a half more CPU a
   * decision for its first 2,000–4,000 simulations; the EVM alone is what holds the state to renew. For growth the new
   * EVM starts a process of its own and the old process ends, with all the memory EDR kept in it.
   *
   * It carries only the keys a run fetched while the serving EVM served, and the older ones the last operation
   * simulated reads (replayed on the new EVM before it serves, its result ignored): the others are dropped (no longer
   * re-read at every head), and a run that reads one again fetches it through the cache and hydrates it anew. Without that
   * the set only grew (the SDK's nonces take a new storage word every 256 operations, and each stayed hydrated), and
   * with it the batch every new head re-reads: in a 10-minute soak at 50 decisions a second, 91 → 158 keys and the
   * p99 of decisions, which wait for the advance to a new head, rose with them.
   */
  private async recycle(newProcess: boolean): Promise<void> {
    const started = performance.now();
    const epoch = this.epoch;
    const head = this.viewHead;
    const name = String(++this.providerSeq);
    let fresh: EvmProcess | undefined;
    let swapped = false;
    let why = "";
    try {
      fresh = await this.startEvm(this.cache.endpoint(name, head.number - 1n), head, newProcess ? undefined : this.provider);
      const evm = fresh;
      // A new EVM whose process died, or that could not revert the replay, is never swapped in.
      let unfit = false;
      const onDirty = evm.onDirty;
      evm.onDirty = () => {
        unfit = true;
        onDirty();
      };
      const freshRpc = callOf(evm);
      await this.install(freshRpc);
      const aligned = await this.alignEvm(freshRpc, head);
      const written = new Map<string, Json>();
      const hydrate = async (entries: { key: StateKey; value: Json }[]) => {
        // One write at a time: EDR runs concurrent requests on threads of their own that then stay, each keeping
        // memory of its own (measured: every hydrated key written at once left the new process with a thread per key,
        // and each replacement started larger than the last as the hydrated set grew).
        for (const { key, value } of entries) {
          await this.writeKey(key, value, freshRpc);
          written.set(keyId(key), value);
        }
      };
      const carried = (entry: HydratedKey) => entry.generation >= this.generation;
      /**
       * The older keys the new EVM read since the last call: it may hold them from now on (EDR loads an account whole
       * when one of its slots is written), so they are carried too, as if a run had fetched them now.
       */
      const reread = () =>
        this.cache.drainAside(name).flatMap((key) => {
          const entry = this.hydrated.get(keyId(key));
          if (!entry || carried(entry)) return [];
          entry.generation = this.generation;
          return [entry];
        });
      await hydrate([...this.hydrated.values()].filter(carried));
      // The older keys still in use (the wallet's state, its balances…) are learnt by replaying the last operation on
      // the new EVM (its result ignored; a refusal is a result): what it reads of them is kept; the rest is dropped at
      // the swap.
      const replay = this.lastSimulated;
      if (replay) await evm.simulate({ version: -1, env: this.nextBlockEnv(), ...replay }).catch(() => undefined);
      await hydrate(reread());
      swapped = await this.mutex.run(async () => {
        if (this.stopped || this.dirty || this.epoch !== epoch || this.cache.failed(name) || unfit) {
          why = this.stopped
            ? "stopped"
            : this.dirty
              ? "the serving EVM is being rebuilt"
              : this.epoch !== epoch
                ? "the fork started afresh"
                : unfit
                  ? "the new EVM's process died or could not revert"
                  : "a read failed";
          return false;
        }
        await hydrate([...this.hydrated].filter(([id, e]) => carried(e) && written.get(id) !== e.value).map(([, e]) => e));
        // Heads that arrived while it was built: the same blocks the serving EVM mined (its state is the new head's).
        const at = this.viewHead === head ? aligned : await this.alignEvm(freshRpc, this.viewHead);
        // Whatever those writes and blocks made it read is carried, written at its current value, until none is left.
        for (let more = reread(); more.length > 0; more = reread()) await hydrate(more);
        if (this.cache.failed(name) || unfit) {
          why = unfit ? "the new EVM's process died or could not revert" : "a read failed";
          return false;
        }
        const old = this.provider;
        this.provider = evm;
        this.cache.serve(name);
        this.providerGasLimit = head.gasLimit;
        this.localNumber = at.number;
        this.localTimestamp = at.timestamp;
        this.version += 1;
        this.runsSinceRecycle = 0;
        for (const [id, entry] of this.hydrated) {
          if (carried(entry)) continue;
          this.hydrated.delete(id);
          this.stats.droppedKeys += 1;
        }
        this.stats.hydratedKeys = this.hydrated.size;
        this.generation += 1;
        this.stats.recycles += 1;
        this.stats.lastRecycleMs = performance.now() - started;
        if (newProcess) this.newProcessDue = false;
        this.retire(old);
        return true;
      });
    } catch (err) {
      swapped = false;
      why = (err as Error)?.message ?? String(err);
    } finally {
      if (!swapped) {
        this.stats.recyclesDiscarded += 1;
        this.stats.lastRecycleDiscarded = why;
        // Tried again after a tenth of the interval more runs: a fork that keeps moving is not rebuilt on every run.
        this.runsSinceRecycle = Math.max(0, this.options.recycleEvery - Math.ceil(this.options.recycleEvery / 10));
        if (newProcess) this.newProcessRetryAt = this.runs + RSS_CHECK_EVERY;
        if (fresh) this.retire(fresh);
      }
      this.cache.forget(name);
    }
  }

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
    this.version += 1;
    this.epoch += 1;
    const name = String(++this.providerSeq);
    this.cache.serve(name);
    const old = this.provider;
    this.provider = await this.startEvm(this.cache.endpoint(name), head);
    this.newProcessDue = false;
    this.retire(old);
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
    const aligned = await this.alignEvm(this.rpc, head);
    this.localNumber = aligned.number;
    this.localTimestamp = aligned.timestamp;
    this.viewHead = head;
    this.version += 1;
  }

  /** Makes the latest block of the EVM behind `rpc` look like `head`; returns that block's number and timestamp. */
  private async alignEvm(rpc: Fork["rpc"], head: Head): Promise<{ number: bigint; timestamp: bigint }> {
    const latest = (await rpc<{ number: string; timestamp: string }>("eth_getBlockByNumber", ["latest", false]))!;
    let number = BigInt(latest.number);
    if (head.number > number) {
      // The fork's latest block gets the head's number and timestamp, so reads at "latest" see the head's time.
      if (head.number - number > 1n) {
        await rpc("hardhat_mine", [toHex(head.number - number - 1n), "0x0"]);
      }
      const latestTs = BigInt(latest.timestamp);
      await rpc("evm_setNextBlockTimestamp", [toHex(head.timestamp > latestTs ? head.timestamp : latestTs)]);
      await rpc("hardhat_mine", ["0x1"]);
      number = head.number;
    }
    await rpc("hardhat_setCoinbase", [getAddress(head.miner)]);
    await rpc("hardhat_setPrevRandao", [head.mixHash]);
    const after = (await rpc<{ timestamp: string }>("eth_getBlockByNumber", ["latest", false]))!;
    return { number, timestamp: BigInt(after.timestamp) };
  }

  /** Copies what the last simulation fetched from the upstream into the fork's own state. */
  private async hydrateFetched(): Promise<void> {
    for (const { key, value } of this.drainFetchedUnhydrated()) {
      await this.writeKey(key, value);
      this.hydrated.set(keyId(key), { key, value, generation: this.generation });
    }
    this.stats.hydratedKeys = this.hydrated.size;
  }

  private drainFetchedUnhydrated(): { key: StateKey; value: Json }[] {
    return this.cache
      .drainFetched()
      .filter(({ key }) => !this.localOnly.has(key.address) && !this.hydrated.has(keyId(key)));
  }

  /** Writes one account field or slot into the serving EVM (a new state version), or into `rpc`'s. */
  private async writeKey(key: StateKey, value: Json, rpc: Fork["rpc"] = this.rpc): Promise<void> {
    if (rpc === this.rpc) this.version += 1;
    switch (key.kind) {
      case "balance":
        return void (await rpc("hardhat_setBalance", [key.address, value]));
      case "nonce":
        return void (await rpc("hardhat_setNonce", [key.address, value]));
      case "code":
        return void (await rpc("hardhat_setCode", [key.address, value]));
      case "slot":
        return void (await rpc("hardhat_setStorageAt", [key.address, key.slot, padWord(value as string)]));
    }
  }

  /**
   * Stops a replaced EVM once the requests already sent to it had time to be answered: closes it when it shares the
   * serving EVM's process, ends its process otherwise.
   */
  private retire(evm: EvmProcess): void {
    // Its process goes on serving, or is already being retired with another of its EVMs (whose CPU figure is the
    // whole process's): only this EVM is closed.
    if (evm.sharesProcessWith(this.provider) || [...this.retiring].some((other) => other.sharesProcessWith(evm))) {
      setTimeout(() => evm.stop(), 5_000).unref();
      return;
    }
    this.retiring.add(evm);
    setTimeout(() => {
      evm
        .usage()
        .then(
          (u) => {
            // In one step: evmUsage counts the process either as retiring or as retired, never both.
            this.retiring.delete(evm);
            this.retiredCpuMicros += u.cpuMicros;
          },
          () => this.retiring.delete(evm),
        )
        .finally(() => evm.stop());
    }, 5_000).unref();
  }

  /** Stops following the head and closes the cache endpoint. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher.stop();
    await this.advancing.catch(() => undefined);
    await this.recycling;
    // With a replaced EVM still open beside it, if one is: nothing of the fork is left running.
    this.provider.end();
    await this.cache.stop();
  }
}

/** JSON-RPC requests to `evm`, as a function. */
function callOf(evm: Rpc): EvmCall {
  return async <T>(method: string, params: unknown[] = []) => (await evm.request({ method, params })) as T;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function sameValue(a: Json, b: Json): boolean {
  return typeof a === "string" && typeof b === "string" ? a.toLowerCase() === b.toLowerCase() : a === b;
}

function padWord(value: string): string {
  return `0x${BigInt(value).toString(16).padStart(64, "0")}`;
}
