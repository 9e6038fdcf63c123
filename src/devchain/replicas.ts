/**
 * Co-signer replicas as separate processes, for the replica tests and `npm run bench:replicas`: each one is
 * `scripts/start.ts` against a shared upstream (its own fork) and one PostgreSQL store (DATABASE_URL), the way
 * docs/deploy.md runs them behind a load balancer.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./node";

export interface Replica {
  url: string;
  port: number;
  process: ChildProcess;
  /** The last lines it wrote (stdout and stderr), for a failure message. */
  output(): string;
  /** SIGKILL, as a crash would: no shutdown, nothing flushed. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  /** The chain all replicas serve (each forks it). */
  upstreamUrl: string;
  /** The deployment record they serve. */
  deploymentsFile: string;
  /** The shared store (postgres://…). */
  databaseUrl: string;
  /** More environment (limits, tokens, log level). */
  env?: Record<string, string>;
  root?: string;
  timeoutMs?: number;
}

/**
 * Starts one replica on a free port and resolves once its /healthz answers 200.
 * @example const r = await startReplica({ upstreamUrl, deploymentsFile, databaseUrl }); await r.stop()
 */
export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const root = options.root ?? join(__dirname, "..", "..");
  const port = await freePort();
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", join(root, "scripts", "start.ts")], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      TS_NODE_TRANSPILE_ONLY: "true",
      LOG_LEVEL: "warn",
      ...options.env,
      UPSTREAM_RPC_URL: options.upstreamUrl,
      DEPLOYMENTS_FILE: options.deploymentsFile,
      DATABASE_URL: options.databaseUrl,
      HOST: "127.0.0.1",
      PORT: String(port),
    },
  });
  let output = "";
  const keep = (d: Buffer) => (output = (output + d).slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const waitExit = () => new Promise<void>((resolve) => (exited() ? resolve() : child.once("exit", () => resolve())));
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    if (exited()) throw new Error(`replica on port ${port} exited (${child.exitCode ?? child.signalCode}): ${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`replica on port ${port} did not become healthy: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    process: child,
    output: () => output,
    async kill() {
      process.removeListener("exit", killOnExit);
      if (exited()) return;
      child.kill("SIGKILL");
      await waitExit();
    },
    async stop() {
      process.removeListener("exit", killOnExit);
      if (exited()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await waitExit();
      clearTimeout(timer);
    },
  };
}

/**
 * A fresh schema in the database at `databaseUrl`, and the URL that selects it (search_path).
 * @example const { url, drop } = await freshSchema(process.env.DATABASE_URL!); ...; await drop()
 */
export async function freshSchema(databaseUrl: string, prefix = "cs_replicas"): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = `${prefix}_${Math.random().toString(16).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const u = new URL(databaseUrl);
  u.searchParams.set("options", `-c search_path=${schema}`);
  return {
    url: u.toString(),
    schema,
    async drop() {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
