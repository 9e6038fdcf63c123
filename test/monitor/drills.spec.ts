/**
 * Issue 10's drills on a real local chain: the running service (co-signer, chain follower, the breaker's rules) and
 * nothing mocked. Each drill does what an attacker or a broken environment would do, then checks the chain, the
 * incident record and /metrics. Drill 5 (restart, reorg) is the follower's (test/monitor/follower*.spec.ts).
 */
import { expect } from "chai";
import { encodeFunctionData, parseEther, toFunctionSelector, type Address, type Hex } from "viem";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { loadArtifact } from "../../src/chain/artifacts";
import { rpc } from "../../src/devchain/node";
import { operationTypedData } from "../../src/eip712";
import type { Incident } from "../../src/store";
import type { CosignerHarness } from "../support/cosigner";
import { artifact, deployMock, SPARE_KEY } from "../support/engine";
import {
  bearer,
  call,
  erc20Transfer,
  eventually,
  executeOnChain,
  operationOf,
  signedOperation,
  startHttpHarness,
  usdc,
  usdcTransfer,
  walletRead,
  walletTx,
  type HttpHarness,
  type OperationBody,
} from "../support/http";

describe("drills: the monitor trips the breaker (issue 10)", function () {
  this.timeout(300_000);
  let h: HttpHarness;
  const get = (path: string) => call(h.url, "GET", path, undefined, bearer(h.token));
  const post = (path: string, body?: unknown) => call(h.url, "POST", path, body, bearer(h.token));
  const propose = (op: OperationBody) => call(h.url, "POST", "/v1/operations", op);
  const alice = () => h.deployment.recipients.alice! as Address;
  const bob = () => h.deployment.recipients.bob! as Address;
  const mallory = () => devAccount(LOCAL_ROLES.mallory).address;

  before(async function () {
    h = await startHttpHarness(() => ({ MONITOR_POLL_MS: "100", MONITOR_RULES: "{}" }));
    expect(h.service.monitor, "the service follows the chain").to.not.equal(null);
  });
  after(async function () {
    await h?.stop();
  });

  /** As before a drill: the owner unpauses, an operator clears the flag and resolves every incident, the fork sees it. */
  async function restore(): Promise<void> {
    if (await walletRead<boolean>(h, "paused")) await walletTx(h, "unpause", [], LOCAL_ROLES.owner);
    await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`, { operator: "drill" });
    for (const i of (await get("/v1/incidents?limit=500")).body.incidents as Incident[]) {
      if (i.state !== "resolved") await post(`/v1/incidents/${i.id}/resolve`, { operator: "drill" });
    }
    await eventually(async () => (await call(h.url, "GET", `/v1/wallets/${h.deployment.wallet}`)).body.paused === false, "the fork to see the unpause");
  }

  /** The one open incident of `rule`, once it exists (and, for a transaction, once it is mined). */
  async function incidentOf(rule: string, mined = true): Promise<Incident> {
    let found: Incident | undefined;
    await eventually(async () => {
      found = ((await get(`/v1/incidents?rule=${rule}&state=open`)).body.incidents as Incident[])[0];
      return found !== undefined && (!mined || found.actions.at(-1)?.status === "confirmed");
    }, `an open ${rule} incident${mined ? " with its transaction mined" : ""}`);
    return found!;
  }

  async function metric(pattern: RegExp): Promise<number> {
    const text = (await call(h.url, "GET", "/metrics")).text;
    const m = pattern.exec(text);
    return m ? Number(m[1]) : NaN;
  }

  const walletLabel = () => h.deployment.wallet.replace(/^0x/, "0x");

  describe("1. a leaked co-signer key signs an operation outside the service, and it is executed", function () {
    after(restore);

    it("pauses the wallet within 2 blocks; the incident names the digest; /metrics shows the state and the latency", async function () {
      // The attacker holds the session key and the co-signer's key: both signatures, no decision in the store.
      const op = await usdcTransfer(h, alice(), usdc(1));
      const typed = operationTypedData(h.deployment.chainId, op.wallet, operationOf(op));
      const cosignature = await devAccount(LOCAL_ROLES.cosigner).signTypedData(typed);
      const receipt = await executeOnChain(h, op, cosignature);
      expect(receipt.status).to.equal("success");

      const incident = await incidentOf("unattributed_execution");
      expect(await walletRead<boolean>(h, "paused")).to.equal(true);
      const digest = incident.evidence[0]!.digest as Hex;
      const { hashTypedData } = await import("viem");
      expect(digest).to.equal(hashTypedData(typed));
      expect(incident.evidence[0]).to.deep.include({ txHash: receipt.transactionHash });
      const action = incident.actions[0]!;
      expect(action).to.deep.include({ kind: "pause", status: "confirmed", guardian: h.deployment.roles.guardian });
      const blocks = BigInt(action.blockNumber!) - receipt.blockNumber;
      expect(Number(blocks), `paused ${blocks} blocks after the offending one`).to.be.within(1, 2);

      expect(await metric(/^countersign_incidents\{rule="unattributed_execution",state="open"\} (\d+)$/m)).to.equal(1);
      expect(await metric(new RegExp(`^countersign_breaker_state\\{wallet="${walletLabel()}",state="paused"\\} (\\d+)$`, "m"))).to.equal(1);
      expect(await metric(/^countersign_breaker_latency_blocks_count\{rule="unattributed_execution",action="pause"\} (\d+)$/m)).to.equal(1);
      expect(await metric(/^countersign_breaker_latency_blocks_sum\{rule="unattributed_execution",action="pause"\} (\d+)$/m)).to.equal(Number(blocks));
      // And co-signing stopped: the next proposal is refused.
      const after = await propose(await usdcTransfer(h, alice(), usdc(1)));
      expect(after.body.error?.code ?? after.body.reasons?.[0]?.code).to.be.oneOf(["WALLET_PAUSED", "ANOMALY_FLAGGED"]);
      expect(after.body.cosignerSignature).to.equal(undefined);
    });
  });

  describe("2. a permitted contract behaves differently once mined (pays another account the same amount)", function () {
    after(restore);

    it("finds the mismatch between the simulated and the actual changes and pauses the wallet", async function () {
      const head = BigInt(await rpc<string>(h.node.url, "eth_blockNumber"));
      const fromBlock = head + 8n;
      const payee = await deployMock(h as unknown as CosignerHarness, "TimeBombPayee", [alice(), mallory(), fromBlock]);
      const forward = toFunctionSelector("forward()");
      await walletTx(h, "setCallPermission", [payee, forward, true]);
      const amount = parseEther("0.001");
      const calls = [{ target: payee, value: amount, data: encodeFunctionData({ abi: artifact("TimeBombPayee").abi, functionName: "forward" }) }];
      const op = await signedOperation(h, calls, { kind: "call", expect: [{ asset: "native", delta: (-amount).toString() }] });
      const decided = await propose(op);
      expect(decided.status, JSON.stringify(decided.body)).to.equal(200);
      expect(decided.body.simulation.changes).to.deep.include({ account: alice(), asset: "native", delta: amount.toString() });
      // The agent waits a few blocks: the contract now pays mallory; the wallet loses the same amount, so its bound holds.
      const now = BigInt(await rpc<string>(h.node.url, "eth_blockNumber"));
      if (fromBlock - 1n > now) await rpc(h.node.url, "hardhat_mine", [`0x${(fromBlock - 1n - now).toString(16)}`]);
      const receipt = await executeOnChain(h, op, decided.body.cosignerSignature);
      expect(receipt.status, "the wallet's bound holds: the same amount left it").to.equal("success");

      const incident = await incidentOf("simulation_mismatch");
      expect(await walletRead<boolean>(h, "paused")).to.equal(true);
      const evidence = incident.evidence[0]! as unknown as { digest: string; decisionId: string; expected: { account: string; delta: string }[]; actual: { account: string; delta: string }[] };
      expect(evidence.digest).to.equal(decided.body.digest);
      expect(evidence.decisionId).to.equal(decided.body.id);
      expect(evidence.expected).to.deep.include({ account: alice(), asset: "native", delta: amount.toString() });
      expect(evidence.actual.some((c) => c.account === alice() && c.delta === amount.toString()), "alice was not paid on chain").to.equal(false);
      expect(await metric(/^countersign_incidents\{rule="simulation_mismatch",state="open"\} (\d+)$/m)).to.equal(1);
      expect(await metric(/^countersign_breaker_latency_blocks_count\{rule="simulation_mismatch",action="pause"\} (\d+)$/m)).to.equal(1);
      await walletTx(h, "setCallPermission", [payee, forward, false]);
    });
  });

  describe("3. three manipulated proposals from one session key", function () {
    const spare = () => devAccount(SPARE_KEY);
    after(restore);

    it("(rule 5 on the way) adding the key on chain flags the wallet: operations wait for a person until cleared", async function () {
      const validUntil = BigInt(Math.floor(Date.now() / 1000)) + 86_400n;
      await walletTx(h, "addSessionKey", [spare().address, Number(validUntil)]);
      const incident = await incidentOf("control_change", false);
      expect(incident.actionKind).to.equal("flag");
      expect(incident.evidence[0]).to.deep.include({ event: "SessionKeyAdded" });
      const held = await propose(await usdcTransfer(h, alice(), usdc(1)));
      expect(held.status, JSON.stringify(held.body)).to.equal(202);
      expect(held.body.reasons.map((r: { code: string }) => r.code)).to.include("ANOMALY_FLAGGED");
      expect(await metric(new RegExp(`^countersign_breaker_state\\{wallet="${walletLabel()}",state="flagged"\\} (\\d+)$`, "m"))).to.equal(1);
      await post(`/v1/incidents/${incident.id}/resolve`, { operator: "drill", note: "the owner added it" });
      await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`, { operator: "drill" });
    });

    it("revokes that key on chain after the third; the wallet's other key keeps working", async function () {
      const account = spare();
      // 1: calldata pays bob, the intent says alice (INTENT_MISMATCH, a rejected decision).
      const usdcToken = h.deployment.tokens.USDC!;
      const lie = await signedOperation(h, [erc20Transfer(usdcToken, bob(), usdc(2))], { kind: "transfer", asset: usdcToken, to: alice(), amount: usdc(2).toString() }, { account });
      expect((await propose(lie)).body.reasons?.map((r: { code: string }) => r.code)).to.include("INTENT_MISMATCH");
      // 2: a payment to mallory (RECIPIENT_NOT_ALLOWED, the wallet's allowlist on the fork).
      const injected = await usdcTransfer(h, mallory(), usdc(3), { account });
      expect((await propose(injected)).body.reasons?.map((r: { code: string }) => r.code)).to.include("RECIPIENT_NOT_ALLOWED");
      expect(await walletRead<number>(h, "sessionKeyValidUntil", [account.address]), "two are not enough").to.not.equal(0);
      // 3: a transfer of a token the wallet does not budget, without bounds (BOUNDS_MISMATCH, refused before a decision).
      const token = await deployMock(h as unknown as CosignerHarness, "MockERC20", ["Unbudgeted", "UNB", 18]);
      const unbounded = await signedOperation(h, [erc20Transfer(token, alice(), 1n)], { kind: "transfer", asset: token, to: alice(), amount: "1" }, { account, bounds: [] });
      const refused = await propose(unbounded);
      expect(refused.body.error?.code, JSON.stringify(refused.body)).to.equal("BOUNDS_MISMATCH");

      const incident = await incidentOf("refusal_burst");
      expect(incident).to.deep.include({ actionKind: "revoke", sessionKey: account.address });
      expect(Number(await walletRead<number>(h, "sessionKeyValidUntil", [account.address])), "revoked on chain").to.equal(0);
      const counted = (incident.evidence[0] as unknown as { refusals: { kind: string; codes: string[] }[] }).refusals;
      expect(counted.map((r) => r.codes[0])).to.deep.equal(["INTENT_MISMATCH", "RECIPIENT_NOT_ALLOWED", "BOUNDS_MISMATCH"]);
      expect(counted.map((r) => r.kind)).to.deep.equal(["decision", "decision", "refusal"]);
      expect(incident.actions[0]).to.deep.include({ kind: "revoke", sessionKey: account.address, guardian: h.deployment.roles.guardian });
      expect(await walletRead<boolean>(h, "paused"), "the wallet is not paused").to.equal(false);

      const revoked = await propose(await usdcTransfer(h, alice(), usdc(1), { account }));
      expect(revoked.status).to.equal(401);
      expect(revoked.body.error.code).to.equal("UNKNOWN_SESSION_KEY");
      const other = await propose(await usdcTransfer(h, alice(), usdc(1)));
      expect(other.status, JSON.stringify(other.body)).to.equal(200);
      expect(await metric(/^countersign_incidents\{rule="refusal_burst",state="open"\} (\d+)$/m)).to.equal(1);
      expect(await metric(/^countersign_incidents_opened_total\{rule="refusal_burst",action="revoke"\} (\d+)$/m)).to.equal(1);
    });
  });

  describe("4. a spending burst", function () {
    after(restore);

    it("flags the wallet once more than half a budget left within 10 minutes: later operations wait for a person", async function () {
      const spend = async (amount: bigint) => {
        const op = await usdcTransfer(h, alice(), amount);
        const res = await propose(op);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect((await executeOnChain(h, op, res.body.cosignerSignature)).status).to.equal("success");
      };
      await spend(usdc(260));
      // The follower has seen it; 26% of the 1,000 USDC budget is not a burst.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(((await get("/v1/incidents?rule=spending_velocity&state=open")).body.incidents as Incident[]).length).to.equal(0);
      await spend(usdc(260));
      const incident = await incidentOf("spending_velocity", false);
      expect(incident.actionKind).to.equal("flag");
      // Everything that left in the window counts (drill 1's leaked payment too).
      expect(incident.evidence[0]).to.deep.include({ limit: usdc(1000).toString(), asset: h.deployment.tokens.USDC });
      expect(BigInt(incident.evidence[0]!.total as string) > usdc(500)).to.equal(true);
      const held = await propose(await usdcTransfer(h, alice(), usdc(1)));
      expect(held.status, JSON.stringify(held.body)).to.equal(202);
      expect(held.body.reasons.map((r: { code: string }) => r.code)).to.include("ANOMALY_FLAGGED");
      expect(await walletRead<boolean>(h, "paused"), "a flag sends no transaction").to.equal(false);
      expect(await metric(/^countersign_incidents\{rule="spending_velocity",state="open"\} (\d+)$/m)).to.equal(1);
      // Until an operator clears it.
      await post(`/v1/wallets/${h.deployment.wallet}/anomaly/clear`, { operator: "drill" });
      expect((await propose(await usdcTransfer(h, alice(), usdc(1)))).status).to.equal(200);
    });
  });

  describe("afterwards", function () {
    it("keeps the audit chain whole through every drill", async function () {
    expect((await get("/v1/audit/verify")).body.ok).to.equal(true);
      expect(loadArtifact("AgentWallet").abi.some((x) => (x as { name?: string }).name === "revokeSessionKey")).to.equal(true);
    });
  });
});
