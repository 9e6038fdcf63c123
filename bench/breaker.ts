/**
 * `npm run bench:breaker`: how fast the monitor stops a wallet after the co-signer key was used outside the service.
 *
 * Upstream: a local Hardhat node (automine: a transaction is mined when it is sent) with the demo deployment, and the
 * whole service (co-signer, chain follower, the breaker's rules) as `npm start` runs it. Each trial executes one
 * operation co-signed with the leaked co-signer key (no decision has its digest) and measures, from the moment the
 * offending transaction is mined (its send returns) to the moment the guardian's pause is mined (paused() turns true,
 * polled every 5 ms):
 * - breakerLatencyBlocks: the pause's block − the offending block;
 * - breakerLatencyMs: wall-clock milliseconds between the two.
 * Then the owner unpauses, an operator clears the flag and resolves the incident, and the next trial runs.
 * Trials run at the follower's default poll (MONITOR_POLL_MS 500) and at 100 ms. Writes bench/results/breaker.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, createWalletClient, http, type Address, type Hex } from "viem";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../src/chain/accounts";
import { loadArtifact } from "../src/chain/artifacts";
import { transferCalls } from "../src/client";
import { loadConfig } from "../src/config";
import { deployDemo, type DemoDeployment } from "../src/deploy/demo";
import { startLocalNode } from "../src/devchain/node";
import { executeArgs, operationTypedData } from "../src/eip712";
import { createLogger } from "../src/logger";
import { startService, type Service } from "../src/service";
import { machine } from "./support/machine";

const TRIALS = Number(process.env.BENCH_TRIALS ?? 10);
const TOKEN = "bench-approver-token-0123456789abcdef";

interface Trial {
  blocks: number;
  ms: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

async function api(service: Service, method: string, route: string, body?: unknown): Promise<any> {
  const res = await fetch(`${service.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json();
}

/** One leaked-key execution and the time until the wallet is paused. */
async function trial(nodeUrl: string, d: DemoDeployment, service: Service, nonce: bigint): Promise<Trial> {
  const transport = http(nodeUrl);
  const pub = createPublicClient({ transport });
  const abi = loadArtifact("AgentWallet").abi;
  const wallet = d.wallet as Address;
  const op = {
    calls: transferCalls({ asset: d.tokens.USDC! as Address, to: d.recipients.alice! as Address, amount: 1_000n }),
    nonce,
    deadline: BigInt(Math.floor(Date.now() / 1000)) + 120n,
    callGasLimit: 1_000_000n,
    bounds: [],
  };
  const typed = operationTypedData(d.chainId, wallet, op);
  const agent = await devAccount(LOCAL_ROLES.sessionKey).signTypedData(typed);
  const leaked = await devAccount(LOCAL_ROLES.cosigner).signTypedData(typed);
  const relayer = createWalletClient({ account: devAccount(LOCAL_ROLES.relayer), transport });
  const hash: Hex = await relayer.writeContract({ address: wallet, abi, functionName: "execute", args: executeArgs(op, agent, leaked), chain: null, gas: 2_000_000n });
  const mined = performance.now();
  const receipt = await pub.getTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`the leaked operation reverted (${hash})`);
  const deadline = Date.now() + 30_000;
  while (!(await pub.readContract({ address: wallet, abi, functionName: "paused" }))) {
    if (Date.now() > deadline) throw new Error("the wallet was not paused within 30 s");
    await new Promise((r) => setTimeout(r, 5));
  }
  const paused = performance.now();
  const pausedBlock = await pub.getBlockNumber();
  // Back to normal: the owner unpauses, an operator clears the flag and resolves the incident.
  const owner = createWalletClient({ account: devAccount(LOCAL_ROLES.owner), transport });
  await pub.waitForTransactionReceipt({ hash: await owner.writeContract({ address: wallet, abi, functionName: "unpause", args: [], chain: null }) });
  await api(service, "POST", `/v1/wallets/${wallet}/anomaly/clear`, { operator: "bench" });
  for (const i of (await api(service, "GET", "/v1/incidents?state=open")).incidents as { id: string }[]) {
    await api(service, "POST", `/v1/incidents/${i.id}/resolve`, { operator: "bench" });
  }
  while (service.cosigner.fork.head.number < (await pub.getBlockNumber())) await new Promise((r) => setTimeout(r, 20));
  return { blocks: Number(pausedBlock - receipt.blockNumber), ms: paused - mined };
}

async function run(pollMs: number): Promise<{ pollMs: number; trials: Trial[] }> {
  const node = await startLocalNode();
  const dir = mkdtempSync(path.join(tmpdir(), "cs-bench-breaker-"));
  try {
    const d = await deployDemo(node.url);
    const config = loadConfig({
      UPSTREAM_RPC_URL: node.url,
      COSIGNER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.cosigner),
      GUARDIAN_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.guardian),
      APPROVER_TOKEN: TOKEN,
      DB_PATH: path.join(dir, "decisions.sqlite"),
      PORT: "0",
      MONITOR_POLL_MS: String(pollMs),
      LOG_LEVEL: "silent",
    });
    const service = await startService({ config, deployment: d as DemoDeployment & Record<string, unknown>, logger: createLogger("silent"), processMetrics: false });
    try {
      const trials: Trial[] = [];
      for (let i = 0; i < TRIALS; i++) trials.push(await trial(node.url, d, service, 9_000_000n + BigInt(pollMs * 1000 + i)));
      return { pollMs, trials };
    } finally {
      await service.stop();
    }
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs = [];
  for (const pollMs of [500, 100]) runs.push(await run(pollMs));
  const rows = runs.map((r) => {
    const ms = r.trials.map((t) => t.ms);
    const blocks = r.trials.map((t) => t.blocks);
    return {
      monitorPollMs: r.pollMs,
      trials: r.trials.length,
      breakerLatencyBlocksP50: pct(blocks, 50),
      breakerLatencyBlocksMax: Math.max(...blocks),
      breakerLatencyMsP50: Math.round(pct(ms, 50)),
      breakerLatencyMsP95: Math.round(pct(ms, 95)),
      breakerLatencyMsMax: Math.round(Math.max(...ms)),
    };
  });
  console.log("");
  console.log("| follower poll (ms) | trials | breakerLatencyBlocks p50 / max | breakerLatencyMs p50 / p95 / max |");
  console.log("|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.monitorPollMs} | ${r.trials} | ${r.breakerLatencyBlocksP50} / ${r.breakerLatencyBlocksMax} | ${r.breakerLatencyMsP50} / ${r.breakerLatencyMsP95} / ${r.breakerLatencyMsMax} |`);
  }
  const byDefault = rows[0]!;
  const out = {
    date: new Date().toISOString(),
    machine: machine(),
    what: "offending block mined (leaked co-signer key, automine) → guardian's pause mined; local Hardhat node",
    breakerLatencyBlocks: byDefault.breakerLatencyBlocksMax,
    breakerLatencyMs: byDefault.breakerLatencyMsP50,
    runs: rows,
    trials: runs,
  };
  const results = path.join(__dirname, "results");
  mkdirSync(results, { recursive: true });
  writeFileSync(path.join(results, "breaker.json"), JSON.stringify(out, null, 2) + "\n");
  console.log(`\nbreakerLatencyBlocks ${out.breakerLatencyBlocks} (max, default poll), breakerLatencyMs ${out.breakerLatencyMs} (p50, default poll); bench/results/breaker.json`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
