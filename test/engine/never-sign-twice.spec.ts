import Database from "better-sqlite3";
import { expect } from "chai";
import type { Address } from "viem";
import type { Decision } from "../../src/api";
import { CosignerEngine } from "../../src/engine";
import { CountersignError } from "../../src/errors";
import { executeOnChain, proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { devAccount } from "../../src/chain/accounts";
import { asOwner, auditCount, expectApproved, expectRefusal, expectRejected, reopenStore, SPARE_KEY, syncFork } from "../support/engine";

describe("engine: never sign twice", function () {
  let h: CosignerHarness;
  let USDC: Address;
  let alice: Address;

  /** `amount` of USDC to alice, with options (nonce, idempotency key). */
  async function pay(amount: bigint, opts: { nonce?: bigint; idempotencyKey?: string; signer?: number } = {}) {
    const body = await proposal(
      h,
      [transferCall(USDC, alice, amount)],
      { kind: "transfer", asset: USDC, to: alice, amount: amount.toString() },
      { nonce: opts.nonce, signer: opts.signer },
    );
    return opts.idempotencyKey ? { ...body, idempotencyKey: opts.idempotencyKey } : body;
  }

  /** Splits settled proposals into decisions and errors. */
  function settle(results: PromiseSettledResult<Decision>[]) {
    return {
      decisions: results.filter((r): r is PromiseFulfilledResult<Decision> => r.status === "fulfilled").map((r) => r.value),
      errors: results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as CountersignError),
    };
  }

  before(async function () {
    h = await startHarness();
    USDC = h.deployment.tokens.USDC!;
    alice = h.deployment.recipients.alice!;
  });
  after(async function () {
    await h?.stop();
  });

  describe("the same nonce with different digests", function () {
    it("signs exactly one of two concurrent requests; the other is refused with NONCE_CONFLICT (409)", async function () {
      for (let round = 0; round < 3; round++) {
        const nonce = h.nextNonce();
        const { decisions, errors } = settle(
          await Promise.allSettled([h.cosigner.engine.propose(await pay(usdc(10), { nonce })), h.cosigner.engine.propose(await pay(usdc(11), { nonce }))]),
        );
        expect(decisions, `round ${round}`).to.have.length(1);
        expectApproved(decisions[0]!);
        expect(errors).to.have.length(1);
        expect(errors[0]).to.be.instanceOf(CountersignError);
        expect(errors[0]!.code).to.equal("NONCE_CONFLICT");
        expect(errors[0]!.status).to.equal(409);
        const live = await h.cosigner.store.findLiveByNonce(h.deployment.chainId, h.deployment.wallet, nonce.toString());
        expect(live?.id).to.equal(decisions[0]!.id);
      }
    });

    it("signs exactly one of eight concurrent requests", async function () {
      const nonce = h.nextNonce();
      const bodies = await Promise.all(Array.from({ length: 8 }, (_, i) => pay(usdc(20 + i), { nonce })));
      const { decisions, errors } = settle(await Promise.allSettled(bodies.map((b) => h.cosigner.engine.propose(b))));
      expect(decisions.filter((d) => d.cosignerSignature)).to.have.length(1);
      expect(errors.map((e) => e.code)).to.deep.equal(Array(7).fill("NONCE_CONFLICT"));
    });

    it("refuses a second digest for a nonce already approved with NONCE_CONFLICT, naming the decision", async function () {
      const nonce = h.nextNonce();
      const first = await h.cosigner.engine.propose(await pay(usdc(10), { nonce }));
      expectApproved(first);
      const err = await expectRefusal(h.cosigner.engine.propose(await pay(usdc(12), { nonce })), "NONCE_CONFLICT", 409);
      expect(err.details).to.deep.equal({ decisionId: first.id });
    });

    it("signs exactly one across two replicas sharing the store", async function () {
      const other = reopenStore(h);
      try {
        const replica = new CosignerEngine({
          fork: h.cosigner.fork,
          store: other,
          key: h.cosigner.key,
          served: h.cosigner.served,
          review: { thresholds: new Map(), reviewNewRecipients: false },
        });
        const nonce = h.nextNonce();
        const { decisions, errors } = settle(
          await Promise.allSettled([h.cosigner.engine.propose(await pay(usdc(10), { nonce })), replica.propose(await pay(usdc(13), { nonce }))]),
        );
        expect(decisions).to.have.length(1);
        expectApproved(decisions[0]!);
        expect(errors.map((e) => e.code)).to.deep.equal(["NONCE_CONFLICT"]);
      } finally {
        other.close();
      }
    });
  });

  describe("the same digest again", function () {
    it("returns the stored decision (same id, same signature) without deciding again", async function () {
      const body = await pay(usdc(10));
      const first = await h.cosigner.engine.propose(body);
      expectApproved(first);
      const records = (await auditCount(h));
      const again = await h.cosigner.engine.propose(body);
      expect(again).to.deep.equal(first);
      expect((await auditCount(h)), "no new audit record").to.equal(records);
    });

    it("returns one decision to two concurrent copies of the same request", async function () {
      const body = await pay(usdc(10));
      const [a, b] = await Promise.all([h.cosigner.engine.propose(body), h.cosigner.engine.propose(body)]);
      expectApproved(a);
      expect(b).to.deep.equal(a);
    });

    it("returns the stored rejection of a refused digest", async function () {
      const { tokens } = h.deployment;
      const body = await proposal(h, [transferCall(USDC, alice, usdc(100))], { kind: "transfer", asset: tokens.USDC, to: alice, amount: usdc(10).toString() }, { bounds: [] });
      const first = await h.cosigner.engine.propose(body);
      expectRejected(first, "INTENT_MISMATCH");
      expect(await h.cosigner.engine.propose(body)).to.deep.equal(first);
    });

    it("returns the stored approval after it was executed on chain (a replay gets nothing new)", async function () {
      const body = await pay(usdc(10));
      const first = await h.cosigner.engine.propose(body);
      expectApproved(first);
      expect((await executeOnChain(h, body, first.cosignerSignature!)).status).to.equal("success");
      await syncFork(h);
      expect(await h.cosigner.engine.propose(body)).to.deep.equal(first);
      await expectRefusal(h.cosigner.engine.propose(await pay(usdc(9), { nonce: BigInt(body.nonce) })), "NONCE_CONFLICT", 409);
    });
  });

  describe("idempotency keys", function () {
    it("returns the stored decision for the same key and body", async function () {
      const body = await pay(usdc(10), { idempotencyKey: "agent-7:payroll:0001" });
      const first = await h.cosigner.engine.propose(body);
      expectApproved(first);
      expect(await h.cosigner.engine.propose(body)).to.deep.equal(first);
    });

    it("refuses a key reused with a different body with IDEMPOTENCY_CONFLICT (409)", async function () {
      const first = await h.cosigner.engine.propose(await pay(usdc(10), { idempotencyKey: "agent-7:payroll:0002" }));
      expectApproved(first);
      const err = await expectRefusal(
        h.cosigner.engine.propose(await pay(usdc(10), { idempotencyKey: "agent-7:payroll:0002" })),
        "IDEMPOTENCY_CONFLICT",
        409,
      );
      expect(err.message).to.equal("idempotency key agent-7:payroll:0002 was used with another request");
      expect(err.details).to.deep.equal({ decisionId: first.id });
    });

    it("refuses a key reused concurrently with a different body: one decision, one IDEMPOTENCY_CONFLICT", async function () {
      const key = "agent-7:payroll:0003";
      const { decisions, errors } = settle(
        await Promise.allSettled([
          h.cosigner.engine.propose(await pay(usdc(10), { idempotencyKey: key })),
          h.cosigner.engine.propose(await pay(usdc(11), { idempotencyKey: key })),
        ]),
      );
      expect(decisions).to.have.length(1);
      expect(errors.map((e) => e.code)).to.deep.equal(["IDEMPOTENCY_CONFLICT"]);
    });
  });

  describe("what a conflict tells another session key", function () {
    before(async function () {
      // A second agent of the same wallet: a genuine session key, but not the one that made the other decision.
      await asOwner(h, "addSessionKey", [devAccount(SPARE_KEY).address, Math.floor(Date.now() / 1000) + 86_400]);
      await syncFork(h);
    });

    it("refuses its second digest for a taken nonce with NONCE_CONFLICT, naming no decision", async function () {
      const nonce = h.nextNonce();
      const first = await h.cosigner.engine.propose(await pay(usdc(10), { nonce }));
      expectApproved(first);
      const err = await expectRefusal(h.cosigner.engine.propose(await pay(usdc(12), { nonce, signer: SPARE_KEY })), "NONCE_CONFLICT", 409);
      expect(err.details).to.deep.equal({});
      expect(err.message).to.not.contain(first.id);
    });

    it("never hands it the other key's decision of the same operation proposed at the same moment", async function () {
      // One operation (so one digest) signed by both keys, proposed concurrently: both pass the early digest check,
      // one decision is committed, and the loser's insert meets it under the nonce's unique index.
      const nonce = h.nextNonce();
      const deadline = BigInt(Math.floor(Date.now() / 1000)) + 120n;
      const op = (signer?: number) =>
        proposal(h, [transferCall(USDC, alice, usdc(3))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(3).toString() }, { nonce, deadline, signer });
      const [a, b] = [await op(), await op(SPARE_KEY)];
      const [mine, theirs] = await Promise.allSettled([h.cosigner.engine.propose(a), h.cosigner.engine.propose(b)]);
      const outcomes = [mine, theirs];
      const signed = outcomes.filter((o) => o.status === "fulfilled");
      expect(signed, "exactly one decision is handed out").to.have.length(1);
      const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
      expect((refused.reason as CountersignError).code).to.equal("UNKNOWN_SESSION_KEY");
    });

    it("refuses its reuse of an idempotency key with IDEMPOTENCY_CONFLICT, naming no decision", async function () {
      const first = await h.cosigner.engine.propose(await pay(usdc(10), { idempotencyKey: "agent-7:payroll:0004" }));
      expectApproved(first);
      const err = await expectRefusal(
        h.cosigner.engine.propose(await pay(usdc(10), { idempotencyKey: "agent-7:payroll:0004", signer: SPARE_KEY })),
        "IDEMPOTENCY_CONFLICT",
        409,
      );
      expect(err.details).to.deep.equal({});
      expect(err.message).to.not.contain(first.id);
    });
  });

  describe("durability", function () {
    it("has committed the decision, with its signature, when propose returns (a fresh handle on the file sees it)", async function () {
      const decision = await h.cosigner.engine.propose(await pay(usdc(10)));
      expectApproved(decision);
      const fresh = reopenStore(h);
      try {
        const row = await fresh.get(decision.id);
        expect(row?.status).to.equal("approved");
        expect(row?.cosignerSignature).to.equal(decision.cosignerSignature);
        expect(row?.digest).to.equal(decision.digest);
        expect((await fresh.listAudit(0, 1_000_000)).some((r) => r.kind === "decision" && r.ref === decision.id)).to.equal(true);
      } finally {
        fresh.close();
      }
    });

    it("returns no signature when the store cannot commit the decision (STORE_UNAVAILABLE, 503)", async function () {
      const db = new Database(h.dbPath);
      db.exec("CREATE TRIGGER test_disk_full BEFORE INSERT ON decisions BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END;");
      const body = await pay(usdc(10));
      try {
        const err = await expectRefusal(h.cosigner.engine.propose(body), "STORE_UNAVAILABLE", 503);
        expect(err.message).to.include("disk I/O error (test)");
        expect(await h.cosigner.store.findLiveByNonce(h.deployment.chainId, h.deployment.wallet, body.nonce)).to.equal(undefined);
      } finally {
        db.exec("DROP TRIGGER test_disk_full;");
        db.close();
      }
      // Nothing was signed, so the same request can be decided once the store is back.
      expectApproved(await h.cosigner.engine.propose(body));
    });
  });
});
