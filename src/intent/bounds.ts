/**
 * The outcome an operation carries (AgentWallet v2 `bounds`), derived from its intent by ONE function that the SDK
 * (to build what the agent signs) and the co-signer (to refuse anything else) share. The wallet checks the bounds on
 * chain after the batch, so whatever the chain does differently from the fork, the wallet ends no worse than this.
 */
import { getAddress, zeroAddress, type Address, type Hex } from "viem";
import type { Bound, Call } from "../eip712";
import type { Intent } from "./schema";

/** The selector of ERC-20 `transfer(address,uint256)`. */
const TRANSFER_SELECTOR = "0xa9059cbb";

/** The Bound asset of an intent asset: the zero address for native ETH, else the token. */
export function boundAsset(asset: string): Address {
  return asset === "native" ? zeroAddress : getAddress(asset);
}

/**
 * The bounds of `intent` for `wallet`, in canonical order: transfer: wallet >= -amount, recipient >= +amount;
 * swap: wallet >= -sell.maxAmount of the sold asset, wallet >= +buy.minAmount of the bought one; call: wallet >= each
 * declared delta, in the order declared.
 * @example deriveBounds({ kind: "transfer", asset: usdc, to: alice, amount: 10n }, wallet)
 * // [{ asset: usdc, account: wallet, minDelta: -10n }, { asset: usdc, account: alice, minDelta: 10n }]
 */
export function deriveBounds(intent: Intent, wallet: Address): Bound[] {
  switch (intent.kind) {
    case "transfer":
      return [
        { asset: boundAsset(intent.asset), account: wallet, minDelta: -intent.amount },
        { asset: boundAsset(intent.asset), account: intent.to, minDelta: intent.amount },
      ];
    case "swap":
      return [
        { asset: boundAsset(intent.sell.asset), account: wallet, minDelta: -intent.sell.maxAmount },
        { asset: boundAsset(intent.buy.asset), account: wallet, minDelta: intent.buy.minAmount },
      ];
    case "call":
      return intent.expect.map((e) => ({ asset: boundAsset(e.asset), account: wallet, minDelta: e.delta }));
  }
}

/**
 * Whether every call is a native transfer (empty data) or an ERC-20 `transfer(to, amount)`: the only operations
 * that may carry no bounds, because the wallet charges their calldata amounts to budgets and checks recipients.
 * (Whether the token is budgeted is a fact of the chain; the co-signer checks it on the fork.)
 * @example isPlainTransfer([{ target: alice, value: 1n, data: "0x" }]) // true
 */
export function isPlainTransfer(calls: readonly Call[]): boolean {
  return calls.every((c) => c.data === "0x" || (c.data.length === 2 + 68 * 2 && c.data.slice(0, 10).toLowerCase() === TRANSFER_SELECTOR));
}

/** Whether two bound lists are the same, in the same order. */
export function sameBounds(a: readonly Bound[], b: readonly Bound[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i]!;
      return getAddress(x.asset) === getAddress(y.asset) && getAddress(x.account) === getAddress(y.account) && x.minDelta === y.minDelta;
    })
  );
}

/**
 * Why `bounds` are not acceptable for `intent` on `calls`, or undefined when they are: they must be exactly the
 * derived ones, or empty for a plain transfer.
 * @example boundsProblem(request.bounds, request.intent, request.wallet, request.calls) // undefined
 */
export function boundsProblem(bounds: readonly Bound[], intent: Intent, wallet: Address, calls: readonly Call[]): string | undefined {
  const derived = deriveBounds(intent, wallet);
  if (sameBounds(bounds, derived)) return undefined;
  if (bounds.length === 0 && isPlainTransfer(calls)) return undefined;
  return `bounds must be exactly those derived from the intent${isPlainTransfer(calls) ? " (or none, for a plain transfer)" : ""}: ${describeBounds(derived)}; got ${describeBounds(bounds)}`;
}

/**
 * Why an operation that relies on the plain-transfer exemption (no bounds where the intent derives some) may not,
 * once the wallet's budgeted tokens are known, or undefined: an ERC-20 `transfer` on a token that is not budgeted is
 * a generic permitted call to the wallet, with no calldata-charged outcome, so it must carry the derived bounds.
 * @example unboundedTransferProblem(request.bounds, request.intent, request.wallet, request.calls, auth.budgetedTokens)
 */
export function unboundedTransferProblem(
  bounds: readonly Bound[],
  intent: Intent,
  wallet: Address,
  calls: readonly Call[],
  budgetedTokens: readonly Address[],
): string | undefined {
  if (bounds.length > 0) return undefined;
  const derived = deriveBounds(intent, wallet);
  if (derived.length === 0) return undefined;
  const budgeted = new Set(budgetedTokens.map((t) => getAddress(t)));
  const unbudgeted = calls.filter((c) => c.data !== "0x" && !budgeted.has(getAddress(c.target)));
  if (unbudgeted.length === 0) return undefined;
  return `only a plain transfer of a budgeted token or of ETH may carry no bounds; ${[...new Set(unbudgeted.map((c) => c.target))].join(", ")} is not budgeted on this wallet: send the bounds derived from the intent ${describeBounds(derived)}`;
}

/** "[asset account >= minDelta, …]" for messages. */
export function describeBounds(bounds: readonly Bound[]): string {
  return `[${bounds.map((b) => `${b.asset === zeroAddress ? "native" : b.asset} ${b.account} >= ${b.minDelta}`).join(", ")}]`;
}

/** The JSON form of bounds: addresses and decimal strings. */
export function boundsJson(bounds: readonly Bound[]): { asset: Address; account: Address; minDelta: string }[] {
  return bounds.map((b) => ({ asset: b.asset, account: b.account, minDelta: b.minDelta.toString() }));
}

export type { Bound, Hex };
