import { expect } from "chai";
import type { Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { CosignerEngine } from "../../src/engine";
import { executeOnChain, proposal, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import {
  asGuardian,
  asOwner,
  balanceOf,
  expectApproved,
  expectRefusal,
  expectRejected,
  startEngineHarness,
  syncFork,
} from "../support/engine";

describe("engine: decide", function () {
  let h: CosignerHarness;
  let USDC: Address;
  const THRESHOLD = usdc(100);

  /** `amount` of USDC to `to`. */
  const pay = (to: Address, amount: bigint, opts: Parameters<typeof proposal>[3] = {}) =>
    proposal(h, [transferCall(USDC, to, amount)], { kind: "transfer", asset: USDC, to, amount: amount.toString() }, opts);

  /** A recipient of this test's own: allowlisted on the wallet, never paid through the co-signer. */
  async function newRecipient(): Promise<Address> {
    const to = privateKeyToAccount(generatePrivateKey()).address;
    await asOwner(h, "setRecipient", [to, true]);
    await syncFork(h);
    return to;
  }

  /** A recipient of this test's own that the co-signer already paid: its first payment was approved by a person. */
  async function paidRecipient(): Promise<Address> {
    const to = await newRecipient();
    const first = await h.cosigner.engine.propose(await pay(to, usdc(1)));
    expect(first.reasons.map((r) => r.code)).to.deep.equal(["NEW_RECIPIENT"]);
    expectApproved(await h.cosigner.engine.approve(first.id, "ops@example.com"));
    return to;
  }

  before(async function () {
    h = await startEngineHarness({
      review: (d) => ({ thresholds: new Map([[d.tokens.USDC!, THRESHOLD]]), reviewNewRecipients: true }),
    });
    USDC = h.deployment.tokens.USDC!;
  });
  after(async function () {
    await h?.stop();
  });

  describe("a new recipient", function () {
    it("holds the first payment to a recipient for a person (NEW_RECIPIENT), without a signature", async function () {
      const bob = await newRecipient();
      const decision = await h.cosigner.engine.propose(await pay(bob, usdc(10)));
      expect(decision.status).to.equal("pending_approval");
      expect(decision.reasons).to.deep.equal([
        { code: "NEW_RECIPIENT", message: `${bob} has never been paid by this wallet through the co-signer` },
      ]);
      expect(decision).to.not.have.property("cosignerSignature");
      expect(decision.simulation!.changes).to.deep.include({ account: bob, asset: USDC, delta: "10000000" });
    });

    it("signs it once a person approves, after simulating again; the wallet accepts it; the next payment needs no review", async function () {
      const bob = await newRecipient();
      const request = await pay(bob, usdc(10));
      const pending = await h.cosigner.engine.propose(request);
      expect(pending.status).to.equal("pending_approval");
      const approved = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      expectApproved(approved);
      expect(approved.id).to.equal(pending.id);
      expect(approved.digest).to.equal(pending.digest);
      expect((await h.cosigner.store.get(pending.id))!.decidedBy).to.equal("ops@example.com");
      const before = await balanceOf(h, USDC, bob);
      expect((await executeOnChain(h, request, approved.cosignerSignature!)).status).to.equal("success");
      expect((await balanceOf(h, USDC, bob)) - before).to.equal(usdc(10));
      await syncFork(h);

      expectApproved(await h.cosigner.engine.propose(await pay(bob, usdc(10))));
    });
  });

  describe("the review threshold", function () {
    it("holds an outflow above the threshold (ABOVE_REVIEW_THRESHOLD) and names both amounts", async function () {
      const bob = await paidRecipient();
      const decision = await h.cosigner.engine.propose(await pay(bob, usdc(150)));
      expect(decision.status).to.equal("pending_approval");
      expect(decision.reasons).to.deep.equal([
        { code: "ABOVE_REVIEW_THRESHOLD", message: `gross outflow 150000000 of ${USDC} is above the review threshold 100000000` },
      ]);
      expect(decision).to.not.have.property("cosignerSignature");
    });

    it("approves an outflow exactly at the threshold", async function () {
      const bob = await paidRecipient();
      expectApproved(await h.cosigner.engine.propose(await pay(bob, THRESHOLD)));
    });

    it("gives both reasons for a large first payment to a new recipient", async function () {
      const alice = await newRecipient();
      const decision = await h.cosigner.engine.propose(await pay(alice, usdc(150)));
      expect(decision.status).to.equal("pending_approval");
      expect(decision.reasons.map((r) => r.code)).to.deep.equal(["ABOVE_REVIEW_THRESHOLD", "NEW_RECIPIENT"]);
    });
  });

  describe("an anomaly flag", function () {
    it("holds every operation of a flagged wallet (ANOMALY_FLAGGED) until the flag is cleared", async function () {
      const { chainId, wallet } = h.deployment;
      const bob = await paidRecipient();
      await h.cosigner.store.flagAnomaly(chainId, wallet, "burst of rejections from one session key");
      try {
        const decision = await h.cosigner.engine.propose(await pay(bob, usdc(1)));
        expect(decision.status).to.equal("pending_approval");
        expect(decision.reasons).to.deep.equal([
          { code: "ANOMALY_FLAGGED", message: "anomaly flagged: burst of rejections from one session key" },
        ]);
      } finally {
        await h.cosigner.store.clearAnomaly(chainId, wallet, "ops@example.com");
      }
      expectApproved(await h.cosigner.engine.propose(await pay(bob, usdc(1))));
    });
  });

  describe("a person rejects", function () {
    it("settles the decision rejected with REJECTED_BY_APPROVER, naming the approver and the note", async function () {
      const bob = await paidRecipient();
      const pending = await h.cosigner.engine.propose(await pay(bob, usdc(150)));
      const rejected = await h.cosigner.engine.reject(pending.id, "ops@example.com", "too large for a Tuesday");
      expectRejected(rejected, "REJECTED_BY_APPROVER");
      expect(rejected.reasons[0]!.message).to.equal("rejected by ops@example.com: too large for a Tuesday");
      expect(await h.cosigner.engine.get(pending.id)).to.deep.equal(rejected);
    });

    it("frees the nonce: another operation with the same nonce can then be decided", async function () {
      const bob = await paidRecipient();
      const nonce = h.nextNonce();
      const pending = await h.cosigner.engine.propose(await pay(bob, usdc(150), { nonce }));
      expect(pending.status).to.equal("pending_approval");
      await expectRefusal(h.cosigner.engine.propose(await pay(bob, usdc(20), { nonce })), "NONCE_CONFLICT", 409);
      await h.cosigner.engine.reject(pending.id, "ops@example.com");
      expectApproved(await h.cosigner.engine.propose(await pay(bob, usdc(20), { nonce })));
    });
  });

  describe("approve and reject of what is not pending", function () {
    it("refuses to approve an approved decision with NOT_PENDING (409)", async function () {
      const bob = await paidRecipient();
      const approved = await h.cosigner.engine.propose(await pay(bob, usdc(2)));
      expectApproved(approved);
      const err = await expectRefusal(h.cosigner.engine.approve(approved.id, "ops@example.com"), "NOT_PENDING", 409);
      expect(err.message).to.equal(`decision ${approved.id} is approved, not pending approval`);
    });

    it("refuses to reject a rejected decision with NOT_PENDING (409)", async function () {
      const bob = await paidRecipient();
      const pending = await h.cosigner.engine.propose(await pay(bob, usdc(150)));
      await h.cosigner.engine.reject(pending.id, "ops@example.com");
      await expectRefusal(h.cosigner.engine.reject(pending.id, "ops@example.com"), "NOT_PENDING", 409);
    });

    it("refuses an unknown id with NOT_FOUND (404)", async function () {
      await expectRefusal(h.cosigner.engine.approve("op_doesnotexist", "ops@example.com"), "NOT_FOUND", 404);
      expect(await h.cosigner.engine.get("op_doesnotexist")).to.equal(undefined);
    });

    it("signs at most once when two people approve the same decision at the same time", async function () {
      const bob = await paidRecipient();
      const pending = await h.cosigner.engine.propose(await pay(bob, usdc(150)));
      const results = await Promise.allSettled([
        h.cosigner.engine.approve(pending.id, "alice@example.com"),
        h.cosigner.engine.approve(pending.id, "bob@example.com"),
      ]);
      const fulfilled = results.filter((r) => r.status === "fulfilled");
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(fulfilled).to.have.length(1);
      expect(failed).to.have.length(1);
      expect(failed[0]!.reason.code).to.equal("NOT_PENDING");
      expectApproved((fulfilled[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof h.cosigner.engine.approve>>>).value);
    });
  });

  describe("approval re-simulates at the then-current head", function () {
    it("settles rejected with NONCE_USED when the nonce was used on chain while the decision waited", async function () {
      const bob = await paidRecipient();
      const pending = await h.cosigner.engine.propose(await pay(bob, usdc(150)));
      const nonce = BigInt(((await h.cosigner.store.get(pending.id))!.request as { nonce: string }).nonce);
      await asGuardian(h, "invalidateNonce", [nonce]);
      await syncFork(h);
      const settled = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      const [message] = expectRejected(settled, "NONCE_USED");
      expect(message).to.equal(`nonce ${nonce} was already used on chain`);
      expect((await h.cosigner.store.get(pending.id))!.status).to.equal("rejected");
    });

    it("settles rejected with RECIPIENT_NOT_ALLOWED when the owner removed the recipient while the decision waited", async function () {
      const bob = await paidRecipient();
      const pending = await h.cosigner.engine.propose(await pay(bob, usdc(150)));
      expect(pending.status).to.equal("pending_approval");
      await asOwner(h, "setRecipient", [bob, false]);
      await syncFork(h);
      const settled = await h.cosigner.engine.approve(pending.id, "ops@example.com");
      expectRejected(settled, "RECIPIENT_NOT_ALLOWED");
      expect(Number(settled.simulation!.blockNumber)).to.be.greaterThan(Number(pending.simulation!.blockNumber));
    });

    it("settles rejected with DEADLINE_PASSED when the deadline went by while the decision waited", async function () {
      const bob = await paidRecipient();
      const t = BigInt(Math.floor(Date.now() / 1000));
      const at = (now: bigint) =>
        new CosignerEngine({
          fork: h.cosigner.fork,
          store: h.cosigner.store,
          key: h.cosigner.key,
          served: h.cosigner.served,
          review: { thresholds: new Map([[USDC, THRESHOLD]]), reviewNewRecipients: true },
          now: () => now,
        });
      const pending = await at(t).propose(await pay(bob, usdc(150), { deadline: t + 60n }));
      expect(pending.status).to.equal("pending_approval");
      const settled = await at(t + 61n).approve(pending.id, "ops@example.com");
      const [message] = expectRejected(settled, "DEADLINE_PASSED");
      expect(message).to.equal(`deadline ${t + 60n} is before now (${t + 61n})`);
    });
  });
});
