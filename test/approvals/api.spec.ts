/**
 * People in the loop over HTTP, against a real local chain: the approval policy file, named approvers and quorums,
 * every transition of a pending operation (approved, rejected, expired; 409 saying which), re-simulation at approval,
 * the page's API and the approval-fatigue metrics.
 */
import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { hashToken } from "../../src/approvals/approvers";
import { decisionSchema, errorBodySchema } from "../../src/http/schemas";
import {
  bearer,
  call,
  eventually,
  executeOnChain,
  signedRead,
  startHttpHarness,
  usdc,
  usdcTransfer,
  walletTx,
  withServer,
  type HttpHarness,
} from "../support/http";

const bob = devAccount(LOCAL_ROLES.bob).address;
const ALICE_OPS = "alice-ops-token-0123456789abcdef";
const BOB_OPS = "bob-ops-token-0123456789abcdef00";

function expectError(answer: { status: number; body: unknown }, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).to.equal(status);
  const body = errorBodySchema.parse(answer.body);
  expect(body.error.code).to.equal(code);
  return body.error;
}

describe("people in the loop: approval policy, approvers, quorum, expiry (HTTP)", function () {
  this.timeout(180_000);
  let h: HttpHarness;
  const post = (path: string, body?: unknown, headers?: Record<string, string>) => call(h.url, "POST", path, body, headers);
  const get = (path: string, headers?: Record<string, string>) => call(h.url, "GET", path, undefined, headers);

  before(async function () {
    const dir = mkdtempSync(join(tmpdir(), "countersign-approvals-"));
    h = await startHttpHarness((d) => {
      const USDC = d.tokens.USDC!;
      const policy = {
        version: 1,
        rules: [
          { name: "deny-huge", description: "more than 450 USDC", reversible: false, match: { asset: USDC, amount: { above: usdc(450).toString() } }, decide: "deny" },
          { name: "two-people", description: "more than 300 USDC", reversible: false, match: { asset: USDC, amount: { above: usdc(300).toString() } }, decide: { approve: 2 } },
          { name: "one-person", description: "more than 100 USDC", reversible: false, match: { asset: USDC, amount: { above: usdc(100).toString() } }, decide: { approve: 1 } },
          { name: "small", description: "the rest", reversible: false, match: {}, decide: "auto" },
        ],
      };
      writeFileSync(join(dir, "policy.json"), JSON.stringify(policy));
      writeFileSync(
        join(dir, "approvers.json"),
        JSON.stringify({ approvers: [{ name: "alice-ops", tokenSha256: hashToken(ALICE_OPS) }, { name: "bob-ops", tokenSha256: hashToken(BOB_OPS) }] }),
      );
      return { APPROVAL_POLICY_FILE: join(dir, "policy.json"), APPROVERS_FILE: join(dir, "approvers.json") };
    });
  });
  after(async function () {
    await h?.stop();
  });

  /** Proposes a USDC transfer to bob and checks its status code. */
  async function propose(amount: number, status: number) {
    const op = await usdcTransfer(h, bob, usdc(amount));
    const res = await post("/v1/operations", op);
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    return { op, decision: res.status === 400 ? undefined : decisionSchema.parse(res.body) };
  }

  describe("the policy", function () {
    it("is shown at GET /v1/policy to approvers only", async function () {
      expectError(await get("/v1/policy"), 401, "UNAUTHORIZED");
      const res = await get("/v1/policy", bearer(ALICE_OPS));
      expect(res.status).to.equal(200);
      expect(res.body.source).to.match(/^file:/);
      expect(res.body.rules.map((r: { name: string }) => r.name)).to.deep.equal(["deny-huge", "two-people", "one-person", "small"]);
      expect(res.body.rules[1]).to.include({ summary: "approve 2", reversible: false });
      expect(res.body.noMatch.summary).to.equal("approve 1");
    });

    it("signs what an auto rule matches without a person", async function () {
      const { decision } = await propose(50, 200);
      expect(decision!.cosignerSignature).to.match(/^0x/);
    });

    it("refuses what a deny rule matches with POLICY_DENIED, naming the rule", async function () {
      const { decision } = await propose(460, 422);
      expect(decision!.status).to.equal("rejected");
      expect(decision!.reasons[0]!.code).to.equal("POLICY_DENIED");
      expect(decision!.reasons[0]!.message).to.contain("rule deny-huge");
    });
  });

  describe("one approver", function () {
    it("pending → approved: re-simulated, co-signed, executes on chain; the approver's name is in the decision and the audit chain", async function () {
      const { op, decision: pending } = await propose(150, 202);
      expect(pending!.reasons[0]!.message).to.contain("rule one-person");
      const res = await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(ALICE_OPS));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const decision = decisionSchema.parse(res.body);
      expect(decision.status).to.equal("approved");
      expect((await executeOnChain(h, op, decision.cosignerSignature as `0x${string}`)).status).to.equal("success");
      const view = await get(`/v1/operations/${pending!.id}`, bearer(BOB_OPS));
      expect(view.body.decidedBy).to.equal("alice-ops");
      const audit = (await get("/v1/audit?limit=500", bearer(h.token))).body.records as { kind: string; ref: string; payload: Record<string, unknown> }[];
      const mine = audit.filter((r) => r.ref === pending!.id);
      expect(mine.map((r) => r.kind)).to.deep.equal(["decision", "decision.vote", "decision.approved"]);
      expect(mine[1]!.payload).to.include({ approver: "alice-ops", rule: "one-person" });
      expect(mine[2]!.payload).to.include({ decidedBy: "alice-ops" });
      expect((mine[0]!.payload.policy as { rule: string }).rule).to.equal("one-person");
    });

    it("withholds the signature when the breaker trips while the approval is re-simulated and recorded", async function () {
      const { decision: pending } = await propose(150, 202);
      const { store, engine } = h.service.cosigner;
      const wallet = h.deployment.wallet;
      const resolve = store.resolvePending;
      // The monitor trips the breaker for this wallet exactly while the person's approval is being recorded.
      store.resolvePending = async (...args: Parameters<typeof resolve>) => {
        engine.stops.stop(wallet, null, "inc_during_approval");
        return resolve.apply(store, args);
      };
      try {
        const res = await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(ALICE_OPS));
        expect(res.body.cosignerSignature, JSON.stringify(res.body)).to.equal(undefined);
        expect([res.status, res.body.error?.code]).to.deep.equal([503, "WALLET_PAUSED"]);
        const read = await get(`/v1/operations/${pending!.id}`, bearer(BOB_OPS));
        expect([read.body.status, read.body.cosignerSignature]).to.deep.equal(["approved", undefined]);
      } finally {
        store.resolvePending = resolve;
        engine.stops.lift(wallet);
      }
    });

    it("pending → rejected with the reason; approving it then answers 409 NOT_PENDING saying it was rejected", async function () {
      const { decision: pending } = await propose(120, 202);
      const res = await post(`/v1/operations/${pending!.id}/reject`, { note: "not in the plan" }, bearer(BOB_OPS));
      expect(res.status).to.equal(200);
      expect(res.body.reasons[0]).to.include({ code: "REJECTED_BY_APPROVER" });
      expect(res.body.reasons[0].message).to.contain("bob-ops").and.contain("not in the plan");
      const error = expectError(await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(ALICE_OPS)), 409, "NOT_PENDING");
      expect(error.details).to.include({ state: "rejected" });
      expect(error.message).to.contain("was rejected");
    });

    it("approving or rejecting an approved one answers 409 NOT_PENDING saying it was already approved", async function () {
      const { decision: pending } = await propose(110, 202);
      expect((await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(h.token))).status).to.equal(200);
      for (const action of ["approve", "reject"]) {
        const error = expectError(await post(`/v1/operations/${pending!.id}/${action}`, {}, bearer(BOB_OPS)), 409, "NOT_PENDING");
        expect(error.details).to.include({ state: "approved" });
        expect(error.message).to.contain("was already approved");
      }
    });

    it("settles rejected when the wallet changed between proposal and approval (the recipient was removed)", async function () {
      const { decision: pending } = await propose(130, 202);
      await walletTx(h, "setRecipient", [bob, false]);
      try {
        await eventually(async () => !(await get(`/v1/wallets/${h.deployment.wallet}`)).body.recipients.includes(bob), "the fork to see bob removed");
        const res = await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(ALICE_OPS));
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body.status).to.equal("rejected");
        expect(res.body.cosignerSignature).to.equal(undefined);
        expect(res.body.reasons.map((r: { code: string }) => r.code)).to.include("RECIPIENT_NOT_ALLOWED");
      } finally {
        await walletTx(h, "setRecipient", [bob, true]);
        await eventually(async () => (await get(`/v1/wallets/${h.deployment.wallet}`)).body.recipients.includes(bob), "the fork to see bob back");
      }
    });
  });

  describe("a quorum of two", function () {
    it("needs two distinct approvers: the same one twice is 409 DUPLICATE_APPROVAL and does not count", async function () {
      const { op, decision: pending } = await propose(350, 202);
      const first = await post(`/v1/operations/${pending!.id}/approve`, { approver: "alice at her desk" }, bearer(ALICE_OPS));
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expect(first.body.status).to.equal("pending_approval");
      expect(first.body.cosignerSignature).to.equal(undefined);
      // Another label in the body is still the same token: the same approver.
      const again = expectError(await post(`/v1/operations/${pending!.id}/approve`, { approver: "someone else" }, bearer(ALICE_OPS)), 409, "DUPLICATE_APPROVAL");
      expect(again.details).to.deep.include({ approvals: ["alice-ops"], required: 2 });
      const status = (await get("/v1/approvals", bearer(BOB_OPS))).body.items.find((i: { id: string }) => i.id === pending!.id);
      expect(status.approvals.map((a: { approver: string }) => a.approver)).to.deep.equal(["alice-ops"]);
      const second = await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(BOB_OPS));
      expect(second.status, JSON.stringify(second.body)).to.equal(200);
      expect(second.body.status).to.equal("approved");
      expect((await executeOnChain(h, op, second.body.cosignerSignature)).status).to.equal("success");
      expect((await get(`/v1/operations/${pending!.id}`, bearer(h.token))).body.decidedBy).to.equal("alice-ops, bob-ops");
    });

    it("counts the APPROVER_TOKEN's holder as one more approver", async function () {
      const { decision: pending } = await propose(320, 202);
      expect((await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(h.token))).body.status).to.equal("pending_approval");
      const res = await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(ALICE_OPS));
      expect(res.body.status).to.equal("approved");
      expect((await get(`/v1/operations/${pending!.id}`, bearer(h.token))).body.decidedBy).to.equal("approver, alice-ops");
    });

    it("lets one rejection end it, even after one approval", async function () {
      const { decision: pending } = await propose(310, 202);
      await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(ALICE_OPS));
      const res = await post(`/v1/operations/${pending!.id}/reject`, { note: "no" }, bearer(BOB_OPS));
      expect(res.body.status).to.equal("rejected");
      expectError(await post(`/v1/operations/${pending!.id}/approve`, {}, bearer(BOB_OPS)), 409, "NOT_PENDING");
    });
  });

  describe("who may approve", function () {
    it("never the agent's session key: a read signed by it gets 401 on approve and reject", async function () {
      const { decision: pending } = await propose(140, 202);
      for (const action of ["approve", "reject"]) {
        expectError(await post(`/v1/operations/${pending!.id}/${action}`, {}, await signedRead(pending!.id)), 401, "UNAUTHORIZED");
      }
      expect((await get(`/v1/operations/${pending!.id}`, await signedRead(pending!.id))).body.status).to.equal("pending_approval");
    });

    it("every configured approver passes the operator routes (audit verify)", async function () {
      for (const token of [ALICE_OPS, BOB_OPS, h.token]) expect((await get("/v1/audit/verify", bearer(token))).status).to.equal(200);
      expectError(await get("/v1/audit/verify", bearer("not-a-token-of-anyone-at-all")), 401, "UNAUTHORIZED");
    });
  });

  describe("the page's API and the metrics", function () {
    it("lists pending operations newest first with the rule, approvals so far, budget after, expiry and names", async function () {
      const older = (await propose(105, 202)).decision!;
      const newer = (await propose(106, 202)).decision!;
      const res = await get("/v1/approvals?view=pending", bearer(ALICE_OPS));
      expect(res.status).to.equal(200);
      expect(res.body.approver).to.equal("alice-ops");
      const ids = res.body.items.map((i: { id: string }) => i.id);
      expect(ids.indexOf(newer.id)).to.be.lessThan(ids.indexOf(older.id));
      const item = res.body.items.find((i: { id: string }) => i.id === newer.id);
      expect(item.rule).to.deep.equal({ name: "one-person", description: "more than 100 USDC", reversible: false, approvalsRequired: 1 });
      expect(item.intent).to.include({ kind: "transfer", amount: usdc(106).toString() });
      const budget = item.budget[0];
      expect(BigInt(budget.available) - BigInt(budget.after)).to.equal(usdc(106));
      expect(Date.parse(item.expiresAt)).to.be.greaterThan(Date.now());
      expect(res.body.names[bob]).to.equal("bob");
      expect(res.body.assets[h.deployment.tokens.USDC!]).to.deep.equal({ symbol: "USDC", decimals: 6 });
      expectError(await get("/v1/approvals?view=everything", bearer(ALICE_OPS)), 400, "INVALID_REQUEST");
      expectError(await get("/v1/approvals"), 401, "UNAUTHORIZED");
      for (const d of [older, newer]) await post(`/v1/operations/${d.id}/reject`, { note: "cleanup" }, bearer(ALICE_OPS));
    });

    it("counts operations per rule and outcome, approvals, and approvals given in under 5 seconds", async function () {
      const text = (await get("/metrics")).text;
      expect(text).to.match(/countersign_policy_decisions_total\{rule="one-person",outcome="person"\} [1-9]/);
      expect(text).to.match(/countersign_policy_decisions_total\{rule="small",outcome="auto"\} [1-9]/);
      expect(text).to.match(/countersign_policy_decisions_total\{rule="deny-huge",outcome="refused"\} 1/);
      expect(text).to.match(/countersign_approval_outcomes_total\{rule="two-people",outcome="approved"\} 2/);
      expect(text).to.match(/countersign_approval_outcomes_total\{rule="one-person",outcome="rejected"\} [1-9]/);
      expect(text).to.match(/countersign_approvals_under_5s_total\{rule="two-people"\} [1-9]/);
      expect(text).to.contain("countersign_approval_decide_seconds_bucket");
    });

    it("serves the page at /ui with a content security policy and no inline script", async function () {
      const res = await call(h.url, "GET", "/ui");
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.contain("text/html");
      expect(res.headers.get("content-security-policy")).to.contain("script-src 'self'");
      expect(res.text).to.contain('src="/ui/app.js"').and.not.match(/<script>[^<]/);
      expect((await call(h.url, "GET", "/ui/app.js")).status).to.equal(200);
    });
  });

  describe("expiry", function () {
    it("expires a pending operation after PENDING_TTL_SECONDS: approving or rejecting it answers 409 saying it expired", async function () {
      await withServer(h, { ...h.config, PENDING_TTL_SECONDS: 1 }, async (url) => {
        const op = await usdcTransfer(h, bob, usdc(115));
        const proposed = await call(url, "POST", "/v1/operations", op);
        expect(proposed.status).to.equal(202);
        const id = proposed.body.id as string;
        await new Promise((r) => setTimeout(r, 1_500));
        const error = expectError(await call(url, "POST", `/v1/operations/${id}/approve`, {}, bearer(ALICE_OPS)), 409, "NOT_PENDING");
        expect(error.details).to.include({ state: "expired" });
        expect(error.message).to.contain("expired at");
        expect(expectError(await call(url, "POST", `/v1/operations/${id}/reject`, {}, bearer(ALICE_OPS)), 409, "NOT_PENDING").details).to.include({ state: "expired" });
        const decision = (await call(url, "GET", `/v1/operations/${id}`, undefined, bearer(ALICE_OPS))).body;
        expect(decision.status).to.equal("rejected");
        expect(decision.reasons[0].code).to.equal("APPROVAL_EXPIRED");
        const pending = (await call(url, "GET", "/v1/approvals", undefined, bearer(ALICE_OPS))).body.items.map((i: { id: string }) => i.id);
        expect(pending).to.not.include(id);
        const history = (await call(url, "GET", "/v1/approvals?view=history", undefined, bearer(ALICE_OPS))).body.items;
        expect(history.find((i: { id: string }) => i.id === id).state).to.equal("expired");
      });
    });

    it("never lets a pending operation outlive its deadline", async function () {
      // The deadline (at most MAX_TTL_SECONDS = 300 s ahead) comes before the 15 minutes of PENDING_TTL_SECONDS.
      const op = await usdcTransfer(h, bob, usdc(116), { deadline: BigInt(Math.floor(Date.now() / 1000)) + 200n });
      const proposed = await post("/v1/operations", op);
      expect(proposed.status, JSON.stringify(proposed.body)).to.equal(202);
      const item = (await get("/v1/approvals", bearer(ALICE_OPS))).body.items.find((i: { id: string }) => i.id === proposed.body.id);
      expect(Date.parse(item.expiresAt)).to.equal(Number(op.deadline) * 1000);
      await post(`/v1/operations/${proposed.body.id}/reject`, { note: "cleanup" }, bearer(ALICE_OPS));
    });
  });
});
