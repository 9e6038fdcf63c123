/**
 * StateReader.observe(): balances and allowances in one call after a simulated transaction, with packed calldata and
 * a packed answer (see the contract). The ABI's decoder and encoder took the fork's EVM about 1,500 traced steps on
 * every decision; this form takes none of them.
 */
import { toFunctionSelector, zeroAddress, type Address, type Hex } from "viem";
import { CountersignError } from "../errors";

/** Balances (with whether each could be read) and allowances, as prepare() and observe() answer them. */
export interface Observation {
  balances: readonly bigint[];
  balanceOk: readonly boolean[];
  allowances: readonly bigint[];
}

/** An (asset, account) balance to read: asset "native" or a token address. */
export interface BalanceRead {
  asset: string;
  account: Address;
}

/** An ERC-20 allowance to read: `owner`'s allowance for `spender` on `token`. */
export interface AllowanceRead {
  token: Address;
  owner: Address;
  spender: Address;
}

const OBSERVE = toFunctionSelector("observe()");
const word = (value: bigint | number | string): string => BigInt(value).toString(16).padStart(64, "0");

/**
 * The calldata of observe() for `pairs` and `allowances`.
 * @example observeCalldata([{ asset: "native", account: wallet }], []) // "0x…" + words 1, 0, 0, wallet
 */
export function observeCalldata(pairs: readonly BalanceRead[], allowances: readonly AllowanceRead[] = []): Hex {
  const words = [word(pairs.length), word(allowances.length)];
  for (const p of pairs) words.push(word(p.asset === "native" ? zeroAddress : p.asset), word(p.account));
  for (const a of allowances) words.push(word(a.token), word(a.owner), word(a.spender));
  return `${OBSERVE}${words.join("")}`;
}

/**
 * observe()'s answer for `pairs` balances and `allowances` allowances, decoded; SIMULATION_FAILED for an answer of
 * another length (nothing is taken from it).
 * @example observeAnswer(raw, 1, 0) // { balances: [10n ** 18n], balanceOk: [true], allowances: [] }
 */
export function observeAnswer(raw: Hex, pairs: number, allowances: number): Observation {
  const expected = 2 + 64 * (2 * pairs + allowances);
  if (typeof raw !== "string" || raw.length !== expected) {
    throw new CountersignError("SIMULATION_FAILED", `the fork's StateReader answered observe() with ${String(raw).length} hex characters, not ${expected}`);
  }
  const at = (i: number) => BigInt(`0x${raw.slice(2 + 64 * i, 2 + 64 * (i + 1))}`);
  const balances: bigint[] = [];
  const balanceOk: boolean[] = [];
  const read: bigint[] = [];
  for (let i = 0; i < pairs; i++) {
    balances.push(at(i));
    balanceOk.push(at(pairs + i) === 1n);
  }
  for (let i = 0; i < allowances; i++) read.push(at(2 * pairs + i));
  return { balances, balanceOk, allowances: read };
}
