import { expect } from "chai";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { swapCalls } from "../../src/client";
import { loadConfig } from "../../src/config";
import { Guardian } from "../../src/monitor/guardian";
import {
  auditPageSchema,
  auditVerificationSchema,
  decisionSchema,
  errorBodySchema,
  healthSchema,
  pauseResultSchema,
  walletViewSchema,
} from "../../src/http/schemas";
import {
  balanceOf,
  bearer,
  call,
  erc20Transfer,
  eventually,
  executeOnChain,
  signedOperation,
  signedRead,
  startHttpHarness,
  usdc,
  usdcTransfer,
  walletRead,
  walletTx,
  type HttpHarness,
  withServer,
} from "../support/http";
import { highS } from "../support/signatures";

const alice = devAccount(LOCAL_ROLES.alice).address;
const bob = devAccount(LOCAL_ROLES.bob).address;
const mallory = devAccount(LOCAL_ROLES.mallory).address;

/** Asserts an error body with `code`; returns it. */
function expectError(answer: { status: number; body: unknown }, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).to.equal(status);
  const body = errorBodySchema.parse(answer.body);
  expect(body.error.code).to.equal(code);
  return body.error;
}

describe("co-signer HTTP API (end to end)", function () {
  this.timeout(180_000);
  let h: HttpHarness;
  const post = (path: string, body?: unknown, headers?: Record<string, string>) => call(h.url, "POST", path, body, headers);
  const get = (path: string, headers?: Record<string, string>) => call(h.url, "GET", path, undefined, headers);

  before(async function () {
    // Transfers of more than 300 USDC go to a person.
    h = await startHttpHarness((d) => ({ REVIEW_THRESHOLDS: JSON.stringify({ [d.tokens.USDC!]: usdc(300).toString() }) }));
  });
  after(async function () {
    await h?.stop();
  });

  describe("POST /v1/operations", function () {
    it("answers 200 with a co-signature when the simulated changes match the intent, and the wallet executes it on chain", async function () {
      const op = await usdcTransfer(h, alice, usdc(10));
      const res = await post("/v1/operations", op);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const decision = decisionSchema.parse(res.body);
      expect(decision.status).to.equal("approved");
      expect(decision.cosignerSignature).to.match(/^0x[0-9a-f]{130}$/);
      expect(decision.simulation?.success).to.equal(true);
      const before = await balanceOf(h, h.deployment.tokens.USDC!, alice);
      const receipt = await executeOnChain(h, op, decision.cosignerSignature as `0x${string}`);
      expect(receipt.status).to.equal("success");
      expect(await balanceOf(h, h.deployment.tokens.USDC!, alice)).to.equal(before + usdc(10));
    });

    it("answers 202 pending_approval above the review threshold", async function () {
      const res = await post("/v1/operations", await usdcTransfer(h, bob, usdc(400)));
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      const decision = decisionSchema.parse(res.body);
      expect(decision.status).to.equal("pending_approval");
      expect(decision.reasons.map((r) => r.code)).to.deep.equal(["ABOVE_REVIEW_THRESHOLD"]);
      expect(decision.cosignerSignature).to.equal(undefined);
    });

    it("answers 422 with the decision and its reason code when the recipient is not allowlisted", async function () {
      const res = await post("/v1/operations", await usdcTransfer(h, mallory, usdc(5)));
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      const decision = decisionSchema.parse(res.body);
      expect(decision.status).to.equal("rejected");
      expect(decision.reasons.map((r) => r.code)).to.include("RECIPIENT_NOT_ALLOWED");
      expect(decision.cosignerSignature).to.equal(undefined);
    });

    it("answers 422 when the calls do something other than the intent says", async function () {
      const token = h.deployment.tokens.USDC!;
      const op = await signedOperation(h, [erc20Transfer(token, alice, usdc(20))], { kind: "transfer", asset: token, to: alice, amount: usdc(2).toString() });
      const res = await post("/v1/operations", op);
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      const decision = decisionSchema.parse(res.body);
      expect(decision.status).to.equal("rejected");
      expect(decision.reasons.map((r) => r.code)).to.deep.equal(["INTENT_MISMATCH"]);
      expect(decision.reasons[0]!.message).to.equal(`intent says the wallet sends ${usdc(2)} of ${token}; the simulation shows it sends ${usdc(20)}`);
      expect(decision.cosignerSignature).to.equal(undefined);
    });

    it("answers 400 naming the field when a value is malformed", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      const error = expectError(await post("/v1/operations", { ...op, nonce: "-1" }), 400, "INVALID_REQUEST");
      const issues = (error.details as { issues: { path: string; message: string }[] }).issues;
      expect(issues.map((i) => i.path)).to.include("nonce");
    });

    it("answers 400 saying what to send when callGasLimit and bounds are missing (a version-1 request)", async function () {
      const { callGasLimit: _gas, bounds: _bounds, ...v1 } = await usdcTransfer(h, alice, usdc(1));
      const error = expectError(await post("/v1/operations", v1), 400, "INVALID_REQUEST");
      const issues = (error.details as { issues: { path: string; message: string }[] }).issues;
      const gas = issues.find((i) => i.path === "callGasLimit");
      const bounds = issues.find((i) => i.path === "bounds");
      expect(gas?.message, JSON.stringify(issues)).to.contain("required (operation version 2)");
      expect(gas?.message).to.contain('"1000000"');
      expect(bounds?.message, JSON.stringify(issues)).to.contain("required (operation version 2)");
      expect(bounds?.message).to.contain("deriveBounds");
    });

    it("answers 400 naming callGasLimit when it is zero or not a decimal string", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      for (const callGasLimit of ["0", "1e6", 1000000]) {
        const error = expectError(await post("/v1/operations", { ...op, callGasLimit }), 400, "INVALID_REQUEST");
        expect((error.details as { issues: { path: string }[] }).issues.map((i) => i.path), String(callGasLimit)).to.deep.equal(["callGasLimit"]);
      }
    });

    it("answers 400 naming the field of a malformed bound", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      const bound = { asset: h.deployment.tokens.USDC!, account: h.deployment.wallet, minDelta: "-1.5" };
      const error = expectError(await post("/v1/operations", { ...op, bounds: [bound] }), 400, "INVALID_REQUEST");
      expect((error.details as { issues: { path: string }[] }).issues.map((i) => i.path)).to.deep.equal(["bounds.0.minDelta"]);
    });

    it("answers 200 for a swap carrying the bounds derived from its intent, and the wallet executes it within them", async function () {
      const { USDC: token, WETH: weth } = h.deployment.tokens as { USDC: `0x${string}`; WETH: `0x${string}` };
      const intent = { kind: "swap", sell: { asset: token, maxAmount: usdc(40).toString() }, buy: { asset: weth, minAmount: (9n * 10n ** 15n).toString() } };
      const op = await signedOperation(h, swapCalls({ sell: { asset: token, maxAmount: usdc(40) }, buy: { asset: weth, minAmount: 9n * 10n ** 15n }, via: { dex: h.deployment.dex } }), intent);
      expect(op.bounds).to.deep.equal([
        { asset: token, account: h.deployment.wallet, minDelta: (-usdc(40)).toString() },
        { asset: weth, account: h.deployment.wallet, minDelta: (9n * 10n ** 15n).toString() },
      ]);
      const res = await post("/v1/operations", op);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const receipt = await executeOnChain(h, op, res.body.cosignerSignature);
      expect(receipt.status).to.equal("success");
    });

    it("answers 422 BOUNDS_MISMATCH for a swap signed without bounds", async function () {
      const { USDC: token, WETH: weth } = h.deployment.tokens as { USDC: `0x${string}`; WETH: `0x${string}` };
      const intent = { kind: "swap", sell: { asset: token, maxAmount: usdc(40).toString() }, buy: { asset: weth, minAmount: "1" } };
      const calls = swapCalls({ sell: { asset: token, maxAmount: usdc(40) }, buy: { asset: weth, minAmount: 1n }, via: { dex: h.deployment.dex } });
      const res = await post("/v1/operations", await signedOperation(h, calls, intent, { bounds: [] }));
      expectError(res, 422, "BOUNDS_MISMATCH");
      expect(res.body.cosignerSignature).to.equal(undefined);
    });

    it("answers 400 naming an unknown field", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      const error = expectError(await post("/v1/operations", { ...op, sneaky: true }), 400, "INVALID_REQUEST");
      expect(error.message).to.contain("sneaky");
    });

    it("answers 400 naming an unknown field inside the intent", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      const error = expectError(await post("/v1/operations", { ...op, intent: { ...op.intent, spender: bob } }), 400, "INVALID_REQUEST");
      expect(error.message).to.contain("spender");
      expect((error.details as { issues: { path: string }[] }).issues[0]!.path).to.equal("intent");
    });

    it("answers 400 when the body is not JSON", async function () {
      expectError(await post("/v1/operations", "{not json"), 400, "INVALID_REQUEST");
    });

    it("answers 400 when there is no body", async function () {
      expectError(await post("/v1/operations"), 400, "INVALID_REQUEST");
    });

    it("answers 415 when the body is not application/json", async function () {
      expectError(await post("/v1/operations", "nonce=1", { "content-type": "application/x-www-form-urlencoded" }), 415, "UNSUPPORTED_MEDIA_TYPE");
    });

    it("answers 413 when the body is larger than 64 KiB", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      const big = { ...op, intent: { ...op.intent, memo: "x".repeat(70 * 1024) } };
      const error = expectError(await post("/v1/operations", big), 413, "BODY_TOO_LARGE");
      expect(error.details).to.deep.equal({ limit: 65536 });
    });

    it("answers 401 UNKNOWN_SESSION_KEY when the agent signature is not a session key's", async function () {
      const op = await usdcTransfer(h, alice, usdc(1), { signer: LOCAL_ROLES.mallory });
      expectError(await post("/v1/operations", op), 401, "UNKNOWN_SESSION_KEY");
    });

    it("answers 401 BAD_AGENT_SIGNATURE for a malleable (high-s) signature", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      expectError(await post("/v1/operations", { ...op, agentSignature: highS(op.agentSignature) }), 401, "BAD_AGENT_SIGNATURE");
    });

    it("answers 409 NONCE_CONFLICT when the nonce was decided for another operation", async function () {
      const nonce = h.nextNonce();
      const first = await post("/v1/operations", await usdcTransfer(h, alice, usdc(3), { nonce }));
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expectError(await post("/v1/operations", await usdcTransfer(h, alice, usdc(4), { nonce })), 409, "NONCE_CONFLICT");
    });

    it("answers an idempotent retry with the same decision", async function () {
      const op = await usdcTransfer(h, alice, usdc(2), { idempotencyKey: "retry-1" });
      const first = await post("/v1/operations", op);
      const again = await post("/v1/operations", op);
      expect(first.status).to.equal(200);
      expect(again.status).to.equal(200);
      expect(again.body.id).to.equal(first.body.id);
    });

    it("answers 409 IDEMPOTENCY_CONFLICT when the key is reused for another request", async function () {
      await post("/v1/operations", await usdcTransfer(h, alice, usdc(2), { idempotencyKey: "reused-1" }));
      expectError(await post("/v1/operations", await usdcTransfer(h, bob, usdc(2), { idempotencyKey: "reused-1" })), 409, "IDEMPOTENCY_CONFLICT");
    });

    it("answers 422 DEADLINE_TOO_FAR for a deadline beyond the allowed window", async function () {
      const op = await usdcTransfer(h, alice, usdc(1), { deadline: BigInt(Math.floor(Date.now() / 1000)) + 3_600n });
      expectError(await post("/v1/operations", op), 422, "DEADLINE_TOO_FAR");
    });

    it("answers 400 CHAIN_MISMATCH for another chain id", async function () {
      const op = await usdcTransfer(h, alice, usdc(1));
      expectError(await post("/v1/operations", { ...op, chainId: 1 }), 400, "CHAIN_MISMATCH");
    });
  });

  describe("GET /v1/operations/:id", function () {
    it("answers 200 with the stored decision", async function () {
      const proposed = await post("/v1/operations", await usdcTransfer(h, alice, usdc(1)));
      const res = await get(`/v1/operations/${proposed.body.id}`, await signedRead(proposed.body.id));
      expect(res.status).to.equal(200);
      expect(decisionSchema.parse(res.body)).to.deep.equal(decisionSchema.parse(proposed.body));
    });

    it("answers 404 for an unknown id", async function () {
      expectError(await get("/v1/operations/op_doesnotexist", bearer(h.token)), 404, "NOT_FOUND");
    });
  });

  describe("POST /v1/operations/:id/approve and /reject", function () {
    /** A transfer of 350 USDC to bob (above the threshold) and its pending decision. */
    async function pendingTransfer() {
      const op = await usdcTransfer(h, bob, usdc(350));
      const res = await post("/v1/operations", op);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      return { op, pending: decisionSchema.parse(res.body) };
    }

    it("answers 401 without a token", async function () {
      const { pending } = await pendingTransfer();
      const res = await post(`/v1/operations/${pending.id}/approve`);
      expectError(res, 401, "UNAUTHORIZED");
      expect(res.headers.get("www-authenticate")).to.match(/^Bearer/);
    });

    it("answers 401 with a wrong token", async function () {
      const { pending } = await pendingTransfer();
      expectError(await post(`/v1/operations/${pending.id}/approve`, undefined, bearer("not-the-token-at-all")), 401, "UNAUTHORIZED");
      expectError(await post(`/v1/operations/${pending.id}/reject`, undefined, { authorization: h.token }), 401, "UNAUTHORIZED");
    });

    it("answers 404 for an unknown id", async function () {
      expectError(await post("/v1/operations/op_unknown/approve", undefined, bearer(h.token)), 404, "NOT_FOUND");
      expectError(await post("/v1/operations/op_unknown/reject", undefined, bearer(h.token)), 404, "NOT_FOUND");
    });

    it("answers 400 naming an unknown field of the approval", async function () {
      const { pending } = await pendingTransfer();
      const error = expectError(await post(`/v1/operations/${pending.id}/approve`, { approver: "ops", extra: 1 }, bearer(h.token)), 400, "INVALID_REQUEST");
      expect(error.message).to.contain("extra");
    });

    it("answers 200 approved after re-simulation, and the co-signature executes on chain", async function () {
      const { op, pending } = await pendingTransfer();
      const res = await post(`/v1/operations/${pending.id}/approve`, { approver: "alice-ops", note: "checked the invoice" }, bearer(h.token));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const decision = decisionSchema.parse(res.body);
      expect(decision.status).to.equal("approved");
      expect(decision.id).to.equal(pending.id);
      const receipt = await executeOnChain(h, op, decision.cosignerSignature as `0x${string}`);
      expect(receipt.status).to.equal("success");
      expect((await get(`/v1/operations/${pending.id}`, await signedRead(pending.id))).body.status).to.equal("approved");
    });

    it("answers 409 NOT_PENDING when the decision is no longer pending", async function () {
      const { pending } = await pendingTransfer();
      const approved = await post(`/v1/operations/${pending.id}/approve`, { approver: "alice-ops" }, bearer(h.token));
      expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
      expectError(await post(`/v1/operations/${pending.id}/approve`, undefined, bearer(h.token)), 409, "NOT_PENDING");
      expectError(await post(`/v1/operations/${pending.id}/reject`, undefined, bearer(h.token)), 409, "NOT_PENDING");
    });

    it("answers 200 rejected with REJECTED_BY_APPROVER, after which approving is a 409", async function () {
      const proposed = await post("/v1/operations", await usdcTransfer(h, bob, usdc(320)));
      expect(proposed.status).to.equal(202);
      const res = await post(`/v1/operations/${proposed.body.id}/reject`, { approver: "bob-ops", note: "not ours" }, bearer(h.token));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const decision = decisionSchema.parse(res.body);
      expect(decision.status).to.equal("rejected");
      expect(decision.reasons[0]!.code).to.equal("REJECTED_BY_APPROVER");
      expect(decision.reasons[0]!.message).to.contain("not ours");
      expectError(await post(`/v1/operations/${proposed.body.id}/approve`, undefined, bearer(h.token)), 409, "NOT_PENDING");
    });
  });

  describe("GET /v1/wallets/:address", function () {
    it("answers 200 with budgets available now, caps, allowlists, call permissions, session keys and roles", async function () {
      const usdcAvailable = async () => BigInt(walletViewSchema.parse((await get(`/v1/wallets/${h.deployment.wallet}`)).body).budgets.find((b) => b.token === h.deployment.tokens.USDC)!.available);
      // This test's own spending, executed on chain, must show in what is available now.
      const before = await usdcAvailable();
      const op = await usdcTransfer(h, alice, usdc(20));
      const approved = await post("/v1/operations", op);
      expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
      const mined = await executeOnChain(h, op, approved.body.cosignerSignature);
      expect(mined.status).to.equal("success");
      await eventually(async () => BigInt((await get("/healthz")).body.fork.head) >= mined.blockNumber, "the fork to see the transfer");

      const res = await get(`/v1/wallets/${h.deployment.wallet}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const view = walletViewSchema.parse(res.body);
      expect(view.address).to.equal(h.deployment.wallet);
      expect(view.paused).to.equal(false);
      expect(view.cosigner).to.equal(h.deployment.roles.cosigner);
      expect(view.cosignerIsThisService).to.equal(true);
      expect(view.owner).to.equal(h.deployment.roles.owner);
      expect(view.guardians).to.deep.equal([h.deployment.roles.guardian]);
      expect(view.recipients).to.have.members([alice, bob]);
      expect(view.callPermissions).to.deep.equal([{ target: h.deployment.dex, selector: "0xfe029156" }]);
      expect(view.sessionKeys).to.deep.equal([
        { key: h.deployment.roles.sessionKey, validUntil: String(h.deployment.sessionKeyValidUntil), active: true },
      ]);
      const usdcBudget = view.budgets.find((b) => b.token === h.deployment.tokens.USDC)!;
      expect(usdcBudget).to.include({ limit: usdc(1000).toString(), period: "86400", maxPerOperation: usdc(500).toString() });
      // 20 USDC less than before, give or take the refill between the two views' block times (1000 USDC a day: 1 USDC
      // in 86 s; each view is read at a simulated block time, which need not follow the wall clock second by second).
      const available = BigInt(usdcBudget.available);
      expect(available < usdc(1000)).to.equal(true);
      const drop = before - available;
      expect(drop >= usdc(19) && drop <= usdc(21), `available ${available}, before ${before}: dropped ${drop}`).to.equal(true);
      expect(view.budgets[0]).to.include({ token: "native", limit: (2n * 10n ** 18n).toString() });
    });

    it("answers 404 for a contract that is not an AgentWallet", async function () {
      expectError(await get(`/v1/wallets/${h.deployment.tokens.USDC}`), 404, "WALLET_NOT_FOUND");
    });

    it("answers 404 for an account with no code", async function () {
      expectError(await get(`/v1/wallets/${mallory}`), 404, "WALLET_NOT_FOUND");
    });

    it("answers 400 for a malformed address", async function () {
      const error = expectError(await get("/v1/wallets/0x1234"), 400, "INVALID_REQUEST");
      expect((error.details as { issues: { path: string }[] }).issues[0]!.path).to.equal("address");
    });
  });

  describe("GET /v1/audit and /v1/audit/verify", function () {
    /** Writes one record of each kind a decision leaves: decided, approved by a person, rejected by a person. */
    async function decideEachWay(): Promise<void> {
      expect((await post("/v1/operations", await usdcTransfer(h, alice, usdc(1)))).status).to.equal(200);
      for (const action of ["approve", "reject"]) {
        const pending = await post("/v1/operations", await usdcTransfer(h, bob, usdc(310)));
        expect(pending.status, JSON.stringify(pending.body)).to.equal(202);
        const settled = await post(`/v1/operations/${pending.body.id}/${action}`, { approver: "audit-test" }, bearer(h.token));
        expect(settled.status, JSON.stringify(settled.body)).to.equal(200);
      }
    }

    it("pages through the hash-chained log", async function () {
      await decideEachWay();
      const first = auditPageSchema.parse((await get("/v1/audit?limit=2", bearer(h.token))).body);
      expect(first.records.map((r) => r.seq)).to.deep.equal([1, 2]);
      expect(first.next).to.equal(2);
      expect(first.records[1]!.prevHash).to.equal(first.records[0]!.hash);
      const second = auditPageSchema.parse((await get(`/v1/audit?after=${first.next}&limit=500`, bearer(h.token))).body);
      expect(second.records[0]!.seq).to.equal(3);
      expect(second.next).to.equal(null);
      expect(second.records.at(-1)!.seq).to.equal(second.head.seq);
      expect(second.records.map((r) => r.kind)).to.include.members(["decision", "decision.approved", "decision.rejected"]);
    });

    it("answers 400 for an unknown or malformed query parameter", async function () {
      expectError(await get("/v1/audit?limit=0", bearer(h.token)), 400, "INVALID_REQUEST");
      expectError(await get("/v1/audit?cursor=3", bearer(h.token)), 400, "INVALID_REQUEST");
    });

    it("verifies the chain", async function () {
      await decideEachWay();
      const res = await get("/v1/audit/verify", bearer(h.token));
      expect(res.status).to.equal(200);
      const v = auditVerificationSchema.parse(res.body);
      expect(v.ok).to.equal(true);
      expect(v.checked).to.be.at.least(5);
    });
  });

  describe("GET /healthz, /metrics, /openapi.json", function () {
    it("answers /healthz 200 with the fork head and lag", async function () {
      const res = await get("/healthz");
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const health = healthSchema.parse(res.body);
      expect(health.status).to.equal("ok");
      expect(health.chainId).to.equal(31337);
      expect(health.upstream.reachable).to.equal(true);
      expect(Number(health.fork.lag)).to.be.at.most(h.config.MAX_HEAD_LAG);
      expect(health.guardian).to.equal(h.deployment.roles.guardian);
    });

    it("serves Prometheus metrics: decisions by status and reason, latency, fork lag, hydrated keys, upstream requests, audit records", async function () {
      // One of each outcome the needles below count.
      expect((await post("/v1/operations", await usdcTransfer(h, alice, usdc(1)))).status).to.equal(200);
      expect((await post("/v1/operations", await usdcTransfer(h, bob, usdc(305)))).status).to.equal(202);
      expect((await post("/v1/operations", await usdcTransfer(h, mallory, usdc(1)))).status).to.equal(422);
      expect((await post("/v1/operations", await usdcTransfer(h, alice, usdc(1), { signer: LOCAL_ROLES.mallory }))).status).to.equal(401);
      const res = await get("/metrics");
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.contain("text/plain");
      for (const needle of [
        'countersign_decisions_total{status="approved"}',
        'countersign_decisions_total{status="pending_approval"}',
        'countersign_decision_reasons_total{status="rejected",code="RECIPIENT_NOT_ALLOWED"}',
        'countersign_refusals_total{code="UNKNOWN_SESSION_KEY"}',
        'countersign_decision_duration_seconds_bucket{le="10",action="propose"}',
        "countersign_fork_lag_blocks",
        "countersign_fork_head_block",
        "countersign_fork_hydrated_keys",
        "countersign_upstream_requests_total",
        "countersign_audit_records",
        "countersign_rate_limited_total",
      ]) {
        expect(res.text, needle).to.contain(needle);
      }
      const hydrated = Number(/^countersign_fork_hydrated_keys (\d+)$/m.exec(res.text)?.[1]);
      expect(hydrated).to.be.greaterThan(0);
    });

    it("serves the OpenAPI document generated from the zod schemas", async function () {
      const res = await get("/openapi.json");
      expect(res.status).to.equal(200);
      const doc = res.body;
      expect(doc.openapi).to.equal("3.1.0");
      for (const path of [
        "/v1/operations",
        "/v1/operations/{id}",
        "/v1/operations/{id}/approve",
        "/v1/operations/{id}/reject",
        "/v1/wallets/{address}",
        "/v1/wallets/{address}/pause",
        "/v1/audit",
        "/v1/audit/verify",
        "/healthz",
        "/metrics",
      ]) {
        expect(doc.paths, path).to.have.property(path);
      }
      expect(Object.keys(doc.paths["/v1/operations"].post.responses)).to.include.members(["200", "202", "400", "401", "409", "422", "429", "503"]);
      for (const [path, method, operationId] of [
        ["/v1/incidents", "get", "listIncidents"],
        ["/v1/incidents/{id}", "get", "getIncident"],
        ["/v1/incidents/{id}/ack", "post", "acknowledgeIncident"],
        ["/v1/incidents/{id}/resolve", "post", "resolveIncident"],
        ["/v1/policy", "get", "getPolicy"],
        ["/v1/approvals", "get", "listApprovals"],
        ["/ui", "get", "approverPage"],
      ] as const) {
        expect(doc.paths, path).to.have.property(path);
        expect(doc.paths[path][method]?.operationId, `${method} ${path}`).to.equal(operationId);
      }
      expect(doc.paths["/v1/incidents"].get.parameters.map((p: { name: string }) => p.name)).to.deep.equal(["state", "wallet", "rule", "limit"]);
      expect(doc.paths["/v1/incidents/{id}/ack"].post.responses).to.include.keys("400", "401", "404", "409");
      expect(doc.paths["/v1/approvals"].get.security).to.deep.equal([{ approverToken: [] }]);
      expect(doc.paths["/ui"].get.responses["200"].content).to.have.property("text/html");
      const request = doc.components.schemas.OperationRequest;
      expect(request.additionalProperties).to.equal(false);
      expect(request.required).to.include.members(["chainId", "wallet", "calls", "nonce", "deadline", "callGasLimit", "bounds", "agentSignature", "intent"]);
      expect(request.properties.nonce.pattern).to.be.a("string");
      expect(request.properties.callGasLimit).to.include({ type: "string", pattern: "^[1-9][0-9]{0,9}$" });
      expect(request.properties.callGasLimit.description).to.contain("InsufficientGas");
      expect(request.properties.bounds).to.include({ type: "array", maxItems: 32 });
      expect(request.properties.bounds.description).to.contain("deriveBounds");
      expect(request.properties.bounds.items.required).to.deep.equal(["asset", "account", "minDelta"]);
      expect(request.properties.bounds.items.properties.minDelta.pattern).to.equal("^-?(0|[1-9][0-9]{0,77})$");
    });

    it("answers 404 with an error body for an unknown route", async function () {
      expectError(await get("/v1/nothing-here"), 404, "ROUTE_NOT_FOUND");
    });
  });

  describe("rate limits", function () {
    it("answers 429 once one agent signer exceeds RATE_LIMIT_PER_MINUTE, and not for another signer", async function () {
      await withServer(h, { ...h.config, RATE_LIMIT_PER_MINUTE: 2 }, async (url) => {
        const op = await usdcTransfer(h, alice, usdc(1));
        expect((await call(url, "POST", "/v1/operations", op)).status).to.equal(200);
        expect((await call(url, "POST", "/v1/operations", op)).status).to.equal(200);
        const limited = await call(url, "POST", "/v1/operations", op);
        const error = expectError(limited, 429, "RATE_LIMITED");
        expect(error.details).to.include({ scope: "signer", signer: h.deployment.roles.sessionKey });
        expect(Number(limited.headers.get("retry-after"))).to.be.greaterThan(0);
        const other = await call(url, "POST", "/v1/operations", await usdcTransfer(h, alice, usdc(1), { signer: LOCAL_ROLES.mallory }));
        expect(other.status).to.equal(401);
        expect((await call(url, "GET", "/metrics")).text).to.contain('countersign_rate_limited_total{scope="signer"} 1');
      });
    });

    it("counts one replica's share of the limits (limit / REPLICAS, rounded up), so replicas together hold the limit", async function () {
      await withServer(h, { ...h.config, RATE_LIMIT_PER_MINUTE: 7, REPLICAS: 3 }, async (url) => {
        const op = await usdcTransfer(h, alice, usdc(1));
        for (let i = 0; i < 3; i++) expect((await call(url, "POST", "/v1/operations", op)).status).to.equal(200);
        expectError(await call(url, "POST", "/v1/operations", op), 429, "RATE_LIMITED");
      });
    });

    it("answers 429 once one client IP exceeds RATE_LIMIT_PER_IP_PER_MINUTE, but never on /healthz", async function () {
      await withServer(h, { ...h.config, RATE_LIMIT_PER_IP_PER_MINUTE: 3 }, async (url) => {
        for (let i = 0; i < 3; i++) expect((await call(url, "GET", "/v1/audit/verify", undefined, bearer(h.token))).status).to.equal(200);
        const error = expectError(await call(url, "GET", "/v1/audit/verify", undefined, bearer(h.token)), 429, "RATE_LIMITED");
        expect(error.details).to.include({ scope: "ip" });
        expect((await call(url, "GET", "/healthz")).status).to.equal(200);
      });
    });
  });

  describe("logs", function () {
    it("writes one decision line with the digest, and never a key or a token", async function () {
      const proposed = await post("/v1/operations", await usdcTransfer(h, alice, usdc(1)));
      const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
      const decisionLines = lines.filter((l) => l.msg === "decision" && l.id === proposed.body.id);
      expect(decisionLines).to.have.length(1);
      expect(decisionLines[0]!.digest).to.equal(proposed.body.digest);
      const all = h.logs.join("\n");
      expect(all).to.not.contain(h.token);
      for (const index of [LOCAL_ROLES.cosigner, LOCAL_ROLES.guardian]) expect(all.toLowerCase()).to.not.contain(devPrivateKey(index).slice(2).toLowerCase());
    });
  });

  describe("POST /v1/wallets/:address/pause", function () {
    /** The owner unpauses (if paused) and an operator clears the anomaly flag, and the fork sees it: as before the test. */
    async function restore(): Promise<void> {
      if (await walletRead<boolean>(h, "paused")) await walletTx(h, "unpause", [], LOCAL_ROLES.owner);
      expect((await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`, { operator: "test" }, bearer(h.token))).status).to.equal(200);
      await eventually(async () => (await get(`/v1/wallets/${h.deployment.wallet}`)).body.paused === false, "the fork to see the unpause");
    }

    /** Pauses the wallet through the API and waits for the fork to see it. */
    async function pauseViaApi(reason: string) {
      const res = await post(`/v1/wallets/${h.deployment.wallet}/pause`, { operator: "on-call", reason }, bearer(h.token));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      await eventually(async () => (await get(`/v1/wallets/${h.deployment.wallet}`)).body.paused === true, "the fork to see the pause");
      return res;
    }

    it("answers 401 without the operator token", async function () {
      expectError(await post(`/v1/wallets/${h.deployment.wallet}/pause`), 401, "UNAUTHORIZED");
      expect(await walletRead<boolean>(h, "paused")).to.equal(false);
    });

    it("answers 404 for an address that is not an AgentWallet", async function () {
      expectError(await post(`/v1/wallets/${h.deployment.tokens.USDC}/pause`, undefined, bearer(h.token)), 404, "WALLET_NOT_FOUND");
    });

    it("pauses the wallet on chain with the guardian key, flags it and records it; proposals then answer 503 WALLET_PAUSED", async function () {
      const res = await post(`/v1/wallets/${h.deployment.wallet}/pause`, { operator: "on-call", reason: "suspicious burst" }, bearer(h.token));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      try {
        await checkPaused(res);
      } finally {
        await restore();
      }
    });

    /** What a successful pause must have done (on chain, in the audit log, to later proposals). */
    async function checkPaused(res: { body: unknown }): Promise<void> {
      const result = pauseResultSchema.parse(res.body);
      expect(result.status).to.equal("confirmed");
      expect(result.guardian).to.equal(h.deployment.roles.guardian);
      expect(await walletRead<boolean>(h, "paused")).to.equal(true);

      const audit = auditPageSchema.parse((await get(`/v1/audit?after=${result.auditSeq - 1}`, bearer(h.token))).body);
      expect(audit.records[0]).to.include({ kind: "breaker.pause", ref: h.deployment.wallet });
      expect(audit.records[0]!.payload).to.include({ txHash: result.txHash, reason: "suspicious burst", operator: "on-call" });

      await eventually(async () => (await get(`/v1/wallets/${h.deployment.wallet}`)).body.paused === true, "the fork to see the pause");
      expectError(await post("/v1/operations", await usdcTransfer(h, alice, usdc(1))), 503, "WALLET_PAUSED");
    }

    it("after the owner unpauses, sends operations to a person until the anomaly flag is cleared", async function () {
      await pauseViaApi("suspicious burst");
      try {
        await checkFlaggedUntilCleared();
      } finally {
        await restore();
      }
    });

    async function checkFlaggedUntilCleared(): Promise<void> {
      await walletTx(h, "unpause", [], LOCAL_ROLES.owner);
      await eventually(async () => (await get(`/v1/wallets/${h.deployment.wallet}`)).body.paused === false, "the fork to see the unpause");
      const flagged = await post("/v1/operations", await usdcTransfer(h, alice, usdc(1)));
      expect(flagged.status, JSON.stringify(flagged.body)).to.equal(202);
      expect(flagged.body.reasons.map((r: { code: string }) => r.code)).to.include("ANOMALY_FLAGGED");

      expectError(await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`), 401, "UNAUTHORIZED");
      const cleared = await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`, { operator: "on-call" }, bearer(h.token));
      expect(cleared.status).to.equal(200);
      expect(cleared.body.cleared).to.equal(true);
      const again = await post("/v1/operations", await usdcTransfer(h, alice, usdc(1)));
      expect(again.status, JSON.stringify(again.body)).to.equal(200);
    }

    it("answers 422 NOT_A_GUARDIAN when the service's guardian key is not a guardian of the wallet, and pauses nothing", async function () {
      const stranger = devAccount(LOCAL_ROLES.mallory);
      await withServer(h, 
        h.config,
        async (url) => {
          const error = expectError(await call(url, "POST", `/v1/wallets/${h.deployment.wallet}/pause`, { reason: "test" }, bearer(h.token)), 422, "NOT_A_GUARDIAN");
          expect(error.message).to.equal(`this service's guardian ${stranger.address} is not a guardian of ${h.deployment.wallet}`);
        },
        new Guardian(stranger, h.node.url),
      );
      expect(await walletRead<boolean>(h, "paused")).to.equal(false);
    });

    it("answers 503 GUARDIAN_UNAVAILABLE when no guardian key is configured", async function () {
      const config = loadConfig({ UPSTREAM_RPC_URL: h.node.url, APPROVER_TOKEN: h.token });
      await withServer(h, config, async (url) => {
        expectError(await call(url, "POST", `/v1/wallets/${h.deployment.wallet}/pause`, undefined, bearer(h.token)), 503, "GUARDIAN_UNAVAILABLE");
      });
    });
  });

  describe("when the upstream chain is down", function () {
    it("answers /healthz and proposals with 503", async function () {
      // A service and chain of this test's own: the chain is stopped for good.
      const own = await startHttpHarness();
      try {
        const op = await usdcTransfer(own, alice, usdc(1));
        await own.node.stop();
        await eventually(async () => (await call(own.url, "GET", "/healthz")).status === 503, "/healthz to report the upstream down");
        const health = healthSchema.parse((await call(own.url, "GET", "/healthz")).body);
        expect(health.upstream.reachable).to.equal(false);
        expect(health.problems.join(" ")).to.contain("upstream unreachable");
        expectError(await call(own.url, "POST", "/v1/operations", op), 503, "UPSTREAM_UNAVAILABLE");
      } finally {
        await own.stop();
      }
    });
  });
});
