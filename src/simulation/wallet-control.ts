/**
 * The wallet's scalar control state (owner, pending owner, co-signer, pause flag, code), read on the fork straight
 * from its storage: three slot reads and its code, where four calls through the wallet's clone cost the fork's EVM
 * about 0.2 ms more on every decision (measured side by side in one process). The slots are AgentWallet's storage
 * layout, which a test pins against the compiler's (test/engine/wallet-control.spec.ts): a wallet whose layout moved
 * fails that test, not a decision.
 * Its sets (session keys, guardians, budgets, allowlists) change only through functions that emit events, which
 * simulate.ts checks in the receipt.
 */
import { toFunctionSelector, type Address, type Hex } from "viem";
import { CountersignError } from "../errors";
import { isRevert } from "../errors/classify";
import type { EvmRequest } from "./evm";
import { batchOf, type EvmCall } from "./next-block";

/**
 * Where AgentWallet keeps each scalar of its control state: slot, and byte offset within it (as solc's storage
 * layout gives them). Ownable's _owner and Ownable2Step's _pendingOwner come first; EIP712's two fallback strings
 * take slots 2 and 3; the co-signer and the pause flag share slot 4 (the agent path reads both with one SLOAD).
 */
export const WALLET_CONTROL_LAYOUT = {
  owner: { label: "_owner", slot: 0, offset: 0, bytes: 20 },
  pendingOwner: { label: "_pendingOwner", slot: 1, offset: 0, bytes: 20 },
  cosigner: { label: "_cosigner", slot: 4, offset: 0, bytes: 20 },
  paused: { label: "_paused", slot: 4, offset: 20, bytes: 1 },
} as const;

/** Fields of the control state, in the order of WalletControl's values. */
export const CONTROL_FIELDS = ["owner", "pendingOwner", "cosigner", "paused", "code"] as const;

/** The control state's values in CONTROL_FIELDS order (hex: addresses and flag as stored, the code whole). */
export type WalletControl = readonly Hex[];

const SLOTS = [...new Set(Object.values(WALLET_CONTROL_LAYOUT).map((f) => f.slot))];

/** The reads of `wallet`'s control state at the latest block: its slots, then its code. */
export function controlRequests(wallet: Address): EvmRequest[] {
  return [
    ...SLOTS.map((slot) => ({ method: "eth_getStorageAt", params: [wallet, `0x${slot.toString(16)}`, "latest"] })),
    { method: "eth_getCode", params: [wallet, "latest"] },
  ];
}

/** The number of answers controlRequests' requests give. */
export const CONTROL_READS = SLOTS.length + 1;

/** The field stored at `layout` in the slot words `words` (by slot number), as hex of its width. */
function field(words: ReadonlyMap<number, bigint>, layout: { slot: number; offset: number; bytes: number }): Hex {
  const value = (words.get(layout.slot)! >> BigInt(layout.offset * 8)) & ((1n << BigInt(layout.bytes * 8)) - 1n);
  return `0x${value.toString(16).padStart(layout.bytes * 2, "0")}`;
}

/**
 * The control state from the answers of controlRequests, in order.
 * @example controlOf(await batchOf(rpc)(controlRequests(wallet))) // ["0xf39f…", "0x0000…", "0x7099…", "0x00", "0x363d…"]
 */
export function controlOf(answers: readonly unknown[]): WalletControl {
  const words = new Map(SLOTS.map((slot, i) => [slot, BigInt(answers[i] as Hex)]));
  const { owner, pendingOwner, cosigner, paused } = WALLET_CONTROL_LAYOUT;
  return [field(words, owner), field(words, pendingOwner), field(words, cosigner), field(words, paused), answers[SLOTS.length] as Hex];
}

const GETTERS = (["owner()", "pendingOwner()", "cosigner()", "paused()"] as const).map((s) => toFunctionSelector(s));

/**
 * Refuses (WALLET_NOT_FOUND) a wallet whose storage does not hold its owner, pending owner, co-signer and pause flag
 * where WALLET_CONTROL_LAYOUT says: its getters are called and compared with the slots, once per wallet (the engine
 * remembers the wallets it checked). A served implementation with another layout would otherwise leave a change of
 * its control state unseen. Fields that are zero both ways (no pending owner, not paused) confirm nothing of their
 * slot; the owner and the co-signer of an initialized wallet always do.
 * @example await checkControlLayout(rpc, wallet) // throws for a wallet of another layout
 */
export async function checkControlLayout(rpc: EvmCall, wallet: Address): Promise<void> {
  const refused = (why: string) =>
    new CountersignError("WALLET_NOT_FOUND", `${wallet} does not keep its control state where this co-signer reads it (AgentWallet's storage layout): ${why}`, { wallet });
  let answers: unknown[];
  try {
    answers = await batchOf(rpc)([...controlRequests(wallet), ...GETTERS.map((data) => ({ method: "eth_call", params: [{ to: wallet, data }, "latest"] }))]);
  } catch (err) {
    if (isRevert(err)) throw refused("a getter reverted");
    throw err;
  }
  const slots = controlOf(answers);
  const getters = answers.slice(CONTROL_READS) as Hex[];
  CONTROL_FIELDS.slice(0, GETTERS.length).forEach((field, i) => {
    if (typeof getters[i] !== "string" || getters[i]!.length !== 66 || BigInt(getters[i]!) !== BigInt(slots[i]!)) {
      throw refused(`${field}() answers ${String(getters[i])}, its slot holds ${slots[i]}`);
    }
  });
}
