/**
 * The tools' handlers: each turns its arguments into an SDK call (src/client) and the outcome into words
 * (src/mcp/outcome.ts). Nothing here decides: the co-signer decides, a person decides what it holds, the wallet
 * checks again on chain. The server signs only with the session key inside the CosignerClient.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { formatUnits, type Address, type Hex } from "viem";
import type { z } from "zod";
import type { Decision } from "../api";
import { CosignerRequestError, ExecutionRevertedError, type Asset, type CosignerClient, type OperationResult, type Proposal } from "../client";
import { amountJson, formatAmount, parseAmount } from "./amounts";
import type { AssetBook } from "./assets";
import { ToolInputError } from "./errors";
import { approvedAnswer, executedAnswer, pendingAnswer, refusalAnswer, rejectedAnswer } from "./outcome";
import type { getDecisionInput, proposeCallInput, proposeSwapInput, proposeTransferInput } from "./schemas";

/** What the handlers work with. */
export interface ToolDeps {
  client: CosignerClient;
  book: AssetBook;
  /** The DEX `propose_swap` routes through (configuration, or the co-signer's deployment record). */
  dex: () => Promise<Address | undefined>;
}

/**
 * The five tools' behaviour, independent of the protocol (src/mcp/server.ts registers them).
 * @example const tools = new CountersignTools({ client, book, dex }); await tools.proposeTransfer({ asset: "USDC", to, amount: "12 USDC", purpose: "INV-1" })
 */
export class CountersignTools {
  /** Operations a person must approve first, by decision id: get_decision sends them once approved. */
  private readonly held = new Map<string, { proposal: Proposal; operation: string }>();
  /** Operations this server sent, by decision id. */
  private readonly sent = new Map<string, { operation: string; txHash: Hex; blockNumber: bigint }>();

  constructor(private readonly deps: ToolDeps) {}

  /** wallet_status: budgets available now, caps, recipients with names, call permissions, the DEX, paused. */
  async walletStatus(): Promise<CallToolResult> {
    const { client, book } = this.deps;
    const w = await client.getWallet();
    const budgets = await Promise.all(
      w.budgets.map(async (b) => {
        const info = await book.info(b.token);
        return {
          asset: info.symbol,
          token: b.token,
          decimals: info.decimals,
          availableNow: amountJson(b.available, info),
          limit: amountJson(b.limit, info),
          refillPeriodSeconds: Number(b.period),
          maxPerOperation: amountJson(b.maxPerOperation, info),
          text: `${info.symbol}${b.token === "native" ? "" : ` (${b.token})`}: ${formatAmount(b.available, info)} available now; refills to ${formatUnits(b.limit, info.decimals)} ${info.symbol} over ${period(b.period)}; at most ${formatUnits(b.maxPerOperation, info.decimals)} ${info.symbol} per operation`,
        };
      }),
    );
    const recipients = w.recipients.map((address) => ({ address, name: book.nameOf(address) ?? null }));
    const callPermissions = w.callPermissions.map((p) => ({ target: p.target, name: book.nameOf(p.target) ?? null, selector: p.selector }));
    const key = w.sessionKeys.find((k) => k.key === client.sessionKey.address);
    const dex = await this.deps.dex();
    const sessionKey = { address: client.sessionKey.address, active: key?.active ?? false, validUntil: key ? new Date(Number(key.validUntil) * 1000).toISOString() : null };
    const lines = [
      `Wallet ${w.address} on chain ${w.chainId}, as the co-signer sees it at block ${w.blockNumber}: ${w.paused ? "PAUSED (the circuit breaker is on: every operation is refused until a person unpauses it)" : "not paused"}.`,
      `Budgets (gross outflow; they refill continuously):`,
      ...budgets.map((b) => `- ${b.text}`),
      `Allowlisted recipients: ${recipients.map((r) => (r.name ? `${r.name} ${r.address}` : r.address)).join(", ") || "none"}.`,
      `Contract functions the wallet may call: ${callPermissions.map((p) => `${p.name ?? p.target} ${p.selector}`).join(", ") || "none"}.`,
      dex ? `Swaps (propose_swap) go through ${book.label(dex)}.` : "No DEX is configured: propose_swap is unavailable.",
      `Session key ${sessionKey.address}: ${sessionKey.active ? `active until ${sessionKey.validUntil}` : "NOT active on this wallet"}.`,
    ];
    return {
      content: [{ type: "text", text: lines.join("\n") }],
      structuredContent: {
        wallet: w.address,
        chainId: w.chainId,
        blockNumber: w.blockNumber.toString(),
        paused: w.paused,
        budgets: budgets.map(({ text: _text, ...b }) => b),
        recipients,
        callPermissions,
        dex: dex ?? null,
        sessionKey,
      },
    };
  }

  /** propose_transfer: a payment, built by the SDK (a native transfer or the token's `transfer`). */
  async proposeTransfer(args: z.output<typeof proposeTransferInput>): Promise<CallToolResult> {
    const { client, book } = this.deps;
    const info = await book.resolve(args.asset, "asset");
    const amount = parseAmount(args.amount, info, "amount");
    const operation = `transfer ${formatAmount(amount, info)} to ${book.label(args.to)}`;
    return this.settle(operation, () => client.transfer({ asset: info.asset, to: args.to, amount, memo: args.purpose }, { execute: false }));
  }

  /** propose_swap: approve exactly the amount sold, then swap on the DEX. */
  async proposeSwap(args: z.output<typeof proposeSwapInput>): Promise<CallToolResult> {
    const { client, book } = this.deps;
    const sell = await book.resolve(args.sell.asset, "sell.asset");
    const buy = await book.resolve(args.buy.asset, "buy.asset");
    if (sell.asset === "native") throw new ToolInputError("sell.asset", "swaps on the DEX are between ERC-20 tokens; ETH cannot be sold here");
    if (buy.asset === "native") throw new ToolInputError("buy.asset", "swaps on the DEX are between ERC-20 tokens; ETH cannot be bought here");
    if (sell.asset === buy.asset) throw new ToolInputError("buy.asset", "must differ from sell.asset");
    const maxAmount = parseAmount(args.sell.maxAmount, sell, "sell.maxAmount");
    const minAmount = parseAmount(args.buy.minAmount, buy, "buy.minAmount");
    const dex = await this.deps.dex();
    if (!dex) throw new ToolInputError("sell", "no DEX is configured for this server (DEX, or a dex in the co-signer's deployment record)");
    const operation = `swap at most ${formatAmount(maxAmount, sell)} for at least ${formatAmount(minAmount, buy)} on ${book.label(dex)}`;
    return this.settle(operation, () =>
      client.swap({ sell: { asset: sell.asset as Address, maxAmount }, buy: { asset: buy.asset as Address, minAmount }, via: { dex }, memo: args.purpose }, { execute: false }),
    );
  }

  /** propose_call: arbitrary calls whose net effect on the wallet is exactly `expect`. */
  async proposeCall(args: z.output<typeof proposeCallInput>): Promise<CallToolResult> {
    const { client, book } = this.deps;
    const eth = await book.info("native");
    const calls = args.calls.map((c, i) => ({ target: c.target, value: c.value === undefined ? 0n : parseAmount(c.value, eth, `calls.${i}.value`, "non-negative"), data: c.data }));
    const expect: { asset: Asset; delta: bigint }[] = [];
    const declared: string[] = [];
    for (const [i, e] of args.expect.entries()) {
      const info = await book.resolve(e.asset, `expect.${i}.asset`);
      const delta = parseAmount(e.delta, info, `expect.${i}.delta`, "any");
      expect.push({ asset: info.asset, delta });
      declared.push(`${delta > 0n ? "+" : ""}${formatAmount(delta, info)}`);
    }
    const targets = [...new Set(calls.map((c) => book.label(c.target)))].join(", ");
    const operation = `${calls.length} call${calls.length === 1 ? "" : "s"} to ${targets}, declaring the wallet's changes as ${declared.join(", ") || "none"}`;
    return this.settle(operation, () => client.call({ calls, expect, memo: args.purpose }, { execute: false }));
  }

  /** get_decision: a decision by id; an approved one this server holds is sent now, once. */
  async getDecision(args: z.output<typeof getDecisionInput>): Promise<CallToolResult> {
    const { client, book } = this.deps;
    let decision: Decision;
    try {
      decision = await client.getOperation(args.id);
    } catch (err) {
      if (err instanceof CosignerRequestError && (err.status === 404 || err.status === 401)) {
        throw new ToolInputError("id", `no decision ${args.id} that this session key may read`);
      }
      throw err;
    }
    const held = this.held.get(decision.id);
    const sent = this.sent.get(decision.id);
    const operation = held?.operation ?? sent?.operation ?? `the operation of decision ${decision.id}`;
    if (decision.status === "pending_approval") return pendingAnswer(book, operation, decision);
    if (decision.status === "rejected") {
      this.held.delete(decision.id);
      return rejectedAnswer(book, operation, decision);
    }
    if (sent) return executedAnswer(book, operation, decision, sent.txHash, sent.blockNumber);
    if (!held) return approvedAnswer(book, operation, decision, "This server holds no unsent operation with this id: it was sent already, or proposed by another process.");
    this.held.delete(decision.id);
    try {
      return await this.send(operation, held.proposal, decision);
    } catch (err) {
      const refusal = await refusalAnswer(book, operation, err);
      if (refusal) return refusal;
      throw err;
    }
  }

  /** Proposes through the SDK (never executing there) and then sends, holds or explains the outcome. */
  private async settle(operation: string, propose: () => Promise<OperationResult>): Promise<CallToolResult> {
    const { book } = this.deps;
    try {
      const { decision, proposal } = await propose();
      if (decision.status === "pending_approval") {
        this.held.set(decision.id, { proposal, operation });
        return pendingAnswer(book, operation, decision);
      }
      if (decision.status === "rejected") return rejectedAnswer(book, operation, decision);
      return await this.send(operation, proposal, decision);
    } catch (err) {
      const refusal = await refusalAnswer(book, operation, err);
      if (refusal) return refusal;
      throw err;
    }
  }

  /** Sends a co-signed operation from the session key's account and waits for the receipt. */
  private async send(operation: string, proposal: Proposal, decision: Decision): Promise<CallToolResult> {
    try {
      const { txHash, receipt } = await this.deps.client.execute(proposal, decision);
      this.sent.set(decision.id, { operation, txHash, blockNumber: receipt.blockNumber });
      return executedAnswer(this.deps.book, operation, decision, txHash, receipt.blockNumber);
    } catch (err) {
      if (err instanceof ExecutionRevertedError) throw err;
      // Not refused, just not sent (the node, the network): keep it so get_decision can send it again.
      this.held.set(decision.id, { proposal, operation });
      throw new Error(`decision ${decision.id} is approved and co-signed, but sending it failed: ${(err as Error).message}. Call get_decision with id ${decision.id} to send it again.`);
    }
  }
}

function period(seconds: bigint): string {
  const s = Number(seconds);
  if (s % 86_400 === 0) return `${s / 86_400} day${s === 86_400 ? "" : "s"}`;
  if (s % 3_600 === 0) return `${s / 3_600} h`;
  return `${s} s`;
}
