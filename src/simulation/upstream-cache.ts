/**
 * A JSON-RPC endpoint on 127.0.0.1 that sits between the in-process fork and the upstream chain.
 *
 * Hardhat's fork asks the upstream for every account and storage slot again on every call. This cache answers
 * those reads at one pinned upstream block (the "view") whatever block the fork names, keeps the answers for that
 * view, and hands the keys it fetched to the fork (drainFetched), which copies them into its own state so it never
 * asks again. When a new head arrives, the fork re-reads those keys at the new block in one batch (fetchAt) and
 * moves the view (moveView).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonPost, type PostError } from "./json-post";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface RpcRequest {
  jsonrpc: "2.0";
  id: number | string | null;
  method: string;
  params?: Json[];
}
interface RpcResponse {
  jsonrpc: "2.0";
  id: number | string | null;
  result?: Json;
  error?: { code: number; message: string; data?: Json };
}

/** A state read the fork made: an account field or a storage slot. */
export type StateKey =
  | { kind: "balance" | "nonce" | "code"; address: string }
  | { kind: "slot"; address: string; slot: string };

const STATE_METHODS: Record<string, StateKey["kind"]> = {
  eth_getBalance: "balance",
  eth_getTransactionCount: "nonce",
  eth_getCode: "code",
  eth_getStorageAt: "slot",
};

/** Raised when the upstream cannot be reached or answers with an error where an answer is required. */
export class UpstreamError extends Error {
  readonly code = "UPSTREAM_UNAVAILABLE";
  constructor(message: string, readonly cause?: unknown) {
    super(message);
  }
}

export interface UpstreamCacheOptions {
  /** The upstream JSON-RPC URL. */
  upstreamUrl: string;
  /** Timeout of one upstream request (ms). */
  timeoutMs?: number;
}

/**
 * The caching JSON-RPC endpoint the fork is pointed at.
 * @example
 * const cache = new UpstreamCache({ upstreamUrl }); const url = await cache.start(head);
 */
export class UpstreamCache {
  private server?: Server;
  private readonly client: JsonPost;
  private viewBlock = 0n;
  /** The block the fork was created at: reported as the chain's tip (see eth_blockNumber below). */
  forkBlock = 0n;
  /** This endpoint's URL once started. */
  url = "";
  private runBudget = Number.POSITIVE_INFINITY;
  /** Whether the current run asked for more uncached reads than its budget (the reads past it were refused). */
  budgetExceeded = false;
  private viewTag = "0x0";
  private values = new Map<string, Json>(); // key → answer at viewBlock
  private staticAnswers = new Map<string, Json>(); // chain id, net version: never change
  private blocks = new Map<string, Json>(); // "number:full" → block, for blocks ≤ view
  private readonly timeoutMs: number;
  private requestId = 1;
  /** Keys answered from the upstream, or from the cache to a run, since the last drain, each once (by keyId). */
  private fetched = new Map<string, StateKey>();
  /** The path of the endpoint the serving fork reads through; the others belong to forks being built beside it. */
  private servingPath = "/";
  /** Paths of forks being built whose reads failed: such a fork must never serve. */
  private readonly failedPaths = new Set<string>();
  /** State keys read through each endpoint other than the serving one (a fork being built), each once, until drained. */
  private readonly asideReads = new Map<string, Map<string, StateKey>>();
  /** The fork block of each endpoint that was given one (an EVM built later forks at a later block). */
  private readonly forkBlocks = new Map<string, bigint>();
  /** Upstream requests sent (a batch counts once) and reads answered from the cache; for benchmarks. */
  readonly stats = { upstreamRequests: 0, upstreamCalls: 0, cacheHits: 0, forkRequests: 0 };

  constructor(private readonly options: UpstreamCacheOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.client = new JsonPost(options.upstreamUrl);
  }

  /** The upstream block state reads are answered at. */
  get view(): bigint {
    return this.viewBlock;
  }

  /** Starts the endpoint with reads pinned at `block`; returns its URL. */
  async start(block: bigint, forkBlock = block): Promise<string> {
    this.forkBlock = forkBlock;
    this.setView(block);
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  /**
   * The URL of endpoint `name`: one per fork (EDR provider). Reads of the serving one (see `serve`) count against
   * the current run and are handed to it for hydration; reads of any other (a fork being built beside it) are
   * answered at the view all the same, but never touch the run, and a failure is remembered (`failed`) instead.
   */
  endpoint(name: string, forkBlock?: bigint): string {
    if (forkBlock !== undefined) this.forkBlocks.set(`/${name}`, forkBlock);
    return `${this.url}/${name}`;
  }

  /** Makes endpoint `name` the serving fork's. */
  serve(name: string): void {
    this.servingPath = `/${name}`;
    this.failedPaths.delete(this.servingPath);
  }

  /** Whether a read through endpoint `name` (not the serving one) failed and was answered empty. */
  failed(name: string): boolean {
    return this.failedPaths.has(`/${name}`);
  }

  /** The state keys read through endpoint `name` (not the serving one) since the last call, each once. */
  drainAside(name: string): StateKey[] {
    const keys = this.asideReads.get(`/${name}`);
    this.asideReads.delete(`/${name}`);
    return keys ? [...keys.values()] : [];
  }

  /** Forgets endpoint `name`'s failures and reads (a fork built through it is gone). */
  forget(name: string): void {
    this.failedPaths.delete(`/${name}`);
    this.asideReads.delete(`/${name}`);
    if (`/${name}` !== this.servingPath) this.forkBlocks.delete(`/${name}`);
  }

  /** Stops the endpoint. */
  async stop(): Promise<void> {
    this.client.close();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private runActive = false;
  /** Why an upstream read failed during the current run, if one did. */
  runFailure: string | undefined;

  private runDeadline = Number.POSITIVE_INFINITY;
  /** Whether the current run asked for an uncached read after its deadline (that read and later ones answered empty). */
  timedOut = false;

  /**
   * Starts a run: counts uncached reads (past `budget`, reads answer empty and the run is failed), and past
   * `deadline` (performance.now() ms) answers every uncached read empty at once and marks the run timed out.
   */
  beginRun(budget: number, deadline = Number.POSITIVE_INFINITY): void {
    this.runBudget = budget;
    this.runDeadline = deadline;
    this.budgetExceeded = false;
    this.timedOut = false;
    this.runFailure = undefined;
    this.runActive = true;
  }

  /** Ends the run. */
  endRun(): void {
    this.runBudget = Number.POSITIVE_INFINITY;
    this.runDeadline = Number.POSITIVE_INFINITY;
    this.runActive = false;
  }

  /** Whether the current run is already failed (over budget, past its deadline, or an upstream read failed). */
  private get runSpent(): boolean {
    if (!this.runActive) return false;
    if (this.budgetExceeded || this.timedOut || this.runFailure !== undefined) return true;
    if (performance.now() > this.runDeadline) this.timedOut = true;
    return this.timedOut;
  }

  /** The keys fetched from the upstream (at the view) or read from the cache by a run since the last call, with their answers. */
  drainFetched(): { key: StateKey; value: Json }[] {
    const keys = this.fetched;
    this.fetched = new Map();
    return [...keys].map(([id, key]) => ({ key, value: this.values.get(id)! })).filter((e) => e.value !== undefined);
  }

  /**
   * Fetches `keys` at `block` in batch requests of at most `batchSize` calls (sent together), without moving the view.
   */
  async fetchAt(keys: StateKey[], block: bigint, batchSize = 1_000): Promise<Map<string, Json>> {
    const tag = toTag(block);
    const answers = new Map<string, Json>();
    const chunks: StateKey[][] = [];
    for (let i = 0; i < keys.length; i += batchSize) chunks.push(keys.slice(i, i + batchSize));
    await Promise.all(
      chunks.map(async (chunk) => {
        const results = await this.upstreamBatch(chunk.map((k) => toRequest(k, tag)));
        chunk.forEach((k, i) => answers.set(keyId(k), results[i]!));
      }),
    );
    return answers;
  }

  /** Pins reads at `block`, seeding the cache with prefetched answers for it. */
  moveView(block: bigint, prefetched: Map<string, Json> = new Map()): void {
    this.setView(block);
    for (const [k, v] of prefetched) this.values.set(k, v);
  }

  /** Sends one request to the upstream. */
  async upstream(method: string, params: Json[] = [], timeoutMs = this.timeoutMs): Promise<Json> {
    const [result] = await this.upstreamBatch([{ method, params }], timeoutMs);
    return result!;
  }

  /** Sends requests to the upstream as one JSON-RPC batch; every answer must be a result. */
  async upstreamBatch(calls: { method: string; params: Json[] }[], timeoutMs = this.timeoutMs): Promise<Json[]> {
    const body = calls.map((c) => ({ jsonrpc: "2.0", id: this.requestId++, method: c.method, params: c.params }));
    this.stats.upstreamRequests += 1;
    this.stats.upstreamCalls += calls.length;
    let parsed: RpcResponse | RpcResponse[];
    try {
      parsed = (await this.client.post(JSON.stringify(body.length === 1 ? body[0] : body), timeoutMs)) as RpcResponse | RpcResponse[];
    } catch (err) {
      const { reason, status, message } = err as PostError;
      if (reason === "status") throw new UpstreamError(`upstream answered HTTP ${status}`, err);
      throw new UpstreamError(reason === "not-json" ? `upstream answered badly: ${message}` : `upstream unreachable: ${message}`, err);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    const byId = new Map(list.map((r) => [r.id, r]));
    return body.map((req) => {
      const r = byId.get(req.id);
      if (!r) throw new UpstreamError(`upstream gave no answer to ${req.method}`);
      if (r.error) throw new UpstreamError(`upstream error on ${req.method}: ${r.error.message}`);
      return r.result ?? null;
    });
  }

  private setView(block: bigint): void {
    this.viewBlock = block;
    this.viewTag = toTag(block);
    this.values = new Map();
    for (const k of [...this.blocks.keys()]) if (BigInt(k.split(":")[0]!) > block) this.blocks.delete(k);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    let answer: RpcResponse | RpcResponse[];
    try {
      const parsed = JSON.parse(body) as RpcRequest | RpcRequest[];
      const path = req.url ?? "/";
      const aside = path !== this.servingPath ? path : undefined;
      answer = Array.isArray(parsed)
        ? await Promise.all(parsed.map((r) => this.answer(r, path, aside)))
        : await this.answer(parsed, path, aside);
    } catch {
      answer = { jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } };
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(answer));
  }

  private async answer(req: RpcRequest, path: string, aside?: string): Promise<RpcResponse> {
    this.stats.forkRequests += 1;
    try {
      return { jsonrpc: "2.0", id: req.id, result: await this.resolve(req.method, req.params ?? [], path, aside) };
    } catch (err) {
      return { jsonrpc: "2.0", id: req.id, error: { code: -32603, message: (err as Error).message } };
    }
  }

  private async resolve(method: string, params: Json[], path: string, aside?: string): Promise<Json> {
    const kind = STATE_METHODS[method];
    if (kind) {
      const key: StateKey =
        kind === "slot"
          ? { kind, address: String(params[0]).toLowerCase(), slot: normSlot(String(params[1])) }
          : { kind, address: String(params[0]).toLowerCase() };
      const id = keyId(key);
      if (aside !== undefined) {
        const read = this.asideReads.get(aside) ?? new Map<string, StateKey>();
        this.asideReads.set(aside, read.set(id, key));
      }
      const hit = this.values.get(id);
      if (hit !== undefined) {
        this.stats.cacheHits += 1;
        // A run's read of a key the fork does not hold (one a replacement dropped, say): handed to it like a fetched one.
        if (aside === undefined && this.runActive) this.fetched.set(id, key);
        return hit;
      }
      if (aside !== undefined) return this.resolveAside(aside, key, method);
      // Inside a run the fork must never see an error for a state read: Hardhat's EVM aborts the whole process on
      // one during a transaction. A read past the budget or a failed fetch answers "empty" instead, is never cached
      // or hydrated, and marks the run failed, so that its result is thrown away and nothing is signed.
      // A run that already failed stops reading at once: the first failed read (or the budget, or the deadline)
      // decides the outcome, and the reads after it would only hold the fork.
      if (this.runSpent) return emptyAnswer(kind);
      if (this.runActive && this.runBudget <= 0) {
        this.budgetExceeded = true;
        return emptyAnswer(kind);
      }
      this.runBudget -= 1;
      const view = this.viewBlock;
      // Within a run, one read may take no longer than what is left of the run's budget.
      const timeoutMs = this.runActive ? Math.max(1, Math.min(this.timeoutMs, Math.ceil(this.runDeadline - performance.now()))) : this.timeoutMs;
      let result: Json;
      try {
        result = await this.upstream(method, toRequest(key, this.viewTag).params, timeoutMs);
      } catch (err) {
        if (!this.runActive) throw err;
        this.runFailure ??= (err as Error).message;
        return emptyAnswer(kind);
      }
      if (view === this.viewBlock) {
        this.values.set(id, result);
        this.fetched.set(id, key);
      }
      return result;
    }
    switch (method) {
      case "eth_chainId":
      case "net_version": {
        const hit = this.staticAnswers.get(method);
        if (hit !== undefined) return hit;
        const result = await this.upstream(method, []);
        this.staticAnswers.set(method, result);
        return result;
      }
      case "eth_blockNumber":
        // The fork must believe its fork block is the tip: it then never treats it as final and caches nothing
        // itself, so every read it does not hold locally comes here and is answered at the view.
        return toTag(this.forkBlocks.get(path) ?? this.forkBlock);
      case "eth_getBlockByNumber": {
        const id = `${BigInt(String(params[0]))}:${params[1] === true}`;
        const hit = this.blocks.get(id);
        if (hit !== undefined) return hit;
        const result = await this.upstream(method, params);
        this.blocks.set(id, result);
        return result;
      }
      default:
        // Only reads go through: the fork must never send anything to the upstream on anyone's behalf.
        if (!/^(eth_get|eth_call$|eth_chainId$|net_version$|eth_feeHistory$|eth_gasPrice$|eth_maxPriorityFeePerGas$)/.test(method)) {
          throw new Error(`method ${method} is not forwarded to the upstream`);
        }
        return this.upstream(method, params);
    }
  }

  /**
   * A state read of a fork being built beside the serving one: answered at the view (and kept, when the view did
   * not move meanwhile), outside any run. A failure answers empty, as in a run (an error could abort EDR), and
   * marks the endpoint failed, so the fork it built is thrown away.
   */
  private async resolveAside(path: string, key: StateKey, method: string): Promise<Json> {
    const view = this.viewBlock;
    try {
      const result = await this.upstream(method, toRequest(key, this.viewTag).params);
      if (view === this.viewBlock) this.values.set(keyId(key), result);
      else this.failedPaths.add(path);
      return result;
    } catch {
      this.failedPaths.add(path);
      return emptyAnswer(key.kind);
    }
  }
}

function emptyAnswer(kind: StateKey["kind"]): Json {
  return kind === "code" ? "0x" : kind === "slot" ? `0x${"0".repeat(64)}` : "0x0";
}

/** A stable identifier of a state key. */
export function keyId(key: StateKey): string {
  return key.kind === "slot" ? `slot:${key.address}:${key.slot}` : `${key.kind}:${key.address}`;
}

function toRequest(key: StateKey, tag: string): { method: string; params: Json[] } {
  switch (key.kind) {
    case "balance":
      return { method: "eth_getBalance", params: [key.address, tag] };
    case "nonce":
      return { method: "eth_getTransactionCount", params: [key.address, tag] };
    case "code":
      return { method: "eth_getCode", params: [key.address, tag] };
    case "slot":
      return { method: "eth_getStorageAt", params: [key.address, key.slot, tag] };
  }
}

function toTag(block: bigint): string {
  return `0x${block.toString(16)}`;
}

function normSlot(slot: string): string {
  return `0x${BigInt(slot).toString(16).padStart(64, "0")}`;
}
