import { expect } from "chai";
import { request as httpRequest } from "node:http";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { CosignerClient } from "../../src/client";
import { loadConfig, type Config } from "../../src/config";
import { decisionSchema, errorBodySchema } from "../../src/http/schemas";
import { bearer, call, signedRead, startHttpHarness, usdc, usdcTransfer, walletTx, type HttpHarness, withServer } from "../support/http";

const alice = devAccount(LOCAL_ROLES.alice).address;
const bob = devAccount(LOCAL_ROLES.bob).address;
/** A development account with no role on the demo wallet, made a second session key of it below. */
const OTHER_AGENT = 8;

/** Asserts an error body with `code`; returns it. */
function expectError(answer: { status: number; body: unknown }, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).to.equal(status);
  const body = errorBodySchema.parse(answer.body);
  expect(body.error.code).to.equal(code);
  return body.error;
}

/** GET `path` with a raw Host header (fetch would not send a forged one). */
function getWithHost(url: string, path: string, host: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: "GET", headers: { host } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("decisions are private (end to end)", function () {
  this.timeout(180_000);
  let h: HttpHarness;
  const post = (path: string, body?: unknown, headers?: Record<string, string>) => call(h.url, "POST", path, body, headers);
  const get = (path: string, headers?: Record<string, string>) => call(h.url, "GET", path, undefined, headers);
  /** An approved transfer and a pending one (above the 300 USDC threshold), both proposed by the session key. */
  let approved: { id: string; cosignerSignature: string };
  let pending: { id: string };

  before(async function () {
    h = await startHttpHarness((d) => ({ REVIEW_THRESHOLDS: JSON.stringify({ [d.tokens.USDC!]: usdc(300).toString() }) }));
    const first = await post("/v1/operations", await usdcTransfer(h, alice, usdc(5)));
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    approved = first.body;
    const second = await post("/v1/operations", await usdcTransfer(h, bob, usdc(350)));
    expect(second.status, JSON.stringify(second.body)).to.equal(202);
    pending = second.body;
    const validUntil = BigInt(Math.floor(Date.now() / 1000)) + 86_400n;
    await walletTx(h, "addSessionKey", [devAccount(OTHER_AGENT).address, Number(validUntil)]);
  });
  after(async function () {
    await h?.stop();
  });

  describe("GET /v1/operations/:id", function () {
    it("answers 401 to a stranger without credentials, showing no co-signature", async function () {
      const res = await get(`/v1/operations/${approved.id}`);
      expectError(res, 401, "UNAUTHORIZED");
      expect(res.text).to.not.contain(approved.cosignerSignature.slice(2));
    });

    it("answers 401 to a read signed by a key that did not propose it", async function () {
      expectError(await get(`/v1/operations/${approved.id}`, await signedRead(approved.id, LOCAL_ROLES.mallory)), 401, "UNAUTHORIZED");
    });

    it("answers 401 to a read signed by another session key of the same wallet", async function () {
      expectError(await get(`/v1/operations/${approved.id}`, await signedRead(approved.id, OTHER_AGENT)), 401, "UNAUTHORIZED");
    });

    it("answers 200 with the decision to a read signed by the session key that proposed it", async function () {
      const res = await get(`/v1/operations/${approved.id}`, await signedRead(approved.id));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(decisionSchema.parse(res.body).cosignerSignature).to.equal(approved.cosignerSignature);
    });

    it("answers 200 with the decision to the approver token", async function () {
      const res = await get(`/v1/operations/${pending.id}`, bearer(h.token));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(decisionSchema.parse(res.body).status).to.equal("pending_approval");
    });

    it("answers 401 to a signed read whose timestamp is more than 60 s old or ahead", async function () {
      // 5 s past the window each way: the service's clock may tick a second or two while the test signs and sends.
      const now = () => Math.floor(Date.now() / 1000);
      expectError(await get(`/v1/operations/${approved.id}`, await signedRead(approved.id, LOCAL_ROLES.sessionKey, now() - 65)), 401, "UNAUTHORIZED");
      expectError(await get(`/v1/operations/${approved.id}`, await signedRead(approved.id, LOCAL_ROLES.sessionKey, now() + 65)), 401, "UNAUTHORIZED");
    });

    it("answers 401 to the proposer's signature over another decision's id (no replay across ids)", async function () {
      const headers = await signedRead(pending.id);
      expectError(await get(`/v1/operations/${approved.id}`, headers), 401, "UNAUTHORIZED");
    });

    it("answers 401 to a wrong approver token", async function () {
      expectError(await get(`/v1/operations/${approved.id}`, bearer("not-the-token-at-all")), 401, "UNAUTHORIZED");
    });

    it("answers 404 for an unknown id to the approver token", async function () {
      expectError(await get("/v1/operations/op_doesnotexist", bearer(h.token)), 404, "NOT_FOUND");
    });

    it("lets the SDK read and wait for its own decisions, signing each read with the session key", async function () {
      const client = new CosignerClient({ cosignerUrl: h.url, rpcUrl: h.node.url, sessionKey: devAccount(LOCAL_ROLES.sessionKey), wallet: h.deployment.wallet });
      expect((await client.getOperation(approved.id)).cosignerSignature).to.equal(approved.cosignerSignature);
      const stranger = new CosignerClient({ cosignerUrl: h.url, rpcUrl: h.node.url, sessionKey: devAccount(OTHER_AGENT), wallet: h.deployment.wallet });
      let code: string | undefined;
      await stranger.getOperation(approved.id).catch((err: { code?: string }) => (code = err.code));
      expect(code).to.equal("UNAUTHORIZED");
    });
  });

  describe("conflicts", function () {
    it("answers 409 NONCE_CONFLICT to another session key without naming the decision", async function () {
      const nonce = h.nextNonce();
      const first = await post("/v1/operations", await usdcTransfer(h, alice, usdc(3), { nonce }));
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      const res = await post("/v1/operations", await usdcTransfer(h, alice, usdc(4), { nonce, signer: OTHER_AGENT }));
      const error = expectError(res, 409, "NONCE_CONFLICT");
      expect(res.text).to.not.contain(first.body.id);
      expect(error.details ?? {}).to.not.have.property("decisionId");
    });

    it("answers 409 IDEMPOTENCY_CONFLICT to another session key without naming the decision", async function () {
      const first = await post("/v1/operations", await usdcTransfer(h, alice, usdc(2), { idempotencyKey: "privacy-1" }));
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      const res = await post("/v1/operations", await usdcTransfer(h, alice, usdc(2), { idempotencyKey: "privacy-1", signer: OTHER_AGENT }));
      const error = expectError(res, 409, "IDEMPOTENCY_CONFLICT");
      expect(res.text).to.not.contain(first.body.id);
      expect(error.details ?? {}).to.not.have.property("decisionId");
    });

    it("names the decision in NONCE_CONFLICT to the session key that made it", async function () {
      const nonce = h.nextNonce();
      const first = await post("/v1/operations", await usdcTransfer(h, alice, usdc(3), { nonce }));
      const error = expectError(await post("/v1/operations", await usdcTransfer(h, alice, usdc(4), { nonce })), 409, "NONCE_CONFLICT");
      expect(error.details).to.deep.equal({ decisionId: first.body.id });
    });
  });

  describe("GET /v1/audit and /v1/audit/verify", function () {
    it("answers 401 without the approver token", async function () {
      expectError(await get("/v1/audit"), 401, "UNAUTHORIZED");
      expectError(await get("/v1/audit/verify"), 401, "UNAUTHORIZED");
      expectError(await get("/v1/audit", bearer("not-the-token-at-all")), 401, "UNAUTHORIZED");
    });

    it("answers 200 with the approver token", async function () {
      expect((await get("/v1/audit", bearer(h.token))).status).to.equal(200);
      expect((await get("/v1/audit/verify", bearer(h.token))).status).to.equal(200);
    });
  });

  describe("GET /openapi.json", function () {
    it("takes its server URL from the listen address, not from a forged Host header sent first", async function () {
      await withServer(h, h.config, async (url) => {
        const forged = await getWithHost(url, "/openapi.json", "evil.example");
        expect(forged.status).to.equal(200);
        expect(forged.body.servers).to.deep.equal([{ url }]);
        const honest = await get("/openapi.json");
        expect(honest.body.servers).to.deep.equal([{ url: h.url }]);
      });
    });

    it("documents the signed read and the approver token on GET /v1/operations/{id} and the audit routes", async function () {
      const doc = (await get("/openapi.json")).body;
      expect(doc.components.securitySchemes.readSignature).to.include({ type: "apiKey", in: "header", name: "X-Countersign-Signature" });
      expect(doc.paths["/v1/operations/{id}"].get.security).to.deep.equal([{ readSignature: [], readTimestamp: [] }, { approverToken: [] }]);
      expect(doc.paths["/v1/operations/{id}"].get.responses).to.have.property("401");
      expect(doc.paths["/v1/audit"].get.security).to.deep.equal([{ approverToken: [] }]);
      expect(doc.paths["/v1/audit/verify"].get.security).to.deep.equal([{ approverToken: [] }]);
    });

    it("takes its server URL from PUBLIC_BASE_URL when it is configured", async function () {
      const config = loadConfig({ ...configEnv(h.config), PUBLIC_BASE_URL: "https://cosigner.example.com" });
      await withServer(h, config, async (url) => {
        const forged = await getWithHost(url, "/openapi.json", "evil.example");
        expect(forged.body.servers).to.deep.equal([{ url: "https://cosigner.example.com" }]);
      });
    });
  });
});

/** The environment a parsed configuration came from (enough of it to parse again). */
function configEnv(config: Config): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
}
