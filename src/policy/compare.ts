/**
 * Compare: the wallet's simulated net changes against the agent's declared intent. The intent is a claim; only
 * what the EVM did on the fork counts. Any difference, any approval left standing, any change of control and any
 * change of the wallet's own state is a reason to refuse.
 *
 * The signed outcome bounds are not checked here: that they are exactly the ones derived from the intent is checked
 * before the simulation (intent/bounds.ts, BOUNDS_MISMATCH), and that the outcome holds them is checked by the wallet
 * itself on the fork, whose BoundViolated revert arrives here as a failed simulation (BOUND_VIOLATED).
 */
import { zeroAddress, type Address } from "viem";
import type { Reason } from "../errors";
import type { Intent } from "../intent/schema";
import type { SimulationResult } from "../simulation/simulate";
import { revertReason } from "./revert-reasons";

/** What every check reads: the intent, the wallet, the simulation and the wallet's net change per asset. */
interface Comparison {
  intent: Intent;
  wallet: Address;
  sim: SimulationResult;
  /** The wallet's net change per asset ("native" or a token), from sim.changes. */
  walletDeltas: Map<string, bigint>;
}

/** One check of a simulation that succeeded: its reasons to refuse, empty when it holds. */
type Check = (c: Comparison) => Reason[];

/**
 * Every reason the simulated operation does not match `intent` (empty when it matches): the revert when the
 * simulation failed, else the reasons of every check in CHECKS, in that order.
 * @example compareWithIntent(intent, wallet, simulation) // [{ code: "INTENT_MISMATCH", message: "…" }]
 */
export function compareWithIntent(intent: Intent, wallet: Address, sim: SimulationResult): Reason[] {
  if (!sim.success) return simulationReverted(sim);
  const comparison: Comparison = { intent, wallet, sim, walletDeltas: walletDeltasOf(sim, wallet) };
  return CHECKS.flatMap((check) => check(comparison));
}

/** The reason of a simulation that reverted: the wallet's custom error decoded into its reason code. */
function simulationReverted(sim: SimulationResult): Reason[] {
  return [revertReason(sim.revertData)];
}

/** The wallet's net change per asset. */
function walletDeltasOf(sim: SimulationResult, wallet: Address): Map<string, bigint> {
  const deltas = new Map<string, bigint>();
  for (const c of sim.changes) if (c.account === wallet) deltas.set(c.asset, c.delta);
  return deltas;
}

/** The net change of `account`'s `asset` balance (0 when it did not change). */
function deltaOf(sim: SimulationResult, account: Address, asset: string): bigint {
  return sim.changes.find((c) => c.account === account && c.asset === asset)?.delta ?? 0n;
}

/**
 * Unreadable balances: what cannot be measured cannot be compared, so an unreadable balance of the wallet or the
 * recipient is a refusal, never a zero.
 */
const unreadableBalances: Check = ({ intent, wallet, sim }) => {
  const recipient = intent.kind === "transfer" ? intent.to : undefined;
  return sim.unreadable
    .filter((u) => u.account === wallet || u.account === recipient)
    .map((u) => ({ code: "UNREADABLE_BALANCE", message: `the ${u.asset} balance of ${u.account} cannot be read (balanceOf failed)` }));
};

/** Balance/log gaps: the wallet's token balance moved by more than its Transfer logs say. */
const balanceLogGaps: Check = ({ wallet, sim }) => {
  const reasons: Reason[] = [];
  for (const [key, gap] of sim.logBalanceGaps) {
    const [asset, account] = key.split(":");
    if (account === wallet) {
      reasons.push({
        code: "BALANCE_LOG_MISMATCH",
        message: `the wallet's ${asset} balance changes by ${gap} more than its Transfer logs say (rebasing or a token that moves funds silently)`,
      });
    }
  }
  return reasons;
};

/** Transfer amount: the wallet sends exactly the declared amount. */
const transferAmount: Check = ({ intent, walletDeltas }) => {
  if (intent.kind !== "transfer") return [];
  const sent = -(walletDeltas.get(intent.asset) ?? 0n);
  if (sent === intent.amount) return [];
  return [
    {
      code: "INTENT_MISMATCH",
      message: `intent says the wallet sends ${intent.amount} of ${intent.asset}; the simulation shows it sends ${sent}`,
    },
  ];
};

/** Transfer recipient: when the amount sent is right, the declared recipient receives all of it. */
const transferRecipient: Check = ({ intent, sim, walletDeltas }) => {
  if (intent.kind !== "transfer") return [];
  const sent = -(walletDeltas.get(intent.asset) ?? 0n);
  const received = deltaOf(sim, intent.to, intent.asset);
  if (sent !== intent.amount || received === intent.amount) return [];
  if (received > 0n && received < intent.amount) {
    return [
      {
        code: "TRANSFER_SHORTFALL",
        message: `${intent.to} receives ${received} of ${intent.asset}, ${intent.amount - received} short of ${intent.amount} (fee-on-transfer or rebasing token)`,
      },
    ];
  }
  const others = sim.changes.filter((c) => c.asset === intent.asset && c.delta > 0n && c.account !== intent.to);
  return [
    {
      code: "INTENT_MISMATCH",
      message: `intent says ${intent.to} receives ${intent.amount} of ${intent.asset}; it receives ${received}${
        others.length ? `; ${others.map((o) => `${o.account} receives ${o.delta}`).join(", ")}` : ""
      }`,
    },
  ];
};

/** Swap maximum: the swap sells no more than the declared maximum. */
const swapSold: Check = ({ intent, walletDeltas }) => {
  if (intent.kind !== "swap") return [];
  const sold = -(walletDeltas.get(intent.sell.asset) ?? 0n);
  if (sold <= intent.sell.maxAmount) return [];
  return [
    {
      code: "SWAP_SOLD_TOO_MUCH",
      message: `the swap sells ${sold} of ${intent.sell.asset}, above the declared maximum ${intent.sell.maxAmount}`,
    },
  ];
};

/** Swap minimum: the swap buys at least the declared minimum. */
const swapBought: Check = ({ intent, walletDeltas }) => {
  if (intent.kind !== "swap") return [];
  const bought = walletDeltas.get(intent.buy.asset) ?? 0n;
  if (bought >= intent.buy.minAmount) return [];
  return [
    {
      code: "SWAP_BOUGHT_TOO_LITTLE",
      message: `the swap buys ${bought} of ${intent.buy.asset}, below the declared minimum ${intent.buy.minAmount}`,
    },
  ];
};

/** Call expectations: each declared asset of a call changes by exactly its declared delta. */
const callExpectations: Check = ({ intent, walletDeltas }) => {
  if (intent.kind !== "call") return [];
  const reasons: Reason[] = [];
  for (const e of intent.expect) {
    const actual = walletDeltas.get(e.asset) ?? 0n;
    if (actual !== e.delta) {
      reasons.push({ code: "INTENT_MISMATCH", message: `intent expects ${e.asset} to change by ${e.delta}; it changes by ${actual}` });
    }
  }
  return reasons;
};

/** The assets an intent declares a change of. */
function declaredAssets(intent: Intent): Set<string> {
  switch (intent.kind) {
    case "transfer":
      return new Set([intent.asset]);
    case "swap":
      return new Set([intent.sell.asset, intent.buy.asset]);
    case "call":
      return new Set(intent.expect.map((e) => e.asset));
  }
}

/** Undeclared changes: every other asset the wallet sends (UNDECLARED_OUTFLOW) or receives (UNDECLARED_INFLOW). */
const undeclaredChanges: Check = ({ intent, walletDeltas }) => {
  const declared = declaredAssets(intent);
  const reasons: Reason[] = [];
  for (const [asset, delta] of walletDeltas) {
    if (declared.has(asset)) continue;
    reasons.push(
      delta < 0n
        ? { code: "UNDECLARED_OUTFLOW", message: `the wallet also sends ${-delta} of ${asset}, which the intent does not declare` }
        : { code: "UNDECLARED_INFLOW", message: `the wallet also receives ${delta} of ${asset}, which the intent does not declare` },
    );
  }
  return reasons;
};

/** Standing approvals: no approval the wallet granted may outlive the operation. */
const standingApprovals: Check = ({ wallet, sim }) => {
  const reasons: Reason[] = [];
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
  return reasons;
};

/** Control changes: no contract's ownership, roles or implementation may change. */
const controlChanges: Check = ({ sim }) =>
  sim.control.map((c) => ({ code: "CONTROL_CHANGED", message: `control of ${c.contract} changes: ${c.event}` }));

/** Wallet state: the wallet's own control state (owner, co-signer, keys, code, …) must not change. */
const walletStateChanges: Check = ({ sim }) =>
  sim.walletStateChanges.length > 0
    ? [{ code: "WALLET_STATE_CHANGED", message: `the wallet's own state changes: ${sim.walletStateChanges.join(", ")}` }]
    : [];

/** The checks of a simulation that succeeded, in the order their reasons are reported. */
const CHECKS: readonly Check[] = [
  unreadableBalances,
  balanceLogGaps,
  transferAmount,
  transferRecipient,
  swapSold,
  swapBought,
  callExpectations,
  undeclaredChanges,
  standingApprovals,
  controlChanges,
  walletStateChanges,
];
