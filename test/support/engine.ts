/**
 * Helpers for the engine tests: steering the real upstream node (owner and guardian transactions, time, mining),
 * deploying extra mocks, waiting for the fork to follow the head, and asserting refusals by their reason code.
 * Nothing here stands in for the simulation: every decision is made on a fork of a real local chain.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  createPublicClient,
  createWalletClient,
  encodeDeployData,
  encodeFunctionData,
  getAddress,
  http,
  parseAbi,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { rpc } from "../../src/devchain/node";
import { operationTypedData, type Call } from "../../src/eip712";
import type { Decision } from "../../src/api";
import { CountersignError, type ReasonCode } from "../../src/errors";
import { simulateOperation, type SimulationResult } from "../../src/simulation/simulate";
import { SqliteStore } from "../../src/store";
import { startHarnessWith, type CosignerHarness, type HarnessOptions } from "./cosigner";

export const ROLES = LOCAL_ROLES;
/** A development account with no role on the demo wallet; used as a short-lived session key. */
export const SPARE_KEY = 8;
/** A development account with no role; a replacement co-signer. */
export const SPARE_COSIGNER = 9;

const ROOT = join(__dirname, "..", "..");

/** The artifact of any compiled contract (loadArtifact knows only the ones src/ needs). */
export function artifact(name: string, dir = "contracts/mocks"): { abi: Abi; bytecode: Hex } {
  return JSON.parse(readFileSync(join(ROOT, "artifacts", dir, `${name}.sol`, `${name}.json`), "utf8"));
}

export const walletAbi = () => loadArtifact("AgentWallet").abi;
export const erc20 = parseAbi([
  "function transfer(address to, uint256 amount) returns (bool)",
  "function approve(address spender, uint256 amount) returns (bool)",
  "function balanceOf(address account) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function mint(address to, uint256 amount)",
]);

function chainOf(h: CosignerHarness) {
  return {
    id: h.deployment.chainId,
    name: "local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [h.node.url] } },
  } as const;
}

/** A public client on the upstream node. */
export function publicClient(h: CosignerHarness) {
  return createPublicClient({ transport: http(h.node.url) });
}

/**
 * Sends a transaction on the upstream from development account `from` and waits for it to succeed.
 * @example await send(h, ROLES.guardian, wallet, walletAbi(), "pause", [])
 */
export async function send(
  h: CosignerHarness,
  from: number,
  to: Address,
  abi: Abi,
  functionName: string,
  args: readonly unknown[] = [],
  value = 0n,
): Promise<bigint> {
  const client = createWalletClient({ account: devAccount(from), transport: http(h.node.url) });
  const data = encodeFunctionData({ abi, functionName, args } as never);
  const hash = await client.sendTransaction({ chain: chainOf(h), to, data, value, gas: 3_000_000n });
  const receipt = await publicClient(h).waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${functionName} reverted on the upstream`);
  return receipt.blockNumber;
}

/** Sends `value` wei from development account `from` to `to` on the upstream and waits for it. */
export async function sendEth(h: CosignerHarness, from: number, to: Address, value: bigint): Promise<void> {
  const client = createWalletClient({ account: devAccount(from), transport: http(h.node.url) });
  const hash = await client.sendTransaction({ chain: chainOf(h), to, value });
  const receipt = await publicClient(h).waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error("the transfer reverted on the upstream");
}

/** The owner (development account 0) calls `functionName` on the demo wallet. */
export function asOwner(h: CosignerHarness, functionName: string, args: readonly unknown[] = []) {
  return send(h, ROLES.owner, h.deployment.wallet, walletAbi(), functionName, args);
}

/** The guardian (development account 3) calls `functionName` on the demo wallet. */
export function asGuardian(h: CosignerHarness, functionName: string, args: readonly unknown[] = []) {
  return send(h, ROLES.guardian, h.deployment.wallet, walletAbi(), functionName, args);
}

/** Deploys a mock from contracts/mocks on the upstream (from the owner account) and returns its address. */
export async function deployMock(h: CosignerHarness, name: string, args: readonly unknown[] = []): Promise<Address> {
  const { abi, bytecode } = artifact(name);
  const client = createWalletClient({ account: devAccount(ROLES.owner), transport: http(h.node.url) });
  const hash = await client.sendTransaction({
    chain: chainOf(h),
    to: null,
    data: encodeDeployData({ abi, bytecode, args } as never),
    gas: 6_000_000n,
  } as never);
  const receipt = await publicClient(h).waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) throw new Error(`deploying ${name} failed`);
  return getAddress(receipt.contractAddress);
}

/** Balance of `asset` ("native" or a token) of `account` on the upstream. */
export async function balanceOf(h: CosignerHarness, asset: string, account: Address): Promise<bigint> {
  const pub = publicClient(h);
  if (asset === "native") return pub.getBalance({ address: account });
  return pub.readContract({ address: asset as Address, abi: erc20, functionName: "balanceOf", args: [account] });
}

/** The upstream's block number. */
export async function upstreamBlock(h: CosignerHarness): Promise<bigint> {
  return BigInt(await rpc<string>(h.node.url, "eth_blockNumber"));
}

/** Waits (polling, up to `timeoutMs`) until the fork's state is at the upstream's current head or later. */
export async function syncFork(h: CosignerHarness, timeoutMs = 15_000): Promise<void> {
  const target = await upstreamBlock(h);
  const deadline = Date.now() + timeoutMs;
  while (h.cosigner.fork.head.number < target) {
    if (Date.now() > deadline) {
      throw new Error(`fork stuck at ${h.cosigner.fork.head.number}, upstream at ${target}`);
    }
    await sleep(25);
  }
}

/** Moves the upstream's clock forward by `seconds` and mines a block. */
export async function increaseTime(h: CosignerHarness, seconds: number): Promise<void> {
  await rpc(h.node.url, "evm_increaseTime", [seconds]);
  await rpc(h.node.url, "evm_mine", []);
}

/** Timestamp of the upstream's latest block (unix seconds). */
export async function chainTime(h: CosignerHarness): Promise<bigint> {
  const block = await rpc<{ timestamp: string }>(h.node.url, "eth_getBlockByNumber", ["latest", false]);
  return BigInt(block.timestamp);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Awaits `promise`, expects it to throw a CountersignError with `code` (and `status` if given), and returns it. */
export async function expectRefusal(promise: Promise<unknown>, code: ReasonCode, status?: number): Promise<CountersignError> {
  let thrown: unknown;
  try {
    const value = await promise;
    expect.fail(`expected ${code}, got ${JSON.stringify(value)}`);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, String(thrown)).to.be.instanceOf(CountersignError);
  const err = thrown as CountersignError;
  expect(err.code, err.message).to.equal(code);
  if (status !== undefined) expect(err.status).to.equal(status);
  return err;
}

/** Expects a rejected decision whose reason codes are exactly `codes`, with no signature; returns the messages. */
export function expectRejected(decision: Decision, ...codes: ReasonCode[]): string[] {
  expect(decision.status, JSON.stringify(decision.reasons)).to.equal("rejected");
  expect(decision.reasons.map((r) => r.code)).to.deep.equal(codes);
  expect(decision).to.not.have.property("cosignerSignature");
  return decision.reasons.map((r) => r.message);
}

/** Expects an approved decision with a signature. */
export function expectApproved(decision: Decision): void {
  expect(decision.status, JSON.stringify(decision.reasons)).to.equal("approved");
  expect(decision.reasons).to.deep.equal([]);
  expect(decision.cosignerSignature).to.match(/^0x[0-9a-f]{130}$/);
}

/** Number of records in the audit log. */
export async function auditCount(h: CosignerHarness): Promise<number> {
  return (await h.cosigner.store.listAudit(0, 1_000_000)).length;
}

/**
 * Counts the fork's simulations (calls of fork.run) from now on: proves a request never reached the fork.
 * @example const runs = countForkRuns(h); ...; expect(runs()).to.equal(0)
 */
export function countForkRuns(h: CosignerHarness): () => number {
  const fork = h.cosigner.fork;
  const original = fork.run;
  let runs = 0;
  fork.run = function (this: typeof fork, ...args: Parameters<typeof original>) {
    runs += 1;
    return original.apply(this, args);
  } as typeof original;
  return () => runs;
}

export type { HarnessOptions };

/**
 * Like startHarness (test/support/cosigner.ts), with the fork's head lag and upstream URL as options.
 * @example const h = await startEngineHarness({ maxHeadLag: 0, upstream: (url) => proxy.start(url) })
 */
export const startEngineHarness = (options: HarnessOptions = {}): Promise<CosignerHarness> => startHarnessWith(options);

/** Opens the harness's decision store afresh, as another process would. */
export function reopenStore(h: CosignerHarness): SqliteStore {
  return SqliteStore.open(h.dbPath);
}

export type ProxyMode = "pass" | "failStateReads" | "hang";

const STATE_READS = ["eth_getBalance", "eth_getStorageAt", "eth_getCode", "eth_getTransactionCount"];

/**
 * A JSON-RPC proxy in front of the upstream node that can fail state reads or stop answering: the network
 * misbehaving between the co-signer and a real chain (the chain and the simulation stay real).
 * @example const proxy = new FaultyProxy(); const url = await proxy.start(node.url); proxy.mode = "hang";
 */
export class FaultyProxy {
  /** Requests received since start (or since `reset`): shows whether anything (a head watcher left behind) still talks to the chain. */
  requests = 0;
  /** Milliseconds each request waits before it is passed on: a remote upstream's round trip. */
  delayMs = 0;
  private current: ProxyMode = "pass";
  private readonly hung = new Set<import("node:http").ServerResponse>();
  private server?: import("node:http").Server;

  get mode(): ProxyMode {
    return this.current;
  }

  /** Counts from zero again. */
  reset(): void {
    this.requests = 0;
  }

  /** Switches the mode; leaving "hang" drops the requests it held, as a network that comes back would. */
  set mode(mode: ProxyMode) {
    this.current = mode;
    if (mode !== "hang") {
      for (const res of this.hung) res.destroy();
      this.hung.clear();
    }
  }

  async start(target: string): Promise<string> {
    const { createServer } = await import("node:http");
    this.server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      this.requests += 1;
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.mode === "hang") {
        this.hung.add(res); // never answers while hanging
        return;
      }
      if (this.mode === "failStateReads" && STATE_READS.some((m) => body.includes(`"${m}"`))) {
        const parsed = JSON.parse(body) as { id: unknown } | { id: unknown }[];
        const error = (id: unknown) => ({ jsonrpc: "2.0", id, error: { code: -32000, message: "injected failure (test)" } });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(Array.isArray(parsed) ? parsed.map((r) => error(r.id)) : error(parsed.id)));
        return;
      }
      try {
        const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
        res.setHeader("content-type", "application/json");
        res.end(await upstream.text());
      } catch {
        res.destroy();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as import("node:net").AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}

/** Polls `condition` every 25 ms until it holds, or throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Runs an operation on the co-signer's real fork exactly as the engine would, but with no bounds: what a wallet
 * that did not enforce outcomes would do. Lets a test reach the co-signer's own comparison (compareWithIntent) behind
 * the wallet's bounds, on a real simulation; nothing is decided, stored or signed for the proposer.
 * @example const sim = await simulateWithoutBounds(h, calls); compareWithIntent(intent, wallet, sim)
 */
export async function simulateWithoutBounds(h: CosignerHarness, calls: Call[], callGasLimit = 1_000_000n): Promise<SimulationResult> {
  const { chainId, wallet } = h.deployment;
  const op = { calls, nonce: h.nextNonce(), deadline: BigInt(Math.floor(Date.now() / 1000)) + 120n, callGasLimit, bounds: [] };
  const typed = operationTypedData(chainId, wallet, op);
  const session = devAccount(ROLES.sessionKey);
  const [agentSignature, cosignerSignature] = await Promise.all([session.signTypedData(typed), devAccount(ROLES.cosigner).signTypedData(typed)]);
  const fork = h.cosigner.fork;
  return fork.run((_rpc, env) => fork.simulate(env, { wallet, signer: session.address, ...op, agentSignature, cosignerSignature }, devAccount(ROLES.cosigner).address));
}

/** The JSON-RPC answer of the upstream node, error data included (rpc() keeps only the message). */
async function rawRpc(h: CosignerHarness, method: string, params: unknown[]): Promise<{ result?: unknown; error?: { message: string; data?: unknown } }> {
  const res = await fetch(h.node.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return (await res.json()) as { result?: unknown; error?: { message: string; data?: unknown } };
}

/** Revert data in a node's error: `data` as hex, or `data.data`. */
function errorData(error: { data?: unknown } | undefined): Hex | undefined {
  const d = error?.data;
  if (typeof d === "string" && d.startsWith("0x")) return d as Hex;
  const inner = (d as { data?: unknown } | undefined)?.data;
  return typeof inner === "string" && inner.startsWith("0x") ? (inner as Hex) : undefined;
}

/**
 * Relays `data` to `to` on the upstream from development account `from` as a real transaction, whatever happens:
 * the node mines it even when it reverts. Returns the mined receipt's status and the revert data (from an eth_call
 * of the same transaction just before, at the same state).
 * @example const { status, revertData } = await relayRaw(h, ROLES.relayer, wallet, data, 2_000_000n)
 */
export async function relayRaw(h: CosignerHarness, from: number, to: Address, data: Hex, gas: bigint): Promise<{ status: "success" | "reverted"; revertData?: Hex }> {
  const tx = { from: devAccount(from).address, to, data, gas: `0x${gas.toString(16)}` };
  const call = await rawRpc(h, "eth_call", [tx, "latest"]);
  const revertData = call.error ? (errorData(call.error) ?? "0x") : undefined;
  const before = await upstreamBlock(h);
  await rawRpc(h, "eth_sendTransaction", [tx]);
  const block = await rpc<{ transactions: Hex[] }>(h.node.url, "eth_getBlockByNumber", [`0x${(before + 1n).toString(16)}`, false]);
  const hash = block?.transactions.at(-1);
  if (!hash) throw new Error("the relayed transaction was not mined");
  const receipt = await rpc<{ status: string }>(h.node.url, "eth_getTransactionReceipt", [hash]);
  return { status: receipt.status === "0x1" ? "success" : "reverted", revertData };
}

/**
 * Runs `action` and expects it to have run nothing on the fork and added no audit record: a request refused before
 * the engine looked anything up. Returns what `action` returned.
 * @example await expectNeverRan(h, () => expectRefusal(h.cosigner.engine.propose(body), "INVALID_REQUEST", 400))
 */
export async function expectNeverRan<T>(h: CosignerHarness, action: () => Promise<T>): Promise<T> {
  const fork = h.cosigner.fork;
  const original = fork.run;
  const runs = countForkRuns(h);
  const auditBefore = await auditCount(h);
  try {
    const result = await action();
    expect(runs(), "runs on the fork").to.equal(0);
    expect(await auditCount(h), "audit records added").to.equal(auditBefore);
    return result;
  } finally {
    fork.run = original;
  }
}

/** One JSON-RPC request made on the fork inside fork.run. */
export interface ForkRequest {
  method: string;
  params: unknown[];
}

/**
 * Records every JSON-RPC request the engine makes on the fork inside fork.run from now on (each still goes to the
 * fork): shows what a run did, e.g. that it read the session key and never sent the operation.
 * @example const requests = recordForkRequests(h); ...; expect(requests().map((r) => r.method)).to.not.include("eth_sendTransaction")
 */
export function recordForkRequests(h: CosignerHarness): () => ForkRequest[] {
  const fork = h.cosigner.fork;
  const original = fork.run;
  const requests: ForkRequest[] = [];
  fork.run = function (this: typeof fork, fn: Parameters<typeof original>[0]) {
    return original.call(this, (rpc, env) => {
      const recording = (<R = unknown>(method: string, params: unknown[] = []) => {
        requests.push({ method, params });
        return rpc<R>(method, params);
      }) as typeof rpc;
      return fn(recording, env);
    });
  } as typeof original;
  return () => requests;
}

/**
 * The environment without DATABASE_URL: a child process that must use the SQLite file a test gives it (DB_PATH)
 * would otherwise pick the shared PostgreSQL store CI names for the PostgreSQL tests.
 * @example spawn(cmd, args, { env: { ...withoutDatabaseUrl(process.env), DB_PATH } })
 */
export function withoutDatabaseUrl(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { DATABASE_URL: _shared, ...rest } = env;
  return rest;
}
