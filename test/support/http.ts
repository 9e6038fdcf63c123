/**
 * The co-signer service under test, driven only through HTTP: a Hardhat node in a child process, the demo
 * deployment on it, and the service (engine + fastify) on a free port with a fresh store. No mocked simulation.
 */
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  http,
  parseUnits,
  type Address,
  type LocalAccount,
  type Chain,
  type Hex,
} from "viem";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { loadConfig, type Config } from "../../src/config";
import { deployDemo, type DemoDeployment } from "../../src/deploy/demo";
import { startLocalNode, type LocalNode } from "../../src/devchain/node";
import { encodeOperationRequest, READ_SIGNATURE_HEADER, READ_TIMESTAMP_HEADER, readMessage, type IntentBody, type OperationRequestBody } from "../../src/api";
import { executeArgs, operationTypedData, type Bound, type Call } from "../../src/eip712";
import { deriveBounds, isPlainTransfer } from "../../src/intent/bounds";
import { intentSchema } from "../../src/intent/schema";
import { createLogger } from "../../src/logger";
import { startService, type Service } from "../../src/service";
import { buildServer } from "../../src/http/server";
import type { Guardian } from "../../src/monitor/guardian";

export interface HttpHarness {
  node: LocalNode;
  deployment: DemoDeployment;
  service: Service;
  config: Config;
  url: string;
  token: string;
  /** Every log line the service wrote. */
  logs: string[];
  nextNonce(): bigint;
  stop(): Promise<void>;
}

export const APPROVER_TOKEN = "test-approver-token-0123456789abcdef";

let nonceCounter = 1_000n;

/** Starts a node, deploys the demo, and serves the co-signer on a free port; `env` overrides the configuration. */
export async function startHttpHarness(env: (d: DemoDeployment) => Record<string, string> = () => ({})): Promise<HttpHarness> {
  const node = await startLocalNode();
  try {
    const deployment = await deployDemo(node.url);
    const config = loadConfig({
      UPSTREAM_RPC_URL: node.url,
      COSIGNER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.cosigner),
      GUARDIAN_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.guardian),
      APPROVER_TOKEN,
      DB_PATH: join(mkdtempSync(join(tmpdir(), "countersign-http-")), "decisions.sqlite"),
      HOST: "127.0.0.1",
      PORT: "0",
      HEAD_POLL_MS: "100",
      REVIEW_NEW_RECIPIENTS: "false",
      LOG_LEVEL: "debug",
      // The e2e specs send manipulated proposals, owner changes and spending on purpose: the breaker's rules that would
      // revoke the agent's key or flag the wallet for them are off here; test/monitor/ turns them on (MONITOR_RULES "{}").
      MONITOR_RULES: JSON.stringify({ default: { refusalBurst: { action: "off" }, spendingVelocity: { action: "off" }, controlChange: { action: "off" } } }),
      ...env(deployment),
    });
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    const service = await startService({ config, deployment: deployment as DemoDeployment & Record<string, unknown>, logger: createLogger("debug", sink) });
    return {
      node,
      deployment,
      service,
      config,
      url: service.url,
      token: APPROVER_TOKEN,
      logs,
      nextNonce: () => nonceCounter++,
      async stop() {
        await service.stop();
        await node.stop();
      },
    };
  } catch (err) {
    await node.stop();
    throw err;
  }
}

/**
 * The JSON body of POST /v1/operations (src/api), signed by a development account (the session key by default); the
 * intent is any JSON, as a test wrote it.
 */
export type OperationBody = Omit<OperationRequestBody, "intent"> & { intent: Record<string, unknown> };

/** The callGasLimit the harness signs by default (the SDK's default). */
export const CALL_GAS_LIMIT = 1_000_000n;

/**
 * The bounds the SDK would sign for `intent` on the demo wallet: none for a plain transfer (every demo asset is
 * budgeted), else those derived from the intent; none when the intent does not parse (a test of a 400).
 */
export function defaultBounds(h: HttpHarness, calls: readonly Call[], intent: Record<string, unknown>): Bound[] {
  const parsed = intentSchema.safeParse(intent);
  if (!parsed.success) return [];
  if (parsed.data.kind === "transfer" && isPlainTransfer(calls)) return [];
  return deriveBounds(parsed.data, h.deployment.wallet);
}

/**
 * Signs `calls` for the demo wallet (or `opts.wallet`, with `opts.bounds`) and builds the request JSON (callGasLimit
 * and bounds as the SDK fills them). The signer is a Hardhat account (`opts.signer`) or any `opts.account`.
 */
export async function signedOperation(
  h: HttpHarness,
  calls: Call[],
  intent: Record<string, unknown>,
  opts: {
    nonce?: bigint;
    deadline?: bigint;
    signer?: number;
    account?: LocalAccount;
    wallet?: Address;
    idempotencyKey?: string;
    callGasLimit?: bigint;
    bounds?: Bound[];
  } = {},
): Promise<OperationBody> {
  const nonce = opts.nonce ?? h.nextNonce();
  const deadline = opts.deadline ?? BigInt(Math.floor(Date.now() / 1000)) + 120n;
  const callGasLimit = opts.callGasLimit ?? CALL_GAS_LIMIT;
  const bounds = opts.bounds ?? defaultBounds(h, calls, intent);
  const chainId = h.deployment.chainId;
  const wallet = opts.wallet ?? h.deployment.wallet;
  const agentSignature = await (opts.account ?? devAccount(opts.signer ?? LOCAL_ROLES.sessionKey)).signTypedData(
    operationTypedData(chainId, wallet, { calls, nonce, deadline, callGasLimit, bounds }),
  );
  // The intent goes as the test wrote it (JSON, malformed on purpose in validation tests): the encoder sends it as given.
  return encodeOperationRequest({
    chainId,
    wallet,
    calls,
    nonce,
    deadline,
    callGasLimit,
    bounds,
    agentSignature,
    intent: intent as IntentBody,
    idempotencyKey: opts.idempotencyKey,
  });
}

/** An ERC-20 transfer call. */
export function erc20Transfer(token: Address, to: Address, amount: bigint): Call {
  return { target: token, value: 0n, data: encodeFunctionData({ abi: loadArtifact("MockERC20").abi, functionName: "transfer", args: [to, amount] }) };
}

/** A transfer of `amount` USDC base units to `to`, with the matching intent. */
export async function usdcTransfer(h: HttpHarness, to: Address, amount: bigint, opts: Parameters<typeof signedOperation>[3] = {}) {
  const usdc = h.deployment.tokens.USDC!;
  return signedOperation(h, [erc20Transfer(usdc, to, amount)], { kind: "transfer", asset: usdc, to, amount: amount.toString() }, opts);
}

export const usdc = (n: number | string) => parseUnits(String(n), 6);

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

/**
 * One HTTP request to the service; JSON in, JSON (or text) out.
 * @example const { status, body } = await call(h.url, "POST", "/v1/operations", request)
 */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: res.status, body: parsed as T, headers: res.headers, text };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * The headers of a read of decision `id` signed by a development account (the session key by default) at
 * `timestamp` (unix seconds, default now), as the SDK sends them.
 * @example await call(h.url, "GET", `/v1/operations/${id}`, undefined, await signedRead(id))
 */
export async function signedRead(id: string, signer: number = LOCAL_ROLES.sessionKey, timestamp = Math.floor(Date.now() / 1000)): Promise<Record<string, string>> {
  const signature = await devAccount(signer).signMessage({ message: readMessage(id, timestamp) });
  return { [READ_SIGNATURE_HEADER]: signature, [READ_TIMESTAMP_HEADER]: String(timestamp) };
}

function chainOf(h: { deployment: DemoDeployment; node: LocalNode }): Chain {
  return {
    id: h.deployment.chainId,
    name: "local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [h.node.url] } },
  };
}

/** The signed operation of a request body, typed. */
export function operationOf(op: OperationBody) {
  return {
    calls: op.calls.map((c) => ({ target: c.target, value: BigInt(c.value), data: c.data })),
    nonce: BigInt(op.nonce),
    deadline: BigInt(op.deadline),
    callGasLimit: BigInt(op.callGasLimit),
    bounds: op.bounds.map((b) => ({ asset: b.asset, account: b.account, minDelta: BigInt(b.minDelta) })),
  };
}

/**
 * Submits an approved operation's `execute` on chain from a development account (the relayer by default), with a
 * fixed gas limit (so a revert is mined): enough for every call to get callGasLimit by default.
 */
export async function executeOnChain(h: HttpHarness, op: OperationBody, cosignerSignature: Hex, from: number = LOCAL_ROLES.relayer, gas?: bigint) {
  const transport = http(h.node.url);
  const wallet = createWalletClient({ account: devAccount(from), chain: chainOf(h), transport });
  const hash = await wallet.sendTransaction({
    to: op.wallet,
    gas: gas ?? 1_000_000n + (BigInt(op.callGasLimit) * 65n) / 63n,
    data: encodeFunctionData({ abi: loadArtifact("AgentWallet").abi, functionName: "execute", args: executeArgs(operationOf(op), op.agentSignature, cosignerSignature) }),
  });
  return createPublicClient({ transport }).waitForTransactionReceipt({ hash });
}

/** Calls a function of the demo wallet as a development account (the owner by default) and waits for it. */
export async function walletTx(h: HttpHarness, functionName: string, args: readonly unknown[] = [], from: number = LOCAL_ROLES.owner) {
  const transport = http(h.node.url);
  const client = createWalletClient({ account: devAccount(from), chain: chainOf(h), transport });
  const hash = await client.writeContract({ address: h.deployment.wallet, abi: loadArtifact("AgentWallet").abi, functionName, args });
  return createPublicClient({ transport }).waitForTransactionReceipt({ hash });
}

/** Reads a view of the demo wallet on chain. */
export async function walletRead<T>(h: HttpHarness, functionName: string, args: readonly unknown[] = []): Promise<T> {
  const pub = createPublicClient({ transport: http(h.node.url) });
  return (await pub.readContract({ address: h.deployment.wallet, abi: loadArtifact("AgentWallet").abi, functionName, args })) as T;
}

/** Reads an ERC-20 balance on chain. */
export async function balanceOf(h: HttpHarness, token: Address, account: Address): Promise<bigint> {
  const pub = createPublicClient({ transport: http(h.node.url) });
  return (await pub.readContract({ address: token, abi: loadArtifact("MockERC20").abi, functionName: "balanceOf", args: [account] })) as bigint;
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). No tight timing: machines are shared. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Serves the harness's co-signer with another `config` (and guardian) on an ephemeral port for the duration of `fn`.
 * @example await withServer(h, { ...h.config, RATE_LIMIT_PER_MINUTE: 2 }, async (url) => { ... })
 */
export async function withServer(h: HttpHarness, config: Config, fn: (url: string) => Promise<void>, guardian: Guardian | null = null): Promise<void> {
  const app = await buildServer({ cosigner: h.service.cosigner, config, guardian, processMetrics: false });
  await app.listen({ host: "127.0.0.1", port: 0 });
  try {
    await fn(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  } finally {
    await app.close();
  }
}
