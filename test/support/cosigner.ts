/**
 * The co-signer under test against a real local chain: a Hardhat node in a child process (the upstream),
 * the demo contracts deployed on it, and the engine with a fresh SQLite store. No mocked simulation.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, createWalletClient, encodeFunctionData, http, parseUnits, type Address, type Hex } from "viem";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { createCosigner, type Cosigner } from "../../src/cosigner";
import { deployDemo, type DemoDeployment } from "../../src/deploy/demo";
import { startLocalNode, type LocalNode } from "../../src/devchain/node";
import { executeArgs, operationTypedData, type Bound, type Call } from "../../src/eip712";
import { encodeOperationRequest, type IntentBody } from "../../src/api";
import { deriveBounds } from "../../src/intent/bounds";
import { intentSchema } from "../../src/intent/schema";
import type { ReviewPolicy } from "../../src/policy/decide";
import { CosignerKey } from "../../src/signing/signer";

export interface CosignerHarness {
  node: LocalNode;
  deployment: DemoDeployment;
  cosigner: Cosigner;
  dbPath: string;
  nextNonce(): bigint;
  stop(): Promise<void>;
}

let nonceCounter = 1n;

export interface HarnessOptions {
  /** The review policy, or a function of the deployment (thresholds name token addresses). */
  review?: Partial<ReviewPolicy> | ((deployment: DemoDeployment) => Partial<ReviewPolicy>);
  maxHeadLag?: number;
  /** Puts something between the fork and the node (e.g. a fault-injecting proxy); returns the URL to fork. */
  upstream?: (nodeUrl: string) => Promise<string>;
  /** Simulations after which the fork's EVM is replaced (default: the co-signer's). */
  forkRecycleEvery?: number;
  forkRecycleGrowthMiB?: number;
}

/** Starts a node, deploys the demo, and starts the co-signer on it (new recipients not reviewed by default). */
export async function startHarness(review: Partial<ReviewPolicy> = {}): Promise<CosignerHarness> {
  return startHarnessWith({ review });
}

/**
 * Like startHarness, with the fork's head lag and the upstream URL as options.
 * @example const h = await startHarnessWith({ maxHeadLag: 0, upstream: (url) => proxy.start(url) })
 */
export async function startHarnessWith(options: HarnessOptions = {}): Promise<CosignerHarness> {
  const node = await startLocalNode();
  try {
    const deployment = await deployDemo(node.url);
    const dbPath = join(mkdtempSync(join(tmpdir(), "countersign-")), "decisions.sqlite");
    const upstreamUrl = options.upstream ? await options.upstream(node.url) : node.url;
    const review = typeof options.review === "function" ? options.review(deployment) : options.review;
    const cosigner = await createCosigner({
      upstreamUrl,
      key: CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.cosigner)),
      dbPath,
      review: { thresholds: new Map(), reviewNewRecipients: false, ...review },
      wallets: [deployment.wallet],
      pollMs: 100,
      maxHeadLag: options.maxHeadLag,
      forkRecycleEvery: options.forkRecycleEvery,
      forkRecycleGrowthMiB: options.forkRecycleGrowthMiB,
    });
    return {
      node,
      deployment,
      cosigner,
      dbPath,
      nextNonce: () => nonceCounter++,
      async stop() {
        await cosigner.stop();
        await node.stop();
      },
    };
  } catch (err) {
    await node.stop();
    throw err;
  }
}

/** The gas every call gets in a test proposal unless a test says otherwise (gas). */
export const DEFAULT_CALL_GAS_LIMIT = 1_000_000n;

/**
 * The bounds the SDK derives from `intent` for `wallet` (deriveBounds, shared with the co-signer); none for an
 * intent that does not parse (validation tests send those on purpose).
 */
export function derivedBounds(intent: Record<string, unknown>, wallet: Address): Bound[] {
  const parsed = intentSchema.safeParse(intent);
  return parsed.success ? deriveBounds(parsed.data, wallet) : [];
}

export interface ProposalOptions {
  nonce?: bigint;
  deadline?: bigint;
  signer?: number;
  wallet?: Address;
  chainId?: number;
  /** Gas every call gets (default DEFAULT_CALL_GAS_LIMIT). */
  callGasLimit?: bigint;
  /** Outcome bounds (default: derived from the intent, as the SDK does). */
  bounds?: Bound[];
}

/**
 * Signs an operation (version 2) with a development account (the session key by default) and builds the request
 * JSON: callGasLimit and the bounds derived from the intent unless the test gives others.
 */
export async function proposal(h: CosignerHarness, calls: Call[], intent: Record<string, unknown>, opts: ProposalOptions = {}) {
  const nonce = opts.nonce ?? h.nextNonce();
  const deadline = opts.deadline ?? BigInt(Math.floor(Date.now() / 1000)) + 120n;
  const wallet = opts.wallet ?? h.deployment.wallet;
  const chainId = opts.chainId ?? h.deployment.chainId;
  const callGasLimit = opts.callGasLimit ?? DEFAULT_CALL_GAS_LIMIT;
  const bounds = opts.bounds ?? derivedBounds(intent, wallet);
  const agentSignature = await devAccount(opts.signer ?? LOCAL_ROLES.sessionKey).signTypedData(
    operationTypedData(chainId, wallet, { calls, nonce, deadline, callGasLimit, bounds }),
  );
  const body = encodeOperationRequest({ chainId, wallet, calls, nonce, deadline, callGasLimit, bounds, agentSignature, intent: intent as IntentBody });
  return { ...body, intent };
}

export type Proposal = Awaited<ReturnType<typeof proposal>>;

/** The Operation a proposal's JSON signs (bigints back from decimal strings). */
export function operationOf(request: Proposal) {
  return {
    calls: request.calls.map((c) => ({ target: c.target, value: BigInt(c.value), data: c.data })),
    nonce: BigInt(request.nonce),
    deadline: BigInt(request.deadline),
    callGasLimit: BigInt(request.callGasLimit),
    bounds: request.bounds.map((b) => ({ asset: b.asset, account: b.account, minDelta: BigInt(b.minDelta) })),
  };
}

export const erc20Abi = () => loadArtifact("MockERC20").abi;

/** An ERC-20 transfer call. */
export function transferCall(token: Address, to: Address, amount: bigint): Call {
  return { target: token, value: 0n, data: encodeFunctionData({ abi: erc20Abi(), functionName: "transfer", args: [to, amount] }) };
}

export const usdc = (n: number | string) => parseUnits(String(n), 6);

/**
 * Submits an approved operation on chain from `from` (a development account index) and returns the receipt. The
 * relayer's gas leaves each call its callGasLimit (the wallet refuses InsufficientGas otherwise) unless `gas` is given.
 */
export async function executeOnChain(h: CosignerHarness, request: Proposal, cosignerSignature: Hex, from: number = LOCAL_ROLES.relayer, gas?: bigint) {
  const account = devAccount(from);
  const transport = http(h.node.url);
  const wallet = createWalletClient({ account, transport });
  const pub = createPublicClient({ transport });
  const op = operationOf(request);
  const data = encodeFunctionData({
    abi: loadArtifact("AgentWallet").abi,
    functionName: "execute",
    args: executeArgs(op, request.agentSignature, cosignerSignature),
  });
  const chain = { id: h.deployment.chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [h.node.url] } } } as const;
  const needed = (op.callGasLimit * 64n) / 63n + 1_000_000n;
  const hash = await wallet.sendTransaction({ chain, to: request.wallet, data, gas: gas ?? (needed < 29_000_000n ? needed : 29_000_000n) });
  return pub.waitForTransactionReceipt({ hash });
}
