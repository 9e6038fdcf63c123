/**
 * How much of its `callGasLimit` the heaviest call of a simulated operation used. A call that needs nearly all of
 * it on the fork may run out on chain (a slot that turned cold, a longer path after the state moved), or be a
 * contract that probes its gas: the co-signer refuses those (CALL_GAS_TOO_TIGHT, in policy/).
 *
 * Cheap first: the receipt's gasUsed is after the refund, and a refund is at most a fifth of the gas used before
 * it (EIP-3529), so no call used more than gasUsed·5/4 − 21000. Only when that bound is too high to clear the
 * operation is the simulated transaction traced (debug_traceTransaction on the fork) for each call's exact figure.
 */
import type { Hex } from "viem";
import type { EvmCall } from "./next-block";

/** Intrinsic gas of every transaction. */
const TX_BASE_GAS = 21_000n;

/** A call is too tight when it uses more than this fraction of callGasLimit. */
export const TIGHT_NUMERATOR = 3n;
export const TIGHT_DENOMINATOR = 4n;

/** The heaviest call's gas: exact (from a trace) or an upper bound (from the receipt). */
export interface CallGasUse {
  /** Gas the heaviest call used, or an upper bound on it (gas). */
  used: bigint;
  /** Whether `used` is the exact figure of call `index` rather than a bound. */
  exact: boolean;
  /** The heaviest call, when exact. */
  index?: number;
}

/** Whether a call using `used` gas of `limit` leaves too little headroom. */
export function isTight(used: bigint, limit: bigint): boolean {
  return used * TIGHT_DENOMINATOR > limit * TIGHT_NUMERATOR;
}

/** The receipt bound: no call of a transaction that used `gasUsed` (after refunds) used more than this. */
export function heaviestCallBound(gasUsed: bigint): bigint {
  const bound = (gasUsed * 5n) / 4n - TX_BASE_GAS;
  return bound > 0n ? bound : 0n;
}

/** One step of the fork's default tracer (the only one Hardhat's EDR supports: no callTracer). */
export interface StructLog {
  op: string;
  depth: number;
  gas: number | string;
  gasCost: number | string;
  stack?: string[];
}

/**
 * The steps of the simulated transaction `hash` (still on the fork), with the stack and without memory or storage.
 * Throws if the fork cannot trace it.
 * @example const steps = await traceSteps(rpc, hash) // [{ op: "PUSH1", depth: 1, gas: 1026776, gasCost: 3, stack: [] }, …]
 */
export async function traceSteps(rpc: EvmCall, hash: Hex): Promise<StructLog[]> {
  const trace = await rpc<{ structLogs?: StructLog[] }>("debug_traceTransaction", [
    hash,
    { disableStorage: true, disableMemory: true, disableStack: false },
  ]);
  return trace?.structLogs ?? [];
}

const big = (v: number | string): bigint => BigInt(v);
const word = (s: string): bigint => BigInt(s.startsWith("0x") ? s : `0x${s}`);

/**
 * The heaviest call's gas in the simulated transaction `hash` (still on the fork: call before reverting it), from
 * `steps` if the transaction was already traced (the value trace). Falls back to the receipt bound when a trace is
 * not needed, or cannot be read (never a smaller figure).
 * @example const use = await measureCallGas(rpc, hash, 1_000_000n, 180_000n) // { used: 48211n, exact: true, index: 1 }
 */
export async function measureCallGas(rpc: EvmCall, hash: Hex, callGasLimit: bigint, gasUsed: bigint, steps?: readonly StructLog[]): Promise<CallGasUse> {
  const bound: CallGasUse = { used: heaviestCallBound(gasUsed), exact: false };
  if (!isTight(bound.used, callGasLimit)) return bound;
  let logs: readonly StructLog[];
  try {
    logs = steps ?? (await traceSteps(rpc, hash));
  } catch {
    return bound;
  }
  const perCall = callGasFromTrace(logs, callGasLimit);
  if (perCall === undefined) return bound;
  let index = 0;
  perCall.forEach((used, i) => {
    if (used > perCall[index]!) index = i;
  });
  return { used: perCall[index] ?? 0n, exact: true, index };
}

/**
 * Gas used by each call the wallet made with exactly `callGasLimit` (CALL opcodes of the wallet's own frame, the
 * proxy's or the implementation's, whose gas argument is callGasLimit), in order; undefined if the trace has none.
 */
export function callGasFromTrace(logs: readonly StructLog[], callGasLimit: bigint): bigint[] | undefined {
  if (logs.length === 0) return undefined;
  const base = logs[0]!.depth;
  const used: bigint[] = [];
  for (let k = 0; k < logs.length; k++) {
    const log = logs[k]!;
    if (log.op !== "CALL" || log.depth > base + 1) continue;
    const stack = log.stack ?? [];
    if (stack.length === 0 || word(stack[stack.length - 1]!) !== callGasLimit) continue;
    const first = logs[k + 1];
    if (!first || first.depth <= log.depth) {
      used.push(0n); // no code ran (a native transfer to an account without code)
      continue;
    }
    let last = first;
    for (let j = k + 1; j < logs.length && logs[j]!.depth > log.depth; j++) if (logs[j]!.depth === log.depth + 1) last = logs[j]!;
    used.push(big(first.gas) - (big(last.gas) - big(last.gasCost)));
  }
  return used.length > 0 ? used : undefined;
}
