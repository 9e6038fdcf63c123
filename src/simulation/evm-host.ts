/**
 * The process the fork's EVM lives in (one per EVM, started by evm-process.ts). EDR keeps memory for as long as its
 * process lives (a few KiB for every call and transaction, not all of it freed with the provider), so the fork
 * replaces the whole process now and then (Fork's recycleEvery) and the memory goes with it.
 *
 * It answers JSON-RPC requests to the EVM, and runs whole simulations (simulate.ts) beside the EVM, so that a
 * decision costs one message each way instead of one per EVM request. Messages: see HostRequest and HostReply.
 */
import type { Address, Hex } from "viem";
import { authRefusal } from "../authenticate/wallet-auth";
import { createEvm, type Rpc } from "./evm";
import { carry, type HostReply, type HostRequest } from "./evm-protocol";
import { feeFields, NextBlock, type BlockEnv, type EvmCall } from "./next-block";
import { simulateOperation, type SimulationHost, type SimulationResult } from "./simulate";

/** The fork as a simulation sees it in this process: the state version comes with each simulation. */
class HostedFork implements SimulationHost {
  stateVersion = -1;
  dirty = false;
  private readonly nextBlock: NextBlock;

  constructor(
    private readonly rpc: EvmCall,
    readonly relayer: Address,
    readonly reader: Address,
    private readonly priorityFee: bigint,
  ) {
    this.nextBlock = new NextBlock(relayer, priorityFee);
  }

  setNextBlock(env: BlockEnv): Promise<void> {
    return this.nextBlock.set(this.rpc, env, this.stateVersion);
  }

  feeFields(env: BlockEnv): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } {
    return feeFields(env, this.priorityFee);
  }

  markDirty(): void {
    this.dirty = true;
  }
}

let evm: Rpc | undefined;
let fork: HostedFork | undefined;
/** Requests sent to the EVM so far, by method (eth_call by selector): for tests and benchmarks. */
const requests: Record<string, number> = {};
/** Methods whose requests fail (tests of what a failed EVM request does; see HostRequest "fault"). */
const faults = new Set<string>();
const call: EvmCall = async <T>(method: string, params: unknown[] = []) => {
  if (!evm) throw new Error("the EVM is not started");
  const key = method === "eth_call" ? `eth_call:${String((params[0] as { data?: string } | undefined)?.data).slice(0, 10)}` : method;
  requests[key] = (requests[key] ?? 0) + 1;
  if (faults.has(method)) throw new Error(`injected failure of ${method} (test)`);
  return (await evm.request({ method, params })) as T;
};

async function handle(m: HostRequest): Promise<unknown> {
  switch (m.kind) {
    case "init":
      evm = await createEvm(m.evm);
      fork = new HostedFork(call, m.relayer, m.reader, m.priorityFee);
      return true;
    case "rpc":
      return call(m.method, m.params);
    case "simulate": {
      if (!fork) throw new Error("the EVM is not started");
      fork.stateVersion = m.version;
      const rule = m.rule;
      const result: SimulationResult = await simulateOperation(fork, call, m.env, m.input, m.self, (auth) => {
        const refusal = rule && authRefusal(auth, rule.req, rule.sessionKey, m.env.timestamp, m.self);
        if (refusal) throw refusal;
      });
      return result;
    }
    case "fault":
      if (process.env.COUNTERSIGN_EVM_FAULTS !== "1") throw new Error("fault injection is off (COUNTERSIGN_EVM_FAULTS=1 turns it on, for tests)");
      if (m.fail) faults.add(m.method);
      else faults.delete(m.method);
      return true;
    case "usage": {
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      return { cpuMicros: cpu.user + cpu.system, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, requests: { ...requests } };
    }
  }
}

if (process.send) {
  process.on("message", (m: HostRequest) => {
    void handle(m).then(
      (result) => reply({ id: m.id, result }),
      (err) => reply({ id: m.id, error: carry(err) }),
    );
  });
  // The fork's process is gone (or closed the channel): so is the reason to exist.
  process.on("disconnect", () => process.exit(0));
}

function reply(r: HostReply): void {
  if (fork?.dirty) {
    r.dirty = true;
    fork.dirty = false;
  }
  process.send!(r);
}
