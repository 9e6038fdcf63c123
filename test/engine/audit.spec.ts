import Database from "better-sqlite3";
import { expect } from "chai";
import { createHash } from "node:crypto";
import type { Address } from "viem";
import { DEFAULT_CALL_GAS_LIMIT, proposal, startHarness, transferCall, usdc, type CosignerHarness } from "../support/cosigner";
import { asGuardian, expectApproved, expectRefusal, expectRejected, ROLES, syncFork } from "../support/engine";

const NO_UPDATE = "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";
const NO_DELETE = "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

interface Row {
  seq: number;
  at: string;
  kind: string;
  ref: string | null;
  payload: string;
  prev_hash: string;
  hash: string;
}

describe("engine: record (audit log)", function () {
  let h: CosignerHarness;
  let db: Database.Database;
  let USDC: Address;
  let alice: Address;
  let approvedId: string;

  // A mismatch is sent as a plain transfer of a budgeted token with no bounds (allowed): then the co-signer's
  // comparison is what refuses it. The others carry the bounds derived from the intent.
  const pay = (sent: bigint, declared: bigint, memo?: string, signer?: number) =>
    proposal(
      h,
      [transferCall(USDC, alice, sent)],
      { kind: "transfer", asset: USDC, to: alice, amount: declared.toString(), ...(memo ? { memo } : {}) },
      { signer, ...(sent === declared ? {} : { bounds: [] }) },
    );
  const row = (seq: number) => db.prepare("SELECT * FROM audit_log WHERE seq = ?").get(seq) as Row;

  before(async function () {
    h = await startHarness();
    USDC = h.deployment.tokens.USDC!;
    alice = h.deployment.recipients.alice!;
    // A few records of each kind: approvals, a rejection, a refusal.
    const approved = await h.cosigner.engine.propose(await pay(usdc(10), usdc(10), "invoice 2024-117 for alice"));
    expectApproved(approved);
    approvedId = approved.id;
    expectRejected(await h.cosigner.engine.propose(await pay(usdc(100), usdc(10))), "INTENT_MISMATCH");
    // Refusals of an unknown signer are not recorded (anyone can produce them with random signatures);
    // a refusal of a verified session key is.
    await expectRefusal(h.cosigner.engine.propose(await pay(usdc(1), usdc(1), undefined, ROLES.mallory)), "UNKNOWN_SESSION_KEY");
    await asGuardian(h, "invalidateNonce", [424_242n]);
    await syncFork(h);
    const burnt = await proposal(h, [transferCall(USDC, alice, usdc(1))], { kind: "transfer", asset: USDC, to: alice, amount: usdc(1).toString() }, { nonce: 424_242n });
    await expectRefusal(h.cosigner.engine.propose(burnt), "NONCE_USED");
    for (let i = 0; i < 3; i++) expectApproved(await h.cosigner.engine.propose(await pay(usdc(1), usdc(1))));
    db = new Database(h.dbPath);
  });
  after(async function () {
    db?.close();
    await h?.stop();
  });

  describe("what is recorded", function () {
    it("records a decision with its request, intent, memo, simulated block, changes, reasons and digest", async function () {
      const record = (await h.cosigner.store.listAudit(0, 100)).find((r) => r.kind === "decision" && r.ref === approvedId)!;
      const decision = (await h.cosigner.engine.get(approvedId))!;
      const payload = record.payload as Record<string, unknown>;
      expect(payload).to.include({ id: approvedId, digest: decision.digest, status: "approved", memo: "invoice 2024-117 for alice" });
      expect(payload.intent).to.deep.equal({ kind: "transfer", asset: USDC, to: alice, amount: "10000000", memo: "invoice 2024-117 for alice" });
      expect(payload.simulation).to.deep.equal(decision.simulation);
      expect((payload.simulation as { blockNumber: string }).blockNumber).to.match(/^\d+$/);
      expect(payload.reasons).to.deep.equal([]);
      expect(payload.calls).to.have.length(1);
      // The outcome and gas the wallet will enforce are part of what was decided.
      expect(payload.callGasLimit).to.equal(DEFAULT_CALL_GAS_LIMIT.toString());
      expect(payload.bounds).to.deep.equal([
        { asset: USDC, account: h.deployment.wallet, minDelta: "-10000000" },
        { asset: USDC, account: alice, minDelta: "10000000" },
      ]);
      expect(payload.sessionKey).to.be.a("string");
    });

    it("records rejections with their reasons and refusals with their code", async function () {
      const records = await h.cosigner.store.listAudit(0, 100);
      const rejected = records.find((r) => (r.payload as { status?: string }).status === "rejected")!;
      expect((rejected.payload as { reasons: { code: string }[] }).reasons.map((r) => r.code)).to.deep.equal(["INTENT_MISMATCH"]);
      const refusal = records.find((r) => r.kind === "refusal")!;
      expect(refusal.payload).to.include({ code: "NONCE_USED" });
      expect(records.filter((r) => r.kind === "refusal")).to.have.length(1);
    });

    it("verifies an untouched log", async function () {
      const count = (await h.cosigner.store.listAudit(0, 100)).length;
      expect(count).to.equal(6);
      expect(await h.cosigner.store.verifyAudit()).to.deep.equal({ ok: true, checked: count });
    });
  });

  describe("append-only", function () {
    it("refuses UPDATE of an audit record", function () {
      expect(() => db.prepare("UPDATE audit_log SET payload = '{}' WHERE seq = 2").run()).to.throw(/the audit log is append-only/);
    });

    it("refuses DELETE of an audit record", async function () {
      expect(() => db.prepare("DELETE FROM audit_log WHERE seq = 2").run()).to.throw(/the audit log is append-only/);
      expect((await h.cosigner.store.verifyAudit()).ok).to.equal(true);
    });
  });

  describe("when someone with write access to the file tampers with it", function () {
    afterEach(async function () {
      db.exec(NO_UPDATE);
      db.exec(NO_DELETE);
      expect((await h.cosigner.store.verifyAudit()).ok, "the test restored the log").to.equal(true);
    });

    it("reports the first changed record: a payload changed after dropping the UPDATE trigger", async function () {
      const original = row(3);
      db.exec("DROP TRIGGER audit_log_no_update");
      const forged = original.payload.replace(/"code":"[A-Z_]+"/, '"code":"NONE"').replace('"status":"rejected"', '"status":"approved"');
      expect(forged).to.not.equal(original.payload);
      db.prepare("UPDATE audit_log SET payload = ? WHERE seq = 3").run(forged);
      expect(await h.cosigner.store.verifyAudit()).to.deep.equal({
        ok: false,
        checked: 2,
        brokenAt: 3,
        reason: "the record's content does not match its hash",
      });
      db.prepare("UPDATE audit_log SET payload = ? WHERE seq = 3").run(original.payload);
    });

    it("reports the next record when the forger also recomputes the changed record's hash", async function () {
      const original = row(2);
      db.exec("DROP TRIGGER audit_log_no_update");
      const forged = original.payload.replace("10000000", "99999999");
      const hash = createHash("sha256")
        .update([original.prev_hash, original.seq, original.at, original.kind, original.ref ?? "", forged].join("\x1f"))
        .digest("hex");
      db.prepare("UPDATE audit_log SET payload = ?, hash = ? WHERE seq = 2").run(forged, hash);
      expect(await h.cosigner.store.verifyAudit()).to.deep.include({ ok: false, brokenAt: 3, reason: "prev_hash does not match the previous record" });
      db.prepare("UPDATE audit_log SET payload = ?, hash = ? WHERE seq = 2").run(original.payload, original.hash);
    });

    it("reports a deleted record after dropping the DELETE trigger", async function () {
      const original = row(4);
      db.exec("DROP TRIGGER audit_log_no_delete");
      db.prepare("DELETE FROM audit_log WHERE seq = 4").run();
      expect(await h.cosigner.store.verifyAudit()).to.deep.equal({ ok: false, checked: 3, brokenAt: 4, reason: "record 4 is missing" });
      db.prepare("INSERT INTO audit_log (seq, at, kind, ref, payload, prev_hash, hash) VALUES (@seq, @at, @kind, @ref, @payload, @prev_hash, @hash)").run(
        original,
      );
    });
  });

  describe("after tampering was repaired", function () {
    it("keeps appending to a chain that verifies", async function () {
      expectApproved(await h.cosigner.engine.propose(await pay(usdc(1), usdc(1))));
      const result = await h.cosigner.store.verifyAudit();
      expect(result).to.deep.equal({ ok: true, checked: 7 });
    });
  });
});
