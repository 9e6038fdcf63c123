/**
 * `npm run demo -- --mcp`: the demo's mock agent reaches Countersign as an LLM agent would, through the MCP tool
 * server (src/mcp) in a child process over stdio. Its payments and swaps arrive as `propose_transfer` and
 * `propose_swap` tool calls, its hand-built calldata (c) as `propose_call` with the wallet's declared changes, and a
 * held operation is sent through `get_decision` once a person approves it; the scenarios in src/demo/run.ts read the
 * outcomes back as SDK results (only c asks how it is proposed: see `proposesByTool`).
 *
 * What the tools deliberately do not offer still goes through the SDK, and the demo says so: a co-signature held to
 * send later (scenarios d, e and the pre-signed operation of f).
 */
import { formatUnits, parseAbi, type Address, type Hex, type TransactionReceipt } from "viem";
import type { Decision } from "../api";
import { devAccount, devPrivateKey, LOCAL_ROLES } from "../chain/accounts";
import {
  CosignerClient,
  CosignerRejectedError,
  CosignerRequestError,
  type CallParams,
  type OperationOptions,
  type OperationResult,
  type Proposal,
  type SwapParams,
  type TransferParams,
} from "../client";
import { CountersignError, type ReasonCode } from "../errors";
import type { Intent } from "../intent/schema";
import { connectMcp, type McpConnection } from "../mcp/connect";
import type { OutcomeView } from "../mcp/outcome";
import type { DemoTarget } from "./run";

const erc20 = parseAbi(["function symbol() view returns (string)", "function decimals() view returns (uint8)"]);

/** The demo agent's client whose proposals are tool calls, and the server process behind it. */
export interface McpAgent {
  client: CosignerClient;
  close(): Promise<void>;
}

/**
 * Starts `countersign-mcp` for `target` with the demo's session key (Hardhat account 1, development only) and
 * returns a client whose operations arrive at it as tool calls; `print` shows each call and the answer's gist.
 * @example const agent = await startMcpAgent(target, console.log); await runDemo({ target, client: agent.client })
 */
export async function startMcpAgent(target: DemoTarget, print: (line: string) => void): Promise<McpAgent> {
  let stderr = "";
  let mcp: McpConnection;
  try {
    mcp = await connectMcp(
      { COSIGNER_URL: target.cosignerUrl, RPC_URL: target.rpcUrl, WALLET: target.wallet, SESSION_KEY_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.sessionKey), LOG_LEVEL: "warn" },
      (chunk) => (stderr = (stderr + chunk).slice(-4_000)),
    );
  } catch (err) {
    throw new Error(`the MCP server did not start: ${(err as Error).message}\n${stderr}`);
  }
  const { tools } = await mcp.client.listTools();
  print(`MCP: the agent's operations go to countersign-mcp (src/mcp) over stdio as tool calls; tools: ${tools.map((t) => t.name).join(", ")}`);
  const client = new ToolCallingClient(target, mcp, print);
  return { client, close: () => mcp.close() };
}

/**
 * A CosignerClient whose `transfer`, `swap` and `call` are tool calls when they would propose and send at once (the
 * only thing the tools do), and whose `execute` of an operation the server holds is a `get_decision` call.
 */
class ToolCallingClient extends CosignerClient {
  /** Read by src/demo/run.ts: calldata goes with declared wallet changes (propose_call), not behind a transfer intent. */
  readonly proposesByTool = true;
  /** Decision ids of operations signed inside the server, by the stand-in proposal handed to the demo. */
  private readonly heldIds = new WeakMap<Proposal, string>();

  constructor(
    target: DemoTarget,
    private readonly mcp: McpConnection,
    private readonly print: (line: string) => void,
  ) {
    super({
      cosignerUrl: target.cosignerUrl,
      rpcUrl: target.rpcUrl,
      // The development session key the server signs with: on this side it only reads decisions and sends what
      // the tools never do (held co-signatures), as the SDK demo does.
      sessionKey: devAccount(LOCAL_ROLES.sessionKey),
      wallet: target.wallet,
      chainId: target.chainId,
    });
  }

  override async transfer(params: TransferParams, options: OperationOptions = {}): Promise<OperationResult> {
    if (!atOnce(options)) return super.transfer(params, options);
    const args = { asset: await this.symbol(params.asset), to: params.to, amount: await this.amount(params.amount, params.asset), purpose: purpose(params.memo) };
    return this.viaTool("propose_transfer", args, { kind: "transfer", asset: params.asset, to: params.to, amount: params.amount });
  }

  override async swap(params: SwapParams, options: OperationOptions = {}): Promise<OperationResult> {
    if (!atOnce(options)) return super.swap(params, options);
    const args = {
      sell: { asset: await this.symbol(params.sell.asset), maxAmount: await this.amount(params.sell.maxAmount, params.sell.asset) },
      buy: { asset: await this.symbol(params.buy.asset), minAmount: await this.amount(params.buy.minAmount, params.buy.asset) },
      purpose: purpose(params.memo),
    };
    return this.viaTool("propose_swap", args, { kind: "swap", sell: params.sell, buy: params.buy });
  }

  override async call(params: CallParams, options: OperationOptions = {}): Promise<OperationResult> {
    if (!atOnce(options)) return super.call(params, options);
    const args = {
      calls: params.calls.map((c) => ({ target: c.target, value: `${c.value} base units`, data: c.data })),
      expect: params.expect.map((e) => ({ asset: e.asset === "native" ? "ETH" : e.asset, delta: `${e.delta} base units` })),
      purpose: purpose(params.memo),
    };
    return this.viaTool("propose_call", args, { kind: "call", expect: params.expect });
  }

  /** Every SDK operation that is not a tool call passes here: say so in the walkthrough. */
  override async operate(...args: Parameters<CosignerClient["operate"]>): Promise<OperationResult> {
    this.print(`    sdk      not a tool call: the tools never hold a co-signature to send later, so this goes through the SDK`);
    return super.operate(...args);
  }

  override async execute(proposal: Proposal, cosignature: Decision | Hex, options: { gas?: bigint } = {}): Promise<{ txHash: Hex; receipt: TransactionReceipt }> {
    const id = this.heldIds.get(proposal);
    if (id === undefined) return super.execute(proposal, cosignature, options);
    const r = await this.viaTool("get_decision", { id }, proposal.intent);
    if (!r.txHash || !r.receipt) throw new Error(`get_decision ${id} did not send it (${r.decision.status})`);
    return { txHash: r.txHash, receipt: r.receipt };
  }

  /** Calls a tool and reads its answer back as the SDK would have returned or thrown it. */
  private async viaTool(name: string, args: Record<string, unknown>, intent: Intent): Promise<OperationResult> {
    this.print(`    tool     ${name} ${JSON.stringify(args)}`);
    const r = await this.mcp.call(name, args);
    const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
    if (r.isError) throw new Error(`${name} answered an error: ${text}`);
    const lines = text.split("\n");
    this.print(`    answer   ${lines[0]}`);
    for (const line of lines.slice(1).filter((l) => /^(Why|What to do):/.test(l))) this.print(`             ${line}`);
    const view = r.structuredContent as OutcomeView;
    if (!view.decisionId) {
      const reason = view.reasons[0];
      if (view.refusedBy === "co-signer" && reason) throw new CosignerRequestError(statusOf(reason.code), reason.code, reason.message);
      throw new Error(`${name}: ${text}`);
    }
    const decision = await this.getOperation(view.decisionId);
    if (view.outcome === "refused" && view.refusedBy !== "wallet on chain") throw new CosignerRejectedError(decision);
    if (view.outcome === "refused") throw new Error(`${name}: ${text}`);
    const proposal = await this.standIn(decision, intent);
    if (view.outcome !== "executed" || !view.transaction) return { decision, proposal };
    const receipt = await this.publicClient.getTransactionReceipt({ hash: view.transaction.hash });
    return { decision, proposal, txHash: view.transaction.hash, receipt };
  }

  /** The demo never sees the calls the server signed: it gets this stand-in, whose `execute` is get_decision. */
  private async standIn(decision: Decision, intent: Intent): Promise<Proposal> {
    const proposal: Proposal = {
      chainId: await this.chainId(),
      wallet: this.wallet,
      calls: [],
      nonce: 0n,
      deadline: 0n,
      callGasLimit: 0n,
      bounds: [],
      intent,
      agentSignature: "0x",
      digest: decision.digest,
    };
    this.heldIds.set(proposal, decision.id);
    return proposal;
  }

  /** "USDC" for a token (read from it), "ETH" for native: what a model would write. */
  private async symbol(asset: "native" | Address): Promise<string> {
    if (asset === "native") return "ETH";
    return this.publicClient.readContract({ address: asset, abi: erc20, functionName: "symbol" });
  }

  /** "120 USDC": decimal units with the symbol, as a model would write it. */
  private async amount(amount: bigint, asset: "native" | Address): Promise<string> {
    if (asset === "native") return `${formatUnits(amount, 18)} ETH`;
    const decimals = await this.publicClient.readContract({ address: asset, abi: erc20, functionName: "decimals" });
    return `${formatUnits(amount, decimals)} ${await this.symbol(asset)}`;
  }
}

/** Whether an operation is what the tools do: propose and, when approved, send at once, with nothing chosen by hand. */
function atOnce(o: OperationOptions): boolean {
  return o.execute !== false && o.nonce === undefined && o.deadline === undefined && o.gas === undefined && o.bounds === undefined && o.callGasLimit === undefined && o.idempotencyKey === undefined;
}

function purpose(memo: string | undefined): string {
  return memo && memo.trim() !== "" ? memo : "demo: the agent's next step";
}

/** The HTTP status the co-signer answers a refusal code with (e.g. WALLET_PAUSED → 503), as the SDK reports it. */
function statusOf(code: string): number {
  return new CountersignError(code as ReasonCode, "").status;
}
