/**
 * `npm run bench:replicas`: decisions per second over HTTP with one and with three co-signer replicas (processes,
 * each with its own fork) on one PostgreSQL store, the load spread over them in turn as a round-robin load balancer
 * would; p50/p99 under that load and the errors. Needs DATABASE_URL (a fresh schema is made and dropped).
 * Prints a table and writes bench/results/replicas.json.
 *
 * Options: --seconds N (each phase, default 20), --concurrency N (clients, default 16).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devPrivateKey, LOCAL_ROLES } from "../src/chain/accounts";
import { deployDemo } from "../src/deploy/demo";
import { writeDeploymentFile } from "../src/deploy/deployment-file";
import { startLocalNode } from "../src/devchain/node";
import { freshSchema, startReplica, type Replica } from "../src/devchain/replicas";
import { CosignerKey } from "../src/signing/signer";
import { loadFigures, startLoad } from "./support/http-load";
import { machine } from "./support/machine";
import { Requests } from "./support/requests";
import { pct } from "./support/stats";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error("DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:replicas");
  const seconds = arg("seconds", 20);
  const concurrency = arg("concurrency", 16);
  const node = await startLocalNode();
  const schema = await freshSchema(databaseUrl, "cs_bench");
  const running: Replica[] = [];
  try {
    const d = await deployDemo(node.url);
    const deploymentsFile = join(mkdtempSync(join(tmpdir(), "cs-bench-replicas-")), "localhost.json");
    writeDeploymentFile(deploymentsFile, { ...d });
    const requests = new Requests(
      d,
      CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.sessionKey)),
      CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.cosigner)),
      { amount: 1n, callGasLimit: 1_000_000n, ttlSeconds: 240n },
    );
    const limit = "1000000";
    const env = {
      RATE_LIMIT_PER_MINUTE: limit,
      RATE_LIMIT_PER_WALLET_PER_MINUTE: limit,
      RATE_LIMIT_PER_IP_PER_MINUTE: limit,
      REVIEW_NEW_RECIPIENTS: "false",
      FORK_MAX_QUEUE: "1000",
      LOG_LEVEL: "warn",
    };
    const phases = [];
    for (const count of [1, 3]) {
      while (running.length < count) running.push(await startReplica({ upstreamUrl: node.url, deploymentsFile, databaseUrl: schema.url, env }));
      const urls = running.map((r) => r.url);
      // Warm-up: every replica's fork reads the wallet and the token once.
      const warm = startLoad({ url: urls[0]!, urls, bodies: requests.json(20 * count), concurrency: count, durationMs: 60_000 });
      warm.end();
      await warm.done;
      const run = startLoad({ url: urls[0]!, urls, bodies: requests.forLoad(seconds), concurrency, durationMs: seconds * 1000 });
      run.end();
      const figures = loadFigures(await run.done);
      phases.push({
        replicas: count,
        decisionsPerSecond: Math.round(figures.perSecond * 10) / 10,
        p50Ms: Math.round(pct(figures.latencies, 50) * 10) / 10,
        p99Ms: Math.round(pct(figures.latencies, 99) * 10) / 10,
        sent: figures.sent,
        ok: figures.ok,
        errors: figures.errors,
      });
    }
    const result = {
      benchmark: "replicas",
      at: new Date().toISOString(),
      machine: machine(),
      settings: { seconds, concurrency, store: "PostgreSQL (one schema)", upstream: "local Hardhat node" },
      phases,
      threeVsOne: Math.round((phases[1]!.decisionsPerSecond / phases[0]!.decisionsPerSecond) * 100) / 100,
    };
    console.table(phases.map(({ errors, ...p }) => ({ ...p, errors: Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join(", ") || "0" })));
    console.log(`three replicas vs one: ${result.threeVsOne}x (${result.machine.cores} cores: ${result.machine.cpuModel})`);
    mkdirSync(join(__dirname, "results"), { recursive: true });
    writeFileSync(join(__dirname, "results", "replicas.json"), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.all(running.map((r) => r.stop()));
    await node.stop();
    await schema.drop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
