/**
 * The fork's EVM in a process of its own (evm-host.ts), or beside another EVM in that one's process: a JSON-RPC
 * endpoint like the in-process EVM, and whole simulations in one message. Only ending the process gives back the
 * memory EDR held; closing one EVM of it gives back nothing (measured: see Fork's recycleGrowthMiB).
 */
import { fork as spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { Address } from "viem";
import type { AuthRule } from "../authenticate/wallet-auth";
import { CountersignError } from "../errors";
import { compiledHostCode } from "./host-code";
import type { EvmOptions, Rpc } from "./evm";
import type { BlockEnv } from "./next-block";
import { rebuild, type HostReply, type HostRequest } from "./evm-protocol";
import type { SimulationInput, SimulationResult } from "./simulate";

/** What an EVM process reports of itself. */
export interface EvmUsage {
  cpuMicros: number;
  rssBytes: number;
  /** V8's heap in use in that process (bytes). */
  heapUsedBytes: number;
  /** V8 heap the EVM's process holds from the system (used or not). */
  heapTotalBytes: number;
  /** Requests to its EVM so far by method (eth_call by selector), simulations' included, a batch's one by one. */
  requests: Record<string, number>;
  /** Times a request or a batch of them crossed into the EVM (EDR) so far. */
  crossings: number;
}

/**
 * The host's environment: this process's, with the settings below unless the operator set them.
 * EDR keeps the state after every block its EVM mined (reverted or not) and every write to it, in a cache of 100,000
 * states by default (__EDR_MAX_CACHED_STATES, EDR's ProviderData): each simulation mines a block, and its state stayed
 * in memory long after the revert. Measured (bench/cosign's decisions, two co-signers side by side, blocks of 500):
 * the EVM's process grew 15.4–17.2 KiB a decision with EDR's default, about 3–4 with 64, for the same CPU a decision
 * (4.17 ms both). A simulation uses one state (its snapshot's, used by every run, so never the oldest); one evicted
 * and asked for again is computed again from the fork's state and the blocks since, at a cost, not lost.
 * EDR's allocator (mimalloc) gives freed pages back to the system after MIMALLOC_PURGE_DELAY ms (10 by default):
 * decisions a few ms apart then fault the same pages in again and again. Measured (perf on the EVM's process, 3,000
 * sequential decisions): with 0, half of its CPU was the kernel's (page faults, zeroing pages) and a decision cost
 * 5.0–5.4 ms of its CPU; with 1000, 2.8–3.4 ms, for 250–290 MiB instead of 200–250 (the replacement bounds it).
 * glibc's allocator (Node's own) keeps two arenas instead of one per thread.
 */
function hostEnv(): NodeJS.ProcessEnv {
  return { MIMALLOC_PURGE_DELAY: "1000", MALLOC_ARENA_MAX: "2", __EDR_MAX_CACHED_STATES: "64", ...process.env };
}

/** Distributes Omit over a union (each kind of request keeps its own fields). */
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
/** A request as an EVM sends it: its process adds the id, the EVM its number. */
type EvmRequestOf<T> = T extends unknown ? Omit<T, "id" | "evm"> : never;

/**
 * What runs the host: plain node once compiled; from TypeScript (development, `npm start`, tests), plain node too,
 * with the host's modules as this process's ts-node compiled them (host-code.ts), or ts-node of its own when this
 * process does not run under ts-node.
 */
function hostEntry(): { file: string; execArgv: string[]; env: NodeJS.ProcessEnv } {
  const typescript = __filename.endsWith(".ts");
  const file = path.join(__dirname, `evm-host${typescript ? ".ts" : ".js"}`);
  const compiled = typescript ? compiledHostCode(file) : undefined;
  // COUNTERSIGN_EVM_CPU_PROF=<dir>: V8's profile of each EVM process, written there when it ends (bench:profile).
  const profileDir = process.env.COUNTERSIGN_EVM_CPU_PROF;
  return {
    file,
    // Its JavaScript holds little for long (the EVM's memory is EDR's, outside V8's heap): a small heap is collected
    // early instead of growing with garbage until the process is replaced. The young generation is small too: every
    // EDR answer is a small JavaScript object holding the answer's native memory (its execution trace: hundreds of
    // KiB for a reader call) until a collection frees it, and V8 does not count that memory. With the default 16 MiB
    // semi-space, the EVM's process held hundreds of MiB of such answers (measured, replaying the EVM requests of 300
    // decisions with a new storage slot each: 136 → 682 MiB; with 1 MiB, 134 → 228 MiB, at the same CPU time).
    execArgv: [
      "--max-old-space-size=256",
      "--max-semi-space-size=1",
      ...(compiled ? ["-r", path.join(__dirname, "host-preload.js")] : typescript ? ["-r", "ts-node/register/transpile-only"] : []),
      ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
    ],
    env: compiled ? { ...hostEnv(), COUNTERSIGN_HOST_CODE: compiled } : hostEnv(),
  };
}

/** A process of EVMs (evm-host.ts): its channel, and the requests sent to it not yet answered. */
class HostProcess {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: HostReply) => void; reject: (e: Error) => void; evm: EvmProcess }>();
  /** Why the process can no longer answer (it exited). */
  exited?: string;
  /** The EVMs open in it, by number. */
  readonly evms = new Map<number, EvmProcess>();
  private nextEvm = 0;

  constructor(private readonly child: ChildProcess) {
    child.on("message", (r: HostReply) => {
      const waiting = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.dirty) waiting?.evm.onDirty();
      waiting?.resolve(r);
    });
    child.on("exit", (code, signal) => {
      this.exited = `the EVM's process exited (${signal ?? code})`;
      for (const waiting of this.pending.values()) waiting.reject(new CountersignError("SIMULATION_FAILED", this.exited));
      this.pending.clear();
      for (const evm of this.evms.values()) evm.onDirty();
    });
    child.on("error", () => undefined); // reported by "exit"
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** A number no EVM of this process had. */
  evmNumber(): number {
    return this.nextEvm++;
  }

  send(evm: EvmProcess, request: WithoutId<HostRequest>): Promise<unknown> {
    if (this.exited) return Promise.reject(new CountersignError("SIMULATION_FAILED", this.exited));
    const id = this.nextId++;
    return new Promise<HostReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, evm });
      this.child.send({ ...request, id } as HostRequest, (err) => {
        if (!err) return;
        this.pending.delete(id);
        reject(new CountersignError("SIMULATION_FAILED", `the EVM's process cannot be reached: ${err.message}`));
      });
    }).then((r) => {
      if ("error" in r) throw rebuild(r.error);
      return r.result;
    });
  }

  /** Ends the process (its requests fail SIMULATION_FAILED): asked to exit, killed if it has not within a second. */
  stop(): void {
    if (this.exited !== undefined || this.child.exitCode !== null) return;
    if (this.child.connected) this.child.disconnect();
    setTimeout(() => {
      if (this.exited === undefined && this.child.exitCode === null) this.child.kill("SIGKILL");
    }, 1_000).unref();
  }
}

/** What an EVM is opened with in its process. */
export interface HostSettings {
  relayer: Address;
  reader: Address;
  priorityFee: bigint;
}

/**
 * An EVM in a process of its own, or beside another EVM in that one's process (`beside`).
 * @example const evm = await EvmProcess.start({ chainId: 31337, gasLimit: 30_000_000n, hardfork: "prague" }, host)
 */
export class EvmProcess implements Rpc {
  /** Called when a simulation could not revert what it did, or the process died (the EVM must be rebuilt). */
  onDirty: () => void = () => undefined;
  private closed = false;

  private constructor(
    private readonly host: HostProcess,
    private readonly evm: number,
  ) {}

  /** Starts a process and the EVM in it, forking `options.fork` when given. */
  static async start(options: EvmOptions, settings: HostSettings): Promise<EvmProcess> {
    const entry = hostEntry();
    const child = spawn(entry.file, [], { execArgv: entry.execArgv, env: entry.env, serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const host = new HostProcess(child);
    try {
      return await EvmProcess.open(host, options, settings);
    } catch (err) {
      host.stop();
      throw err;
    }
  }

  /**
   * Opens another EVM in this one's process: it starts without a process's start-up, and on the code V8 has compiled
   * there (a new process takes thousands of simulations to run as fast again).
   */
  beside(options: EvmOptions, settings: HostSettings): Promise<EvmProcess> {
    return EvmProcess.open(this.host, options, settings);
  }

  private static async open(host: HostProcess, options: EvmOptions, settings: HostSettings): Promise<EvmProcess> {
    const evm = new EvmProcess(host, host.evmNumber());
    host.evms.set(evm.evm, evm);
    try {
      await evm.send({ kind: "open", options, ...settings });
    } catch (err) {
      evm.stop();
      throw err;
    }
    return evm;
  }

  /** Whether `other` runs in this one's process. */
  sharesProcessWith(other: EvmProcess): boolean {
    return other.host === this.host;
  }

  /** The process id (for benchmarks that add its CPU and memory to the service's). */
  get pid(): number | undefined {
    return this.host.pid;
  }

  request(args: { method: string; params?: unknown[] }): Promise<unknown> {
    return this.send({ kind: "rpc", method: args.method, params: args.params ?? [] });
  }

  /** Runs a simulation beside the EVM (simulate.ts), `rule` applied to the wallet's auth state before it runs. */
  simulate(r: { version: number; env: BlockEnv; input: SimulationInput & { signer: Address }; self: Address; rule?: AuthRule }): Promise<SimulationResult> {
    return this.send({ kind: "simulate", ...r }) as Promise<SimulationResult>;
  }

  /**
   * The process's CPU time so far (µs, all its threads), resident memory (bytes), and this EVM's requests by method
   * and crossings into EDR.
   */
  usage(): Promise<EvmUsage> {
    return this.send({ kind: "usage" }) as Promise<EvmUsage>;
  }

  /** Tests only: makes requests of `method` fail (or work again) in every EVM of the process, which must start with COUNTERSIGN_EVM_FAULTS=1. */
  async fault(method: string, fail: boolean): Promise<void> {
    await this.send({ kind: "fault", method, fail });
  }

  /**
   * Closes the EVM (later requests fail SIMULATION_FAILED), once the requests already sent to it are answered; the
   * process ends with the last EVM in it.
   */
  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.evms.delete(this.evm);
    if (this.host.evms.size === 0) this.host.stop();
    else void this.host.send(this, { kind: "close", evm: this.evm }).catch(() => undefined);
  }

  /** Ends the process and every EVM in it (the fork stops). */
  end(): void {
    this.closed = true;
    this.host.evms.clear();
    this.host.stop();
  }

  private send(request: EvmRequestOf<HostRequest>): Promise<unknown> {
    if (this.closed && request.kind !== "close") return Promise.reject(new CountersignError("SIMULATION_FAILED", "this EVM was closed"));
    return this.host.send(this, { ...request, evm: this.evm } as WithoutId<HostRequest>);
  }
}
