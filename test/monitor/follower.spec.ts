/**
 * The monitor's follower inside the service, on a real local chain: executions attributed to their decisions with
 * the changes that actually happened, shown by GET /v1/operations/:id and in the audit chain; owner executions
 * recorded; control changes told to a handler.
 */
import { expect } from "chai";
import type { AddressInfo } from "node:net";
import { getAddress, parseEther, type Address } from "viem";
import { devAccount } from "../../src/chain/accounts";
import { operationViewSchema } from "../../src/api";
import { buildServer } from "../../src/http/server";
import type { ControlChange, ObservedExecution } from "../../src/monitor/types";
import {
  bearer,
  call,
  eventually,
  executeOnChain,
  signedOperation,
  signedRead,
  startHttpHarness,
  usdc,
  usdcTransfer,
  walletTx,
  type HttpHarness,
} from "../support/http";

describe("monitor: following the chain inside the service", function () {
  this.timeout(180_000);
  let h: HttpHarness;
  let alice: Address;
  const seen: { executions: ObservedExecution[]; control: ControlChange[] } = { executions: [], control: [] };

  before(async function () {
    h = await startHttpHarness(() => ({ MONITOR_POLL_MS: "100" }));
    alice = h.deployment.recipients.alice as Address;
    expect(h.service.monitor, "the service runs a monitor by default").to.not.equal(null);
    h.service.monitor!.addHandler({
      async onExecution(e) {
        seen.executions.push(e);
      },
      async onControlChange(c) {
        seen.control.push(c);
      },
    });
  });
  after(async function () {
    await h?.stop();
  });

  const view = async (id: string) => {
    const res = await call(h.url, "GET", `/v1/operations/${id}`, undefined, bearer(h.token));
    expect(res.status).to.equal(200);
    return operationViewSchema.parse(res.body);
  };
  const sorted = (changes: { account: string; asset: string; delta: string }[]) =>
    [...changes].map((c) => `${c.account.toLowerCase()}:${c.asset.toLowerCase()}:${c.delta}`).sort();

  it("attributes an approved, executed token transfer to its decision, with actual changes that match the simulation", async function () {
    // The memo is not signed (the intent is a claim, checked against the simulation), so it may be added here.
    const resigned = await usdcTransfer(h, alice, usdc(7));
    (resigned.intent as Record<string, unknown>).memo = "INV-7";
    const proposed = await call(h.url, "POST", "/v1/operations", resigned);
    expect(proposed.status, JSON.stringify(proposed.body)).to.equal(200);
    const before = await view(proposed.body.id);
    expect(before.execution, "absent before the execution").to.equal(undefined);
    expect(before).to.deep.include({ memo: "INV-7", decidedBy: null });
    expect(before.intent).to.deep.include({ kind: "transfer", to: alice, memo: "INV-7" });

    const receipt = await executeOnChain(h, resigned, proposed.body.cosignerSignature);
    expect(receipt.status).to.equal("success");
    await eventually(async () => (await view(proposed.body.id)).execution !== undefined, "the execution recorded", 15_000);
    const after = await view(proposed.body.id);
    expect(after.execution).to.deep.include({ txHash: receipt.transactionHash, blockNumber: receipt.blockNumber.toString(), matchesSimulation: true });
    expect(after.execution!.relayer).to.equal(getAddress(receipt.from));
    expect(after.execution!.gasUsed).to.equal(receipt.gasUsed.toString());
    const wallet = h.deployment.wallet;
    const token = h.deployment.tokens.USDC!;
    expect(sorted(after.execution!.changes)).to.deep.equal(
      sorted([
        { account: wallet, asset: token, delta: (-usdc(7)).toString() },
        { account: alice, asset: token, delta: usdc(7).toString() },
      ]),
    );
    expect(sorted(after.execution!.changes)).to.deep.equal(sorted(after.simulation!.changes));

    // The same, to the session key that proposed it (a signed read).
    const signed = await call(h.url, "GET", `/v1/operations/${proposed.body.id}`, undefined, await signedRead(proposed.body.id));
    expect(operationViewSchema.parse(signed.body).execution?.txHash).to.equal(receipt.transactionHash);

    const audit = (await h.service.cosigner.store.listAudit(0, 10_000)).filter((r) => r.kind === "executed" && r.ref === proposed.body.id);
    expect(audit).to.have.length(1);
    expect(audit[0]!.payload).to.deep.include({
      digest: proposed.body.digest,
      decisionId: proposed.body.id,
      txHash: receipt.transactionHash,
      blockNumber: receipt.blockNumber.toString(),
      matchesSimulation: true,
    });
    expect((await h.service.cosigner.store.get(proposed.body.id))?.txHash).to.equal(receipt.transactionHash);
    const told = seen.executions.find((e) => e.digest === proposed.body.digest);
    expect(told, "the handler was told").to.deep.include({ decisionId: proposed.body.id, matchesSimulation: true, txHash: receipt.transactionHash });
  });

  it("measures native ETH from balances: an executed ETH transfer matches its simulation", async function () {
    const amount = parseEther("0.001");
    const op = await signedOperation(h, [{ target: alice, value: amount, data: "0x" }], { kind: "transfer", asset: "native", to: alice, amount: amount.toString() });
    const proposed = await call(h.url, "POST", "/v1/operations", op);
    expect(proposed.status, JSON.stringify(proposed.body)).to.equal(200);
    const receipt = await executeOnChain(h, op, proposed.body.cosignerSignature);
    await eventually(async () => (await view(proposed.body.id)).execution !== undefined, "the execution recorded", 15_000);
    const { execution } = await view(proposed.body.id);
    expect(execution!.matchesSimulation, JSON.stringify(execution)).to.equal(true);
    expect(sorted(execution!.changes)).to.deep.equal(
      sorted([
        { account: h.deployment.wallet, asset: "native", delta: (-amount).toString() },
        { account: alice, asset: "native", delta: amount.toString() },
      ]),
    );
    expect(execution!.txHash).to.equal(receipt.transactionHash);
  });

  it("records an owner execution", async function () {
    const receipt = await walletTx(h, "ownerExecute", [[{ target: alice, value: 12345n, data: "0x" }]]);
    const { chainId, wallet } = h.deployment;
    await eventually(async () => (await h.service.cosigner.store.ownerExecutions(chainId, wallet, receipt.blockNumber)).length > 0, "the owner execution recorded", 15_000);
    const [owner] = await h.service.cosigner.store.ownerExecutions(chainId, wallet, receipt.blockNumber);
    expect(owner).to.deep.include({ target: alice, value: "12345", selector: "0x00000000", txHash: receipt.transactionHash, blockNumber: receipt.blockNumber });
    const audit = (await h.service.cosigner.store.listAudit(0, 10_000)).filter((r) => r.kind === "owner.executed");
    expect(audit.map((r) => (r.payload as { txHash: string }).txHash)).to.include(receipt.transactionHash);
  });

  it("tells a handler about a control change of the wallet", async function () {
    const newcomer = devAccount(15).address;
    const receipt = await walletTx(h, "setRecipient", [newcomer, true]);
    await eventually(async () => seen.control.some((c) => c.txHash === receipt.transactionHash), "the control change told", 15_000);
    const change = seen.control.find((c) => c.txHash === receipt.transactionHash)!;
    expect(change).to.deep.include({ event: "RecipientSet", wallet: h.deployment.wallet, blockNumber: receipt.blockNumber });
    expect(change.args).to.deep.equal({ recipient: newcomer, allowed: true });
  });

  it("reports its lag and the executions by matchesSimulation in /metrics and /healthz", async function () {
    const metrics = await call(h.url, "GET", "/metrics");
    expect(metrics.text).to.match(/countersign_monitor_executions_total\{matches_simulation="true"\} [2-9]/);
    expect(metrics.text).to.match(/countersign_monitor_lag_blocks \d+/);
    expect(metrics.text).to.match(/countersign_monitor_last_block [1-9]\d*/);
    const health = await call(h.url, "GET", "/healthz");
    expect(health.status).to.equal(200);
    expect(health.body.monitor).to.include({ maxLag: 5 });
    expect(BigInt(health.body.monitor.lag)).to.be.lessThanOrEqual(5n);
  });

  it("answers /healthz 503 when the monitor lags more than MONITOR_MAX_LAG_BLOCKS", async function () {
    const monitor = h.service.monitor!;
    const lagging = { status: () => ({ ...monitor.status(), lagBlocks: 3n }) };
    const app = await buildServer({ cosigner: h.service.cosigner, config: { ...h.config, MONITOR_MAX_LAG_BLOCKS: 2 }, guardian: null, processMetrics: false, monitor: lagging });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const res = await call(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, "GET", "/healthz");
      expect(res.status).to.equal(503);
      expect(res.body.problems).to.include("monitor is 3 blocks behind the upstream (max 2)");
    } finally {
      await app.close();
    }
  });
});
