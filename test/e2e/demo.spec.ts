import { expect } from "chai";
import { runDemo, type ScenarioResult } from "../../src/demo/run";
import { startHttpHarness, walletRead, type HttpHarness } from "../support/http";

describe("npm run demo scenarios (src/demo/run.ts against the service over HTTP)", function () {
  this.timeout(300_000);
  let h: HttpHarness;
  let results: ScenarioResult[];
  const printed: string[] = [];

  before(async function () {
    h = await startHttpHarness();
    results = await runDemo({
      target: { ...h.deployment, cosignerUrl: h.url },
      approverToken: h.token,
      drainLogs: () => h.logs.splice(0).map((l) => JSON.parse(l) as Record<string, unknown>),
      print: (line) => printed.push(line),
    });
  });
  after(async function () {
    await h?.stop();
  });

  const outcome = (id: string) => {
    const r = results.find((x) => x.id === id);
    expect(r, `scenario ${id} did not run`).to.not.equal(undefined);
    expect(r!.ok, `${r!.title}: ${r!.detail}\n${printed.join("\n")}`).to.equal(true);
    return r!;
  };

  it("(a) approves, executes and attributes a payment: the Executed digest is the decision's", function () {
    expect(outcome("a").detail).to.match(/decision op_\w+ → tx 0x[0-9a-f]{64}/);
  });

  it("(b) refuses the prompt-injected payment to mallory with RECIPIENT_NOT_ALLOWED, signing nothing", function () {
    expect(outcome("b").detail).to.include("RECIPIENT_NOT_ALLOWED");
  });

  it("(c) refuses calldata that does not match its intent with INTENT_MISMATCH", function () {
    expect(outcome("c").detail).to.include("INTENT_MISMATCH");
  });

  it("(d) the wallet reverts a co-signed operation that no longer fits the budget", function () {
    expect(outcome("d").detail).to.match(/BudgetExceeded|PerOperationCapExceeded/);
  });

  it("(e) the wallet reverts a co-signed swap that stops paying after the simulation with BoundViolated", function () {
    expect(outcome("e").detail).to.include("BoundViolated");
    expect(printed.some((l) => /^ +bounds +signed by both: wallet ETH >= -10000000000000000, wallet USDC >= 40000000$/.test(l)), printed.join("\n")).to.equal(true);
  });

  it("(f) the breaker refuses with WALLET_PAUSED until the owner unpauses, then a payment executes", async function () {
    expect(outcome("f").detail).to.include("WALLET_PAUSED");
    expect(await walletRead<boolean>(h, "paused")).to.equal(false);
  });

  it("(g) a leaked co-signer key's execution: the monitor pauses the wallet and the incident names the digest", function () {
    expect(outcome("g").detail).to.match(/the monitor paused the wallet \d+ block\(s\) after the leaked execution; incident inc_\w+ names the digest/);
  });

  it("(h) a large first payment waits for two approvers, approved through the page's API, and executes", function () {
    expect(outcome("h").detail).to.match(/waited for two approvers .* approved through the page's API by alice-ops and bob-ops, and executed in 0x[0-9a-f]{64}/);
  });

  it("runs the scenarios in order", function () {
    expect(results.map((r) => r.id)).to.deep.equal(["a", "b", "c", "d", "e", "f", "g", "h"]);
  });

  it("prints the service's decision log lines, joined by digest", function () {
    expect(printed.some((l) => l.includes(`"msg":"decision"`) && l.includes(`"status":"approved"`))).to.equal(true);
    expect(printed.some((l) => l.includes(`"msg":"operation refused"`) && l.includes("WALLET_PAUSED"))).to.equal(true);
  });
});
