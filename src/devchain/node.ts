/**
 * A local Hardhat node in a child process: the upstream chain for `npm start`, the tests and the benchmarks.
 * It listens on 127.0.0.1 only and is killed with its parent.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export interface LocalNode {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stops the node and waits for it to exit. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `hardhat node` on `port` (a free one by default) and resolves once it answers eth_chainId.
 * @example const node = await startLocalNode(); ...; await node.stop();
 */
export async function startLocalNode(options: { port?: number; root?: string; timeoutMs?: number } = {}): Promise<LocalNode> {
  const port = options.port ?? (await freePort());
  const root = options.root ?? join(__dirname, "..", "..");
  const hardhatBin = join(root, "node_modules", "hardhat", "internal", "cli", "bootstrap.js");
  const child = spawn(process.execPath, [hardhatBin, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
  });
  let output = "";
  child.stdout?.on("data", (d) => (output = (output + d).slice(-4000)));
  child.stderr?.on("data", (d) => (output = (output + d).slice(-4000)));
  const exitOnParentExit = () => child.kill("SIGKILL");
  process.once("exit", exitOnParentExit);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited (${child.exitCode}): ${output}`);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`hardhat node did not start on ${url}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    process: child,
    async stop() {
      process.removeListener("exit", exitOnParentExit);
      // Already gone (exited, or killed by a signal such as the terminal's Ctrl-C reaching the whole group).
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3_000).unref();
      });
    },
  };
}

/** Sends one JSON-RPC request (for tests and scripts that steer the local node: mining, time). */
export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}
