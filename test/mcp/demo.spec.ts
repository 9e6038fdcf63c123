import { expect } from "chai";
import { startMcpAgent, type McpAgent } from "../../src/demo/mcp-agent";
import { runDemo, type ScenarioResult } from "../../src/demo/run";
import { startHttpHarness, type HttpHarness } from "../support/http";

describe("npm run demo -- --mcp (src/demo/mcp-agent.ts: the scenarios arrive as MCP tool calls)", function () {
  this.timeout(300_000);
  let h: HttpHarness;
  let agent: McpAgent;
  let results: ScenarioResult[];
  const printed: string[] = [];

  before(async function () {
    h = await startHttpHarness();
    const target = { ...h.deployment, cosignerUrl: h.url };
    const print = (line: string) => printed.push(line);
    agent = await startMcpAgent(target, print);
    results = await runDemo({ target, approverToken: h.token, print, client: agent.client });
  });
  after(async function () {
    await agent?.close();
    await h?.stop();
  });

  it("ends every scenario as expected", function () {
    expect(results.map((r) => r.id)).to.deep.equal(["a", "b", "c", "d", "e", "f", "g", "h"]);
    for (const r of results) expect(r.ok, `${r.id} ${r.title}: ${r.detail}\n${printed.join("\n")}`).to.equal(true);
  });

  it("pays INV-1001 and refuses the injected payment through propose_transfer", function () {
    expect(printed.some((l) => /^ +tool +propose_transfer .*"amount":"120 USDC"/.test(l))).to.equal(true);
    expect(printed.some((l) => /^ +answer +APPROVED AND EXECUTED: transfer 120 USDC/.test(l))).to.equal(true);
    expect(printed.some((l) => /^ +answer +REFUSED by the co-signer: transfer 900 USDC/.test(l))).to.equal(true);
  });

  it("proposes the mismatched calldata of (c) through propose_call and is refused with INTENT_MISMATCH", function () {
    const start = printed.findIndex((l) => l.startsWith("(c) "));
    const c = printed.slice(start, printed.findIndex((l, i) => i > start && l.startsWith("(d) ")));
    expect(c.some((l) => /^ +tool +propose_call .*"delta":"-60000000 base units"/.test(l)), c.join("\n")).to.equal(true);
    expect(c.some((l) => /^ +answer +REFUSED by the co-signer: 1 call to USDC \(0x[0-9a-fA-F]{40}\), declaring the wallet's changes as -60 USDC /.test(l)), c.join("\n")).to.equal(true);
    expect(c.some((l) => /^ +decision \S+ REJECTED INTENT_MISMATCH /.test(l)), c.join("\n")).to.equal(true);
    expect(c.some((l) => /^ +sdk /.test(l)), c.join("\n")).to.equal(false);
  });

  it("meets the breaker through the tools and sends the approved payment with get_decision", function () {
    expect(printed.filter((l) => /^ +answer +REFUSED by the co-signer before any decision/.test(l))).to.have.length(2);
    expect(printed.some((l) => /^ +tool +get_decision /.test(l))).to.equal(true);
  });
});
