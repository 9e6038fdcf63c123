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

  it("meets the breaker through the tools and sends the approved payment with get_decision", function () {
    expect(printed.filter((l) => /^ +answer +REFUSED by the co-signer before any decision/.test(l))).to.have.length(2);
    expect(printed.some((l) => /^ +tool +get_decision /.test(l))).to.equal(true);
  });
});
