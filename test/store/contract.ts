/**
 * The store contract: what every back end (SQLite today, PostgreSQL next) must do, as one suite. A back end's spec
 * file calls `storeContract(name, open)`; `open` gives a fresh, empty store.
 */
import { expect } from "chai";
import { CountersignError } from "../../src/errors";
import { MAX_STORED_REQUEST_BYTES, UniqueConflict, type NewDecision, type Store } from "../../src/store";

const WALLET = "0x1111111111111111111111111111111111111111";
const OTHER_WALLET = "0x2222222222222222222222222222222222222222";
const ALICE = "0x3333333333333333333333333333333333333333";
const KEY = "0x4444444444444444444444444444444444444444";

let serial = 0;

/** A new decision for `nonce`, with a fresh digest unless given one. */
function decision(overrides: Partial<NewDecision> = {}): NewDecision {
  serial += 1;
  return {
    chainId: 31337,
    wallet: WALLET,
    nonce: "1",
    digest: `0x${serial.toString(16).padStart(64, "0")}`,
    status: "approved",
    sessionKey: KEY,
    idempotencyKey: null,
    requestHash: `h${serial}`,
    request: { nonce: overrides.nonce ?? "1", amount: 5n },
    simulation: { blockNumber: "7", changes: [] },
    reasons: [],
    cosignerSignature: overrides.status && overrides.status !== "approved" ? null : "0xsig",
    recipients: [ALICE],
    ...overrides,
  };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    expect((err as { code?: string }).code, (err as Error).message).to.equal(code);
    return err;
  }
  expect.fail(`expected an error with code ${code}`);
}

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, function () {
    let store: Store;
    beforeEach(async function () {
      store = await open();
    });
    afterEach(async function () {
      await store?.close();
    });

    describe("decisions", function () {
      it("returns what it committed, with an id, timestamps and bigints as decimal strings", async function () {
        const stored = await store.insert(decision({ nonce: "9" }), { note: "evidence" });
        expect(stored.id).to.match(/^op_[0-9a-f]{32}$/);
        expect(stored).to.deep.include({ chainId: 31337, wallet: WALLET, nonce: "9", status: "approved", txHash: null, decidedBy: null });
        expect(stored.request).to.deep.equal({ nonce: "9", amount: "5" });
        expect(Date.parse(stored.createdAt)).to.be.closeTo(Date.now(), 5_000);
        expect(await store.get(stored.id)).to.deep.equal(stored);
        expect(await store.findByDigest(31337, WALLET, stored.digest)).to.deep.equal(stored);
        expect(await store.findLiveByNonce(31337, WALLET, "9")).to.deep.equal(stored);
        expect(await store.get("op_missing")).to.equal(undefined);
      });

      it("refuses a second live decision for the same nonce with UniqueConflict('nonce'), recognised by its code", async function () {
        await store.insert(decision({ nonce: "3" }), {});
        const err = await expectCode(store.insert(decision({ nonce: "3" }), {}), "UNIQUE_CONFLICT");
        expect(err).to.be.instanceOf(UniqueConflict);
        expect((err as UniqueConflict).index).to.equal("nonce");
        // The same nonce of another wallet or chain is another nonce.
        await store.insert(decision({ nonce: "3", wallet: OTHER_WALLET }), {});
        await store.insert(decision({ nonce: "3", chainId: 1 }), {});
      });

      it("lets a rejected decision's nonce be decided again", async function () {
        await store.insert(decision({ nonce: "4", status: "rejected", cosignerSignature: null }), {});
        const again = await store.insert(decision({ nonce: "4" }), {});
        expect((await store.findLiveByNonce(31337, WALLET, "4"))?.id).to.equal(again.id);
      });

      it("refuses a reused idempotency key with UniqueConflict('idempotency'), even on another nonce", async function () {
        const first = await store.insert(decision({ nonce: "5", idempotencyKey: "k-1" }), {});
        const err = await expectCode(store.insert(decision({ nonce: "6", idempotencyKey: "k-1" }), {}), "UNIQUE_CONFLICT");
        expect((err as UniqueConflict).index).to.equal("idempotency");
        expect((await store.findByIdempotencyKey("k-1"))?.id).to.equal(first.id);
        expect(await store.findLiveByNonce(31337, WALLET, "6"), "nothing of the refused insert is left").to.equal(undefined);
      });

      it("refuses a request larger than it keeps with INVALID_REQUEST, and keeps nothing", async function () {
        const big = decision({ nonce: "7", request: { memo: "x".repeat(MAX_STORED_REQUEST_BYTES) } });
        await expectCode(store.insert(big, {}), "INVALID_REQUEST");
        expect(await store.findLiveByNonce(31337, WALLET, "7")).to.equal(undefined);
        expect((await store.auditHead()).seq).to.equal(0);
      });

      it("remembers the recipients of approved decisions only", async function () {
        await store.insert(decision({ nonce: "1", status: "pending_approval", cosignerSignature: null, recipients: [ALICE] }), {});
        expect(await store.isRecipientKnown(31337, WALLET, ALICE)).to.equal(false);
        await store.insert(decision({ nonce: "2", recipients: [ALICE] }), {});
        expect(await store.isRecipientKnown(31337, WALLET, ALICE)).to.equal(true);
        expect(await store.isRecipientKnown(31337, OTHER_WALLET, ALICE)).to.equal(false);
      });
    });

    describe("pending decisions", function () {
      it("resolves a pending decision once; a second resolution is NOT_PENDING", async function () {
        const pending = await store.insert(decision({ nonce: "1", status: "pending_approval", cosignerSignature: null }), {});
        const approved = await store.resolvePending(
          pending.id,
          { status: "approved", reasons: [], simulation: { blockNumber: "8" }, cosignerSignature: "0xsig", decidedBy: "alice" },
          {},
        );
        expect(approved).to.deep.include({ status: "approved", cosignerSignature: "0xsig", decidedBy: "alice" });
        expect(await store.isRecipientKnown(31337, WALLET, ALICE), "an approval makes its recipients known").to.equal(true);
        await expectCode(
          store.resolvePending(pending.id, { status: "rejected", reasons: [], simulation: null, cosignerSignature: null, decidedBy: "bob" }, {}),
          "NOT_PENDING",
        );
        expect((await store.get(pending.id))?.decidedBy).to.equal("alice");
      });

      it("restates a pending decision, which stays pending; a settled one cannot be restated", async function () {
        const pending = await store.insert(decision({ nonce: "1", status: "pending_approval", cosignerSignature: null }), {});
        const reasons = [{ code: "APPROVAL_STALE", message: "moved" }];
        const restated = await store.restatePending(pending.id, { reasons, simulation: { blockNumber: "9" }, recipients: [OTHER_WALLET] }, {});
        expect(restated).to.deep.include({ status: "pending_approval", reasons, simulation: { blockNumber: "9" }, recipients: [OTHER_WALLET] });
        const settled = await store.insert(decision({ nonce: "2" }), {});
        await expectCode(store.restatePending(settled.id, { reasons, simulation: null, recipients: [] }, {}), "NOT_PENDING");
      });

      it("lists pending decisions newest first, by wallet and by age", async function () {
        const a = await store.insert(decision({ nonce: "1", status: "pending_approval", cosignerSignature: null }), {});
        await new Promise((r) => setTimeout(r, 5));
        const b = await store.insert(decision({ nonce: "2", status: "pending_approval", cosignerSignature: null, wallet: OTHER_WALLET }), {});
        await new Promise((r) => setTimeout(r, 5));
        const c = await store.insert(decision({ nonce: "3", status: "pending_approval", cosignerSignature: null }), {});
        await store.insert(decision({ nonce: "4" }), {});
        expect((await store.listPending({ chainId: 31337 })).map((d) => d.id)).to.deep.equal([c.id, b.id, a.id]);
        expect((await store.listPending({ chainId: 31337, wallet: WALLET })).map((d) => d.id)).to.deep.equal([c.id, a.id]);
        expect((await store.listPending({ chainId: 31337, createdBefore: c.createdAt })).map((d) => d.id)).to.deep.equal([b.id, a.id]);
        expect((await store.listPending({ chainId: 31337, limit: 1 })).map((d) => d.id)).to.deep.equal([c.id]);
        expect(await store.listPending({ chainId: 1 })).to.deep.equal([]);
      });
    });

    describe("the audit log", function () {
      it("chains every record to the one before and verifies", async function () {
        expect(await store.auditHead()).to.deep.equal({ seq: 0, hash: "0".repeat(64) });
        const first = await store.appendAudit("refusal", "0xabc", { code: "NONCE_USED", amount: 1n });
        const stored = await store.insert(decision(), { status: "approved" });
        const records = await store.listAudit(0, 10);
        expect(records.map((r) => [r.seq, r.kind, r.ref])).to.deep.equal([
          [1, "refusal", "0xabc"],
          [2, "decision", stored.id],
        ]);
        expect(records[0].payload).to.deep.equal({ code: "NONCE_USED", amount: "1" });
        expect(records[1].prevHash).to.equal(first.hash);
        expect(await store.auditHead()).to.deep.equal({ seq: 2, hash: records[1].hash });
        expect(await store.listAudit(1, 10)).to.have.length(1);
        expect(await store.verifyAudit()).to.deep.equal({ ok: true, checked: 2 });
      });

      it("records resolutions, restatements, flags and clearances in the chain", async function () {
        const pending = await store.insert(decision({ status: "pending_approval", cosignerSignature: null }), {});
        await store.restatePending(pending.id, { reasons: [], simulation: null, recipients: [] }, {});
        await store.resolvePending(pending.id, { status: "rejected", reasons: [], simulation: null, cosignerSignature: null, decidedBy: "bob" }, {});
        await store.flagAnomaly(31337, WALLET, "burst", { source: "test" }, "breaker.pause");
        await store.clearAnomaly(31337, WALLET, "ops");
        const kinds = (await store.listAudit(0, 10)).map((r) => r.kind);
        expect(kinds).to.deep.equal(["decision", "decision.stale", "decision.rejected", "breaker.pause", "anomaly.cleared"]);
        expect(await store.verifyAudit()).to.deep.equal({ ok: true, checked: 5 });
      });

      it("keeps one chain under concurrent appends", async function () {
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendAudit("refusal", null, { i })));
        const records = await store.listAudit(0, 100);
        expect(records.map((r) => r.seq)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(await store.verifyAudit()).to.deep.equal({ ok: true, checked: 20 });
      });
    });

    describe("anomaly flags", function () {
      it("flags a wallet until the flag is cleared, and says what was cleared", async function () {
        expect(await store.activeAnomaly(31337, WALLET)).to.equal(undefined);
        const record = await store.flagAnomaly(31337, WALLET, "three refusals");
        expect(record).to.deep.include({ kind: "anomaly", ref: WALLET });
        expect(await store.activeAnomaly(31337, WALLET)).to.equal("three refusals");
        expect(await store.activeAnomaly(31337, OTHER_WALLET)).to.equal(undefined);
        expect(await store.clearAnomaly(31337, WALLET, "ops")).to.equal("three refusals");
        expect(await store.activeAnomaly(31337, WALLET)).to.equal(undefined);
        expect(await store.clearAnomaly(31337, WALLET, "ops"), "nothing left to clear").to.equal(undefined);
      });
    });

    describe("the monitor's position", function () {
      it("starts unknown, then keeps the last position per chain and follower", async function () {
        expect(await store.position(31337, "monitor")).to.equal(undefined);
        await store.setPosition(31337, "monitor", { blockNumber: 10n, blockHash: "0xa" });
        await store.setPosition(31337, "monitor", { blockNumber: 2n ** 63n, blockHash: "0xb" });
        await store.setPosition(1, "monitor", { blockNumber: 5n, blockHash: "0xc" });
        expect(await store.position(31337, "monitor")).to.deep.equal({ blockNumber: 2n ** 63n, blockHash: "0xb" });
        expect(await store.position(1, "monitor")).to.deep.equal({ blockNumber: 5n, blockHash: "0xc" });
      });
    });

    describe("failure", function () {
      it("answers STORE_UNAVAILABLE (never a signature) once it cannot reach its database", async function () {
        await store.close();
        const err = await expectCode(store.insert(decision(), {}), "STORE_UNAVAILABLE");
        expect(err).to.be.instanceOf(CountersignError);
        await expectCode(store.get("op_x"), "STORE_UNAVAILABLE");
        await expectCode(store.appendAudit("refusal", null, {}), "STORE_UNAVAILABLE");
        store = await open();
      });
    });
  });
}
