/**
 * Who received ETH in a simulated transaction. Native balances are read for the wallet and the call targets; ETH a
 * target passes on (to an account no log names) shows only in an execution trace. The fork (Hardhat's EDR) has no
 * call tracer, so the default tracer's steps are read: the value and recipient of every CALL from its stack, the
 * beneficiary of every SELFDESTRUCT, the address of every CREATE/CREATE2 that was sent value.
 *
 * Tracing costs a few milliseconds per thousand steps, so it runs only when code that could move ETH ran: ETH moves
 * only through CALL/CALLCODE, CREATE/CREATE2 and SELFDESTRUCT, executed by some code. The wallet's own code sends
 * value only to its call targets (watched anyway), and a target whose code holds none of those opcodes, nor a
 * DELEGATECALL (which could run code that does) nor an EIP-7702 delegation, can neither move ETH nor change any
 * code; STATICCALL cannot carry value down its whole subtree. So when every target's code is inert, no account but
 * the wallet and the targets can have received ETH.
 */
import { getAddress, type Address, type Hex } from "viem";
import { CountersignError } from "../errors";
import { traceSteps, type StructLog } from "./call-gas";
import type { EvmCall } from "./next-block";

const OP = { CREATE: 0xf0, CALL: 0xf1, CALLCODE: 0xf2, DELEGATECALL: 0xf4, CREATE2: 0xf5, SELFDESTRUCT: 0xff } as const;
const MOVERS = new Set<number>(Object.values(OP));
/** STOP, JUMP, RETURN, REVERT, INVALID: the next instruction is not reached by falling through. */
const HALTS = new Set<number>([0x00, 0x56, 0xf3, 0xfd, 0xfe]);
const JUMPDEST = 0x5b;
const PUSH1 = 0x60;
const PUSH32 = 0x7f;
/** The EIP-7702 delegation designator: the account runs another account's code. */
const DELEGATION_PREFIX = "0xef0100";

const inertCache = new Map<string, boolean>();
const CACHE_LIMIT = 1024;

/**
 * Whether running `code` could move ETH or run code that does: it holds CALL, CALLCODE, DELEGATECALL, CREATE,
 * CREATE2 or SELFDESTRUCT as an opcode (PUSH data skipped), or is an EIP-7702 delegation. False for no code.
 * @example canMoveEth("0x6000f1") // true (PUSH1 0 CALL)
 */
export function canMoveEth(code: Hex): boolean {
  if (code.length <= 2) return false;
  if (code.toLowerCase().startsWith(DELEGATION_PREFIX)) return true;
  const cached = inertCache.get(code);
  if (cached !== undefined) return !cached;
  // The EVM's own linear parse (PUSH data skipped, as for JUMPDEST analysis). After an instruction that never falls
  // through, nothing runs until the next JUMPDEST: the data after the code (Solidity's metadata) is never reached.
  let moves = false;
  let reachable = true;
  for (let i = 2; i < code.length; i += 2) {
    const op = parseInt(code.slice(i, i + 2), 16);
    if (op === JUMPDEST) reachable = true;
    else if (reachable && MOVERS.has(op)) {
      moves = true;
      break;
    } else if (HALTS.has(op)) reachable = false;
    if (op >= PUSH1 && op <= PUSH32) i += 2 * (op - PUSH1 + 1);
  }
  if (inertCache.size >= CACHE_LIMIT) inertCache.clear();
  inertCache.set(code, !moves);
  return moves;
}

const word = (s: string): bigint => BigInt(s.startsWith("0x") ? s : `0x${s}`);
const addressOf = (s: string): Address => getAddress(`0x${word(s).toString(16).padStart(40, "0").slice(-40)}`);

/**
 * Every account a traced transaction may have sent ETH to, in order and without duplicates: CALLs with a non-zero
 * value (CALLCODE sends to the caller itself), SELFDESTRUCT beneficiaries, and contracts created with value. An
 * over-approximation (a call that then reverted is listed): the balances read before and after say what moved.
 * @example valueRecipients(trace.structLogs) // ["0x9965…A4dc"]
 */
export function valueRecipients(logs: readonly Pick<StructLog, "op" | "depth" | "stack">[]): Address[] {
  const out = new Set<Address>();
  for (let k = 0; k < logs.length; k++) {
    const { op, depth, stack = [] } = logs[k]!;
    const top = (n: number) => stack[stack.length - 1 - n];
    if (op === "CALL") {
      const [to, value] = [top(1), top(2)];
      if (to !== undefined && value !== undefined && word(value) !== 0n) out.add(addressOf(to));
    } else if (op === "SELFDESTRUCT") {
      const to = top(0);
      if (to !== undefined) out.add(addressOf(to));
    } else if (op === "CREATE" || op === "CREATE2") {
      const value = top(0);
      if (value === undefined || word(value) === 0n) continue;
      // The new address is on the stack of the creator's next step, once the init code has run.
      let j = k + 1;
      while (j < logs.length && logs[j]!.depth > depth) j++;
      const created = logs[j]?.depth === depth ? logs[j]!.stack?.at(-1) : undefined;
      if (created !== undefined && word(created) !== 0n) out.add(addressOf(created));
    }
  }
  return [...out];
}

/**
 * Traces the simulated transaction `hash` (still on the fork) for the accounts it sent ETH to; the steps are
 * returned for reuse (the calls' gas). Fails closed: a trace that cannot be read is a SIMULATION_FAILED, never "no
 * one was paid".
 * @example const { recipients, steps } = await traceValueRecipients(rpc, hash)
 */
export async function traceValueRecipients(rpc: EvmCall, hash: Hex): Promise<{ recipients: Address[]; steps: StructLog[] }> {
  let steps: StructLog[];
  try {
    steps = await traceSteps(rpc, hash);
  } catch (err) {
    throw new CountersignError("SIMULATION_FAILED", `the simulated transaction could not be traced for the ETH it pays: ${(err as Error)?.message ?? err}`);
  }
  if (steps.length === 0) throw new CountersignError("SIMULATION_FAILED", "the trace of the simulated transaction is empty: who it pays ETH cannot be seen");
  return { recipients: valueRecipients(steps), steps };
}
