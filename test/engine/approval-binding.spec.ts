import { expect } from "chai";
import { getAddress, parseEther, type Address } from "viem";
import { swapCalls } from "../../src/client/calls";
import type { Decision } from "../../src/api";
import { proposal, usdc, type CosignerHarness } from "../support/cosigner";
import { artifact, auditCount, expectApproved, ROLES, send, startEngineHarness, syncFork } from "../support/engine";

/** The wallet's delta of `asset` in a decision's simulation (0 when absent). */
function walletDelta(decision: Decision, wallet: Address, asset: Address): bigint {
  const change = decision.simulation?.changes.find((c) => getAddress(c.account) === wallet && c.asset.toLowerCase() === asset.toLowerCase());
  return BigInt(change?.delta ?? "0");
}

describe("engine: an approval binds what the person saw", function () {
  this.timeout(120_000);
  let h: CosignerHarness;
  let USDC: Address;
  let WETH: Address;
  let dex: Address;
  let wallet: Address;
  /** USDC → WETH rate of the demo DEX (WETH base units per USDC base unit, scaled by 1e18): 4000 USDC per WETH. */
  const RATE = (10n ** 18n * 10n ** 12n) / 4000n;

  /** Sets the demo DEX's USDC → WETH rate on chain and waits for the fork to see it. */
  async function setRate(rate: bigint): Promise<void> {
    await send(h, ROLES.owner, dex, artifact("MockDex").abi, "setRate", [USDC, WETH, rate]);
    await syncFork(h);
  }

  /** Proposes selling 400 USDC (above the 300 USDC review threshold) for at least 1 wei of WETH; it goes to a person. */
  async function proposeSwap(): Promise<Decision> {
    const sell = { asset: USDC, maxAmount: usdc(400) };
    const buy = { asset: WETH, minAmount: 1n };
    const body = await proposal(h, swapCalls({ sell, buy, via: { dex } }), {
      kind: "swap",
      sell: { asset: USDC, maxAmount: sell.maxAmount.toString() },
      buy: { asset: WETH, minAmount: "1" },
    });
    const decision = await h.cosigner.engine.propose(body);
    expect(decision.status, JSON.stringify(decision.reasons)).to.equal("pending_approval");
    expect(decision.reasons.map((r) => r.code)).to.deep.equal(["ABOVE_REVIEW_THRESHOLD"]);
    return decision;
  }

  before(async function () {
    h = await startEngineHarness({ review: (d) => ({ thresholds: new Map([[d.tokens.USDC!, usdc(300)]]) }) });
    USDC = h.deployment.tokens.USDC!;
    WETH = h.deployment.tokens.WETH!;
    dex = h.deployment.dex;
    wallet = h.deployment.wallet;
  });
  after(async function () {
    await h?.stop();
  });
  afterEach(async function () {
    if (h) await setRate(RATE);
  });

  describe("when the price moved against the wallet between proposal and approval", function () {
    it("keeps the decision pending with APPROVAL_STALE and the new figures, signing nothing", async function () {
      const pending = await proposeSwap();
      expect(walletDelta(pending, wallet, WETH)).to.equal(parseEther("0.1"));
      await setRate(RATE / 1_000_000_000_000n);
      const records = (await auditCount(h));
      const again = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      expect(again.id).to.equal(pending.id);
      expect(again.status, JSON.stringify(again.reasons)).to.equal("pending_approval");
      expect(again.reasons.map((r) => r.code)).to.include("APPROVAL_STALE");
      expect(again.reasons.find((r) => r.code === "APPROVAL_STALE")!.message).to.contain(WETH);
      expect(again).to.not.have.property("cosignerSignature");
      expect(walletDelta(again, wallet, WETH)).to.equal(parseEther("0.1") / 1_000_000_000_000n);
      expect(await h.cosigner.engine.get(pending.id)).to.deep.equal(again);
      const stale = await h.cosigner.store.listAudit(records, 10);
      expect(stale.map((r) => r.kind)).to.deep.equal(["decision.stale"]);
      expect(stale[0]!.ref).to.equal(pending.id);
    });

    it("approves on a second approval once the person has seen the new figures", async function () {
      const pending = await proposeSwap();
      await setRate(RATE / 1_000_000_000_000n);
      const stale = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      expect(stale.status).to.equal("pending_approval");
      const approved = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      expectApproved(approved);
      expect(approved.simulation?.changes).to.deep.equal(stale.simulation?.changes);
    });
  });

  describe("when the figures are as good or better", function () {
    it("approves at once when nothing moved", async function () {
      const pending = await proposeSwap();
      expectApproved(await h.cosigner.engine.approve(pending.id, "ops@example.com"));
    });

    it("approves at once when the wallet now receives more", async function () {
      const pending = await proposeSwap();
      await setRate(RATE * 2n);
      const approved = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      expectApproved(approved);
      expect(walletDelta(approved, wallet, WETH)).to.equal(parseEther("0.2"));
    });
  });

  describe("when the operation now pays someone the person did not see", function () {
    it("keeps the decision pending with APPROVAL_STALE naming the new payee", async function () {
      const pending = await proposeSwap();
      // The figures the person reviewed, restated without the DEX among the payees: the re-simulation pays it.
      const stored = (await h.cosigner.store.get(pending.id))!;
      const shown = stored.simulation as { changes: { account: string; asset: string; delta: string }[] };
      const edited = { ...shown, changes: shown.changes.filter((c) => getAddress(c.account) === wallet) };
      await h.cosigner.store.restatePending(pending.id, { simulation: edited, reasons: stored.reasons, recipients: [] }, { test: true });
      const again = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      expect(again.status, JSON.stringify(again.reasons)).to.equal("pending_approval");
      const reason = again.reasons.find((r) => r.code === "APPROVAL_STALE");
      expect(reason?.message).to.contain(dex);
    });
  });
});
