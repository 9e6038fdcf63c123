/**
 * An approval binds what the person saw: the figures of the re-simulation at approval time may be no worse for
 * the wallet than the figures the person reviewed, and may pay no one the person did not see paid.
 */
import { getAddress, type Address } from "viem";
import type { Reason } from "../errors";

/** Simulated balance changes as a decision stores them (amounts as decimal strings). */
export interface ShownChanges {
  changes: readonly { account: string; asset: string; delta: string }[];
}

/**
 * Why the figures `now` are worse for `wallet` than those `shown` to the person (APPROVAL_STALE), or undefined
 * when they are as good or better: for every asset the wallet's delta now is at least the one shown (an asset
 * absent counts as 0), and every account other than the wallet with a positive delta now had one shown.
 * @example approvalStaleness(pending.simulation, toSimulationView(sim), wallet) // undefined: sign
 */
export function approvalStaleness(shown: ShownChanges | null, now: ShownChanges, wallet: Address): Reason | undefined {
  const problems: string[] = [];
  const walletDeltas = (view: ShownChanges | null) => {
    const out = new Map<string, bigint>();
    for (const c of view?.changes ?? []) if (getAddress(c.account) === wallet) out.set(assetKey(c.asset), (out.get(assetKey(c.asset)) ?? 0n) + BigInt(c.delta));
    return out;
  };
  const before = walletDeltas(shown);
  const after = walletDeltas(now);
  for (const asset of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(asset) ?? 0n;
    const is = after.get(asset) ?? 0n;
    if (is < was) problems.push(`the wallet's change of ${asset} is now ${is}, not the ${was} shown`);
  }
  const payees = (view: ShownChanges | null) =>
    new Set((view?.changes ?? []).filter((c) => BigInt(c.delta) > 0n && getAddress(c.account) !== wallet).map((c) => getAddress(c.account)));
  const reviewed = payees(shown);
  for (const payee of payees(now)) if (!reviewed.has(payee)) problems.push(`${payee} is now paid and was not shown as a payee`);
  if (problems.length === 0) return undefined;
  return { code: "APPROVAL_STALE", message: `the operation changed since it was shown for approval: ${problems.join("; ")}; review the new figures` };
}

/** "native", or a token address checksummed (the two spellings of one asset compare equal). */
function assetKey(asset: string): string {
  return asset === "native" ? asset : getAddress(asset);
}
