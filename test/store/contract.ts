/**
 * The store contract: what every back end (SQLite today, PostgreSQL next) must do, as one suite. A back end's spec
 * file calls `storeContract(name, open)`; `open` gives a fresh, empty store.
 */
import { expect } from "chai";
import { CountersignError } from "../../src/errors";
import { MAX_STORED_REQUEST_BYTES, UniqueConflict, type ApprovalRecords, type NewDecision, type NewIncident, type Store } from "../../src/store";

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

      it("answers concurrent inserts each for itself: a conflict among them fails only itself, the others stand", async function () {
        // Which of two conflicting inserts in flight together wins is the store's to choose (SQLite takes them in call
        // order; PostgreSQL's connections race): exactly one of each pair stands, the other fails with its index.
        const results = await Promise.allSettled([
          store.insert(decision({ nonce: "11" }), { n: 11 }),
          store.insert(decision({ nonce: "12" }), { n: 12 }),
          store.insert(decision({ nonce: "11" }), { n: 110 }),
          store.insert(decision({ nonce: "13", idempotencyKey: "k-13" }), { n: 13 }),
          store.insert(decision({ nonce: "14", idempotencyKey: "k-13" }), { n: 14 }),
        ]);
        expect(results[1].status, "an insert without a conflict stands").to.equal("fulfilled");
        const winners: number[] = [1];
        for (const [a, b, index] of [[0, 2, "nonce"], [3, 4, "idempotency"]] as const) {
          const statuses = [results[a].status, results[b].status].sort();
          expect(statuses, `inserts ${a} and ${b}`).to.deep.equal(["fulfilled", "rejected"]);
          const loser = (results[a].status === "rejected" ? results[a] : results[b]) as PromiseRejectedResult;
          expect((loser.reason as UniqueConflict).index).to.equal(index);
          winners.push(results[a].status === "fulfilled" ? a : b);
        }
        const payloads = [11, 12, 110, 13, 14];
        for (const i of winners) {
          const stored = (results[i] as PromiseFulfilledResult<Awaited<ReturnType<Store["insert"]>>>).value;
          expect(await store.get(stored.id)).to.deep.equal(stored);
        }
        const lostNonce = results[3].status === "fulfilled" ? "14" : "13";
        expect(await store.findLiveByNonce(31337, WALLET, lostNonce), "nothing of a refused insert is left").to.equal(undefined);
        const audit = await store.listAudit(0, 10);
        expect(audit.map((r) => (r.payload as { n: number }).n).sort((a, b) => a - b)).to.deep.equal(
          winners.map((i) => payloads[i]).sort((a, b) => a - b),
        );
        expect(await store.verifyAudit()).to.deep.equal({ ok: true, checked: 3 });
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

    // --- Incidents (issue 10 part B) ---
    describe("incidents", function () {
      const opening = (overrides: Partial<NewIncident> = {}): NewIncident => ({
        chainId: 31337,
        wallet: WALLET,
        sessionKey: null,
        rule: "unattributed_execution",
        summary: "an execution no decision approved",
        evidence: { rule: "unattributed_execution", at: new Date().toISOString(), digest: "0xd1" },
        actionKind: "pause",
        ...overrides,
      });
      const sending = { kind: "pause" as const, status: "sending" as const, txHash: null, at: new Date().toISOString() };

      it("opens an incident with its audit record, flags the wallet when asked, and reads it back", async function () {
        const { incident, opened, record } = await store.openIncident(opening({ flagReason: "monitor: paused" }));
        expect(opened).to.equal(true);
        expect(incident.id).to.match(/^inc_[0-9a-f]{32}$/);
        expect(incident).to.deep.include({ wallet: WALLET, rule: "unattributed_execution", state: "open", actionKind: "pause", acknowledgedBy: null });
        expect(incident.evidence).to.have.length(1);
        expect(record).to.deep.include({ kind: "incident.opened", ref: incident.id });
        expect(await store.activeAnomaly(31337, WALLET)).to.equal("monitor: paused");
        expect(await store.getIncident(incident.id)).to.deep.equal(incident);
        expect(await store.getIncident("inc_missing")).to.equal(undefined);
      });

      it("joins a second trip of the same kind to the unresolved incident (evidence added, no second incident)", async function () {
        const first = await store.openIncident(opening());
        const second = await store.openIncident(opening({ rule: "simulation_mismatch", evidence: { rule: "simulation_mismatch", at: "t", digest: "0xd2" } }));
        expect(second.opened).to.equal(false);
        expect(second.incident.id).to.equal(first.incident.id);
        expect(second.incident.rule, "the rule that opened it stays").to.equal("unattributed_execution");
        expect(second.incident.evidence.map((e) => e.digest)).to.deep.equal(["0xd1", "0xd2"]);
        expect(second.record.kind).to.equal("incident.evidence");
        // Another kind, another key or another wallet is another incident.
        expect((await store.openIncident(opening({ actionKind: "revoke", sessionKey: KEY }))).opened).to.equal(true);
        expect((await store.openIncident(opening({ actionKind: "revoke", sessionKey: ALICE }))).opened).to.equal(true);
        expect((await store.openIncident(opening({ wallet: OTHER_WALLET }))).opened).to.equal(true);
        expect(await store.listIncidents({ chainId: 31337 })).to.have.length(4);
      });

      it("keeps one unresolved incident per kind under concurrent trips", async function () {
        const results = await Promise.all(Array.from({ length: 10 }, () => store.openIncident(opening())));
        expect(results.filter((r) => r.opened)).to.have.length(1);
        expect(new Set(results.map((r) => r.incident.id)).size).to.equal(1);
        expect((await store.getIncident(results[0]!.incident.id))!.evidence).to.have.length(10);
      });

      it("records actions (appended, or the newest replaced) in the audit chain", async function () {
        const { incident } = await store.openIncident(opening());
        await store.recordIncidentAction(incident.id, sending, "breaker.pause", { reason: "r" });
        const { incident: after, record } = await store.recordIncidentAction(
          incident.id,
          { ...sending, status: "confirmed", txHash: "0xabc", blockNumber: "9" },
          "breaker.pause.confirmed",
          {},
          true,
        );
        expect(after.actions).to.have.length(1);
        expect(after.actions[0]).to.deep.include({ status: "confirmed", txHash: "0xabc", blockNumber: "9" });
        expect(record).to.deep.include({ kind: "breaker.pause.confirmed", ref: WALLET });
        expect(record.payload).to.deep.include({ incidentId: incident.id, txHash: "0xabc" });
        await store.recordIncidentAction(incident.id, { ...sending, status: "failed", error: "down" }, "breaker.pause.failed");
        expect((await store.getIncident(incident.id))!.actions.map((a) => a.status)).to.deep.equal(["confirmed", "failed"]);
        await expectCode(store.recordIncidentAction("inc_missing", sending, "breaker.pause"), "NOT_FOUND");
      });

      it("acknowledges an open incident once, resolves it once, and then a new trip opens a new one", async function () {
        const { incident } = await store.openIncident(opening());
        const acked = await store.acknowledgeIncident(incident.id, "on-call", "looking");
        expect(acked).to.deep.include({ state: "acknowledged", acknowledgedBy: "on-call", note: "looking" });
        expect(Date.parse(acked.acknowledgedAt!)).to.be.closeTo(Date.now(), 5_000);
        await expectCode(store.acknowledgeIncident(incident.id, "someone else"), "INCIDENT_NOT_OPEN");
        expect((await store.openIncident(opening())).opened, "an acknowledged incident still collects evidence").to.equal(false);
        const resolved = await store.resolveIncident(incident.id, "lead", "key rotated");
        expect(resolved).to.deep.include({ state: "resolved", resolvedBy: "lead", note: "key rotated" });
        await expectCode(store.resolveIncident(incident.id, "lead"), "INCIDENT_NOT_OPEN");
        await expectCode(store.acknowledgeIncident("inc_missing", "x"), "NOT_FOUND");
        const next = await store.openIncident(opening());
        expect(next.opened).to.equal(true);
        expect(next.incident.id).to.not.equal(incident.id);
        const kinds = (await store.listAudit(0, 100)).map((r) => r.kind);
        expect(kinds).to.deep.equal(["incident.opened", "incident.acknowledged", "incident.evidence", "incident.resolved", "incident.opened"]);
        expect((await store.verifyAudit()).ok).to.equal(true);
      });

      it("lists newest first by wallet, state and rule, and counts by rule and state", async function () {
        const a = await store.openIncident(opening());
        await new Promise((r) => setTimeout(r, 5));
        const b = await store.openIncident(opening({ wallet: OTHER_WALLET, rule: "control_change", actionKind: "flag" }));
        await store.acknowledgeIncident(a.incident.id, "x");
        expect((await store.listIncidents()).map((i) => i.id)).to.deep.equal([b.incident.id, a.incident.id]);
        expect((await store.listIncidents({ wallet: WALLET })).map((i) => i.id)).to.deep.equal([a.incident.id]);
        expect((await store.listIncidents({ state: "open" })).map((i) => i.id)).to.deep.equal([b.incident.id]);
        expect((await store.listIncidents({ rule: "control_change" })).map((i) => i.id)).to.deep.equal([b.incident.id]);
        expect((await store.listIncidents({ limit: 1 })).map((i) => i.id)).to.deep.equal([b.incident.id]);
        expect(await store.listIncidents({ chainId: 1 })).to.deep.equal([]);
        const counts = (await store.countIncidents()).map((c) => `${c.rule}/${c.state}=${c.count}`).sort();
        expect(counts).to.deep.equal(["control_change/open=1", "unattributed_execution/acknowledged=1"]);
      });
    });
    // --- end Incidents ---

    // --- executions (the monitor's records; issue 10 part A) ---
    describe("executions", function () {
      const TX = (n: number) => `0x${n.toString(16).padStart(64, "a")}`;
      const H = (n: number) => `0x${n.toString(16).padStart(64, "b")}`;
      function execution(d: { id: string; digest: string } | null, block: number, logIndex = 0) {
        return {
          chainId: 31337,
          wallet: WALLET,
          digest: d?.digest ?? `0x${"d".repeat(64)}`,
          sessionKey: KEY,
          nonce: "1",
          txHash: TX(block * 10 + logIndex),
          blockNumber: BigInt(block),
          blockHash: H(block),
          logIndex,
          relayer: ALICE,
          gasUsed: "21000",
          decisionId: d?.id ?? null,
          changes: [{ account: ALICE, asset: "native", delta: "5" }],
          simulated: d ? [{ account: ALICE, asset: "native", delta: "5" }] : null,
          matchesSimulation: d ? true : null,
        };
      }
      const block = (number: number, extra: Partial<import("../../src/store").BlockRecord> = {}) => ({
        chainId: 31337,
        follower: "monitor",
        number: BigInt(number),
        hash: H(number),
        parentHash: H(number - 1),
        executions: [],
        ownerExecutions: [],
        controlChanges: [],
        ...extra,
      });

      it("records a block's findings, their audit records and the position in one step", async function () {
        const d = await store.insert(decision({ nonce: "11" }), {});
        await store.recordBlock(block(10));
        await store.recordBlock(
          block(11, {
            executions: [execution(d, 11, 2)],
            ownerExecutions: [{ chainId: 31337, wallet: WALLET, target: ALICE, value: "7", selector: "0x00000000", txHash: TX(1), blockNumber: 11n, logIndex: 3 }],
            controlChanges: [{ chainId: 31337, wallet: WALLET, event: "GuardianAdded", args: { guardian: ALICE }, txHash: TX(2), blockNumber: 11n, logIndex: 4 }],
          }),
        );
        expect(await store.position(31337, "monitor")).to.deep.equal({ blockNumber: 11n, blockHash: H(11) });
        expect(await store.executionsOfDecision(d.id)).to.deep.equal([execution(d, 11, 2)]);
        expect(await store.executionByDigest(31337, WALLET, d.digest)).to.deep.equal(execution(d, 11, 2));
        expect((await store.get(d.id))?.txHash, "the decision learns its transaction").to.equal(TX(112));
        expect((await store.ownerExecutions(31337, WALLET)).map((o) => [o.value, o.blockNumber])).to.deep.equal([["7", 11n]]);
        expect((await store.controlChanges(31337, WALLET)).map((c) => [c.event, c.args])).to.deep.equal([["GuardianAdded", { guardian: ALICE }]]);
        const audit = (await store.listAudit(0, 10)).filter((r) => r.kind !== "decision");
        expect(audit.map((r) => [r.kind, r.ref])).to.deep.equal([
          ["executed", d.id],
          ["owner.executed", WALLET],
          ["control.changed", WALLET],
        ]);
        expect(audit[0]!.payload).to.deep.include({ digest: d.digest, decisionId: d.id, txHash: TX(112), blockNumber: "11", matchesSimulation: true });
        expect((await store.recentBlocks(31337, "monitor", 5)).map((b) => b.number)).to.deep.equal([11n, 10n]);
        expect(await store.verifyAudit()).to.deep.include({ ok: true });
      });

      it("refuses a block that does not follow the position with POSITION_CONFLICT, and keeps nothing of it", async function () {
        await store.recordBlock(block(10));
        await store.recordBlock(block(11));
        await expectCode(store.recordBlock(block(11, { executions: [execution(null, 11)] })), "POSITION_CONFLICT");
        await expectCode(store.recordBlock(block(12, { parentHash: H(99) })), "POSITION_CONFLICT");
        expect(await store.executionByDigest(31337, WALLET, `0x${"d".repeat(64)}`)).to.equal(undefined);
        expect(await store.position(31337, "monitor")).to.deep.equal({ blockNumber: 11n, blockHash: H(11) });
      });

      it("undoes the blocks from a number on: records deleted, 'reverted' audit records appended, position moved back", async function () {
        const d = await store.insert(decision({ nonce: "12" }), {});
        await store.recordBlock(block(10));
        await store.recordBlock(block(11, { executions: [execution(null, 11)] }));
        await store.recordBlock(block(12, { executions: [execution(d, 12)] }));
        await store.recordBlock(
          block(13, { ownerExecutions: [{ chainId: 31337, wallet: WALLET, target: ALICE, value: "1", selector: "0x00000000", txHash: TX(3), blockNumber: 13n, logIndex: 0 }] }),
        );
        const undone = await store.undoFrom(31337, "monitor", 12n, { blockNumber: 11n, blockHash: H(11) });
        expect(undone.executions.map((e) => e.decisionId)).to.deep.equal([d.id]);
        expect(undone.ownerExecutions).to.have.length(1);
        expect(await store.executionsOfDecision(d.id)).to.deep.equal([]);
        expect((await store.get(d.id))?.txHash).to.equal(null);
        expect(await store.ownerExecutions(31337, WALLET)).to.deep.equal([]);
        expect(await store.executionByDigest(31337, WALLET, `0x${"d".repeat(64)}`), "block 11 stays").to.not.equal(undefined);
        expect(await store.position(31337, "monitor")).to.deep.equal({ blockNumber: 11n, blockHash: H(11) });
        expect((await store.recentBlocks(31337, "monitor", 10)).map((b) => b.number)).to.deep.equal([11n, 10n]);
        const kinds = (await store.listAudit(0, 20)).map((r) => r.kind);
        expect(kinds.slice(-2)).to.deep.equal(["execution.reverted", "owner.execution.reverted"]);
        expect(kinds.filter((k) => k === "executed"), "the audit log keeps what it said").to.have.length(2);
        // The replacement block 12 follows the ancestor.
        await store.recordBlock(block(12, { hash: H(212), executions: [execution(d, 12, 1)] }));
        expect((await store.executionsOfDecision(d.id)).map((e) => e.blockHash)).to.deep.equal([H(212)]);
        expect(await store.verifyAudit()).to.deep.include({ ok: true });
      });

      it("lists a chain's executions from a block on, every wallet, in chain order (the rules reconcile from it)", async function () {
        const d = await store.insert(decision({ nonce: "14" }), {});
        await store.recordBlock(block(10));
        await store.recordBlock(block(11, { executions: [execution(null, 11, 5)] }));
        await store.recordBlock(block(12, { executions: [{ ...execution(d, 12, 1), matchesSimulation: false }] }));
        expect((await store.executionsFrom(31337, 11n)).map((e) => [e.blockNumber, e.decisionId, e.matchesSimulation])).to.deep.equal([
          [11n, null, null],
          [12n, d.id, false],
        ]);
        expect((await store.executionsFrom(31337, 12n)).map((e) => e.blockNumber)).to.deep.equal([12n]);
        expect(await store.executionsFrom(31337, 13n)).to.deep.equal([]);
        expect(await store.executionsFrom(1, 0n), "another chain's are not listed").to.deep.equal([]);
      });

      it("forgets block hashes below the reorg window", async function () {
        for (let n = 1; n <= 6; n++) await store.recordBlock(block(n, { forgetBelow: BigInt(n - 2) }));
        expect((await store.recentBlocks(31337, "monitor", 10)).map((b) => b.number)).to.deep.equal([6n, 5n, 4n]);
      });
    });
    // --- end executions ---

    // --- approvals (issue 11) ---
    describe("approval requests and votes", function () {
      let records: ApprovalRecords;
      beforeEach(function () {
        records = store;
      });
      const request = { rule: "two-people", approvalsRequired: 2, reversible: false, description: "two look", expiresAt: "2030-01-01T00:00:00.000Z" };
      const vote = (decisionId: string, approver: string, shown = "s1") => ({ decisionId, approver, shown, at: new Date().toISOString() });

      it("commits a pending decision's approval request with it", async function () {
        const pending = await store.insert(decision({ status: "pending_approval", nonce: "41", approval: request }), {});
        expect(await records.approvalRequest(pending.id)).to.deep.equal({ decisionId: pending.id, ...request });
        const approved = await store.insert(decision({ nonce: "42" }), {});
        expect(await records.approvalRequest(approved.id)).to.equal(undefined);
      });

      it("counts one vote per approver and figures shown, with a decision.vote audit record each", async function () {
        const pending = await store.insert(decision({ status: "pending_approval", nonce: "43", approval: request }), {});
        expect((await records.addApprovalVote(vote(pending.id, "alice"), { rule: "two-people" })).added).to.equal(true);
        const again = await records.addApprovalVote(vote(pending.id, "alice"), {});
        expect(again.added).to.equal(false);
        expect(again.votes.map((v) => v.approver)).to.deep.equal(["alice"]);
        const other = await records.addApprovalVote(vote(pending.id, "bob"), {});
        expect(other.votes.map((v) => v.approver)).to.deep.equal(["alice", "bob"]);
        expect((await records.addApprovalVote(vote(pending.id, "alice", "s2"), {})).added).to.equal(true);
        const audit = (await store.listAudit(0, 100)).filter((r) => r.kind === "decision.vote");
        expect(audit.map((r) => (r.payload as { approver: string }).approver)).to.deep.equal(["alice", "bob", "alice"]);
        expect((await store.verifyAudit()).ok).to.equal(true);
      });

      it("refuses a vote on a decision that is not pending (NOT_PENDING) or unknown (NOT_FOUND)", async function () {
        const pending = await store.insert(decision({ status: "pending_approval", nonce: "44", approval: request }), {});
        await store.resolvePending(pending.id, { status: "rejected", reasons: [], simulation: null, cosignerSignature: null, decidedBy: "bob" }, {});
        await expectCode(records.addApprovalVote(vote(pending.id, "alice"), {}), "NOT_PENDING");
        await expectCode(records.addApprovalVote(vote("op_unknown", "alice"), {}), "NOT_FOUND");
        expect(await records.approvalVotes(pending.id)).to.deep.equal([]);
      });

      it("lists the decisions people settled, newest first, not those the policy decided", async function () {
        const first = await store.insert(decision({ status: "pending_approval", nonce: "45", approval: request }), {});
        const second = await store.insert(decision({ status: "pending_approval", nonce: "46", approval: request }), {});
        await store.insert(decision({ nonce: "47" }), {});
        await store.resolvePending(first.id, { status: "rejected", reasons: [], simulation: null, cosignerSignature: null, decidedBy: "bob" }, {});
        await new Promise((r) => setTimeout(r, 5));
        await store.resolvePending(second.id, { status: "approved", reasons: [], simulation: null, cosignerSignature: "0xsig", decidedBy: "alice, bob" }, {});
        expect((await records.listReviewed(31337, 10)).map((d) => d.id)).to.deep.equal([second.id, first.id]);
      });
    });
    // --- end approvals ---

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
