/**
 * The chain follower: reads every block of the upstream once, in order, from where it stopped (its position in the
 * store) to the head; records what the served wallets did in each block (executions attributed to their decisions,
 * owner executions, control changes) together with the new position in one transaction; then tells its handlers.
 *
 * Exactly once: a block's records and the position after it commit together, and a block is recorded only on top
 * of its parent (the store refuses another order), so a restart, even after SIGKILL, resumes at position + 1.
 * Handlers are told after the commit: a crash in between means they miss that block (they can reconcile from the
 * store), never that it is recorded twice.
 *
 * Reorgs: the hashes of the last `reorgDepth` recorded blocks are kept. When a new block's parent is not the block
 * recorded below it (or the head falls below or away from the position), the follower finds the newest recorded
 * block still on the chain, undoes everything recorded above it (the audit log gets "…reverted" records), tells
 * the handlers (onReorg), and follows the new blocks from there. A reorg deeper than the window stops the follower
 * at its position with an error (lastError, the lag in /healthz), rather than keeping records of dropped blocks.
 *
 * Speed: the requests of a block go out together (one JSON-RPC batch: header and logs, then receipts and balances),
 * and up to `prefetch` blocks are fetched at once while catching up; commits stay in order.
 */
import type { Logger } from "pino";
import pino from "pino";
import { createPublicClient, getAddress, http, type Address, type Hex } from "viem";
import type { SimulationView } from "../api";
import { publicMessage } from "../errors/classify";
import type { AssetChange } from "../simulation/changes";
import type { Store, StoredDecision, StoredExecution } from "../store";
import { PositionConflict } from "../store";
import { actualChanges, matchesSimulation, nativeAccounts, operationSegment, type ReceiptLog } from "./attribution";
import type { ControlChange, MonitorHandler, ObservedBlock, ObservedExecution, ObservedOwnerExecution } from "./types";
import { decodeWalletEvent, type WalletEvent, type WalletLog } from "./wallet-events";

export interface MonitorOptions {
  /** The chain followed (JSON-RPC over HTTP). */
  upstreamUrl: string;
  store: Store;
  /** The wallets whose logs are followed. */
  wallets: readonly Address[];
  /** The follower's name in the store (its position), default "monitor". */
  follower?: string;
  /** Milliseconds between polls of the head (default 500). */
  pollMs?: number;
  /** Recorded blocks kept to detect a reorg (default 12; 6 on the local chain 31337). */
  reorgDepth?: number;
  /** Blocks fetched at once while catching up (default 8). */
  prefetch?: number;
  /** Where to start without a stored position: "head" (default) or a block number. */
  startBlock?: "head" | bigint;
  logger?: Logger;
}

/** What the follower reports (metrics, /healthz). */
export interface MonitorStatus {
  running: boolean;
  chainId: number | null;
  /** The last block recorded, null before the first. */
  lastBlock: bigint | null;
  /** The upstream head at the last poll. */
  head: bigint | null;
  /** head − lastBlock (0 before both are known). */
  lagBlocks: bigint;
  /** Executions recorded since start, by whether they matched their simulation ("none": no approved decision). */
  executions: { matched: number; mismatched: number; unattributed: number };
  reorgs: number;
  handlerErrors: number;
  lastError?: string;
}

interface Header {
  /** The block's transaction hashes. */
  transactions: string[];
  number: string;
  hash: Hex;
  parentHash: Hex;
  timestamp: string;
}

interface Receipt {
  transactionHash: Hex;
  blockHash: Hex;
  from: string;
  gasUsed: string;
  effectiveGasPrice?: string;
  status: string;
  logs: (ReceiptLog & { address: string })[];
}

/** One block, fetched and attributed, ready to commit. */
interface FetchedBlock {
  block: ObservedBlock;
  events: WalletEvent[];
  executions: ObservedExecution[];
  owner: ObservedOwnerExecution[];
  control: ControlChange[];
}

const hex = (n: bigint): Hex => `0x${n.toString(16)}`;
const plain = (changes: readonly AssetChange[]) => changes.map((c) => ({ account: c.account, asset: c.asset, delta: c.delta.toString() }));

/** Reorg window by chain: the local development chain reorgs only when a test asks it to. */
export function defaultReorgDepth(chainId: number): number {
  return chainId === 31337 ? 6 : 12;
}

/**
 * Follows the upstream for the served wallets and tells handlers what happened, each block once.
 * @example const monitor = new Monitor({ upstreamUrl, store, wallets }); monitor.addHandler(rules); await monitor.start()
 */
export class Monitor {
  private readonly handlers: MonitorHandler[] = [];
  private readonly client;
  private readonly follower: string;
  private readonly logger: Logger;
  private readonly wallets: Address[];
  /** The served wallets, lower-case: whose `Executed` logs bound an operation's segment of a receipt. */
  private readonly walletSet: Set<string>;
  private chainId: number | null = null;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly state: Omit<MonitorStatus, "running" | "chainId" | "lagBlocks"> = {
    lastBlock: null,
    head: null,
    executions: { matched: 0, mismatched: 0, unattributed: 0 },
    reorgs: 0,
    handlerErrors: 0,
  };

  constructor(private readonly options: MonitorOptions) {
    this.client = createPublicClient({ transport: http(options.upstreamUrl, { batch: { wait: 0 }, retryCount: 2, timeout: 10_000 }) });
    this.follower = options.follower ?? "monitor";
    this.logger = (options.logger ?? pino({ level: "silent" })).child({ component: "monitor" });
    this.wallets = [...new Set(options.wallets.map((w) => getAddress(w)))];
    this.walletSet = new Set(this.wallets.map((w) => w.toLowerCase()));
  }

  /** Adds a handler; handlers are told in the order they were added. */
  addHandler(handler: MonitorHandler): void {
    this.handlers.push(handler);
  }

  /** Where the follower stands. */
  status(): MonitorStatus {
    const { lastBlock, head } = this.state;
    const lagBlocks = lastBlock !== null && head !== null && head > lastBlock ? head - lastBlock : 0n;
    return { ...this.state, executions: { ...this.state.executions }, running: this.running, chainId: this.chainId, lagBlocks };
  }

  /** Reads the chain id and the stored position (or starts one), then follows in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.chainId = Number(await this.rpc<Hex>("eth_chainId", []));
    const position = await this.options.store.position(this.chainId, this.follower);
    if (position) this.state.lastBlock = position.blockNumber;
    this.running = true;
    this.logger.info({ chainId: this.chainId, wallets: this.wallets, position: position?.blockNumber.toString() ?? null }, "monitor starting");
    this.loop = this.run();
  }

  /** Stops after the block in hand (its records and position commit or not, together). Safe to call twice. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Follows until stopped: one pass to the head, then a pause of pollMs. */
  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pass();
        delete this.state.lastError;
      } catch (err) {
        // Shown on /healthz and logged: no provider URL (its API key) in either.
        this.state.lastError = publicMessage(err);
        this.logger.error({ error: this.state.lastError }, "monitor pass failed; retrying");
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollMs ?? 500);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Records every block from the stored position + 1 to the head (handling reorgs on the way). */
  private async pass(): Promise<void> {
    const chainId = this.chainId!;
    const { store } = this.options;
    const head = BigInt(await this.rpc<Hex>("eth_blockNumber", []));
    this.state.head = head;
    let position = await store.position(chainId, this.follower);
    if (!position) position = await this.begin(head);
    this.state.lastBlock = position.blockNumber;
    if (head < position.blockNumber) {
      // The chain got shorter than the position: blocks were dropped.
      await this.reorg(position.blockNumber);
      return;
    }
    if (head === position.blockNumber) {
      // Nothing new: is the recorded block still the chain's?
      const at = await this.header(head);
      if (at && at.hash !== position.blockHash) await this.reorg(head);
      return;
    }
    let next = position.blockNumber + 1n;
    const prefetch = BigInt(Math.max(1, this.options.prefetch ?? 8));
    while (this.running && next <= head) {
      const last = next + prefetch - 1n < head ? next + prefetch - 1n : head;
      const pending: Promise<FetchedBlock>[] = [];
      for (let n = next; n <= last; n++) pending.push(this.fetchBlock(n));
      pending.forEach((p) => p.catch(() => undefined));
      let reorged = false;
      for (const p of pending) {
        const fetched = await p;
        if (!this.running) return;
        if (fetched.block.parentHash !== position.blockHash) {
          await this.reorg(fetched.block.number);
          reorged = true;
          break;
        }
        await this.commit(fetched);
        position = { blockNumber: fetched.block.number, blockHash: fetched.block.hash };
        await this.tell(fetched);
      }
      if (reorged) return; // the next pass starts from the common ancestor
      next = last + 1n;
    }
  }

  /** Starts following without a stored position: records the start block (empty of findings) as the position. */
  private async begin(head: bigint): Promise<{ blockNumber: bigint; blockHash: string }> {
    const start = this.options.startBlock === undefined || this.options.startBlock === "head" ? head : this.options.startBlock - 1n;
    const header = await this.header(start < 0n ? 0n : start);
    if (!header) throw new Error(`the upstream has no block ${start}`);
    await this.options.store.recordBlock({
      chainId: this.chainId!,
      follower: this.follower,
      number: BigInt(header.number),
      hash: header.hash,
      parentHash: header.parentHash,
      executions: [],
      ownerExecutions: [],
      controlChanges: [],
    });
    this.logger.info({ block: BigInt(header.number).toString() }, "monitor position started");
    return { blockNumber: BigInt(header.number), blockHash: header.hash };
  }

  /**
   * A reorg seen at block `at`: finds the newest recorded block still on the chain, undoes everything above it and
   * tells the handlers.
   */
  private async reorg(at: bigint): Promise<void> {
    const chainId = this.chainId!;
    const { store } = this.options;
    const depth = this.options.reorgDepth ?? defaultReorgDepth(chainId);
    const recorded = await store.recentBlocks(chainId, this.follower, depth);
    const canonical = await Promise.all(recorded.map((b) => this.header(b.number)));
    const index = recorded.findIndex((b, i) => canonical[i]?.hash === b.hash);
    if (index < 0) {
      throw new Error(
        `reorg at block ${at} deeper than the ${depth} blocks kept (MONITOR_REORG_DEPTH): none of blocks ` +
          `${recorded.at(-1)?.number ?? "?"}–${recorded[0]?.number ?? "?"} is on the chain; the monitor stays at its position`,
      );
    }
    const ancestor = recorded[index]!;
    const fromBlock = ancestor.number + 1n;
    const undone = await store.undoFrom(chainId, this.follower, fromBlock, { blockNumber: ancestor.number, blockHash: ancestor.hash });
    this.state.lastBlock = ancestor.number;
    this.state.reorgs += 1;
    this.logger.warn(
      {
        fromBlock: fromBlock.toString(),
        ancestor: ancestor.hash,
        undone: { executions: undone.executions.length, ownerExecutions: undone.ownerExecutions.length, controlChanges: undone.controlChanges.length },
      },
      "reorg: records of the dropped blocks undone",
    );
    for (const h of this.handlers) await this.safely("onReorg", () => h.onReorg?.(fromBlock, chainId));
  }

  /** Fetches block `n` and attributes its wallet events (nothing is written). */
  private async fetchBlock(n: bigint): Promise<FetchedBlock> {
    const chainId = this.chainId!;
    // The header, then the logs of exactly that block by its hash (EIP-234): logs asked for by number may come from
    // a node behind the one that gave the header (a balanced RPC) and say "nothing happened" for the wrong block.
    const header = await this.header(n);
    if (!header) throw new Error(`the upstream has no block ${n} yet`);
    const logs = this.wallets.length === 0 ? [] : await this.rpc<WalletLog[]>("eth_getLogs", [{ blockHash: header.hash, address: this.wallets }]);
    if (logs.some((l) => l.blockHash.toLowerCase() !== header.hash.toLowerCase())) {
      throw new Error(`the upstream answered logs of another block for ${header.hash}; trying again`);
    }
    const block: ObservedBlock = {
      chainId,
      number: BigInt(header.number),
      hash: header.hash,
      parentHash: header.parentHash,
      timestamp: BigInt(header.timestamp),
      transactionCount: header.transactions.length,
    };
    const events = logs
      .sort((a, b) => Number(a.logIndex) - Number(b.logIndex))
      .map(decodeWalletEvent)
      .filter((e): e is WalletEvent => e !== undefined);
    const executed = events.filter((e): e is Extract<WalletEvent, { kind: "executed" }> => e.kind === "executed");
    const executions = executed.length === 0 ? [] : await this.attribute(block, executed);
    const owner: ObservedOwnerExecution[] = [];
    const control: ControlChange[] = [];
    for (const e of events) {
      const base = { chainId, wallet: e.wallet, txHash: e.log.transactionHash as Hex, blockNumber: block.number, logIndex: Number(e.log.logIndex) };
      if (e.kind === "owner") owner.push({ ...base, target: e.target, value: e.value, selector: e.selector });
      else if (e.kind === "control") control.push({ ...base, event: e.event, args: e.args });
    }
    return { block, events, executions, owner, control };
  }

  /** Joins each Executed event to its decision and measures what it changed (receipts and balances in one batch). */
  private async attribute(block: ObservedBlock, executed: Extract<WalletEvent, { kind: "executed" }>[]): Promise<ObservedExecution[]> {
    const { store } = this.options;
    const chainId = this.chainId!;
    const decisions = await Promise.all(
      executed.map(async (e) => {
        const d = await store.findByDigest(chainId, e.wallet, e.digest);
        return d?.status === "approved" ? d : undefined;
      }),
    );
    const simulatedOf = (d: StoredDecision | undefined): AssetChange[] | null =>
      d ? ((d.simulation as SimulationView | null)?.changes ?? []).map((c) => ({ account: getAddress(c.account), asset: c.asset, delta: BigInt(c.delta) })) : null;
    const accountsOf = executed.map((e, i) => {
      const calls = ((decisions[i]?.request as { calls?: { target: string }[] } | undefined)?.calls ?? []).map((c) => c.target);
      return nativeAccounts(e.wallet, calls, simulatedOf(decisions[i]));
    });
    const accounts = [...new Set(accountsOf.flat())];
    const txHashes = [...new Set(executed.map((e) => e.log.transactionHash as Hex))];
    const [receipts, before, after] = await Promise.all([
      Promise.all(txHashes.map((h) => this.rpc<Receipt>("eth_getTransactionReceipt", [h]))),
      Promise.all(accounts.map((a) => this.rpc<Hex>("eth_getBalance", [a, hex(block.number - 1n)]))),
      Promise.all(accounts.map((a) => this.rpc<Hex>("eth_getBalance", [a, hex(block.number)]))),
    ]);
    const receiptOf = new Map(receipts.map((r) => [r.transactionHash.toLowerCase(), r]));
    const balanceDelta = new Map(accounts.map((a, i) => [a, BigInt(after[i]!) - BigInt(before[i]!)]));
    return executed.map((e, i) => {
      const receipt = receiptOf.get(e.log.transactionHash.toLowerCase());
      if (!receipt) throw new Error(`no receipt for ${e.log.transactionHash} in block ${block.number}`);
      const relayer = getAddress(receipt.from);
      const fee = BigInt(receipt.gasUsed) * BigInt(receipt.effectiveGasPrice ?? "0x0");
      const native = new Map(accountsOf[i]!.map((a) => [a, balanceDelta.get(a)! + (a === relayer ? fee : 0n)]));
      if (receipt.blockHash.toLowerCase() !== block.hash.toLowerCase()) {
        throw new Error(`the receipt of ${e.log.transactionHash} is of block ${receipt.blockHash}, not ${block.hash}: the chain moved; trying again`);
      }
      const actual = actualChanges(operationSegment(receipt.logs, Number(e.log.logIndex), (a) => this.walletSet.has(a.toLowerCase())), native);
      const decision = decisions[i];
      const simulated = simulatedOf(decision);
      return {
        chainId,
        wallet: e.wallet,
        digest: e.digest,
        sessionKey: e.sessionKey,
        nonce: e.nonce,
        txHash: e.log.transactionHash as Hex,
        blockNumber: block.number,
        blockHash: block.hash,
        logIndex: Number(e.log.logIndex),
        relayer,
        gasUsed: BigInt(receipt.gasUsed),
        decisionId: decision?.id ?? null,
        simulated,
        actual,
        matchesSimulation: simulated ? matchesSimulation(simulated, actual) : null,
      };
    });
  }

  /** Records a fetched block and the position after it, in one transaction. */
  private async commit(f: FetchedBlock): Promise<void> {
    const depth = BigInt(this.options.reorgDepth ?? defaultReorgDepth(this.chainId!));
    try {
      await this.options.store.recordBlock({
        chainId: f.block.chainId,
        follower: this.follower,
        number: f.block.number,
        hash: f.block.hash,
        parentHash: f.block.parentHash,
        executions: f.executions.map(toStoredExecution),
        ownerExecutions: f.owner.map((o) => ({ ...o, value: o.value.toString() })),
        controlChanges: f.control,
        forgetBelow: f.block.number - depth,
      });
    } catch (err) {
      if (err instanceof PositionConflict) {
        throw new Error(`another follower named "${this.follower}" moved the position of chain ${f.block.chainId}: ${err.message}`);
      }
      throw err;
    }
    this.state.lastBlock = f.block.number;
    for (const e of f.executions) {
      if (e.matchesSimulation === null) this.state.executions.unattributed += 1;
      else if (e.matchesSimulation) this.state.executions.matched += 1;
      else this.state.executions.mismatched += 1;
      this.logger.info(
        { digest: e.digest, decisionId: e.decisionId, txHash: e.txHash, block: e.blockNumber.toString(), matchesSimulation: e.matchesSimulation },
        "execution recorded",
      );
    }
  }

  /** Tells every handler about a recorded block's events, in chain order, then that the block is done. */
  private async tell(f: FetchedBlock): Promise<void> {
    if (this.handlers.length === 0) return;
    const byLog = new Map<number, ObservedExecution | ObservedOwnerExecution | ControlChange>();
    for (const x of [...f.executions, ...f.owner, ...f.control]) byLog.set(x.logIndex, x);
    const ordered = f.events.map((e) => ({ kind: e.kind, item: byLog.get(Number(e.log.logIndex))! }));
    for (const h of this.handlers) {
      for (const { kind, item } of ordered) {
        if (kind === "executed") await this.safely("onExecution", () => h.onExecution?.(item as ObservedExecution, f.block));
        else if (kind === "owner") await this.safely("onOwnerExecution", () => h.onOwnerExecution?.(item as ObservedOwnerExecution, f.block));
        else await this.safely("onControlChange", () => h.onControlChange?.(item as ControlChange, f.block));
      }
      await this.safely("onBlock", () => h.onBlock?.(f.block));
    }
  }

  private async safely(what: string, fn: () => Promise<void> | undefined): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.state.handlerErrors += 1;
      this.logger.error({ err, handler: what }, "monitor handler failed");
    }
  }

  private header(n: bigint): Promise<Header | null> {
    return this.rpc<Header | null>("eth_getBlockByNumber", [hex(n), false]);
  }

  private rpc<T>(method: string, params: unknown[]): Promise<T> {
    return this.client.request({ method, params } as never) as Promise<T>;
  }
}

/** The store's form of an observed execution (amounts as decimal strings). */
function toStoredExecution(e: ObservedExecution): StoredExecution {
  return {
    chainId: e.chainId,
    wallet: e.wallet,
    digest: e.digest,
    sessionKey: e.sessionKey,
    nonce: e.nonce.toString(),
    txHash: e.txHash,
    blockNumber: e.blockNumber,
    blockHash: e.blockHash,
    logIndex: e.logIndex,
    relayer: e.relayer,
    gasUsed: e.gasUsed.toString(),
    decisionId: e.decisionId,
    changes: plain(e.actual),
    simulated: e.simulated ? plain(e.simulated) : null,
    matchesSimulation: e.matchesSimulation,
  };
}
