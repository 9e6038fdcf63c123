import { expect } from "chai";
import type { Address } from "viem";
import type { Intent } from "../../src/intent/schema";
import { compareWithIntent } from "../../src/policy/compare";
import type { SimulationResult } from "../../src/simulation/simulate";

// compareWithIntent is pure: these pin the order in which its checks report, with every check failing at once.
// test/engine/compare.spec.ts proves each check against simulations on a real fork.
const wallet: Address = "0x00000000000000000000000000000000000000A1";
const alice: Address = "0x00000000000000000000000000000000000000A2";
const token: Address = "0x00000000000000000000000000000000000000B1";
const other: Address = "0x00000000000000000000000000000000000000B2";

/** A simulation that succeeded and changed nothing, with `fields` over it. */
function simulation(fields: Partial<SimulationResult>): SimulationResult {
  return {
    blockNumber: 1n,
    timestamp: 1n,
    success: true,
    gasUsed: 0n,
    changes: [],
    grossOutflow: new Map(),
    callGas: { used: 0n, exact: false },
    logBalanceGaps: new Map(),
    unreadable: [],
    approvals: [],
    control: [],
    walletStateChanges: [],
    ...fields,
  };
}

const codes = (intent: Intent, sim: SimulationResult) => compareWithIntent(intent, wallet, sim).map((r) => r.code);

describe("compare: the order of the checks", function () {
  it("reports a reverted simulation's reason alone", function () {
    const sim = simulation({ success: false, revertData: "0x", walletStateChanges: ["owner"] });
    expect(codes({ kind: "call", expect: [] }, sim)).to.deep.equal(["SIMULATION_REVERTED"]);
  });

  it("reports unreadable balances, log gaps, the intent, undeclared changes, approvals, control and wallet state, in that order", function () {
    const sim = simulation({
      unreadable: [{ asset: token, account: wallet }],
      logBalanceGaps: new Map([[`${token}:${wallet}`, 5n]]),
      changes: [
        { account: wallet, asset: token, delta: -90n },
        { account: wallet, asset: "native", delta: -1n },
        { account: wallet, asset: other, delta: 3n },
      ],
      approvals: [{ kind: "erc20", contract: token, owner: wallet, spender: alice, amount: 1n, remaining: 1n }],
      control: [{ contract: other, event: "OwnershipTransferred" }],
      walletStateChanges: ["owner"],
    });
    expect(codes({ kind: "transfer", asset: token, to: alice, amount: 100n }, sim)).to.deep.equal([
      "UNREADABLE_BALANCE",
      "BALANCE_LOG_MISMATCH",
      "INTENT_MISMATCH",
      "UNDECLARED_OUTFLOW",
      "UNDECLARED_INFLOW",
      "STANDING_APPROVAL",
      "CONTROL_CHANGED",
      "WALLET_STATE_CHANGED",
    ]);
  });

  it("checks the recipient of a transfer only once the amount sent is right", function () {
    const sent = (received: bigint) =>
      simulation({ changes: [{ account: wallet, asset: token, delta: -100n }, { account: alice, asset: token, delta: received }] });
    const transfer: Intent = { kind: "transfer", asset: token, to: alice, amount: 100n };
    expect(codes(transfer, sent(100n))).to.deep.equal([]);
    expect(codes(transfer, sent(90n))).to.deep.equal(["TRANSFER_SHORTFALL"]);
    expect(codes(transfer, sent(0n))).to.deep.equal(["INTENT_MISMATCH"]);
  });

  it("reports a swap's maximum sold before its minimum bought", function () {
    const sim = simulation({ changes: [{ account: wallet, asset: token, delta: -11n }, { account: wallet, asset: other, delta: 1n }] });
    const swap: Intent = { kind: "swap", sell: { asset: token, maxAmount: 10n }, buy: { asset: other, minAmount: 2n } };
    expect(codes(swap, sim)).to.deep.equal(["SWAP_SOLD_TOO_MUCH", "SWAP_BOUGHT_TOO_LITTLE"]);
  });

  it("reports a call's expectations in the declared order, before undeclared changes", function () {
    const sim = simulation({ changes: [{ account: wallet, asset: "native", delta: -2n }] });
    const reasons = compareWithIntent({ kind: "call", expect: [{ asset: other, delta: 1n }, { asset: token, delta: -1n }] }, wallet, sim);
    expect(reasons.map((r) => r.code)).to.deep.equal(["INTENT_MISMATCH", "INTENT_MISMATCH", "UNDECLARED_OUTFLOW"]);
    expect(reasons[0]!.message).to.contain(other);
    expect(reasons[1]!.message).to.contain(token);
  });
});
