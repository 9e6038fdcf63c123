/**
 * Compare: the wallet's simulated net changes against the agent's declared intent. The intent is a claim; only
 * what the EVM did on the fork counts. Any difference, any approval left standing, any change of control and any
 * change of the wallet's own state is a reason to refuse.
 */
import { zeroAddress, type Address } from "viem";
import type { Reason } from "../errors";
import type { Intent } from "../intent/schema";
import type { SimulationResult } from "../simulation/simulate";
import { revertReason } from "./revert-reasons";

/**
 * Every reason the simulated operation does not match `intent` (empty when it matches).
 * @example compareWithIntent(intent, wallet, simulation) // [{ code: "INTENT_MISMATCH", message: "…" }]
 */
export function compareWithIntent(intent: Intent, wallet: Address, sim: SimulationResult): Reason[] {
  if (!sim.success) return [revertReason(sim.revertData)];
  const reasons: Reason[] = [];
  // What cannot be measured cannot be compared: an unreadable balance of the wallet or the recipient is a refusal,
  // never a zero.
  const recipient = intent.kind === "transfer" ? intent.to : undefined;
  for (const u of sim.unreadable) {
    if (u.account === wallet || u.account === recipient) {
      reasons.push({ code: "UNREADABLE_BALANCE", message: `the ${u.asset} balance of ${u.account} cannot be read (balanceOf failed)` });
    }
  }
  for (const [key, gap] of sim.logBalanceGaps) {
    const [asset, account] = key.split(":");
    if (account === wallet) {
      reasons.push({
        code: "BALANCE_LOG_MISMATCH",
        message: `the wallet's ${asset} balance changes by ${gap} more than its Transfer logs say (rebasing or a token that moves funds silently)`,
      });
    }
  }
  const walletDeltas = new Map<string, bigint>();
  for (const c of sim.changes) if (c.account === wallet) walletDeltas.set(c.asset, c.delta);
  const deltaOf = (account: Address, asset: string) =>
    sim.changes.find((c) => c.account === account && c.asset === asset)?.delta ?? 0n;

  const declared = new Set<string>();
  if (intent.kind === "transfer") {
    declared.add(intent.asset);
    const sent = -(walletDeltas.get(intent.asset) ?? 0n);
    if (sent !== intent.amount) {
      reasons.push({
        code: "INTENT_MISMATCH",
        message: `intent says the wallet sends ${intent.amount} of ${intent.asset}; the simulation shows it sends ${sent}`,
      });
    }
    const received = deltaOf(intent.to, intent.asset);
    if (sent === intent.amount && received !== intent.amount) {
      if (received > 0n && received < intent.amount) {
        reasons.push({
          code: "TRANSFER_SHORTFALL",
          message: `${intent.to} receives ${received} of ${intent.asset}, ${intent.amount - received} short of ${intent.amount} (fee-on-transfer or rebasing token)`,
        });
      } else {
        const others = sim.changes.filter((c) => c.asset === intent.asset && c.delta > 0n && c.account !== intent.to);
        reasons.push({
          code: "INTENT_MISMATCH",
          message: `intent says ${intent.to} receives ${intent.amount} of ${intent.asset}; it receives ${received}${
            others.length ? `; ${others.map((o) => `${o.account} receives ${o.delta}`).join(", ")}` : ""
          }`,
        });
      }
    }
  } else if (intent.kind === "swap") {
    declared.add(intent.sell.asset).add(intent.buy.asset);
    const sold = -(walletDeltas.get(intent.sell.asset) ?? 0n);
    const bought = walletDeltas.get(intent.buy.asset) ?? 0n;
    if (sold > intent.sell.maxAmount) {
      reasons.push({
        code: "SWAP_SOLD_TOO_MUCH",
        message: `the swap sells ${sold} of ${intent.sell.asset}, above the declared maximum ${intent.sell.maxAmount}`,
      });
    }
    if (bought < intent.buy.minAmount) {
      reasons.push({
        code: "SWAP_BOUGHT_TOO_LITTLE",
        message: `the swap buys ${bought} of ${intent.buy.asset}, below the declared minimum ${intent.buy.minAmount}`,
      });
    }
  } else {
    for (const e of intent.expect) {
      declared.add(e.asset);
      const actual = walletDeltas.get(e.asset) ?? 0n;
      if (actual !== e.delta) {
        reasons.push({ code: "INTENT_MISMATCH", message: `intent expects ${e.asset} to change by ${e.delta}; it changes by ${actual}` });
      }
    }
  }

  for (const [asset, delta] of walletDeltas) {
    if (declared.has(asset)) continue;
    reasons.push(
      delta < 0n
        ? { code: "UNDECLARED_OUTFLOW", message: `the wallet also sends ${-delta} of ${asset}, which the intent does not declare` }
        : { code: "UNDECLARED_INFLOW", message: `the wallet also receives ${delta} of ${asset}, which the intent does not declare` },
    );
  }
  for (const a of sim.approvals) {
    if (a.owner !== wallet) continue;
    // An ERC-721 approval's "amount" is the token id, and id 0 is a real token: it stands unless it names no one.
    const standing = a.kind === "erc20" ? a.remaining > 0n : a.kind === "erc721" ? a.spender !== zeroAddress : a.amount > 0n;
    if (standing) {
      reasons.push({
        code: "STANDING_APPROVAL",
        message: `the operation leaves ${a.spender} approved on ${a.contract} (${a.kind}${a.kind === "erc20" ? `, allowance ${a.remaining}` : ""})`,
      });
    }
  }
  for (const c of sim.control) {
    reasons.push({ code: "CONTROL_CHANGED", message: `control of ${c.contract} changes: ${c.event}` });
  }
  if (sim.walletStateChanges.length > 0) {
    reasons.push({ code: "WALLET_STATE_CHANGED", message: `the wallet's own state changes: ${sim.walletStateChanges.join(", ")}` });
  }
  return reasons;
}
