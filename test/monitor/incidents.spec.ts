/**
 * Incidents over HTTP, the breaker's idempotency and timing, and the alert webhook, against the running service on a
 * real local chain (test/support/http.ts). The store side of incidents is in the store contract (test/store/contract.ts).
 */
import { expect } from "chai";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicClient, http, parseAbiItem } from "viem";
import { LOCAL_ROLES } from "../../src/chain/accounts";
import { rpc } from "../../src/devchain/node";
import { AlertWebhook } from "../../src/monitor/webhook";
import type { Incident } from "../../src/store";
import { bearer, call, eventually, startHttpHarness, usdc, usdcTransfer, walletRead, walletTx, withServer, type HttpHarness } from "../support/http";

/** A local HTTP server that answers `statuses` in turn (then 200) and keeps what it received, with when. */
async function webhookServer(statuses: number[] = []): Promise<{ url: string; received: { at: number; body: any }[]; server: Server }> {
  const received: { at: number; body: any }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ at: Date.now(), body: JSON.parse(body) });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

describe("incidents: routes, idempotent trips, alerts", function () {
  this.timeout(240_000);
  let h: HttpHarness;
  const alice = () => h.deployment.recipients.alice!;
  const get = (path: string, headers?: Record<string, string>) => call(h.url, "GET", path, undefined, headers);
  const post = (path: string, body?: unknown, headers?: Record<string, string>) => call(h.url, "POST", path, body, headers);

  before(async function () {
    h = await startHttpHarness();
  });
  after(async function () {
    await h?.stop();
  });

  /** The owner unpauses, an operator clears the flag and resolves what is open; the fork sees it. */
  async function restore(): Promise<void> {
    if (await walletRead<boolean>(h, "paused")) await walletTx(h, "unpause", [], LOCAL_ROLES.owner);
    await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`, { operator: "test" }, bearer(h.token));
    for (const i of (await get("/v1/incidents?limit=500", bearer(h.token))).body.incidents as Incident[]) {
      if (i.state !== "resolved") await post(`/v1/incidents/${i.id}/resolve`, { operator: "test" }, bearer(h.token));
    }
    await eventually(async () => (await get(`/v1/wallets/${h.deployment.wallet}`)).body.paused === false, "the fork to see the unpause");
  }

  async function pausedEvents(): Promise<number> {
    const pub = createPublicClient({ transport: http(h.node.url) });
    const logs = await pub.getLogs({ address: h.deployment.wallet, event: parseAbiItem("event Paused(address account)"), fromBlock: 0n });
    return logs.length;
  }

  describe("GET /v1/incidents, POST /v1/incidents/:id/ack and /resolve", function () {
    afterEach(restore);

    it("answer 401 without the approver token", async function () {
      expect((await get("/v1/incidents")).status).to.equal(401);
      expect((await post("/v1/incidents/inc_x/ack")).status).to.equal(401);
      expect((await post("/v1/incidents/inc_x/resolve")).status).to.equal(401);
    });

    it("list the incident an operator's pause opened, with its action mined; ack once, resolve once; each step audited", async function () {
      const paused = await post(`/v1/wallets/${h.deployment.wallet}/pause`, { operator: "on-call", reason: "drill" }, bearer(h.token));
      expect(paused.status, JSON.stringify(paused.body)).to.equal(200);
      const id = paused.body.incidentId as string;
      await eventually(async () => (await get(`/v1/incidents/${id}`, bearer(h.token))).body.actions?.[0]?.status === "confirmed", "the pause recorded as mined");
      const listed = (await get("/v1/incidents?state=open", bearer(h.token))).body.incidents as Incident[];
      expect(listed.map((i) => i.id)).to.deep.equal([id]);
      const incident = listed[0]!;
      expect(incident).to.deep.include({ rule: "manual", wallet: h.deployment.wallet, actionKind: "pause", state: "open" });
      expect(incident.actions[0]).to.deep.include({ kind: "pause", status: "confirmed", txHash: paused.body.txHash, guardian: h.deployment.roles.guardian });
      expect(incident.evidence[0]).to.deep.include({ rule: "manual", operator: "on-call", reason: "drill" });

      const acked = await post(`/v1/incidents/${id}/ack`, { operator: "alice", note: "looking" }, bearer(h.token));
      expect(acked.status).to.equal(200);
      expect(acked.body).to.deep.include({ state: "acknowledged", acknowledgedBy: "alice", note: "looking" });
      const again = await post(`/v1/incidents/${id}/ack`, { operator: "bob" }, bearer(h.token));
      expect(again.status).to.equal(409);
      expect(again.body.error.code).to.equal("INCIDENT_NOT_OPEN");
      const resolved = await post(`/v1/incidents/${id}/resolve`, { operator: "alice", note: "drill over" }, bearer(h.token));
      expect(resolved.body).to.deep.include({ state: "resolved", resolvedBy: "alice" });
      expect((await post(`/v1/incidents/${id}/resolve`, {}, bearer(h.token))).status).to.equal(409);
      expect((await post("/v1/incidents/inc_missing/ack", {}, bearer(h.token))).status).to.equal(404);
      expect((await get("/v1/incidents?state=nope", bearer(h.token))).status).to.equal(400);

      const audit = (await get("/v1/audit?limit=500", bearer(h.token))).body.records as { kind: string; ref: string; payload: any }[];
      const mine = audit.filter((r) => r.ref === id || r.payload?.incidentId === id).map((r) => r.kind);
      expect(mine).to.deep.equal(["incident.opened", "breaker.pause", "breaker.pause.confirmed", "incident.acknowledged", "incident.resolved"]);
      expect((await get("/v1/audit/verify", bearer(h.token))).body.ok).to.equal(true);
    });
  });

  describe("a second trip on a paused wallet", function () {
    afterEach(restore);

    it("adds evidence to the open incident and sends no second pause", async function () {
      const before = await pausedEvents();
      const first = await post(`/v1/wallets/${h.deployment.wallet}/pause`, { operator: "a", reason: "first" }, bearer(h.token));
      const second = await post(`/v1/wallets/${h.deployment.wallet}/pause`, { operator: "b", reason: "second" }, bearer(h.token));
      expect(first.body.status).to.equal("confirmed");
      expect(second.status, JSON.stringify(second.body)).to.equal(200);
      expect(second.body).to.deep.include({ status: "already_paused", txHash: null, incidentId: first.body.incidentId });
      expect((await pausedEvents()) - before, "one Paused event on chain").to.equal(1);
      const incident = (await get(`/v1/incidents/${first.body.incidentId}`, bearer(h.token))).body as Incident;
      expect(incident.evidence.map((e) => e.reason)).to.deep.equal(["first", "second"]);
      expect(incident.actions).to.have.length(1);
    });

    it("joins concurrent trips: one pause transaction for five callers", async function () {
      const before = await pausedEvents();
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => post(`/v1/wallets/${h.deployment.wallet}/pause`, { operator: `op${i}`, reason: "burst" }, bearer(h.token))));
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200, 200]);
      expect(new Set(answers.map((a) => a.body.incidentId)).size).to.equal(1);
      expect(answers.filter((a) => a.body.txHash !== null)).to.have.length(1);
      expect((await pausedEvents()) - before).to.equal(1);
    });

    it("sends a new pause when the owner unpaused meanwhile (the incident still open)", async function () {
      const first = await post(`/v1/wallets/${h.deployment.wallet}/pause`, { reason: "first" }, bearer(h.token));
      await walletTx(h, "unpause", [], LOCAL_ROLES.owner);
      const second = await post(`/v1/wallets/${h.deployment.wallet}/pause`, { reason: "again" }, bearer(h.token));
      expect(second.body.status).to.equal("confirmed");
      expect(second.body.txHash).to.not.equal(first.body.txHash);
      expect(second.body.incidentId).to.equal(first.body.incidentId);
      expect(await walletRead<boolean>(h, "paused")).to.equal(true);
    });
  });

  describe("co-signing stops before the pause is mined", function () {
    afterEach(async function () {
      await rpc(h.node.url, "evm_setAutomine", [true]);
      await restore();
    });

    it("refuses WALLET_PAUSED while the pause waits in the mempool, and the chain is not paused yet", async function () {
      await rpc(h.node.url, "evm_setAutomine", [false]);
      const pausing = post(`/v1/wallets/${h.deployment.wallet}/pause`, { reason: "mempool" }, bearer(h.token));
      await eventually(async () => ((await get("/v1/incidents?state=open", bearer(h.token))).body.incidents as Incident[]).some((i) => i.actions[0]?.status === "submitted"), "the pause sent");
      const refused = await post("/v1/operations", await usdcTransfer(h, alice(), usdc(1)));
      expect(refused.status, JSON.stringify(refused.body)).to.equal(503);
      expect(refused.body.error).to.deep.include({ code: "WALLET_PAUSED" });
      expect(refused.body.error.message).to.contain("circuit breaker");
      expect(await walletRead<boolean>(h, "paused"), "not mined yet").to.equal(false);
      await rpc(h.node.url, "evm_mine");
      expect((await pausing).body.status).to.equal("confirmed");
    });

    it("would have co-signed without the stop: the same proposal before the trip is approved", async function () {
      const approved = await post("/v1/operations", await usdcTransfer(h, alice(), usdc(1)));
      expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    });
  });

  describe("the alert webhook (ALERT_WEBHOOK_URL)", function () {
    it("retries with backoff until the webhook answers 2xx", async function () {
      const hook = await webhookServer([500, 503]);
      try {
        const webhook = new AlertWebhook({ url: hook.url, baseDelayMs: 100 });
        const delivery = await webhook.notify({ type: "incident", incident: { id: "inc_1", amount: 5n } });
        expect(delivery).to.deep.include({ ok: true, attempts: 3, status: 200 });
        expect(hook.received).to.have.length(3);
        expect(hook.received[2]!.body).to.deep.equal({ type: "incident", incident: { id: "inc_1", amount: "5" } });
        expect(hook.received[1]!.at - hook.received[0]!.at).to.be.at.least(90);
        expect(hook.received[2]!.at - hook.received[1]!.at, "the delay doubles").to.be.at.least(190);
      } finally {
        hook.server.close();
      }
    });

    it("gives up after its attempts and says so", async function () {
      const hook = await webhookServer([500, 500, 500]);
      try {
        const outcomes: string[] = [];
        const delivery = await new AlertWebhook({ url: hook.url, attempts: 3, baseDelayMs: 10, onResult: (o) => outcomes.push(o) }).notify({ type: "x" });
        expect(delivery).to.deep.include({ ok: false, attempts: 3, status: 500 });
        expect(outcomes).to.deep.equal(["failed"]);
      } finally {
        hook.server.close();
      }
    });

    it("posts one alert per incident and never delays the pause, though the webhook fails first", async function () {
      // The webhook answers 500 for its first two tries and each answer takes 1.5 s: the pause must not wait for it.
      const statuses = [500, 500];
      const received: any[] = [];
      const slow = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () =>
          setTimeout(() => {
            received.push(JSON.parse(body));
            res.statusCode = statuses.shift() ?? 200;
            res.end();
          }, 1_500),
        );
      });
      await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
      try {
        const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/alerts`;
        await withServer(
          h,
          { ...h.config, ALERT_WEBHOOK_URL: url },
          async (base) => {
            const started = Date.now();
            const res = await call(base, "POST", `/v1/wallets/${h.deployment.wallet}/pause`, { reason: "alert drill" }, bearer(h.token));
            expect(res.status, JSON.stringify(res.body)).to.equal(200);
            expect(Date.now() - started, "the pause did not wait for the webhook").to.be.below(1_500);
            await eventually(async () => received.length >= 3, "the third try", 30_000);
            expect(received.map((r) => r.incident.id)).to.deep.equal(Array(3).fill(res.body.incidentId));
            expect(received[0]).to.deep.include({ type: "incident" });
            expect(received[0].incident).to.deep.include({ rule: "manual", wallet: h.deployment.wallet });
            const metrics = await call(base, "GET", "/metrics");
            await eventually(async () => /countersign_alerts_total\{outcome="delivered"\} 1/.test((await call(base, "GET", "/metrics")).text), "the delivery counted");
            expect(metrics.status).to.equal(200);
          },
          h.service.guardian,
        );
      } finally {
        slow.close();
        await restore();
      }
    });
  });
});
