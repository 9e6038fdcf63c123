/**
 * The process the fork's EVM lives in (started by evm-process.ts). It holds the serving EVM and, for a while, others:
 * a replacement the fork builds beside it (Fork's recycleEvery), and a replaced one until it is closed 5 s after the
 * swap. A replacement in the same process runs on the code V8 already compiled here. EDR keeps memory for as long
 * as its process lives (a closed EVM's, and a few KiB a decision even with its cache of mined blocks' states bounded:
 * see evm-process.ts), so the fork replaces the whole process once it has grown (Fork's recycleGrowthMiB) and the
 * memory goes with it.
 *
 * It answers JSON-RPC requests to the EVM, and runs whole simulations (simulate.ts) beside the EVM, so that a
 * decision costs one message each way instead of one per EVM request. Messages: see HostRequest and HostReply.
 */
import type { Address, Hex } from "viem";
import { authRefusal } from "../authenticate/wallet-auth";
import { createEvm, type Evm, type EvmRequest } from "./evm";
import { carry, type HostReply, type HostRequest } from "./evm-protocol";
import { CountersignError } from "../errors";
import { Mutex } from "./mutex";
import { batchOf, feeFields, NextBlock, type BlockEnv, type EvmCall } from "./next-block";
import { simulateOperation, type SimulationHost, type SimulationResult } from "./simulate";

/** A snapshot of the EVM's state with the next block's settings of `key` (NextBlock.key). */
interface Snapshot {
  id: string;
  key: string;
}

/**
 * The fork as a simulation sees it in this process: the state version comes with each simulation.
 *
 * It keeps a snapshot ready: a run's revert takes the next run's snapshot in the same batch, so a run costs one
 * crossing into EDR less. The ready snapshot is of the state as it is (only runs, which revert, happen after it) and
 * is dropped before any other request (`request`), which may change the state: reverting to it later would undo that.
 */
class HostedFork implements SimulationHost {
  stateVersion = -1;
  dirty = false;
  private readonly nextBlock: NextBlock;
  /** The snapshot the next run can use; the one the current run uses. */
  private ready?: Snapshot;
  private inUse?: Snapshot;

  constructor(
    private readonly rpc: EvmCall,
    readonly relayer: Address,
    readonly reader: Address,
    private readonly priorityFee: bigint,
  ) {
    this.nextBlock = new NextBlock(relayer, priorityFee);
  }

  async snapshot(env: BlockEnv): Promise<string> {
    const key = this.nextBlock.key(env, this.stateVersion);
    const ready = this.ready;
    this.ready = undefined;
    if (ready?.key === key) {
      this.inUse = ready;
      return ready.id;
    }
    // Other settings: back to the ready snapshot first (the same state; it is dropped), set them, then take one.
    const answers = await batchOf(this.rpc)([
      ...(ready ? [{ method: "evm_revert", params: [ready.id] }] : []),
      ...this.nextBlock.requests(env),
      { method: "evm_snapshot", params: [] },
    ]);
    if (ready && answers[0] !== true) throw this.readyLost();
    this.inUse = { id: answers.at(-1) as string, key };
    return this.inUse.id;
  }

  async revert(snapshot: string): Promise<void> {
    let answers: unknown[] | undefined;
    try {
      answers = await batchOf(this.rpc)(this.revertRequests(snapshot));
    } finally {
      if (!answers) this.lost();
    }
    this.reverted(snapshot, answers);
  }

  revertRequests(snapshot: string): EvmRequest[] {
    const ready = this.inUse?.id === snapshot;
    return [{ method: "evm_revert", params: [snapshot] }, ...(ready ? [{ method: "evm_snapshot", params: [] }] : [])];
  }

  reverted(snapshot: string, answers: readonly unknown[]): void {
    const key = this.inUse?.id === snapshot ? this.inUse.key : undefined;
    if (answers[0] !== true) throw this.lost();
    this.inUse = undefined;
    if (key !== undefined && typeof answers[1] === "string") this.ready = { id: answers[1], key };
  }

  /** A simulation's revert failed: the EVM holds its effects and is rebuilt before the next run. */
  private lost(): CountersignError {
    this.inUse = undefined;
    this.markDirty();
    return new CountersignError("SIMULATION_FAILED", "the fork could not revert a simulation; it is rebuilt before the next one");
  }

  /** A request from outside a run (the fork's writes and reads): the ready snapshot is dropped before it. */
  async request(method: string, params: unknown[]): Promise<unknown> {
    const ready = this.ready;
    this.ready = undefined;
    if (ready && (await this.rpc<boolean>("evm_revert", [ready.id])) !== true) throw this.readyLost();
    return this.rpc(method, params);
  }

  /** The ready snapshot could not be reverted to: the EVM's state is not known to be the fork's, so it is rebuilt. */
  private readyLost(): CountersignError {
    this.markDirty();
    return new CountersignError("SIMULATION_FAILED", "the fork could not drop its ready snapshot; it is rebuilt before the next run");
  }

  feeFields(env: BlockEnv): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } {
    return feeFields(env, this.priorityFee);
  }

  markDirty(): void {
    this.dirty = true;
  }
}

/** Methods whose requests fail, in every EVM of the process (tests of what a failed EVM request does; see HostRequest "fault"). */
const faults = new Set<string>();

/** One EVM of this process, and what it counts. */
class Hosted {
  readonly fork: HostedFork;
  /** Requests sent to the EVM so far, by method (eth_call by selector), a batch's one by one: for tests and benchmarks. */
  readonly requests: Record<string, number> = {};
  /** Times a request or a batch crossed into EDR. */
  crossings = 0;
  /** One request or run at a time on the EVM, in the order they came (a run and the fork's writes never interleave). */
  readonly exclusive = new Mutex();
  readonly call: EvmCall;

  constructor(
    private readonly evm: Evm,
    m: Extract<HostRequest, { kind: "open" }>,
  ) {
    const call = (async <T>(method: string, params: unknown[] = []) => {
      this.count({ method, params });
      this.crossings++;
      return (await this.evm.request({ method, params })) as T;
    }) as EvmCall;
    call.batch = async (batch) => {
      // An injected failure fails the batch where that request is: the ones before it run, as EDR would have run them.
      const failing = batch.findIndex((r) => faults.has(r.method));
      const sent = failing < 0 ? batch : batch.slice(0, failing);
      sent.forEach((r) => this.count(r));
      if (sent.length > 0) this.crossings++;
      const answers = await this.evm.batch(sent);
      if (failing >= 0) this.count(batch[failing]!);
      return answers;
    };
    this.call = call;
    this.fork = new HostedFork(call, m.relayer, m.reader, m.priorityFee);
  }

  /** Counts `r` and throws if its method is made to fail (an injected failure, as the EVM's own would be). */
  private count(r: EvmRequest): void {
    const key = r.method === "eth_call" ? `eth_call:${String((r.params[0] as { data?: string } | undefined)?.data).slice(0, 10)}` : r.method;
    this.requests[key] = (this.requests[key] ?? 0) + 1;
    if (faults.has(r.method)) throw new Error(`injected failure of ${r.method} (test)`);
  }
}

/** The EVMs of this process by number. */
const evms = new Map<number, Hosted>();

function hosted(n: number): Hosted {
  const found = evms.get(n);
  if (!found) throw new Error(`no EVM ${n} in this process`);
  return found;
}

async function handle(m: HostRequest): Promise<unknown> {
  switch (m.kind) {
    case "open":
      if (evms.has(m.evm)) throw new Error(`EVM ${m.evm} is already open in this process`);
      evms.set(m.evm, new Hosted(await createEvm(m.options), m));
      return true;
    case "close": {
      const closing = evms.get(m.evm);
      if (!closing) return false;
      evms.delete(m.evm);
      // After what was sent to it. Its EDR provider is garbage then, but EDR gives back none of its memory while this
      // process lives (measured: see Fork's recycleGrowthMiB).
      await closing.exclusive.run(async () => undefined);
      return true;
    }
    case "rpc": {
      const { exclusive, fork } = hosted(m.evm);
      return exclusive.run(() => fork.request(m.method, m.params));
    }
    case "simulate": {
      const { exclusive, fork, call } = hosted(m.evm);
      return exclusive.run(async () => {
        fork.stateVersion = m.version;
        const rule = m.rule;
        const result: SimulationResult = await simulateOperation(fork, call, m.env, m.input, m.self, (auth) => {
          const refusal = rule && authRefusal(auth, rule.req, rule.sessionKey, m.env.timestamp, m.self);
          if (refusal) throw refusal;
        });
        return result;
      });
    }
    case "fault":
      if (process.env.COUNTERSIGN_EVM_FAULTS !== "1") throw new Error("fault injection is off (COUNTERSIGN_EVM_FAULTS=1 turns it on, for tests)");
      if (m.fail) faults.add(m.method);
      else faults.delete(m.method);
      return true;
    case "usage": {
      const { requests, crossings } = hosted(m.evm);
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      return { cpuMicros: cpu.user + cpu.system, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, requests: { ...requests }, crossings };
    }
  }
}

if (process.send) {
  process.on("message", (m: HostRequest) => {
    void handle(m).then(
      (result) => reply({ id: m.id, result }, m.evm),
      (err) => reply({ id: m.id, error: carry(err) }, m.evm),
    );
  });
  // The fork's process is gone (or closed the channel): so is the reason to exist.
  process.on("disconnect", () => process.exit(0));
}

function reply(r: HostReply, evm: number): void {
  const fork = evms.get(evm)?.fork;
  if (fork?.dirty) {
    r.dirty = true;
    fork.dirty = false;
  }
  process.send!(r);
}
