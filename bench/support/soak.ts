/**
 * The soak mode of bench:cosign (`npm run bench:cosign -- --soak 600 [--rate 50]`, not in CI): the demo deployment on
 * a local node that mines a block every 2 s, the co-signer's HTTP service, and valid proposals at a fixed rate from a
 * client process for the given seconds. Every 10 s it samples RSS, heap, event-loop delay and the window's latency
 * p99 into bench/results/soak.json, and fails (exit 1) when memory or p99 trends up over the last half, or any
 * request failed.
 *
 * "Trends up" over the last half: the Theil–Sen slope (the median of the slopes between every two samples), times
 * the half's duration, is a rise of more than 5% of the half's mean and more than 16 MiB for the service process's
 * RSS, or more than 25% of the mean and more than 5 ms for p99. A median, not a least-squares fit: one window in
 * which the disk stalled (measured here: fdatasyncs of 60–412 ms, clustered over a few seconds, and every decision
 * committed meanwhile answers after them) is not a trend, and a least-squares fit over 30 windows turned one such
 * window near the end into a "rise" of 26 ms; a rise every window shares still moves the median. The least-squares
 * rise is reported beside it. The EVM lives in a process of its own that the fork replaces once that process grew by
 * FORK_RECYCLE_GROWTH_MIB (its RSS is a saw-tooth, not a line, and one tooth may outlast the soak: about 50,000
 * decisions here with the default 160): it fails when a process rose above its lowest sample by more than that limit
 * and 32 MiB (the limit is checked every 100 simulations, and a renewal builds a second EVM beside the first; with no
 * limit, 0, this is not checked), when the soak saw several processes and the last one's lowest RSS is above the
 * first one's by more than 10% and 16 MiB (what every new process starts from grows), and, when a process ended in
 * the first half (so that the first half holds a whole tooth), when its highest RSS in the last half is above its
 * highest in the first half by more than 10% and 16 MiB.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import v8 from "node:v8";
import vm from "node:vm";
import { devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { createCosigner } from "../../src/cosigner";
import { deployDemo } from "../../src/deploy/demo";
import { rpc as nodeRpc, startLocalNode } from "../../src/devchain/node";
import { CosignerKey } from "../../src/signing/signer";
import { loadFigures, runLoad, slope, startLoad, startService, type LoadResult } from "./http-load";
import { machine } from "./machine";
import { Requests } from "./requests";

const WINDOW_MS = 10_000;
const SHAPE = { amount: 1n, callGasLimit: 1_000_000n, ttlSeconds: 240n };

interface Sample {
  atSeconds: number;
  /** The service's process and its EVM's process together. */
  rssMiB: number;
  serviceRssMiB: number;
  evmRssMiB: number;
  evmHeapUsedMiB: number;
  evmHeapTotalMiB: number;
  /** Threads of the EVM's process (Linux; null elsewhere): EDR runs concurrent requests on threads that stay. */
  evmThreads: number | null;
  forkRecycles: number;
  /** The serving EVM's process. */
  evmPid: number;
  heapUsedMiB: number;
  eventLoopDelayP99Ms: number;
  requests: number;
  ok: number;
  p99Ms: number;
  decisionsPerSecond: number;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function p99(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
}

/** The number of threads of process `pid` (Linux's /proc), or null where that cannot be read. */
function threadsOf(pid: number | undefined): number | null {
  try {
    return Number(/Threads:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) || null;
  } catch {
    return null;
  }
}

/**
 * The Theil–Sen slope of `ys` over `xs`: the median of the slopes between every two points (0 for fewer than two).
 * @example medianSlope([0, 1, 2, 3], [10, 11, 500, 13]) // 1: one outlier does not move it
 */
export function medianSlope(xs: readonly number[], ys: readonly number[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) if (xs[j] !== xs[i]) slopes.push((ys[j]! - ys[i]!) / (xs[j]! - xs[i]!));
  if (slopes.length === 0) return 0;
  slopes.sort((a, b) => a - b);
  const mid = Math.floor(slopes.length / 2);
  return slopes.length % 2 === 1 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

/** Whether `ys` (sampled at `xs` seconds) rises over the last half by more than `share` of its mean and `floor`. */
export function trendsUp(xs: number[], ys: number[], share: number, floor: number) {
  const half = Math.floor(xs.length / 2);
  const hx = xs.slice(half);
  const hy = ys.slice(half);
  const mean = hy.reduce((a, b) => a + b, 0) / Math.max(1, hy.length);
  const span = (hx.at(-1) ?? 0) - (hx[0] ?? 0);
  const rise = medianSlope(hx, hy) * span;
  const limit = Math.max(share * mean, floor);
  return { rise: round(rise, 2), leastSquaresRise: round(slope(hx, hy) * span, 2), mean: round(mean, 2), limit: round(limit, 2), up: rise > limit };
}

/**
 * Each EVM process the samples saw (told apart by its process id): the fork's replacement count when it was first and
 * last sampled (renewals of the EVM in the process come between), when it was first and last sampled, its lowest and
 * highest RSS, and about how many decisions it served (those of its windows).
 */
function evmGenerations(samples: readonly Sample[]) {
  const by = new Map<number, Sample[]>();
  for (const s of samples) {
    const same = by.get(s.evmPid) ?? [];
    same.push(s);
    by.set(s.evmPid, same);
  }
  return [...by].map(([, xs]) => ({
    replaced: `${xs[0]!.forkRecycles}–${xs.at(-1)!.forkRecycles}`,
    fromSeconds: xs[0]!.atSeconds,
    toSeconds: xs.at(-1)!.atSeconds,
    troughMiB: Math.min(...xs.map((x) => x.evmRssMiB)),
    peakMiB: Math.max(...xs.map((x) => x.evmRssMiB)),
    decisions: xs.reduce((n, x) => n + x.ok, 0),
  }));
}

/**
 * Whether an EVM process rose above its lowest sample by more than the growth limit and `slackMiB`: the bound the
 * replacement for growth keeps did not hold.
 */
export function boundExceeded(generations: readonly { troughMiB: number; peakMiB: number }[], growthLimitMiB: number, slackMiB: number) {
  const highestRise = Math.max(0, ...generations.map((g) => round(g.peakMiB - g.troughMiB, 1)));
  const checked = growthLimitMiB > 0;
  return { highestRise, limit: growthLimitMiB + slackMiB, checked, up: checked && highestRise > growthLimitMiB + slackMiB };
}

/** `base` raised by `share` of it, and by at least `floor`: the most a figure may reach before it counts as grown. */
function grownLimit(base: number, share: number, floor: number): number {
  return round(base + Math.max(share * base, floor), 2);
}

/** Whether the last EVM process's lowest RSS is above the first one's by more than `share` and `floor` (two or more). */
export function troughsGrow(generations: readonly { troughMiB: number }[], share: number, floor: number) {
  const first = generations[0]?.troughMiB ?? 0;
  const last = generations.at(-1)?.troughMiB ?? 0;
  const limit = grownLimit(first, share, floor);
  return { first, last, limit, compared: generations.length > 1, up: generations.length > 1 && last > limit };
}

/** Whether the highest of `ys` in the last half is above the highest in the first half by more than `share` and `floor`. */
export function peaksGrow(ys: number[], share: number, floor: number) {
  const half = Math.floor(ys.length / 2);
  const firstHalfPeak = Math.max(...ys.slice(0, half));
  const lastHalfPeak = Math.max(...ys.slice(half));
  const limit = grownLimit(firstHalfPeak, share, floor);
  return { firstHalfPeak, lastHalfPeak, limit, up: lastHalfPeak > limit };
}

export async function soak(seconds: number, ratePerSecond: number): Promise<boolean> {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const startedAt = new Date();
  const dir = mkdtempSync(path.join(os.tmpdir(), "countersign-soak-"));
  const node = await startLocalNode();
  const cleanups: (() => Promise<unknown>)[] = [async () => rmSync(dir, { recursive: true, force: true }), () => node.stop()];
  try {
    const d = await deployDemo(node.url);
    const cosignerKey = CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.cosigner));
    const sessionKey = CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.sessionKey));
    const cosigner = await createCosigner({
      upstreamUrl: node.url,
      key: cosignerKey,
      dbPath: path.join(dir, "soak.sqlite"),
      review: { thresholds: new Map(), reviewNewRecipients: false },
      wallets: [d.wallet],
      ...(process.env.FORK_RECYCLE_EVERY ? { forkRecycleEvery: Number(process.env.FORK_RECYCLE_EVERY) } : {}),
      ...(process.env.FORK_RECYCLE_GROWTH_MIB ? { forkRecycleGrowthMiB: Number(process.env.FORK_RECYCLE_GROWTH_MIB) } : {}),
    });
    cleanups.push(() => cosigner.stop());
    const service = await startService(cosigner, 1_000_000_000);
    cleanups.push(() => service.app.close());
    const requests = new Requests(d, sessionKey, cosignerKey, SHAPE);
    const warm = loadFigures(await runLoad({ url: service.url, bodies: requests.json(200), concurrency: 8, durationMs: 60_000 }));
    if (warm.ok !== 200) throw new Error(`soak warm-up: ${JSON.stringify(warm.errors)}`);
    const miner = setInterval(() => void nodeRpc(node.url, "evm_mine").catch(() => undefined), 2_000);
    cleanups.push(async () => clearInterval(miner));

    // Bodies are signed 20 s ahead of when they are sent (deadlines are at most 300 s ahead).
    const perWindow = Math.ceil((ratePerSecond * WINDOW_MS) / 1000);
    const run = startLoad({ url: service.url, bodies: requests.json(2 * perWindow), concurrency: 256, durationMs: seconds * 1000, ratePerSecond });
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const samples: Sample[] = [];
    const t0 = performance.now();
    let seen = 0;
    let fed = 2 * perWindow;
    const total = Math.ceil(ratePerSecond * seconds);
    let finished = false;
    void run.done.then(() => (finished = true));
    while (!finished && performance.now() - t0 < seconds * 1000 + 30_000) {
      // Bodies are signed a second's worth at a time, ten at a time with a turn of the event loop between: signing a
      // window's worth at once would hold this process's event loop (the service's too) for a third of a second, and a
      // second's worth for 5 ms, and the p99 would measure the benchmark itself.
      for (let second = 0; second < WINDOW_MS / 1000; second++) {
        await new Promise((r) => setTimeout(r, 1000));
        for (let n = Math.min(ratePerSecond, total - fed); n > 0; n -= 10) {
          run.feed(requests.json(Math.min(10, n)));
          fed += Math.min(10, n);
          await new Promise((r) => setImmediate(r));
        }
      }
      if (fed >= total) run.end();
      const window: LoadResult[] = run.results.slice(seen);
      seen = run.results.length;
      gc();
      const m = process.memoryUsage();
      const evmUsage = await cosigner.fork.evmUsage();
      const evmRss = evmUsage.rssBytes;
      const ok = window.filter((r) => r.status === 200);
      const failed: Record<string, number> = {};
      for (const r of window) if (r.status !== 200) failed[`${r.status} ${r.code ?? ""}`] = (failed[`${r.status} ${r.code ?? ""}`] ?? 0) + 1;
      const sample: Sample = {
        atSeconds: round((performance.now() - t0) / 1000, 1),
        rssMiB: round((m.rss + evmRss) / 2 ** 20, 1),
        serviceRssMiB: round(m.rss / 2 ** 20, 1),
        evmRssMiB: round(evmRss / 2 ** 20, 1),
        evmHeapUsedMiB: round(evmUsage.heapUsedBytes / 2 ** 20, 1),
        evmHeapTotalMiB: round(evmUsage.heapTotalBytes / 2 ** 20, 1),
        evmThreads: threadsOf(cosigner.fork.evmPid),
        forkRecycles: cosigner.fork.stats.recycles,
        evmPid: cosigner.fork.evmPid ?? 0,
        heapUsedMiB: round(m.heapUsed / 2 ** 20, 1),
        eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 2),
        requests: window.length,
        ok: ok.length,
        p99Ms: round(p99(ok.map((r) => r.ms)), 2),
        decisionsPerSecond: round((ok.length * 1000) / WINDOW_MS, 1),
      };
      loop.reset();
      samples.push(sample);
      console.log(
        `[${sample.atSeconds.toFixed(0)} s] rss ${sample.rssMiB} MiB (service ${sample.serviceRssMiB}, EVM ${sample.evmRssMiB}, heap ${sample.evmHeapUsedMiB}/${sample.evmHeapTotalMiB}, threads ${sample.evmThreads}, replaced ${sample.forkRecycles} times (${cosigner.fork.stats.recyclesForGrowth} for growth), ${cosigner.fork.stats.hydratedKeys} keys hydrated), heap ${sample.heapUsedMiB} MiB, loop p99 ${sample.eventLoopDelayP99Ms} ms, ` +
          `${sample.ok}/${sample.requests} ok, p99 ${sample.p99Ms} ms${Object.keys(failed).length > 0 ? ` ${JSON.stringify(failed)}` : ""}`,
      );
    }
    const done = await run.done;
    const figures = loadFigures(done);
    // The last window may be partial (the run ended inside it): it is left out of the trends.
    const full = samples.filter((s) => s.requests >= 0.5 * perWindow);
    const xs = full.map((s) => s.atSeconds);
    const rss = trendsUp(xs, full.map((s) => s.serviceRssMiB), 0.05, 16);
    const generations = evmGenerations(samples);
    const bound = boundExceeded(generations, cosigner.fork.recycleGrowthMiB, 32);
    const troughs = troughsGrow(generations, 0.1, 16);
    // The peaks compare only once the first half holds a whole life of a process (one ended in it).
    const midpoint = full[Math.floor(full.length / 2)]?.atSeconds ?? 0;
    const wholeLifeFirst = generations.some((g) => g.toSeconds < midpoint);
    const peaks = peaksGrow(full.map((s) => s.evmRssMiB), 0.1, 16);
    const evm = { ...peaks, compared: wholeLifeFirst, up: wholeLifeFirst && peaks.up };
    const latency = trendsUp(xs, full.map((s) => s.p99Ms), 0.25, 5);
    const errors = figures.sent - figures.ok;
    const passed = !rss.up && !bound.up && !troughs.up && !evm.up && !latency.up && errors === 0 && figures.sent > 0;
    const out = {
      generatedAt: startedAt.toISOString(),
      machine: machine(),
      seconds,
      ratePerSecond,
      decisions: figures.ok,
      errors: figures.errors,
      p99Ms: round(p99(figures.latencies), 2),
      trends: { serviceRssMiB: rss, evmRssPeaksMiB: evm, evmRssRiseInALifeMiB: bound, evmRssTroughsMiB: troughs, p99Ms: latency },
      evmGenerations: generations,
      passed,
      forkStats: { ...cosigner.fork.stats },
      samples,
    };
    const results = path.join(__dirname, "..", "results");
    mkdirSync(results, { recursive: true });
    writeFileSync(path.join(results, "soak.json"), JSON.stringify(out, null, 2) + "\n");
    console.table(samples);
    console.log("each EVM process: when it was first and last sampled, its lowest and highest RSS (MiB), the decisions it served (about)");
    console.table(generations);
    console.log(
      `soak ${seconds} s at ${ratePerSecond}/s: ${figures.ok} decisions, ${errors} errors; service RSS over the last half ${rss.rise} MiB (limit ${rss.limit}), ` +
        `EVM RSS rose at most ${bound.highestRise} MiB in a process life (${bound.checked ? `limit ${bound.limit}` : "no growth limit"}), ` +
        `${troughs.compared ? `its last process's trough ${troughs.last} MiB after ${troughs.first} (limit ${troughs.limit}), ` : ""}peak ${evm.lastHalfPeak} MiB after ${evm.firstHalfPeak} ` +
        `(${evm.compared ? `limit ${evm.limit}` : "not compared: no process life ended in the first half"}), ` +
        `p99 ${latency.rise} ms (limit ${latency.limit}): ${passed ? "passed" : "FAILED"}; wrote bench/results/soak.json`,
    );
    return passed;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error("cleanup:", (err as Error).message));
  }
}
