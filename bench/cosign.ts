/**
 * Co-signer benchmark: how long a decision takes, against the floor (the same `execute` on a local chain) and
 * against what no engineering gives (a plain Hardhat fork of the upstream).
 *
 *   npm run bench:cosign        (= hardhat compile, then ts-node bench/cosign.ts: no Hardhat runtime beyond what src uses)
 *
 * Upstream: a local Hardhat node in a child process (startLocalNode) with the demo deployment (deployDemo).
 * The operation: an ERC-20 transfer of 1 base unit of USDC from the demo wallet to alice, with a transfer intent,
 * callGasLimit 1 000 000 and no bounds (a plain transfer of a budgeted token, as the SDK signs it);
 * every request has a fresh (sequential) nonce and is signed by the session key before the clock starts. Decisions
 * are only simulated, so the wallet's budget is never consumed.
 *
 * Figures (ms; p50/p99 by nearest rank after warm-up):
 *  - localExecP50Ms: snapshot → eth_sendTransaction → receipt → revert of the exact signed `execute` on a local,
 *    non-forked in-process chain holding the same contracts at the same addresses (every account and slot the
 *    execute reads, copied from the upstream: see stateReadBy) — the floor. Measured in blocks that alternate with
 *    the blocks of sequential decisions, so that both sides of ratioP50 see the same machine load;
 *    localExecStandaloneP50Ms is the same measured alone, back to back, before everything else;
 *  - naiveForkP50Ms: the same on a plain in-process Hardhat fork of the upstream (pinned block, one block mined);
 *  - decideP50Ms, decideP99Ms: CosignerEngine.propose, validate to record (SQLite on disk), sequential, warm;
 *    cpuMsPerDecision: the CPU time per sequential decision of the service's process and of its EVM's process (all
 *    their threads: EDR's included), which load from other processes disturbs less than wall time, plus what a new
 *    EVM process costs spread over its life (processLife in the results); cpuRatio is it
 *    over localExecP50Ms (a wall time, as the goal is set); localExecCpuMs: the floor's own CPU per execute (this
 *    process, all threads), for comparison;
 *  - decisionsPerSecond: the same with 8 concurrent callers; httpDecisionsPerSecond: over HTTP from 8 clients, in
 *    blocks that alternate with the in-process ones (see throughput), and httpVsInProcess their ratio;
 *  - remote*: the upstream behind a proxy that adds 20 ms to every HTTP request (a stand-in for a remote RPC; it
 *    serves no WebSocket, so every decision first checks the head: one eth_blockNumber, shared by concurrent ones):
 *    remoteDecideP50Ms (steady state); remoteFirstAfterHeadMs: from the moment a new block is mined upstream (by
 *    evm_mine on the node directly, at a random phase of the head watcher's polling) to the moment the first
 *    decision simulated on it completes — head detection by polling (remoteHeadSeenMs), the fork's advance
 *    (forkAdvanceMs = fork.stats.lastAdvanceMs) and the decision (remoteFirstAfterHeadDecisionMs, issued once the
 *    fork has advanced); remoteDecisionDuringAdvanceMs: a decision issued as soon as the watcher has seen the new
 *    block, i.e. while the fork advances (it waits for the advance: never a decision below the head of its
 *    arrival); naiveRemoteForkP50Ms.
 *  - freshness: freshnessTrials times, the guardian sends pause() or revokeSessionKey (alternating) and a proposal
 *    follows at once after the receipt, on the 20 ms upstream (head check per request) and, freshnessTrialsSubscribed
 *    times, on the local node (newHeads subscription); signedAfterRevocation counts co-signatures among them (goal 0).
 *  - upstream traffic per decision (fork.cache deltas; head polls apart), hydrated keys, and a profile of where a
 *    warm decision's time goes (the fork's run, the store, the rest; the EVM's requests per decision by method).
 *  - memory: RSS of the service's process plus its EVM's process (the fork renews its EVM every FORK_RECYCLE_EVERY
 *    simulations, and replaces its process once it grew by FORK_RECYCLE_GROWTH_MIB: its memory goes with it).
 * `npm run bench:profile` shows where the CPU of a decision goes (V8's profiler, top ten functions).
 *
 * Writes bench/results/cosign.json. Figures on a shared 2-core machine are noisy: compare runs on a quiet machine.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import v8 from "node:v8";
import vm from "node:vm";
import path from "node:path";
import { createEvm } from "../src/simulation/evm";
import { createPublicClient, createWalletClient, encodeFunctionData, http, toHex, type Address, type Hex } from "viem";
import type { Decision, OperationRequestBody } from "../src/api";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../src/chain/accounts";
import { loadArtifact } from "../src/chain/artifacts";
import { createCosigner, type Cosigner } from "../src/cosigner";
import { deployDemo, type DemoDeployment } from "../src/deploy/demo";
import { rpc as nodeRpc, startLocalNode, type LocalNode } from "../src/devchain/node";
import { CosignerKey } from "../src/signing/signer";
import { pct } from "./support/stats";
import { RELAYER, type Fork } from "../src/simulation/fork";
import { UpstreamCache, type StateKey } from "../src/simulation/upstream-cache";
import { startLatencyProxy, type LatencyProxy } from "./support/latency-proxy";
import { loadFigures, runLoad, slope, startService } from "./support/http-load";
import { HTTP_BODIES_PER_SECOND, Requests } from "./support/requests";
import { soak } from "./support/soak";
import { machine } from "./support/machine";

// ───────────────────────────── parameters ─────────────────────────────

const QUICK = process.env.BENCH_QUICK === "1"; // a smoke run of the benchmark itself, not for figures
const scale = (n: number) => (QUICK ? Math.max(5, Math.ceil(n / 10)) : n);
const P = {
  amount: 1n, // 1 base unit of USDC: far below the demo budget (1000 USDC/day, 500 per operation)
  /** Gas every call of the operation gets (the SDK's default). */
  callGasLimit: 1_000_000n,
  // Warm-ups of 5,000: V8 is still compiling the service's and the EVM process's code for the first thousands of
  // decisions. Measured on 2026-12-01 outside this benchmark (sequential, no replacement of the fork's EVM, blocks of
  // 500, service and EVM CPU a decision): 2.08, 2.00, 1.90, 1.80, 1.68, 1.60, 1.54, 1.50, 1.50 … 1.44 ms, steady from
  // about 4,000 on, the V8 helper threads' share (its compiler) falling from 0.5 to 0.1 ms; the 2,000 after 1,000 (this
  // benchmark's window until then) cost a fifth more than the steady state. warmupCpuMsPerDecision in the results
  // shows the curve of each run. The floor is warmed as long (localWarmupP50Ms), so that the ratio compares
  // two warm figures.
  localWarmup: scale(5_000),
  localRuns: scale(600),
  naiveWarmup: scale(10),
  naiveRuns: scale(200),
  decideWarmup: scale(5_000),
  /** The warm-up's decisions run in blocks of this many, each block's CPU a decision recorded (warmupCpuMsPerDecision). */
  warmupBlock: QUICK ? 50 : 500,
  // The measured sequential decisions: 10,000, so that the EVM is renewed in its process twice among them (every
  // recycleEvery runs). Its process lives far longer (until it grew by recycleGrowthMiB: about 50,000 decisions here),
  // so what a new process costs, its start-up and its code compiled again, is added to cpuMsPerDecision over the life
  // this run measures (see processLife), as a co-signer that runs for weeks pays it.
  decideRuns: scale(10_000),
  /** The measured decisions run in blocks of this many, each followed by localPerBlock local executes. */
  decideBlock: QUICK ? 50 : 250,
  localPerBlock: QUICK ? 3 : 30,
  concurrency: 8,
  profileRuns: scale(200),
  remoteDelayMs: 20,
  remoteWarmup: scale(50),
  remoteRuns: scale(200),
  headRuns: QUICK ? 3 : 12,
  naiveRemoteRuns: QUICK ? 3 : 20,
  /** Guardian pause()/revokeSessionKey (alternating), then a proposal at once after the receipt; per upstream. */
  freshnessTrials: QUICK ? 6 : 50,
  /** Deadline of each request: this far ahead of signing (the engine allows at most 300 s). */
  ttlSeconds: 240n,
  /**
   * Throughput: blocks of in-process decisions (`concurrency` callers) alternating with blocks of HTTP decisions
   * (httpConcurrency closed-loop clients over loopback), each this long, after a warm-up of httpWarmup requests.
   */
  httpConcurrency: 8,
  throughputBlocks: QUICK ? 1 : 4,
  throughputBlockSeconds: QUICK ? 3 : 5,
  httpWarmup: scale(200),
  /** Memory phase: decisions (8 concurrent) after a warm-up, RSS sampled after a GC every memorySampleEvery. */
  memoryWarmup: scale(1_000),
  memoryRuns: scale(20_000),
  memorySampleEvery: QUICK ? 100 : 1_000,
  /** The upstream mines a block this often during the memory phase and the soak (the fork advances). */
  blockMs: 2_000,
  /** The whole benchmark is killed after this long. */
  watchdogMs: 20 * 60_000,
};
const GOALS = {
  decideP50Ms: 10,
  ratioP50: 4,
  decisionsPerSecond: 100,
  // CPU of the whole process (EDR's threads included) per sequential decision, over the local execute's p50.
  cpuRatio: 3,
  rssGrowthKiBPerDecision: 50,
  httpDecisionsPerSecond: 100,
  httpVsInProcess: 0.8,
  httpErrors: 0,
  // One round trip at most: without a newHeads subscription each request checks the head (one eth_blockNumber).
  remoteDecideP50Ms: 30,
  remoteFirstAfterHeadMs: 250,
  signedAfterRevocation: 0,
};
const HIGHER_IS_BETTER = new Set(["decisionsPerSecond", "httpDecisionsPerSecond", "httpVsInProcess"]);

// ───────────────────────────── helpers ─────────────────────────────

interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


function summary(xs: readonly number[]) {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: xs.length,
    p50: r(pct(xs, 50)),
    p90: r(pct(xs, 90)),
    p99: r(pct(xs, 99)),
    min: r(Math.min(...xs)),
    max: r(Math.max(...xs)),
    mean: r(xs.reduce((a, b) => a + b, 0) / xs.length),
  };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Waits until `cond()` holds, polling every millisecond; throws after `timeoutMs`. */
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}


/**
 * The race of issue 8: the guardian pauses the wallet or revokes the session key (alternating), and a proposal is
 * sent as soon as the receipt is in. Any co-signature is a failure; the owner restores the wallet between trials.
 */
async function freshnessTrials(cosigner: Cosigner, nodeUrl: string, d: DemoDeployment, requests: Requests, trials: number) {
  const chain = { id: d.chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [nodeUrl] } } } as const;
  const pub = createPublicClient({ transport: http(nodeUrl) });
  const abi = loadArtifact("AgentWallet").abi;
  const sendAs = async (role: number, functionName: string, args: readonly unknown[]) => {
    const client = createWalletClient({ account: devAccount(role), transport: http(nodeUrl) });
    const data = encodeFunctionData({ abi, functionName, args } as never);
    const hash = await client.sendTransaction({ chain, to: d.wallet, data, gas: 500_000n });
    const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 1 });
    if (receipt.status !== "success") throw new Error(`${functionName} reverted`);
  };
  const sessionKey = devAccount(LOCAL_ROLES.sessionKey).address;
  const outcomes: Record<string, number> = {};
  let signed = 0;
  const times: number[] = [];
  for (let i = 0; i < trials; i++) {
    const pause = i % 2 === 0;
    const body = requests.make().body;
    await sendAs(LOCAL_ROLES.guardian, pause ? "pause" : "revokeSessionKey", pause ? [] : [sessionKey]);
    const t = now();
    const outcome = await cosigner.engine.propose(body).then(
      (decision) => {
        if (decision.cosignerSignature) signed += 1;
        return decision.status;
      },
      (err: { code?: string }) => err.code ?? "error",
    );
    times.push(now() - t);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    await sendAs(LOCAL_ROLES.owner, pause ? "unpause" : "addSessionKey", pause ? [] : [sessionKey, d.sessionKeyValidUntil]);
  }
  return { trials, signedAfterRevocation: signed, outcomes, decideP50Ms: round(pct(times, 50), 3) };
}

function approved(d: Decision): Decision {
  if (d.status !== "approved") throw new Error(`decision not approved: ${d.status} ${JSON.stringify(d.reasons)}`);
  return d;
}

/** Counts upstream traffic of a fork's cache (every upstream request goes through upstreamBatch). */
function countUpstream(fork: Fork) {
  const stats = { requests: 0, calls: 0, headPolls: 0, byMethod: {} as Record<string, number> };
  const cache = fork.cache;
  const original = cache.upstreamBatch.bind(cache);
  cache.upstreamBatch = async (calls) => {
    stats.requests += 1;
    for (const c of calls) {
      stats.calls += 1;
      stats.byMethod[c.method] = (stats.byMethod[c.method] ?? 0) + 1;
      if (c.method === "eth_getBlockByNumber" && c.params[0] === "latest") stats.headPolls += 1;
    }
    return original(calls);
  };
  const snapshot = () => ({ ...stats, byMethod: { ...stats.byMethod }, cache: { ...cache.stats } });
  return { stats, snapshot };
}

type UpstreamSnapshot = ReturnType<ReturnType<typeof countUpstream>["snapshot"]>;

/** Upstream traffic per decision between two snapshots (head polls, which do not depend on decisions, apart). */
function perDecision(a: UpstreamSnapshot, b: UpstreamSnapshot, decisions: number) {
  const d = (x: number, y: number) => round((y - x) / decisions, 3);
  const polls = b.headPolls - a.headPolls;
  const methods: Record<string, number> = {};
  for (const [m, n] of Object.entries(b.byMethod)) {
    const delta = n - (a.byMethod[m] ?? 0) - (m === "eth_getBlockByNumber" ? polls : 0);
    if (delta > 0) methods[m] = round(delta / decisions, 3);
  }
  return {
    upstreamRequestsPerDecision: round((b.requests - a.requests - polls) / decisions, 3),
    upstreamCallsPerDecision: round((b.calls - a.calls - polls) / decisions, 3),
    upstreamMethodsPerDecision: methods,
    headPollsDuring: polls,
    forkToCacheRequestsPerDecision: d(a.cache.forkRequests, b.cache.forkRequests),
    cacheHitsPerDecision: d(a.cache.cacheHits, b.cache.cacheHits),
  };
}

/** snapshot → eth_sendTransaction → receipt → revert, timed; the receipt must be a success. */
async function execOnce(p: Eip1193, tx: Record<string, unknown>): Promise<{ ms: number; gasUsed: bigint }> {
  const started = now();
  const snapshot = await p.request({ method: "evm_snapshot", params: [] });
  const hash = await p.request({ method: "eth_sendTransaction", params: [tx] });
  const receipt = (await p.request({ method: "eth_getTransactionReceipt", params: [hash] })) as { status: string; gasUsed: string };
  await p.request({ method: "evm_revert", params: [snapshot] });
  const ms = now() - started;
  if (receipt.status !== "0x1") throw new Error("the benchmark execute reverted");
  return { ms, gasUsed: BigInt(receipt.gasUsed) };
}

/** `warmup` executes, then `runs` timed ones; warmupP50Ms: the p50 of each block of P.warmupBlock in the warm-up. */
async function execLoop(p: Eip1193, tx: Record<string, unknown>, warmup: number, runs: number) {
  let gasUsed = 0n;
  const warmupP50Ms: number[] = [];
  let block: number[] = [];
  for (let i = 0; i < warmup; i++) {
    const run = await execOnce(p, tx);
    gasUsed = run.gasUsed;
    block.push(run.ms);
    if (block.length === P.warmupBlock || i === warmup - 1) {
      warmupP50Ms.push(round(pct(block, 50), 3));
      block = [];
    }
  }
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await execOnce(p, tx)).ms);
  return { times, gasUsed, warmupP50Ms };
}

/** An in-process Hardhat chain like the fork's; forked from `forkUrl` at `forkBlock` when given. */
async function inProcessChain(chainId: number, gasLimit: bigint, fork?: { url: string; block: bigint }): Promise<Eip1193> {
  const provider = (await createEvm({ chainId, gasLimit, hardfork: "prague", fork })) as Eip1193;
  // Calls at the fork block of chain 31337 fail: mine one block first (as the co-signer's fork does).
  if (fork) await provider.request({ method: "hardhat_mine", params: ["0x1"] });
  await provider.request({ method: "hardhat_impersonateAccount", params: [RELAYER] });
  await provider.request({ method: "hardhat_setBalance", params: [RELAYER, toHex(10n ** 24n)] });
  return provider;
}

/** The simulated transaction as the engine sends it: from the relayer, block gas limit, a non-zero gas price. */
async function execTx(p: Eip1193, wallet: Address, data: Hex) {
  const block = (await p.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as { baseFeePerGas: string; gasLimit: string };
  const tip = 1_000_000_000n;
  return {
    from: RELAYER,
    to: wallet,
    data,
    gas: block.gasLimit,
    maxFeePerGas: toHex(BigInt(block.baseFeePerGas) * 2n + tip),
    maxPriorityFeePerGas: toHex(tip),
  };
}

/**
 * Every account field and storage slot the probe `execute` reads on the upstream, with its value: found by running
 * it once on a throwaway fork behind an UpstreamCache (which records what it fetched). The demo cannot simply be
 * deployed again on the local chain: the wallet's address depends on its config, whose session-key expiry depends on
 * the deployment block's timestamp, and the signatures bind the wallet's address.
 */
async function stateReadBy(url: string, chainId: number, headNumber: bigint, gasLimit: bigint, wallet: Address, data: Hex) {
  const cache = new UpstreamCache({ upstreamUrl: url });
  const cacheUrl = await cache.start(headNumber, headNumber);
  try {
    const fork = await inProcessChain(chainId, gasLimit, { url: cacheUrl, block: headNumber });
    await execOnce(fork, await execTx(fork, wallet, data));
    return cache.drainFetched().filter(({ key }) => key.address !== RELAYER.toLowerCase());
  } finally {
    await cache.stop();
  }
}

/** Writes account fields and storage slots into a chain. */
async function writeState(p: Eip1193, state: { key: StateKey; value: unknown }[]): Promise<void> {
  for (const { key, value } of state) {
    const v = value as string;
    if (key.kind === "balance") await p.request({ method: "hardhat_setBalance", params: [key.address, v] });
    else if (key.kind === "nonce") await p.request({ method: "hardhat_setNonce", params: [key.address, v] });
    else if (key.kind === "code") await p.request({ method: "hardhat_setCode", params: [key.address, v] });
    else if (key.kind === "slot") await p.request({ method: "hardhat_setStorageAt", params: [key.address, key.slot, `0x${BigInt(v).toString(16).padStart(64, "0")}`] });
  }
}

/**
 * What a new EVM process costs beyond its steady state, a decision over its life: its start (CPU until the first
 * decision was answered) and its cold period (the warm-up blocks' EVM CPU above the window's, a decision), spread
 * over the decisions it serves until it grew by the growth limit: those before the window, and the limit's rest at
 * the window's rate (the window holds the renewals in its process, which grow it too; the growth counts from the
 * process's RSS after its first decision, as the fork's from its first check 100 runs later: never a longer life).
 * A replacement's start replays what the fork carries instead of reading the upstream: the first process's is the
 * figure at hand. The cold period is never counted below zero (a window on a host slower than during the warm-up
 * would make it so): the figure errs on the side of cost. Zero when the window held a process replacement itself
 * (its cost is then in the window's CPU) or the process did not grow at all (`grew` false).
 */
function processLife(
  growthLimitMiB: number,
  m: {
    startCpuMicros: number;
    warmupEvmMicros: number[];
    warmupBlock: number;
    windowEvmMicrosPerDecision: number;
    /** The process's RSS after its first decision, at the window's start and end (bytes); undefined if it was replaced. */
    rss?: { start: number; windowStart: number; windowEnd: number };
    /** Decisions the process served before the window, and in it. */
    before: number;
    window: number;
  },
) {
  if (growthLimitMiB <= 0) throw new Error("bench:cosign spreads a process's cost over the life its growth limit gives it: the limit must be set");
  const coldMicros = Math.max(0, m.warmupEvmMicros.reduce((sum, used) => sum + used - m.windowEvmMicrosPerDecision * m.warmupBlock, 0));
  const cpuMs = (m.startCpuMicros + coldMicros) / 1000;
  const rss = m.rss;
  // The window's rate, or (when the window's two samples show none) the whole observation's.
  const rate = rss === undefined ? undefined : rss.windowEnd > rss.windowStart ? (rss.windowEnd - rss.windowStart) / m.window : (rss.windowEnd - rss.start) / (m.before + m.window);
  const grew = rate !== undefined && rate > 0;
  const rest = rss === undefined ? 0 : Math.max(0, growthLimitMiB * 2 ** 20 - (rss.windowStart - rss.start));
  const decisions = grew ? Math.round(m.before + rest / rate) : undefined;
  return {
    growthLimitMiB,
    growthKiBPerDecision: rate === undefined ? undefined : round(rate / 1024, 2),
    grownBeforeWindowMiB: rss === undefined ? undefined : round((rss.windowStart - rss.start) / 2 ** 20, 1),
    grew,
    decisions,
    startCpuMs: round(m.startCpuMicros / 1000, 1),
    coldCpuMs: round(coldMicros / 1000, 1),
    cpuMs: round(cpuMs, 1),
    cpuMsPerDecision: decisions === undefined ? 0 : round(cpuMs / decisions, 3),
  };
}

/**
 * Sequential decisions on `bodies`, measured: their times, wall ms, and the CPU (µs) of the service's process and of
 * its EVM's. A replacement of the fork's EVM these decisions started is their work: waited for and counted here (its
 * new process's CPU with the rest), not left to run, unseen or charged to the floor, during what comes next.
 */
async function measuredSequential(cosigner: Cosigner, bodies: OperationRequestBody[]) {
  const evm0 = (await cosigner.fork.evmUsage()).cpuMicros;
  const cpu = process.cpuUsage();
  const started = now();
  const times = await sequential(cosigner, bodies);
  const ms = now() - started;
  await cosigner.fork.replacing;
  const used = process.cpuUsage(cpu);
  const evmMicros = (await cosigner.fork.evmUsage()).cpuMicros - evm0;
  return { times, ms, cpuMicros: used.user + used.system + evmMicros, evmMicros };
}

async function sequential(cosigner: Cosigner, bodies: OperationRequestBody[]): Promise<number[]> {
  const times: number[] = [];
  for (const body of bodies) {
    const started = now();
    approved(await cosigner.engine.propose(body));
    times.push(now() - started);
  }
  return times;
}

/**
 * Decisions on `bodies` from `workers` concurrent callers: all of them, or, given `seconds`, as many as that long
 * allows (running out of bodies first fails: the figure would measure the bodies).
 */
async function concurrent(cosigner: Cosigner, bodies: OperationRequestBody[], workers: number, seconds?: number) {
  const times: number[] = [];
  let next = 0;
  const started = now();
  const end = seconds === undefined ? Infinity : started + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < bodies.length && now() < end) {
        const body = bodies[next++]!;
        const t = now();
        approved(await cosigner.engine.propose(body));
        times.push(now() - t);
      }
    }),
  );
  if (seconds !== undefined && next >= bodies.length) throw new Error("an in-process block ran out of bodies before its time: sign more");
  return { times, seconds: (now() - started) / 1000 };
}

/**
 * Where a decision's time goes: the time inside fork.run (lock, simulation in the EVM's process, hydration), the
 * store's insert, and the rest (validation, digests, signatures, comparison, store reads); and the requests the EVM
 * received per decision, by method (from its process's own count). Instruments the instances for the duration only.
 */
async function profile(cosigner: Cosigner, bodies: OperationRequestBody[]) {
  const fork = cosigner.fork as unknown as { run: Fork["run"] };
  const store = cosigner.store;
  const stage = { run: 0, insert: 0 };
  const run = fork.run;
  const insert = store.insert;
  fork.run = async <T>(fn: Parameters<Fork["run"]>[0]): Promise<T> => {
    const t = now();
    try {
      return (await run.call(cosigner.fork, fn)) as T;
    } finally {
      stage.run += now() - t;
    }
  };
  store.insert = async (...args) => {
    const t = now();
    try {
      return await insert.apply(store, args);
    } finally {
      stage.insert += now() - t;
    }
  };
  const times: number[] = [];
  const recycles = cosigner.fork.stats.recycles;
  const pid = cosigner.fork.evmPid;
  const { requests: before, crossings: crossings0 } = await cosigner.fork.evmUsage();
  try {
    for (const body of bodies) {
      const started = now();
      approved(await cosigner.engine.propose(body));
      times.push(now() - started);
    }
  } finally {
    delete (fork as { run?: unknown }).run;
    delete (store as { insert?: unknown }).insert;
  }
  const { requests: after, crossings: crossings1 } = await cosigner.fork.evmUsage();
  // The EVM's counts are its own: a replacement during the phase (in its process or not) leaves them meaningless.
  const evmReplaced = cosigner.fork.stats.recycles !== recycles || cosigner.fork.evmPid !== pid;
  const n = bodies.length;
  const total = times.reduce((a, b) => a + b, 0) / n;
  const evmRequests = Object.entries(after)
    .map(([method, count]) => ({ method, perDecision: round((count - (before[method] ?? 0)) / n, 2) }))
    .filter((r) => r.perDecision > 0)
    .sort((a, b) => b.perDecision - a.perDecision);
  return {
    evmReplaced,
    decisions: n,
    decisionMeanMs: round(total, 3),
    evmRequestsPerDecision: round(evmRequests.reduce((a, r) => a + r.perDecision, 0), 2),
    /** Times the requests crossed into EDR (a batch crosses once). */
    evmCrossingsPerDecision: round((crossings1 - crossings0) / n, 2),
    stagesMeanMs: {
      forkRun: round(stage.run / n, 3),
      storeInsert: round(stage.insert / n, 3),
      rest: round(total - stage.run / n - stage.insert / n, 3),
    },
    evmRequests,
  };
}

/**
 * The throughput phase: decisions from P.concurrency callers in this process, and over HTTP (the co-signer's own
 * service on loopback, rate limits lifted, P.httpConcurrency closed-loop clients in a process of their own), in
 * alternating blocks of P.throughputBlockSeconds each: both rates span the same time, so both see the same machine
 * load and the same upkeep of the fork (new nonce words hydrated, a replacement of its EVM), and their ratio is not
 * one of a quiet second against a busy twenty. Bodies are signed before each block's clock starts. The CPU counted
 * over HTTP is the service's process's and its EVM's (not the clients').
 */
async function throughput(cosigner: Cosigner, requests: Requests) {
  const service = await startService(cosigner, 1_000_000_000);
  try {
    const warm = loadFigures(await runLoad({ url: service.url, bodies: requests.json(P.httpWarmup), concurrency: P.httpConcurrency, durationMs: 60_000 }));
    if (warm.ok !== P.httpWarmup) throw new Error(`HTTP warm-up: ${JSON.stringify(warm.errors)}`);
    const inProcess = { decisions: 0, seconds: 0, times: [] as number[] };
    const http = { sent: 0, ok: 0, seconds: 0, latencies: [] as number[], errors: {} as Record<string, number>, cpuMicros: 0, clientCpuMs: 0 };
    for (let block = 0; block < P.throughputBlocks; block++) {
      const conc = await concurrent(cosigner, requests.batch(Math.ceil(P.throughputBlockSeconds * HTTP_BODIES_PER_SECOND)), P.concurrency, P.throughputBlockSeconds);
      inProcess.decisions += conc.times.length;
      inProcess.seconds += conc.seconds;
      inProcess.times.push(...conc.times);
      const bodies = requests.forLoad(P.throughputBlockSeconds);
      const evm0 = (await cosigner.fork.evmUsage()).cpuMicros;
      const cpu = process.cpuUsage();
      const run = loadFigures(await runLoad({ url: service.url, bodies, concurrency: P.httpConcurrency, durationMs: P.throughputBlockSeconds * 1000 }));
      const used = process.cpuUsage(cpu);
      http.cpuMicros += used.user + used.system + (await cosigner.fork.evmUsage()).cpuMicros - evm0;
      if (run.sent === bodies.length) throw new Error("an HTTP block ran out of bodies before its time: sign more");
      http.sent += run.sent;
      http.ok += run.ok;
      http.seconds += run.ok / run.perSecond;
      http.latencies.push(...run.latencies);
      http.clientCpuMs += (run.clientCpuMsPerRequest ?? Number.NaN) * run.sent;
      for (const [k, v] of Object.entries(run.errors)) http.errors[k] = (http.errors[k] ?? 0) + v;
    }
    return {
      inProcess: { ...inProcess, perSecond: inProcess.decisions / inProcess.seconds },
      http: {
        ...http,
        perSecond: http.ok / http.seconds,
        cpuMsPerDecision: http.cpuMicros / 1000 / Math.max(1, http.sent),
        clientCpuMsPerRequest: http.clientCpuMs / Math.max(1, http.sent),
      },
    };
  } finally {
    await service.app.close();
  }
}

/** A function that runs a full garbage collection (V8's gc, exposed at run time). */
function exposeGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

/** Resident set (the service's process and its EVM's) and heap now, in MiB, after a full collection. */
async function memoryNow(gc: () => void, fork: Fork) {
  gc();
  const m = process.memoryUsage();
  const evmRss = (await fork.evmUsage()).rssBytes;
  return {
    rssMiB: round((m.rss + evmRss) / 2 ** 20, 1),
    serviceRssMiB: round(m.rss / 2 ** 20, 1),
    evmRssMiB: round(evmRss / 2 ** 20, 1),
    heapUsedMiB: round(m.heapUsed / 2 ** 20, 1),
    externalMiB: round(m.external / 2 ** 20, 1),
  };
}

/**
 * The memory phase: P.memoryRuns decisions (8 concurrent) after P.memoryWarmup, the upstream mining a block every
 * P.blockMs (so the fork advances as it would on a live chain); RSS after a full GC every P.memorySampleEvery. The
 * growth per decision is the least-squares slope of RSS over decisions (robust to one noisy sample).
 */
async function memoryPhase(cosigner: Cosigner, requests: Requests, nodeUrl: string, log: (s: string) => void) {
  const gc = exposeGc();
  const miner = setInterval(() => void nodeRpc(nodeUrl, "evm_mine").catch(() => undefined), P.blockMs);
  try {
    for (let done = 0; done < P.memoryWarmup; done += P.memorySampleEvery) {
      await concurrent(cosigner, requests.batch(Math.min(P.memorySampleEvery, P.memoryWarmup - done)), P.concurrency);
    }
    const samples = [{ decisions: 0, ...(await memoryNow(gc, cosigner.fork)) }];
    const started = now();
    const recycles0 = cosigner.fork.stats.recycles;
    // CPU of the decisions only (the bodies are signed, and memory sampled, outside it): the fork's advances and its
    // EVM's replacements meanwhile are in it, the replaced processes' CPU included.
    let cpuMicros = 0;
    for (let done = 0; done < P.memoryRuns; ) {
      const n = Math.min(P.memorySampleEvery, P.memoryRuns - done);
      const bodies = requests.batch(n);
      const evm0 = (await cosigner.fork.evmUsage()).cpuMicros;
      const cpu = process.cpuUsage();
      await concurrent(cosigner, bodies, P.concurrency);
      const used = process.cpuUsage(cpu);
      cpuMicros += used.user + used.system + ((await cosigner.fork.evmUsage()).cpuMicros - evm0);
      done += n;
      samples.push({ decisions: done, ...(await memoryNow(gc, cosigner.fork)) });
      if (done % (P.memorySampleEvery * 5) === 0) log(`memory: ${done} decisions, rss ${samples.at(-1)!.rssMiB} MiB`);
    }
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const kib = (mib: number) => mib * 1024;
    return {
      decisions: P.memoryRuns,
      warmup: P.memoryWarmup,
      seconds: round((now() - started) / 1000, 1),
      rssGrowthKiBPerDecision: kib(slope(samples.map((x) => x.decisions), samples.map((x) => x.rssMiB))),
      rssGrowthKiBPerDecisionEndToEnd: round(kib(last.rssMiB - first.rssMiB) / P.memoryRuns, 2),
      heapGrowthKiBPerDecision: round(kib(slope(samples.map((x) => x.decisions), samples.map((x) => x.heapUsedMiB))), 3),
      rssMiB: last.rssMiB,
      heapUsedMiB: last.heapUsedMiB,
      forkResets: cosigner.fork.stats.resets,
      forkRecycles: cosigner.fork.stats.recycles,
      forkRecyclesDuring: cosigner.fork.stats.recycles - recycles0,
      /** CPU per decision over the whole phase (service and EVM processes; advances and replacements included). */
      cpuMsPerDecision: round(cpuMicros / 1000 / P.memoryRuns, 3),
      hydratedKeys: cosigner.fork.stats.hydratedKeys,
      samples,
    };
  } finally {
    clearInterval(miner);
  }
}

// ───────────────────────────── the benchmark ─────────────────────────────

async function main() {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const cleanups: (() => Promise<void>)[] = [];
  let node: LocalNode | undefined;
  const watchdog = setTimeout(() => {
    console.error(`bench:cosign: still running after ${P.watchdogMs / 1000} s; giving up`);
    node?.process.kill("SIGKILL");
    process.exit(2);
  }, P.watchdogMs);
  watchdog.unref();
  const dir = mkdtempSync(path.join(os.tmpdir(), "countersign-bench-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const log = (s: string) => console.log(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)} s] ${s}`);

  try {
    node = await startLocalNode();
    const upstream = node;
    cleanups.push(() => upstream.stop());
    const d = await deployDemo(node.url);
    log(`upstream ${node.url}: demo wallet ${d.wallet}`);
    const cosignerKey = CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.cosigner));
    const sessionKey = CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.sessionKey));
    const requests = new Requests(d, sessionKey, cosignerKey, P);
    const review = { thresholds: new Map<string, bigint>(), reviewNewRecipients: false };
    const head = (await nodeRpc<{ number: string; gasLimit: string }>(node.url, "eth_getBlockByNumber", ["latest", false]))!;

    // The one operation the execution figures run, again and again (each run is reverted).
    const probe = requests.make();

    // ── the floor: the same execute on a local, non-forked chain holding the same contracts ──
    const state = await stateReadBy(node.url, d.chainId, BigInt(head.number), BigInt(head.gasLimit), d.wallet, probe.execute);
    const local = await inProcessChain(d.chainId, BigInt(head.gasLimit));
    await writeState(local, state);
    const localTx = await execTx(local, d.wallet, probe.execute);
    const localRun = await execLoop(local, localTx, P.localWarmup, P.localRuns);
    log(`local execute p50 ${pct(localRun.times, 50).toFixed(3)} ms (standalone); warm-up p50 by block of ${P.warmupBlock}: ${localRun.warmupP50Ms.join(" ")} ms`);

    // ── a plain Hardhat fork of the upstream ──
    const naive = await inProcessChain(d.chainId, BigInt(head.gasLimit), { url: node.url, block: BigInt(head.number) });
    const naiveRun = await execLoop(naive, await execTx(naive, d.wallet, probe.execute), P.naiveWarmup, P.naiveRuns);
    log(`plain fork execute p50 ${pct(naiveRun.times, 50).toFixed(3)} ms`);

    // ── the co-signer, upstream local ──
    const cosigner = await createCosigner({
      upstreamUrl: node.url,
      key: cosignerKey,
      dbPath: path.join(dir, "local.sqlite"),
      review,
      wallets: [d.wallet],
    });
    cleanups.push(() => cosigner.stop());
    const counter = countUpstream(cosigner.fork);
    const probeDecision = approved(await cosigner.engine.propose(probe.body));
    // The EVM's process so far: its start (EDR's provider, the fork's first reads and writes) and the first decision.
    const { cpuMicros: evmStartCpuMicros, rssBytes: evmStartRss } = await cosigner.fork.evmUsage();
    // The warm-up, in blocks: the CPU a decision of each shows how far from steady state the measured decisions are.
    const warmupCpuMsPerDecision: number[] = [];
    const warmupEvmMicros: number[] = [];
    const firstPid = cosigner.fork.evmPid;
    for (let done = 0; done < P.decideWarmup; done += P.warmupBlock) {
      // Signed before the clock starts, as the measured decisions are: the agent's work is not the co-signer's.
      const bodies = requests.batch(P.warmupBlock);
      const block = await measuredSequential(cosigner, bodies);
      warmupCpuMsPerDecision.push(round(block.cpuMicros / 1000 / bodies.length, 3));
      warmupEvmMicros.push(block.evmMicros);
    }
    log(`warm-up: CPU a decision by block of ${P.warmupBlock}: ${warmupCpuMsPerDecision.join(" ")} ms`);
    // The sequential decisions run in blocks, each followed by a block of local executes: both figures of the ratio
    // then see the same machine load (on a shared machine the load moves within seconds).
    const decideTimes: number[] = [];
    const localTimes: number[] = [];
    let seqMs = 0;
    let cpuMicros = 0;
    let evmCpuMicros = 0;
    // The floor's own CPU (this process, EDR's threads included; the idle co-signer in it costs next to nothing).
    let localCpuMicros = 0;
    const up0 = counter.snapshot();
    const replaced0 = { ...cosigner.fork.stats };
    const windowPid = cosigner.fork.evmPid;
    const evmRss0 = (await cosigner.fork.evmUsage()).rssBytes;
    let decideRuns = 0;
    /** The window's CPU a decision, block by block (parameters.decideBlock each). */
    const windowCpuMsPerDecision: number[] = [];
    while (decideRuns < P.decideRuns) {
      const bodies = requests.batch(P.decideBlock);
      decideRuns += bodies.length;
      const block = await measuredSequential(cosigner, bodies);
      windowCpuMsPerDecision.push(round(block.cpuMicros / 1000 / bodies.length, 3));
      decideTimes.push(...block.times);
      seqMs += block.ms;
      cpuMicros += block.cpuMicros;
      evmCpuMicros += block.evmMicros;
      const localCpu = process.cpuUsage();
      for (let i = 0; i < P.localPerBlock; i++) localTimes.push((await execOnce(local, localTx)).ms);
      const usedLocal = process.cpuUsage(localCpu);
      localCpuMicros += usedLocal.user + usedLocal.system;
    }
    const evmRss1 = (await cosigner.fork.evmUsage()).rssBytes;
    const seqSeconds = seqMs / 1000;
    const up1 = counter.snapshot();
    const sequentialReplacements = {
      decisions: decideRuns,
      // The EVM renewed in its process (by count), and its process replaced (for growth).
      replacements: cosigner.fork.stats.recycles - replaced0.recycles,
      forGrowth: cosigner.fork.stats.recyclesForGrowth - replaced0.recyclesForGrowth,
      processEnded: cosigner.fork.evmPid !== windowPid,
      warmupProcessEnded: windowPid !== firstPid,
    };
    const life = processLife(cosigner.fork.recycleGrowthMiB, {
      startCpuMicros: evmStartCpuMicros,
      warmupEvmMicros,
      warmupBlock: P.warmupBlock,
      windowEvmMicrosPerDecision: evmCpuMicros / decideRuns,
      rss: sequentialReplacements.processEnded || sequentialReplacements.warmupProcessEnded ? undefined : { start: evmStartRss, windowStart: evmRss0, windowEnd: evmRss1 },
      before: P.decideWarmup + 1,
      window: decideRuns,
    });
    if (!life.grew) log("EVM process life: its process did not grow, or was replaced in the window: no process-life term");
    log(
      `EVM process life: ${life.decisions ?? "-"} decisions (growth ${life.growthKiBPerDecision ?? "-"} KiB a decision, limit ${life.growthLimitMiB} MiB), ` +
        `${life.cpuMs} ms CPU beyond its steady state (start ${life.startCpuMs}, cold ${life.coldCpuMs}): ${life.cpuMsPerDecision} ms a decision`,
    );
    log(`decide p50 ${pct(decideTimes, 50).toFixed(3)} ms, p99 ${pct(decideTimes, 99).toFixed(3)} ms`);
    const rates = await throughput(cosigner, requests);
    const conc = rates.inProcess;
    const httpPhase = rates.http;
    log(`${P.concurrency} concurrent in process: ${conc.perSecond.toFixed(1)} decisions/s`);
    log(
      `HTTP, ${P.httpConcurrency} clients: ${httpPhase.perSecond.toFixed(1)} decisions/s, p99 ${pct(httpPhase.latencies, 99).toFixed(1)} ms, errors ${JSON.stringify(httpPhase.errors)}; ` +
        `CPU ${httpPhase.cpuMsPerDecision.toFixed(3)} ms a decision (service and EVM), ${httpPhase.clientCpuMsPerRequest?.toFixed(3)} ms a request (the clients' process)`,
    );
    let prof = await profile(cosigner, requests.batch(P.profileRuns));
    // Its EVM counts hold for one process: again (at most twice more) if the EVM was replaced meanwhile.
    for (let again = 0; prof.evmReplaced && again < 2; again++) prof = await profile(cosigner, requests.batch(P.profileRuns));
    const memory = await memoryPhase(cosigner, requests, node.url, log);
    log(`memory: ${memory.rssGrowthKiBPerDecision.toFixed(1)} KiB RSS per decision over ${memory.decisions} decisions (rss ${memory.rssMiB} MiB at the end; ${memory.cpuMsPerDecision} ms CPU a decision, ${memory.forkRecyclesDuring} replacements included)`);
    const localForkStats = { ...cosigner.fork.stats };

    await cosigner.stop();
    cleanups.pop();

    // ── the co-signer, upstream 20 ms away ──
    const proxy: LatencyProxy = await startLatencyProxy(node.url, P.remoteDelayMs);
    cleanups.push(() => proxy.stop());
    const remote = await createCosigner({
      upstreamUrl: proxy.url,
      key: cosignerKey,
      dbPath: path.join(dir, "remote.sqlite"),
      review,
      wallets: [d.wallet],
    });
    cleanups.push(() => remote.stop());
    const remoteCounter = countUpstream(remote.fork);
    const coldStarted = now();
    approved(await remote.engine.propose(requests.make().body));
    const remoteColdMs = now() - coldStarted;
    await sequential(remote, requests.batch(P.remoteWarmup));
    const rup0 = remoteCounter.snapshot();
    const remoteTimes = await sequential(remote, requests.batch(P.remoteRuns));
    const rup1 = remoteCounter.snapshot();
    log(`remote decide p50 ${pct(remoteTimes, 50).toFixed(3)} ms`);

    // First decision after a new head: mine upstream (directly), then (a) wait until the fork has moved to the new
    // head and decide; (b) decide as soon as the watcher has seen the new head (the request meets the advance).
    const fork = remote.fork;
    const head0 = { advances: fork.stats.advances };
    const firstAfterHead: { minedToDecisionMs: number; decisionMs: number; seenMs: number; advanceMs: number }[] = [];
    const duringAdvance: { decisionMs: number; onNewHead: boolean }[] = [];
    const rupHead0 = remoteCounter.snapshot();
    for (let i = 0; i < 2 * P.headRuns; i++) {
      const waitForAdvance = i % 2 === 0;
      await until(() => fork.head.number === fork.upstreamHead.number, 10_000, "the fork to catch up");
      const body = requests.make().body;
      const advances = fork.stats.advances;
      const mined = fork.head.number + 1n;
      await sleep(Math.random() * 250); // a random phase against the head watcher's polling
      await nodeRpc(node.url, "evm_mine");
      const tMined = now();
      await until(() => fork.upstreamHead.number >= mined, 10_000, "the watcher to see the new head");
      const tSeen = now();
      if (waitForAdvance) await until(() => fork.stats.advances > advances, 10_000, "the fork to advance");
      const t = now();
      const decision = approved(await remote.engine.propose(body));
      const done = now();
      const onNewHead = decision.simulation!.blockNumber === (mined + 1n).toString();
      if (waitForAdvance) {
        if (!onNewHead) throw new Error(`decision after the advance simulated block ${decision.simulation!.blockNumber}, not ${mined + 1n}`);
        firstAfterHead.push({ minedToDecisionMs: done - tMined, decisionMs: done - t, seenMs: tSeen - tMined, advanceMs: fork.stats.lastAdvanceMs });
      } else {
        duringAdvance.push({ decisionMs: done - t, onNewHead });
        await until(() => fork.stats.advances > advances, 10_000, "the fork to advance");
      }
    }
    const rupHead1 = remoteCounter.snapshot();
    const headAdvances = fork.stats.advances - head0.advances;
    log(`remote first after head p50 ${pct(firstAfterHead.map((x) => x.minedToDecisionMs), 50).toFixed(1)} ms`);
    const remoteForkStats = { ...fork.stats };
    const remoteHeadChecks = { ...fork.watcher.stats };
    await remote.stop();
    cleanups.pop();

    // ── a plain Hardhat fork through the same proxy ──
    const proxied0 = { requests: proxy.stats.requests, calls: proxy.stats.calls };
    const remoteHead = (await nodeRpc<{ number: string }>(node.url, "eth_getBlockByNumber", ["latest", false]))!;
    const naiveRemote = await inProcessChain(d.chainId, BigInt(head.gasLimit), { url: proxy.url, block: BigInt(remoteHead.number) });
    // A fresh request: the probe signed at the start may be past its deadline after the memory phase.
    const naiveRemoteTx = await execTx(naiveRemote, d.wallet, requests.make().execute);
    const proxied1 = { requests: proxy.stats.requests, calls: proxy.stats.calls };
    const naiveRemoteRun = await execLoop(naiveRemote, naiveRemoteTx, 1, P.naiveRemoteRuns);
    const proxied2 = { requests: proxy.stats.requests, calls: proxy.stats.calls };
    log(`plain fork through the proxy p50 ${pct(naiveRemoteRun.times, 50).toFixed(1)} ms`);

    // ── freshness: pause or revocation, then a proposal at once (last: the trials mine blocks and move chain time) ──
    const fresh = async (upstreamUrl: string, name: string) => {
      const c = await createCosigner({ upstreamUrl, key: cosignerKey, dbPath: path.join(dir, `${name}.sqlite`), review, wallets: [d.wallet] });
      try {
        const headsBy = c.fork.watcher.subscribed ? "newHeads subscription" : "head check per request";
        const result = await freshnessTrials(c, node!.url, d, requests, P.freshnessTrials);
        log(`freshness (${name}, ${headsBy}): ${result.signedAfterRevocation} signed in ${result.trials} trials ${JSON.stringify(result.outcomes)}`);
        return { headsBy, ...result };
      } finally {
        await c.stop();
      }
    };
    const freshLocal = await fresh(node.url, "local");
    const freshRemote = await fresh(proxy.url, "remote");

    // ── results ──
    const localExecP50Ms = pct(localTimes, 50);
    const decideP50Ms = pct(decideTimes, 50);
    const figures = {
      localExecP50Ms: round(localExecP50Ms, 3),
      localExecStandaloneP50Ms: round(pct(localRun.times, 50), 3),
      naiveForkP50Ms: round(pct(naiveRun.times, 50), 3),
      decideP50Ms: round(decideP50Ms, 3),
      decideP99Ms: round(pct(decideTimes, 99), 3),
      decisionsPerSecond: round(conc.perSecond, 1),
      ratioP50: round(decideP50Ms / localExecP50Ms, 2),
      ratioP50Standalone: round(decideP50Ms / pct(localRun.times, 50), 2),
      // The window's CPU, and a new EVM process's start-up and cold period over the life this run measured.
      cpuMsPerDecision: round(cpuMicros / 1000 / decideTimes.length + life.cpuMsPerDecision, 3),
      cpuRatio: round((cpuMicros / 1000 / decideTimes.length + life.cpuMsPerDecision) / localExecP50Ms, 2),
      localExecCpuMs: round(localCpuMicros / 1000 / localTimes.length, 3),
      // cpuMsPerDecision's two parts: the EVM's process, and the rest (the service's process, this one).
      evmCpuMsPerDecision: round(evmCpuMicros / 1000 / decideTimes.length + life.cpuMsPerDecision, 3),
      httpDecisionsPerSecond: round(httpPhase.perSecond, 1),
      httpVsInProcess: round(httpPhase.perSecond / conc.perSecond, 2),
      httpP50Ms: round(pct(httpPhase.latencies, 50), 2),
      httpP99Ms: round(pct(httpPhase.latencies, 99), 2),
      httpErrors: httpPhase.sent - httpPhase.ok,
      rssGrowthKiBPerDecision: round(memory.rssGrowthKiBPerDecision, 1),
      rssMiB: memory.rssMiB,
      heapUsedMiB: memory.heapUsedMiB,
      remoteDecideP50Ms: round(pct(remoteTimes, 50), 3),
      remoteDecideP99Ms: round(pct(remoteTimes, 99), 3),
      remoteFirstAfterHeadMs: round(pct(firstAfterHead.map((x) => x.minedToDecisionMs), 50), 1),
      remoteFirstAfterHeadDecisionMs: round(pct(firstAfterHead.map((x) => x.decisionMs), 50), 3),
      remoteHeadSeenMs: round(pct(firstAfterHead.map((x) => x.seenMs), 50), 1),
      remoteDecisionDuringAdvanceMs: round(pct(duringAdvance.map((x) => x.decisionMs), 50), 3),
      forkAdvanceMs: round(pct(firstAfterHead.map((x) => x.advanceMs), 50), 3),
      naiveRemoteForkP50Ms: round(pct(naiveRemoteRun.times, 50), 1),
      remoteColdFirstDecisionMs: round(remoteColdMs, 1),
      sequentialDecisionsPerSecond: round(decideRuns / seqSeconds, 1),
      concurrentDecideP50Ms: round(pct(conc.times, 50), 3),
      freshnessTrials: freshRemote.trials,
      freshnessTrialsSubscribed: freshLocal.trials,
      signedAfterRevocation: freshLocal.signedAfterRevocation + freshRemote.signedAfterRevocation,
    };
    const goals = Object.fromEntries(
      Object.entries(GOALS).map(([name, goal]) => {
        const value = figures[name as keyof typeof figures];
        const higher = HIGHER_IS_BETTER.has(name);
        return [name, { goal, value, comparison: higher ? "≥" : "≤", met: higher ? value >= goal : value <= goal }];
      }),
    );
    const out = {
      generatedAt: startedAt.toISOString(),
      durationSeconds: round((Date.now() - startedAt.getTime()) / 1000, 1),
      quick: QUICK,
      node: process.version,
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      machine: machine(),
      loadAverage: { before: loadBefore.map((x) => round(x)), after: os.loadavg().map((x) => round(x)) },
      hardhat: (require("hardhat/package.json") as { version: string }).version,
      caveat: `measured on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}) while other work may run: p50s are robust to that, p99s and throughput less so`,
      operation: `execute([USDC.transfer(alice, ${P.amount})]) on the demo wallet, transfer intent, fresh sequential nonces`,
      parameters: { ...P, amount: P.amount.toString(), callGasLimit: P.callGasLimit.toString(), ttlSeconds: P.ttlSeconds.toString() },
      figures,
      goals,
      gasUsed: { localExec: localRun.gasUsed.toString(), naiveFork: naiveRun.gasUsed.toString(), decision: probeDecision.simulation?.gasUsed },
      upstream: {
        local: perDecision(up0, up1, decideRuns),
        remoteSteady: perDecision(rup0, rup1, P.remoteRuns),
        remoteHeadPhase: { ...perDecision(rupHead0, rupHead1, 2 * P.headRuns), advances: headAdvances },
        naiveRemoteForkRequestsPerExec: round((proxied2.requests - proxied1.requests) / (P.naiveRemoteRuns + 1), 1),
        naiveRemoteForkSetupRequests: proxied1.requests - proxied0.requests,
      },
      fork: { local: localForkStats, remote: remoteForkStats },
      hydratedKeys: localForkStats.hydratedKeys,
      freshness: {
        local: freshLocal,
        remote: freshRemote,
        remoteSteadyWatcher: remoteHeadChecks,
      },
      remoteHead: {
        firstAfterHead: firstAfterHead.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, round(v, 2)]))),
        duringAdvance: duringAdvance.map((x) => ({ decisionMs: round(x.decisionMs, 2), onNewHead: x.onNewHead })),
      },
      profile: prof,
      // The sequential warm-up's CPU a decision (service and EVM), block by block (parameters.warmupBlock each).
      warmupCpuMsPerDecision,
      // Replacements of the fork's EVM swapped in during the measured sequential decisions (cpuMsPerDecision pays them).
      sequentialReplacements,
      // What a new EVM process costs beyond its steady state, and the life it is spread over (cpuMsPerDecision adds it).
      processLife: life,
      windowCpuMsPerDecision,
      // The floor's warm-up: the p50 of each block of executes (parameters.warmupBlock each).
      localWarmupP50Ms: localRun.warmupP50Ms,
      // cpuMsPerDecision: the service's process and its EVM's; clientCpuMsPerRequest: the load generator's process,
      // which shares the machine's two cores with the service (a client elsewhere would take none of them).
      http: {
        concurrency: P.httpConcurrency,
        blocks: P.throughputBlocks,
        blockSeconds: P.throughputBlockSeconds,
        seconds: round(httpPhase.seconds, 2),
        inProcessSeconds: round(conc.seconds, 2),
        inProcessDecisions: conc.decisions,
        sent: httpPhase.sent,
        ok: httpPhase.ok,
        errors: httpPhase.errors,
        cpuMsPerDecision: round(httpPhase.cpuMsPerDecision, 3),
        clientCpuMsPerRequest: round(httpPhase.clientCpuMsPerRequest ?? Number.NaN, 3),
      },
      memory,
      samples: {
        localExec: summary(localTimes),
        localExecStandalone: summary(localRun.times),
        naiveFork: summary(naiveRun.times),
        decide: summary(decideTimes),
        concurrentDecide: summary(conc.times),
        http: summary(httpPhase.latencies),
        remoteDecide: summary(remoteTimes),
        remoteFirstAfterHead: summary(firstAfterHead.map((x) => x.minedToDecisionMs)),
        remoteFirstAfterHeadDecision: summary(firstAfterHead.map((x) => x.decisionMs)),
        remoteHeadSeen: summary(firstAfterHead.map((x) => x.seenMs)),
        remoteDecisionDuringAdvance: summary(duringAdvance.map((x) => x.decisionMs)),
        forkAdvance: summary(firstAfterHead.map((x) => x.advanceMs)),
        naiveRemoteFork: summary(naiveRemoteRun.times),
      },
    };

    console.log(`\nbench:cosign — ${out.operation}`);
    console.log(`node ${out.node}, ${out.cores} cores, load ${loadBefore.map((x) => x.toFixed(2)).join(" ")}; ${out.caveat}\n`);
    console.table(
      Object.entries(figures).map(([figure, value]) => {
        const goal = goals[figure];
        return { figure, value, goal: goal ? `${goal.comparison} ${goal.goal}` : "", met: goal ? (goal.met ? "yes" : "NO") : "" };
      }),
    );
    console.log("upstream traffic per decision (head polls excluded):");
    const forTable = (u: ReturnType<typeof perDecision>) => ({ ...u, upstreamMethodsPerDecision: JSON.stringify(u.upstreamMethodsPerDecision) });
    console.table({
      local: forTable(out.upstream.local),
      remoteSteady: forTable(out.upstream.remoteSteady),
      remoteHeadPhase: forTable(out.upstream.remoteHeadPhase),
    });
    console.log(`hydrated keys: ${out.hydratedKeys}; plain fork through the proxy: ${out.upstream.naiveRemoteForkRequestsPerExec} upstream requests per execute`);
    console.log(
      `\nwhere a warm decision's time goes (mean of ${prof.decisions}, ms): ${JSON.stringify(prof.stagesMeanMs)}; ` +
        `${prof.evmRequestsPerDecision} EVM requests per decision, in ${prof.evmCrossingsPerDecision} crossings into EDR:`,
    );
    console.table(prof.evmRequests);

    const results = path.join(__dirname, "results");
    mkdirSync(results, { recursive: true });
    writeFileSync(path.join(results, "cosign.json"), JSON.stringify(out, null, 2) + "\n");
    console.log(`wrote ${path.relative(process.cwd(), path.join(results, "cosign.json"))}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error("cleanup:", (err as Error).message));
    clearTimeout(watchdog);
  }
}

/** `--name value` from the command line, if given. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const soakSeconds = flag("soak");
(soakSeconds ? soak(Number(soakSeconds), Number(flag("rate") ?? 50)).then((passed) => (process.exitCode = passed ? 0 : 1)) : main())
  .then(() => process.exit(process.exitCode ?? 0))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
