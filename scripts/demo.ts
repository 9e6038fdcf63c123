/**
 * `npm run demo`: a mock agent pays invoices through the SDK, and each layer of Countersign refuses what it must.
 *
 * It runs against the service `npm start` left in deployments/localhost.json (DEPLOYMENTS_FILE to change), when one
 * answers there; otherwise it starts a private one (local node, demo deployment, co-signer on free ports, in a temp
 * folder) and shows the service's own log lines. Give APPROVER_TOKEN to let it use an external service's operator
 * endpoints (pause, approve); without it the guardian key pauses on chain. Exits 1 if any scenario ends otherwise.
 * With `--mcp` (`npm run demo -- --mcp`) the agent's operations arrive as tool calls at the MCP server (src/mcp).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { readDeploymentFile } from "../src/deploy/deployment-file";
import { startMcpAgent, type McpAgent } from "../src/demo/mcp-agent";
import { runDemo, type DemoTarget } from "../src/demo/run";
import { freePort } from "../src/devchain/node";
import { createLogger } from "../src/logger";
import { main as startLocal } from "./start";

const ROOT = resolve(__dirname, "..");

/** The running service of the deployment file, if one answers there for the same chain. */
async function runningService(path: string): Promise<DemoTarget | undefined> {
  if (!existsSync(path)) return undefined;
  const d = readDeploymentFile(path);
  if (!d.cosignerUrl || !d.rpcUrl) return undefined;
  try {
    const res = await fetch(`${d.cosignerUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
    const health = (await res.json()) as { chainId?: number };
    if (health.chainId !== d.chainId) return undefined;
    const wallet = await fetch(`${d.cosignerUrl}/v1/wallets/${d.wallet}`, { signal: AbortSignal.timeout(5_000) });
    if (wallet.status !== 200) return undefined;
  } catch {
    return undefined;
  }
  return { chainId: d.chainId, rpcUrl: d.rpcUrl, cosignerUrl: d.cosignerUrl, wallet: d.wallet, tokens: d.tokens, dex: d.dex, recipients: d.recipients };
}

async function demo(): Promise<number> {
  const path = process.env.DEPLOYMENTS_FILE ?? join(ROOT, "deployments", "localhost.json");
  let target = await runningService(path);
  // The token of a running `npm start` is in its owner-only file (never printed).
  const tokenFile = join(ROOT, "data", "approver-token");
  let approverToken = process.env.APPROVER_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
  let stop: (() => Promise<void>) | undefined;
  let drainLogs: (() => Record<string, unknown>[]) | undefined;
  if (target) {
    console.log(`Using the running co-signer of ${path}.`);
  } else {
    console.log(`No co-signer answers for ${path}; starting a private one (local node, demo deployment, service)…`);
    const dir = mkdtempSync(join(tmpdir(), "countersign-demo-"));
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const started = await startLocal({
      env: { LOG_LEVEL: "info", REVIEW_NEW_RECIPIENTS: "false", HEAD_POLL_MS: "100" },
      rpcPort: await freePort(),
      port: 0,
      deploymentsPath: join(dir, "localhost.json"),
      dbPath: join(dir, "decisions.sqlite"),
      logger: createLogger("info", sink),
      print: () => {},
    });
    const d = started.deployment as DemoTarget & { rpcUrl: string };
    target = { chainId: d.chainId, rpcUrl: d.rpcUrl, cosignerUrl: started.service.url, wallet: d.wallet, tokens: d.tokens, dex: d.dex, recipients: d.recipients };
    approverToken = started.approverToken;
    drainLogs = () => lines.splice(0, lines.length);
    stop = async () => {
      await started.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  let agent: McpAgent | undefined;
  try {
    if (process.argv.includes("--mcp")) agent = await startMcpAgent(target, (line) => console.log(line));
    const results = await runDemo({ target, approverToken, drainLogs, client: agent?.client });
    console.log("");
    console.log("Summary");
    for (const r of results) console.log(`  ${r.ok ? "✔" : "✘"} (${r.id}) ${r.title}${r.ok ? "" : `: ${r.detail}`}`);
    const failed = results.filter((r) => !r.ok).length;
    console.log(failed === 0 ? `All ${results.length} scenarios ended as expected.` : `${failed} of ${results.length} scenarios ended otherwise.`);
    return failed === 0 ? 0 : 1;
  } finally {
    await agent?.close();
    await stop?.();
  }
}

demo().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
