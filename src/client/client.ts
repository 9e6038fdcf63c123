/**
 * The agent's side of Countersign: build an operation and its intent, sign it with the session key, ask the
 * co-signer, and when approved send `execute` on chain from the agent's own account.
 *
 * Trust: the SDK holds only the session key, which can do nothing alone. The co-signer's signature arrives only
 * for an operation whose simulated effects matched the intent; the wallet checks both signatures and its own
 * budgets and allowlists again when the transaction runs.
 */
import {
  createPublicClient,
  createWalletClient,
  custom,
  encodeFunctionData,
  getAddress,
  http,
  isHex,
  keccak256,
  type Abi,
  type Account,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
  type WalletClient,
} from "viem";
import {
  encodeOperationRequest,
  errorBodySchema,
  isDecisionBody,
  parseDecision,
  READ_SIGNATURE_HEADER,
  READ_TIMESTAMP_HEADER,
  readMessage,
  walletInfoSchema,
  type Decision,
  type WalletInfo,
} from "../api";
import { loadArtifact } from "../chain/artifacts";
import { executeArgs, operationDigest, operationTypedData, type Bound, type Call, type Operation } from "../eip712";
import { causes, hexDataOf } from "../errors/classify";
import { deriveBounds, isPlainTransfer } from "../intent/bounds";
import type { Intent } from "../intent/schema";
import { swapCalls, transferCalls, type Asset, type SwapParams, type TransferParams } from "./calls";
import { CosignerRejectedError, CosignerRequestError, ExecutionRevertedError } from "./errors";
import { NonceSource } from "./nonces";

export interface CosignerClientOptions {
  /** Base URL of the co-signer, e.g. http://127.0.0.1:8787. */
  cosignerUrl: string;
  /** A viem public client of the wallet's chain; or give `rpcUrl`. */
  publicClient?: PublicClient;
  rpcUrl?: string;
  /** The agent's session key: signs operations (and, without `submitter`, sends them). */
  sessionKey: LocalAccount;
  /** The AgentWallet the agent operates. */
  wallet: Address;
  /** The chain id; read from the chain when omitted. */
  chainId?: number;
  /** A wallet client (with an account) of the agent's own EOA that sends `execute`; default: the session key. */
  submitter?: WalletClient;
  /** Seconds from now to each operation's deadline (default 120; the co-signer allows at most its MAX_TTL_SECONDS). */
  ttlSeconds?: number;
  /** Timeout of one HTTP request to the co-signer (ms, default 30 000). */
  requestTimeoutMs?: number;
  /**
   * Gas every call of an operation gets, exactly (default 1 000 000; per operation: `OperationOptions.callGasLimit`).
   * The wallet forwards exactly this much to each call and reverts `InsufficientGas` when the transaction leaves too
   * little; the co-signer simulates with the same value and refuses calls that use close to all of it.
   */
  callGasLimit?: bigint;
}

/** The client's default `callGasLimit` (gas per call). */
export const DEFAULT_CALL_GAS_LIMIT = 1_000_000n;

/** Per-operation options. */
export interface OperationOptions {
  /** A nonce chosen by the caller; default: the next unused one. */
  nonce?: bigint;
  /** Last second the operation may run (unix seconds); default now + ttlSeconds. */
  deadline?: bigint;
  /** Makes a retried proposal return the first decision instead of a conflict. */
  idempotencyKey?: string;
  /** Send `execute` when approved (default true). With false, an approved result carries the co-signature only. */
  execute?: boolean;
  /** Gas limit of `execute`. When set, the transaction is sent without estimating, so a revert is mined. */
  gas?: bigint;
  /** Gas every call of this operation gets, exactly (default: the client's `callGasLimit`, 1 000 000). */
  callGasLimit?: bigint;
  /**
   * Outcome bounds to sign instead of the derived ones (see `CosignerClient.boundsFor`). The co-signer refuses
   * anything but the bounds derived from the intent (BOUNDS_MISMATCH): this exists to test that, not to use.
   */
  bounds?: Bound[];
}

/** A signed operation, exactly as proposed: what `execute` needs besides the co-signature. */
export interface Proposal {
  chainId: number;
  wallet: Address;
  calls: Call[];
  nonce: bigint;
  deadline: bigint;
  /** Gas every call gets, exactly (gas). */
  callGasLimit: bigint;
  /** Outcome bounds the wallet checks after the batch (empty for a plain transfer of ETH or a budgeted token). */
  bounds: Bound[];
  intent: Intent;
  agentSignature: Hex;
  /** The EIP-712 digest both signatures sign (the join key with the co-signer's audit log). */
  digest: Hex;
  idempotencyKey?: string;
}

/** What an operation came to. `txHash`/`receipt` are set when it was executed on chain. */
export interface OperationResult {
  decision: Decision;
  proposal: Proposal;
  txHash?: Hex;
  receipt?: TransactionReceipt;
}

/** `call` parameters: arbitrary calls and the exact net change of each asset the wallet expects. */
export interface CallParams {
  calls: Call[];
  /** Expected net change of the wallet per asset (negative = outflow; base units). */
  expect: { asset: Asset; delta: bigint }[];
  memo?: string;
}

/**
 * An agent's client of the co-signer and its AgentWallet.
 * @example
 * const client = new CosignerClient({ cosignerUrl: "http://127.0.0.1:8787", rpcUrl: "http://127.0.0.1:8545", sessionKey, wallet });
 * const { decision, txHash } = await client.transfer({ asset: usdc, to: alice, amount: 10_000_000n, memo: "invoice 17" });
 */
export class CosignerClient {
  readonly wallet: Address;
  readonly sessionKey: LocalAccount;
  readonly publicClient: PublicClient;
  private readonly cosignerUrl: string;
  private readonly submitter: WalletClient;
  private readonly ttl: bigint;
  private readonly timeoutMs: number;
  private readonly nonces: NonceSource;
  private chainIdValue?: number;
  private readonly walletAbi: Abi;
  private readonly callGasLimit: bigint;
  /** Whether a token is budgeted on the wallet, read once per token (`budget(token)`). */
  private readonly budgeted = new Map<Address, Promise<boolean>>();

  constructor(options: CosignerClientOptions) {
    if (!options.publicClient && !options.rpcUrl) throw new TypeError("CosignerClient needs publicClient or rpcUrl");
    this.cosignerUrl = options.cosignerUrl.replace(/\/+$/, "");
    this.wallet = getAddress(options.wallet);
    this.sessionKey = options.sessionKey;
    this.publicClient = options.publicClient ?? createPublicClient({ transport: http(options.rpcUrl) });
    const transport = options.rpcUrl ? http(options.rpcUrl) : custom({ request: (args) => this.publicClient.request(args as never) });
    this.submitter = options.submitter ?? createWalletClient({ account: options.sessionKey, transport });
    if (!this.submitter.account) throw new TypeError("the submitter wallet client needs an account");
    this.ttl = BigInt(options.ttlSeconds ?? 120);
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.chainIdValue = options.chainId;
    this.callGasLimit = options.callGasLimit ?? DEFAULT_CALL_GAS_LIMIT;
    if (this.callGasLimit <= 0n) throw new RangeError("callGasLimit must be greater than zero");
    this.walletAbi = loadArtifact("AgentWallet").abi;
    this.nonces = new NonceSource((nonce) => this.isNonceUsed(nonce));
  }

  /**
   * Pays `amount` of `asset` ("native" or a token) to `to`; executes on chain when approved.
   * @example await client.transfer({ asset: usdc, to: alice, amount: 120_000_000n, memo: "invoice INV-1" })
   */
  async transfer(params: TransferParams, options: OperationOptions = {}): Promise<OperationResult> {
    const intent: Intent = {
      kind: "transfer",
      asset: params.asset === "native" ? "native" : getAddress(params.asset),
      to: getAddress(params.to),
      amount: params.amount,
      ...(params.memo !== undefined ? { memo: params.memo } : {}),
    };
    return this.operate(transferCalls(params), intent, options);
  }

  /**
   * Swaps at most `sell.maxAmount` for at least `buy.minAmount` on a MockDex-style router (approve + swap in one
   * operation; see `SwapParams`); executes on chain when approved.
   * @example await client.swap({ sell: { asset: usdc, maxAmount: 400_000_000n }, buy: { asset: weth, minAmount: 10n ** 17n }, via: { dex } })
   */
  async swap(params: SwapParams, options: OperationOptions = {}): Promise<OperationResult> {
    const intent: Intent = {
      kind: "swap",
      sell: { asset: getAddress(params.sell.asset), maxAmount: params.sell.maxAmount },
      buy: { asset: getAddress(params.buy.asset), minAmount: params.buy.minAmount },
      ...(params.memo !== undefined ? { memo: params.memo } : {}),
    };
    return this.operate(swapCalls(params), intent, options);
  }

  /**
   * Runs arbitrary `calls` whose net effect on the wallet is exactly `expect`; executes on chain when approved.
   * @example await client.call({ calls: [{ target: usdc, value: 0n, data }], expect: [{ asset: usdc, delta: -5_000_000n }] })
   */
  async call(params: CallParams, options: OperationOptions = {}): Promise<OperationResult> {
    const intent: Intent = {
      kind: "call",
      expect: params.expect.map((e) => ({ asset: e.asset === "native" ? "native" : getAddress(e.asset), delta: e.delta })),
      ...(params.memo !== undefined ? { memo: params.memo } : {}),
    };
    return this.operate(params.calls, intent, options);
  }

  /**
   * Proposes `calls` with `intent` and, when approved (and `options.execute` is not false), executes them.
   * Throws CosignerRejectedError when rejected; returns without executing when pending approval.
   * @example const { decision } = await client.operate(calls, { kind: "call", expect: [] })
   */
  async operate(calls: Call[], intent: Intent, options: OperationOptions = {}): Promise<OperationResult> {
    const { decision, proposal } = await this.propose(calls, intent, options);
    if (decision.status === "rejected") throw new CosignerRejectedError(decision);
    if (decision.status !== "approved" || options.execute === false) return { decision, proposal };
    const { txHash, receipt } = await this.execute(proposal, decision, { gas: options.gas });
    return { decision, proposal, txHash, receipt };
  }

  /**
   * Signs `calls` with the session key and asks the co-signer; returns the decision whatever it is (rejected
   * included). Throws CosignerRequestError when the co-signer answers with an error instead of a decision.
   * @example const { decision, proposal } = await client.propose(calls, intent, { execute: false })
   */
  async propose(calls: Call[], intent: Intent, options: OperationOptions = {}): Promise<{ decision: Decision; proposal: Proposal }> {
    const proposal = await this.sign(calls, intent, options);
    const { status, json } = await this.request("POST", "/v1/operations", encodeOperationRequest(proposal));
    if ((status === 200 || status === 202 || status === 422) && isDecisionBody(json)) {
      const decision = parseDecision(json);
      // The owner may have set or removed a budget since it was read: read it again next time.
      if (decision.reasons.some((r) => (r.code as string) === "BOUNDS_MISMATCH")) this.budgeted.clear();
      return { decision, proposal };
    }
    throw requestError(status, json);
  }

  /**
   * Builds and signs an operation with the session key (EIP-712, src/eip712.ts) without sending it anywhere.
   * @example const proposal = await client.sign(calls, intent)
   */
  async sign(
    calls: Call[],
    intent: Intent,
    options: Pick<OperationOptions, "nonce" | "deadline" | "idempotencyKey" | "callGasLimit" | "bounds"> = {},
  ): Promise<Proposal> {
    const chainId = await this.chainId();
    const callGasLimit = options.callGasLimit ?? this.callGasLimit;
    if (callGasLimit <= 0n) throw new RangeError("callGasLimit must be greater than zero");
    const bounds = options.bounds ?? (await this.boundsFor(calls, intent));
    const nonce = options.nonce ?? (await this.nonces.next());
    const deadline = options.deadline ?? BigInt(Math.floor(Date.now() / 1000)) + this.ttl;
    const op: Operation = { calls, nonce, deadline, callGasLimit, bounds };
    const agentSignature = await this.sessionKey.signTypedData(operationTypedData(chainId, this.wallet, op));
    return {
      chainId,
      wallet: this.wallet,
      calls,
      nonce,
      deadline,
      callGasLimit,
      bounds,
      intent,
      agentSignature,
      digest: operationDigest(chainId, this.wallet, op),
      ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
    };
  }

  /**
   * The outcome bounds an operation carries: none for a plain transfer (`transfer` intent, calls that are a native
   * transfer or an ERC-20 `transfer`) of ETH or of a token budgeted on the wallet, whose calldata already fixes
   * what the wallet charges; otherwise exactly `deriveBounds(intent, wallet)` (src/intent/bounds.ts), the ones the
   * co-signer derives too. Whether a token is budgeted is read once from the wallet's `budget(token)` and cached.
   * @example await client.boundsFor(transferCalls({ asset: usdc, to: alice, amount: 1n }), intent) // [] when USDC is budgeted
   */
  async boundsFor(calls: readonly Call[], intent: Intent): Promise<Bound[]> {
    if (intent.kind === "transfer" && isPlainTransfer(calls) && (intent.asset === "native" || (await this.isBudgeted(intent.asset)))) return [];
    return deriveBounds(intent, this.wallet);
  }

  /** Whether `token` has a budget on the wallet (read once, then cached). */
  private isBudgeted(token: Address): Promise<boolean> {
    const key = getAddress(token);
    let known = this.budgeted.get(key);
    if (!known) {
      known = this.publicClient
        .readContract({ address: this.wallet, abi: this.walletAbi, functionName: "budget", args: [key] })
        .then((b) => (b as readonly [bigint, bigint, bigint])[2] !== 0n);
      known.catch(() => this.budgeted.delete(key));
      this.budgeted.set(key, known);
    }
    return known;
  }

  /**
   * Sends `execute` for a co-signed proposal from the submitter account and waits for the receipt.
   * Without `gas` the call is estimated first (plus 20%), and a revert is reported before anything is sent; with
   * `gas`, the transaction is sent as is and a revert is mined. The wallet forwards exactly `callGasLimit` to each
   * call, so `gas` must leave about callGasLimit × 64/63 + 40 000 before every call, else it reverts `InsufficientGas`. Either way it throws ExecutionRevertedError with the
   * wallet's decoded custom error.
   * @example const { txHash } = await client.execute(proposal, decision)
   */
  async execute(
    proposal: Proposal,
    cosignature: Decision | Hex,
    options: { gas?: bigint } = {},
  ): Promise<{ txHash: Hex; receipt: TransactionReceipt }> {
    const cosignerSignature = typeof cosignature === "string" ? cosignature : cosignature.cosignerSignature;
    if (!cosignerSignature) throw new TypeError(`decision ${(cosignature as Decision).id} carries no co-signature (status ${(cosignature as Decision).status})`);
    const data = encodeFunctionData({
      abi: this.walletAbi,
      functionName: "execute",
      args: executeArgs(proposal, proposal.agentSignature, cosignerSignature),
    });
    const account = this.submitter.account as Account;
    let gas = options.gas;
    if (gas === undefined) {
      try {
        const estimate = await this.publicClient.estimateGas({ account: account.address, to: proposal.wallet, data });
        gas = estimate + estimate / 5n;
      } catch (err) {
        const revert = revertData(err);
        if (revert !== undefined) throw new ExecutionRevertedError(revert, "estimate");
        throw err;
      }
    }
    const txHash = await this.send(account, proposal.wallet, data, gas);
    const receipt = await this.publicClient.waitForTransactionReceipt({ hash: txHash });
    if (receipt.status !== "success") {
      throw new ExecutionRevertedError(await this.replayRevert(account.address, proposal.wallet, data, gas, receipt), "mined", txHash, receipt);
    }
    return { txHash, receipt };
  }

  /**
   * A decision by id (GET /v1/operations/:id), read with a signature of the session key over the id and the time
   * (src/http/read-auth.ts): the co-signer shows a decision only to the session key that proposed it (or an approver).
   * @example const decision = await client.getOperation(id)
   */
  async getOperation(id: string): Promise<Decision> {
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = await this.sessionKey.signMessage({ message: readMessage(id, timestamp) });
    const headers = { [READ_SIGNATURE_HEADER]: signature, [READ_TIMESTAMP_HEADER]: String(timestamp) };
    const { status, json } = await this.request("GET", `/v1/operations/${encodeURIComponent(id)}`, undefined, headers);
    if (status === 200 && isDecisionBody(json)) return parseDecision(json);
    throw requestError(status, json);
  }

  /**
   * Polls a pending decision until a person approves or rejects it (or `timeoutMs` passes) and returns it.
   * Execute an approved one with `execute(result.proposal, decision)`.
   * @example const decision = await client.waitForApproval(result.decision.id, { timeoutMs: 600_000 })
   */
  async waitForApproval(id: string, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<Decision> {
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    for (;;) {
      const decision = await this.getOperation(id);
      if (decision.status !== "pending_approval") return decision;
      if (Date.now() >= deadline) {
        throw new CosignerRequestError(0, "APPROVAL_TIMEOUT", `decision ${id} is still pending approval after ${options.timeoutMs ?? 300_000} ms`);
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1_000));
    }
  }

  /**
   * The wallet's policy as the co-signer sees it: budgets with what is available now, recipients, call
   * permissions, session keys, paused (GET /v1/wallets/:address).
   * @example const { budgets, paused } = await client.getWallet()
   */
  async getWallet(): Promise<WalletInfo> {
    const { status, json } = await this.request("GET", `/v1/wallets/${this.wallet}`);
    if (status !== 200) throw requestError(status, json);
    return walletInfoSchema.parse(json);
  }

  /**
   * Whether `nonce` was executed or invalidated on chain.
   * @example if (await client.isNonceUsed(7n)) pickAnother()
   */
  async isNonceUsed(nonce: bigint): Promise<boolean> {
    return (await this.publicClient.readContract({ address: this.wallet, abi: this.walletAbi, functionName: "isNonceUsed", args: [nonce] })) as boolean;
  }

  /** The chain id: from the options, or read once from the chain. */
  async chainId(): Promise<number> {
    this.chainIdValue ??= await this.publicClient.getChainId();
    return this.chainIdValue;
  }

  private async request(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.cosignerUrl}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new CosignerRequestError(0, "UNREACHABLE", `${method} ${this.cosignerUrl}${path} failed: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  /**
   * Sends a transaction and returns its hash. A local account's transaction is signed here, so its hash is known
   * before sending: a development node (Hardhat's automine) mines a reverting transaction yet answers with an
   * error, and a transport may retry the send; either way the receipt decides what happened.
   */
  private async send(account: Account, to: Address, data: Hex, gas: bigint): Promise<Hex> {
    if (account.type !== "local") {
      try {
        return await this.submitter.sendTransaction({ account, chain: null, to, data, gas } as never);
      } catch (err) {
        const mined = minedTxHash(err);
        if (mined) return mined;
        throw err;
      }
    }
    const request = await this.submitter.prepareTransactionRequest({ account, chain: null, to, data, gas } as never);
    const serializedTransaction = await this.submitter.signTransaction({ ...request, account, chain: null } as never);
    const txHash = keccak256(serializedTransaction);
    try {
      await this.submitter.sendRawTransaction({ serializedTransaction });
    } catch (err) {
      const mined = await this.publicClient.getTransactionReceipt({ hash: txHash }).catch(() => undefined);
      if (!mined) throw err;
    }
    return txHash;
  }

  /**
   * The revert data of a mined, reverted `execute`: from the transaction's own trace where the node offers one
   * (development and archive nodes), which is exact; else by re-running it on the state before its block, which
   * misses a revert that depends on the block itself (its timestamp, say: an outcome bound that held a block earlier).
   */
  private async replayRevert(from: Address, to: Address, data: Hex, gas: bigint, receipt: TransactionReceipt): Promise<Hex | undefined> {
    try {
      const trace = (await this.publicClient.request({
        method: "debug_traceTransaction",
        params: [receipt.transactionHash, { disableStorage: true, disableMemory: true, disableStack: true }],
      } as never)) as { failed?: boolean; returnValue?: string } | undefined;
      const value = trace?.failed ? trace.returnValue : undefined;
      const hex = typeof value === "string" ? (value.startsWith("0x") ? value : `0x${value}`) : undefined;
      if (hex && isHex(hex) && hex.length >= 10) return hex;
    } catch {
      // no debug namespace on this node: replay below
    }
    try {
      await this.publicClient.call({ account: from, to, data, gas, blockNumber: receipt.blockNumber - 1n });
      return undefined;
    } catch (err) {
      return revertData(err);
    }
  }
}

function requestError(status: number, json: unknown): CosignerRequestError {
  const parsed = errorBodySchema.safeParse(json);
  if (parsed.success) return new CosignerRequestError(status, parsed.data.error.code, parsed.data.error.message, parsed.data.error.details);
  return new CosignerRequestError(status, `HTTP_${status}`, `unexpected answer: ${JSON.stringify(json)?.slice(0, 300)}`);
}

/** The hash of a transaction a node mined although sending it answered with an error (Hardhat's automine). */
function minedTxHash(err: unknown): Hex | undefined {
  for (const e of causes(err)) {
    const txHash = ((e as { data?: { txHash?: unknown } }).data ?? {}).txHash;
    if (typeof txHash === "string" && /^0x[0-9a-fA-F]{64}$/.test(txHash)) return txHash as Hex;
  }
  return undefined;
}

/**
 * The revert data inside a viem error (it nests the JSON-RPC error's `data` a few causes deep), if any.
 * @example const data = revertData(err); if (data) console.log(describeRevert(data).text)
 */
export function revertData(err: unknown): Hex | undefined {
  for (const e of causes(err)) {
    const data = hexDataOf(e);
    // At least a selector: "0x" (a revert without data, or out of gas) says nothing; a deeper cause may say more.
    if (data !== undefined && data.length >= 10) return data;
  }
  return undefined;
}
