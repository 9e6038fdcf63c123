/**
 * The benchmark's HTTP side: the co-signer's own fastify service on loopback (rate limits lifted for the load, which
 * comes from one signer and one address), a load generator in a process of its own (load-worker.js), and the figures
 * of a load run. Used by the HTTP phases of bench:cosign, bench:profile and bench:replicas, and by the soak mode.
 */
import path from "node:path";
import { fork } from "node:child_process";
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../../src/config";
import type { Cosigner } from "../../src/cosigner";
import { buildServer } from "../../src/http/server";

/** One request of a load run: when it started (ms from the run's start), how long it took, its status. */
export interface LoadResult {
  startedMs: number;
  ms: number;
  status: number;
  code?: string;
}

/** Starts the service on 127.0.0.1 (an ephemeral port) with `limitPerMinute` for every rate limit. */
export async function startService(cosigner: Cosigner, limitPerMinute: number): Promise<{ url: string; app: FastifyInstance }> {
  const limit = String(limitPerMinute);
  const config = loadConfig({
    LOG_LEVEL: "silent",
    RATE_LIMIT_PER_MINUTE: limit,
    RATE_LIMIT_PER_WALLET_PER_MINUTE: limit,
    RATE_LIMIT_PER_IP_PER_MINUTE: limit,
  });
  const app = await buildServer({ cosigner, config, guardian: null, processMetrics: false });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("the service did not listen on a TCP port");
  return { url: `http://127.0.0.1:${address.port}`, app };
}

/** A load run in progress: feed it more bodies, watch its results arrive, await its end. */
export interface LoadRun {
  /** Sends more bodies (JSON strings) to the worker. */
  feed(bodies: string[]): void;
  /** Says no more bodies will come. */
  end(): void;
  /** Every result so far, in the order they arrived. */
  readonly results: LoadResult[];
  /** Resolves when the worker is done. */
  readonly done: Promise<{ results: LoadResult[]; elapsedMs: number; cpuMicros: number }>;
}

/**
 * Sends bodies (JSON strings) to `url` from a process of its own: `concurrency` at a time, or at `ratePerSecond`.
 * @example const run = startLoad({ url, bodies, concurrency: 8, durationMs: 20_000 }); run.end(); await run.done
 */
export function startLoad(options: {
  url: string;
  /** Several services (replicas), sent requests in turn; `url` is then the first. */
  urls?: string[];
  bodies: string[];
  concurrency: number;
  durationMs: number;
  ratePerSecond?: number;
}): LoadRun {
  const worker = fork(path.join(__dirname, "load-worker.js"), [], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  worker.send({ workerData: options });
  const results: LoadResult[] = [];
  const done = new Promise<{ results: LoadResult[]; elapsedMs: number; cpuMicros: number }>((resolve, reject) => {
    worker.on("message", (m: { results?: LoadResult[]; done?: boolean; elapsedMs?: number; cpuMicros?: number }) => {
      if (m.results) results.push(...m.results);
      if (m.done) resolve({ results, elapsedMs: m.elapsedMs!, cpuMicros: m.cpuMicros! });
    });
    worker.on("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the load process exited with ${code}`));
    });
  });
  return {
    // Once the client is done it has disconnected: later bodies or ends have no one to go to.
    feed: (bodies) => void (worker.connected && worker.send({ bodies })),
    end: () => void (worker.connected && worker.send({ end: true })),
    results,
    done,
  };
}

/** A closed-loop run of exactly these bodies. */
export function runLoad(options: { url: string; bodies: string[]; concurrency: number; durationMs: number }) {
  const run = startLoad(options);
  run.end();
  return run.done;
}

/** Requests per second that got 200, the errors by status and code, and the client's CPU per request (ms) if known. */
export function loadFigures(run: { results: LoadResult[]; elapsedMs: number; cpuMicros?: number }) {
  const ok = run.results.filter((r) => r.status === 200);
  const errors: Record<string, number> = {};
  for (const r of run.results) if (r.status !== 200) errors[`${r.status} ${r.code ?? ""}`.trim()] = (errors[`${r.status} ${r.code ?? ""}`.trim()] ?? 0) + 1;
  // Throughput over the span in which requests were sent and answered (the worker's own start-up excluded).
  const end = Math.max(...run.results.map((r) => r.startedMs + r.ms));
  const clientCpuMsPerRequest = run.cpuMicros === undefined ? undefined : run.cpuMicros / 1000 / Math.max(1, run.results.length);
  return { sent: run.results.length, ok: ok.length, perSecond: (ok.length / end) * 1000, latencies: ok.map((r) => r.ms), errors, clientCpuMsPerRequest };
}

/**
 * Least-squares slope of `ys` over `xs` (units of y per unit of x); 0 for fewer than two points.
 * @example slope([0, 1, 2], [10, 12, 14]) // 2
 */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
