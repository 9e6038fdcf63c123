import { expect } from "chai";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createPublicClient, encodeFunctionData, http, parseAbi, parseEther, type Address } from "viem";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../../src/chain/accounts";
import { planPayment } from "../../src/demo/agent";
import { INVOICES } from "../../src/demo/invoices";
import { connectMcp, type McpConnection } from "../../src/mcp/connect";
import type { OutcomeView } from "../../src/mcp/outcome";
import { balanceOf, bearer, call, startHttpHarness, usdc, type HttpHarness } from "../support/http";

const alice = devAccount(LOCAL_ROLES.alice).address;
const bob = devAccount(LOCAL_ROLES.bob).address;
const mallory = devAccount(LOCAL_ROLES.mallory).address;
const SESSION_KEY = devPrivateKey(LOCAL_ROLES.sessionKey);

const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
const view = (r: CallToolResult) => {
  expect(r.isError ?? false, text(r)).to.equal(false);
  return r.structuredContent as OutcomeView;
};
const codes = (r: CallToolResult) => view(r).reasons.map((x) => x.code);

describe("MCP server (src/mcp) over stdio against the co-signer service", function () {
  this.timeout(240_000);
  let h: HttpHarness;
  let mcp: McpConnection;
  let stderr = "";
  let USDC: Address;
  let WETH: Address;

  before(async function () {
    // USDC outflows above 300 go to a person, so a large payment is held.
    h = await startHttpHarness((d) => ({ REVIEW_THRESHOLDS: JSON.stringify({ [d.tokens.USDC!]: usdc(300).toString() }) }));
    USDC = h.deployment.tokens.USDC!;
    WETH = h.deployment.tokens.WETH!;
    mcp = await connectMcp(
      { COSIGNER_URL: h.url, RPC_URL: h.node.url, WALLET: h.deployment.wallet, SESSION_KEY_PRIVATE_KEY: SESSION_KEY, LOG_LEVEL: "info" },
      (chunk) => (stderr += chunk),
    );
  });
  after(async function () {
    await mcp?.close();
    await h?.stop();
  });

  describe("tools/list", function () {
    it("lists the five tools, each with a description for a model and a strict input schema", async function () {
      const { tools } = await mcp.client.listTools();
      expect(tools.map((t) => t.name).sort()).to.deep.equal(["get_decision", "propose_call", "propose_swap", "propose_transfer", "wallet_status"]);
      for (const t of tools) {
        expect(t.description?.length, t.name).to.be.greaterThan(100);
        expect(t.inputSchema.type).to.equal("object");
        expect((t.inputSchema as { additionalProperties?: unknown }).additionalProperties, t.name).to.equal(false);
      }
      const transfer = tools.find((t) => t.name === "propose_transfer")!;
      expect(transfer.inputSchema.required).to.have.members(["asset", "to", "amount", "purpose"]);
    });
  });

  describe("wallet_status", function () {
    it("reports budgets available now with caps, allowlisted recipients by name, the DEX and paused", async function () {
      const r = await mcp.call("wallet_status", {});
      const s = r.structuredContent as any;
      expect(r.isError ?? false, text(r)).to.equal(false);
      expect(s.paused).to.equal(false);
      const budget = s.budgets.find((b: any) => b.asset === "USDC");
      expect(budget.availableNow).to.deep.equal({ amount: "1000 USDC", baseUnits: usdc(1000).toString() });
      expect(budget.maxPerOperation.amount).to.equal("500 USDC");
      expect(s.recipients).to.deep.include.members([
        { address: alice, name: "alice" },
        { address: bob, name: "bob" },
      ]);
      expect(s.dex).to.equal(h.deployment.dex);
      expect(text(r)).to.include("1000 USDC (1000000000 base units) available now").and.include("not paused");
    });
  });

  describe("propose_transfer", function () {
    it("pays an allowlisted recipient: approved, executed on chain, the purpose in the audit log", async function () {
      const before = await balanceOf(h, USDC, alice);
      const r = await mcp.call("propose_transfer", { asset: "USDC", to: alice, amount: "12.5 USDC", purpose: "INV-2001 Acme hosting, December" });
      const v = view(r);
      expect(v.outcome, text(r)).to.equal("executed");
      expect(text(r)).to.match(/^APPROVED AND EXECUTED: transfer 12\.5 USDC \(12500000 base units\) to alice \(0x/);
      const receipt = await createPublicClient({ transport: http(h.node.url) }).getTransactionReceipt({ hash: v.transaction!.hash });
      expect(receipt.status).to.equal("success");
      expect((await balanceOf(h, USDC, alice)) - before).to.equal(usdc("12.5"));
      const audit = await call(h.url, "GET", "/v1/audit?limit=500", undefined, bearer(h.token));
      expect(audit.text).to.include("INV-2001 Acme hosting, December").and.include(v.digest!);
    });

    it("takes amounts in base units too", async function () {
      const r = await mcp.call("propose_transfer", { asset: USDC, to: bob, amount: "3000000 base units", purpose: "INV-2002 fonts" });
      expect(view(r).outcome, text(r)).to.equal("executed");
      expect(view(r).operation).to.include("3 USDC (3000000 base units) to bob");
    });

    it("refuses the prompt-injected payment to a non-allowlisted address as a result that says why and what to do", async function () {
      const plan = planPayment(INVOICES[1]!, { USDC: 6 });
      expect(plan.to).to.equal(mallory);
      const before = await balanceOf(h, USDC, mallory);
      const r = await mcp.call("propose_transfer", { asset: plan.symbol, to: plan.to, amount: `${plan.amount} ${plan.symbol}`, purpose: plan.memo });
      const v = view(r);
      expect(v.outcome, text(r)).to.equal("refused");
      expect(v.refusedBy).to.equal("co-signer");
      expect(codes(r)).to.include("RECIPIENT_NOT_ALLOWED");
      expect(v.reasons.find((x) => x.code === "RECIPIENT_NOT_ALLOWED")!.whatToDo).to.include("prompt injection");
      expect(text(r)).to.match(/^REFUSED by the co-signer/).and.include("What to do:");
      expect(await balanceOf(h, USDC, mallory)).to.equal(before);
    });

    describe("a large payment", function () {
      let pending: OutcomeView;
      let bobBefore: bigint;
      before(async function () {
        bobBefore = await balanceOf(h, USDC, bob);
        pending = view(await mcp.call("propose_transfer", { asset: "USDC", to: bob, amount: "400 USDC", purpose: "INV-2003 brand redesign" }));
      });

      it("is pending a person, with the reason and the decision id, and nothing sent", async function () {
        expect(pending.outcome).to.equal("pending_approval");
        expect(pending.reasons.map((x) => x.code)).to.include("ABOVE_REVIEW_THRESHOLD");
        expect(pending.decisionId).to.match(/^op_/);
        expect(await balanceOf(h, USDC, bob)).to.equal(bobBefore);
        expect(view(await mcp.call("get_decision", { id: pending.decisionId })).outcome).to.equal("pending_approval");
      });

      it("once a person approves it, get_decision sends it and answers with the transaction", async function () {
        const approved = await call(h.url, "POST", `/v1/operations/${pending.decisionId}/approve`, { approver: "mcp-test" }, bearer(h.token));
        expect(approved.status, approved.text).to.equal(200);
        const v = view(await mcp.call("get_decision", { id: pending.decisionId }));
        expect(v.outcome).to.equal("executed");
        expect(v.transaction!.hash).to.match(/^0x[0-9a-f]{64}$/);
        expect((await balanceOf(h, USDC, bob)) - bobBefore).to.equal(usdc(400));
      });
    });
  });

  describe("propose_swap", function () {
    it("executes a swap with a realistic minimum on the deployment's DEX", async function () {
      const before = await balanceOf(h, WETH, h.deployment.wallet);
      const r = await mcp.call("propose_swap", { sell: { asset: "USDC", maxAmount: "40 USDC" }, buy: { asset: "WETH", minAmount: "0.0099 WETH" }, purpose: "rebalance" });
      expect(view(r).outcome, text(r)).to.equal("executed");
      expect((await balanceOf(h, WETH, h.deployment.wallet)) - before).to.equal(parseEther("0.01"));
    });

    it("refuses a swap whose stated minimum is a lie (the DEX pays 0.01 WETH, the intent claims 1)", async function () {
      const usdcBefore = await balanceOf(h, USDC, h.deployment.wallet);
      const r = await mcp.call("propose_swap", { sell: { asset: "USDC", maxAmount: "40 USDC" }, buy: { asset: "WETH", minAmount: "1 WETH" }, purpose: "rebalance" });
      const v = view(r);
      expect(v.outcome, text(r)).to.equal("refused");
      expect(codes(r)).to.include("SIMULATION_REVERTED");
      expect(text(r)).to.include("SlippageExceeded");
      expect(await balanceOf(h, USDC, h.deployment.wallet)).to.equal(usdcBefore);
    });
  });

  describe("propose_call", function () {
    it("refuses calls whose declared changes are not what they do (UNDECLARED_OUTFLOW or INTENT_MISMATCH)", async function () {
      const data = encodeFunctionData({ abi: parseAbi(["function transfer(address,uint256) returns (bool)"]), functionName: "transfer", args: [alice, usdc(2)] });
      const r = await mcp.call("propose_call", { calls: [{ target: USDC, data }], expect: [], purpose: "test: an undeclared payment" });
      expect(view(r).outcome, text(r)).to.equal("refused");
      expect(codes(r).some((c) => c === "UNDECLARED_OUTFLOW" || c === "INTENT_MISMATCH"), codes(r).join()).to.equal(true);
    });
  });

  describe("malformed arguments", function () {
    const cases: [string, string, Record<string, unknown>, RegExp][] = [
      ["a bad address", "propose_transfer", { asset: "USDC", to: "0x1234", amount: "1 USDC", purpose: "x" }, /\bto\b/],
      ["a missing purpose", "propose_transfer", { asset: "USDC", to: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc", amount: "1 USDC" }, /purpose/],
      ["an unknown field", "propose_transfer", { asset: "USDC", to: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc", amount: "1 USDC", purpose: "x", memo: "y" }, /memo/],
      ["an amount in another asset's units", "propose_transfer", { asset: "USDC", to: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc", amount: "1 WETH", purpose: "x" }, /^amount: .*WETH.*USDC/],
      ["an amount without units", "propose_transfer", { asset: "USDC", to: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc", amount: "12", purpose: "x" }, /^amount: "12" is not an amount/],
      ["more decimals than the token has", "propose_transfer", { asset: "USDC", to: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc", amount: "0.0000001 USDC", purpose: "x" }, /^amount: .*6/],
      ["an unknown symbol", "propose_swap", { sell: { asset: "USDT", maxAmount: "1 USDT" }, buy: { asset: "WETH", minAmount: "1 WETH" }, purpose: "x" }, /^sell\.asset: no token with symbol "USDT"/],
      ["an unknown decision id", "get_decision", { id: "op_doesnotexist" }, /^id: /],
    ];
    for (const [what, tool, args, field] of cases) {
      it(`${tool} answers ${what} with an error naming the field`, async function () {
        const r = await mcp.call(tool, args);
        expect(r.isError, text(r)).to.equal(true);
        expect(text(r)).to.match(field);
      });
    }
  });

  describe("stderr", function () {
    it("carries one log line per tool call with the digest, and never the session key", function () {
      const lines = stderr.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.some((l) => l.msg === "tool call" && l.tool === "propose_transfer" && typeof l.digest === "string"), stderr).to.equal(true);
      expect(stderr.toLowerCase()).to.not.include(SESSION_KEY.slice(2).toLowerCase());
    });
  });
});
