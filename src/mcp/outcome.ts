/**
 * A tool's answer in plain words: executed (with the transaction), pending a person (with the reason and the
 * decision id), or refused (with the reason codes and what to do). A refusal is a normal result, not an error: it
 * is the system working, and the model must read it. Each answer also carries the same facts as structured JSON.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Hex } from "viem";
import type { Decision } from "../api";
import { CosignerRejectedError, CosignerRequestError, ExecutionRevertedError } from "../client";
import { adviceFor } from "./advice";
import { amountJson } from "./amounts";
import type { AssetBook } from "./assets";

/** How a proposal ended, as a tool reports it. */
export type OutcomeKind = "executed" | "pending_approval" | "refused" | "approved";

/** One reason, with the next step. */
export interface ReasonView {
  code: string;
  message: string;
  whatToDo: string;
}

/** The structured form of an answer (`structuredContent`). */
export interface OutcomeView {
  [key: string]: unknown;
  outcome: OutcomeKind;
  /** What was proposed, in words. */
  operation: string;
  /** Who refused: the co-signer or a person (nothing signed), or the wallet on chain (signed, reverted, nothing moved). */
  refusedBy?: "co-signer" | "a person" | "wallet on chain";
  decisionId?: string;
  digest?: Hex;
  reasons: ReasonView[];
  transaction?: { hash: Hex; blockNumber?: string; status: "success" | "reverted" };
  simulation?: {
    blockNumber: string;
    success: boolean;
    revertReason?: string;
    changes: { account: string; name?: string; asset: string; amount: string; baseUnits: string }[];
  };
}

/**
 * The answer for a decision the co-signer approved and the wallet executed.
 * @example return executedAnswer(book, "transfer 12 USDC (…) to alice (0x…)", decision, txHash, receipt.blockNumber)
 */
export async function executedAnswer(book: AssetBook, operation: string, decision: Decision, txHash: Hex, blockNumber: bigint): Promise<CallToolResult> {
  const view: OutcomeView = {
    outcome: "executed",
    operation,
    decisionId: decision.id,
    digest: decision.digest,
    reasons: [],
    transaction: { hash: txHash, blockNumber: blockNumber.toString(), status: "success" },
    simulation: await simulationView(book, decision),
  };
  return answer(view, [
    `APPROVED AND EXECUTED: ${operation}.`,
    `Transaction ${txHash} (block ${blockNumber}). Decision ${decision.id}, digest ${decision.digest}.`,
    changesLine(view),
  ]);
}

/**
 * The answer for a decision a person must take first: nothing was sent.
 * @example return pendingAnswer(book, operation, decision)
 */
export async function pendingAnswer(book: AssetBook, operation: string, decision: Decision): Promise<CallToolResult> {
  const view: OutcomeView = {
    outcome: "pending_approval",
    operation,
    decisionId: decision.id,
    digest: decision.digest,
    reasons: reasonViews(decision.reasons),
    simulation: await simulationView(book, decision),
  };
  return answer(view, [
    `PENDING A PERSON: ${operation}. Nothing was sent yet; a person must approve it.`,
    ...view.reasons.map((r) => `Why: ${r.code}: ${r.message}`),
    `Decision id: ${decision.id}. Call get_decision with this id later: once a person approves it, get_decision sends it. Do not propose it again.`,
  ]);
}

/**
 * The answer for a decision that is approved and co-signed but not sent by this server (it was sent already, or
 * proposed by another process).
 */
export async function approvedAnswer(book: AssetBook, operation: string, decision: Decision, note: string): Promise<CallToolResult> {
  const view: OutcomeView = { outcome: "approved", operation, decisionId: decision.id, digest: decision.digest, reasons: [], simulation: await simulationView(book, decision) };
  return answer(view, [`APPROVED: decision ${decision.id} is co-signed (digest ${decision.digest}). ${note}`, changesLine(view)]);
}

/**
 * The answer for an SDK error that is a refusal: the co-signer rejected it (CosignerRejectedError), refused the
 * request with a reason code (CosignerRequestError, e.g. WALLET_PAUSED) or the wallet reverted it on chain
 * (ExecutionRevertedError). Anything else (the co-signer unreachable, a 400 naming a field, a bug) is returned as
 * undefined for the caller to raise as a tool error.
 * @example try { … } catch (err) { return (await refusalAnswer(book, operation, err)) ?? rethrow(err) }
 */
export async function refusalAnswer(book: AssetBook, operation: string, err: unknown): Promise<CallToolResult | undefined> {
  if (err instanceof CosignerRejectedError) return rejectedAnswer(book, operation, err.decision);
  if (err instanceof CosignerRequestError && err.status !== 0 && err.status !== 400 && /^[A-Z_]+$/.test(err.code)) {
    const view: OutcomeView = { outcome: "refused", operation, refusedBy: "co-signer", reasons: reasonViews([{ code: err.code, message: err.message }]) };
    return answer(view, [`REFUSED by the co-signer before any decision: ${operation}. Nothing was signed or sent.`, ...reasonLines(view)]);
  }
  if (err instanceof ExecutionRevertedError) {
    const view: OutcomeView = {
      outcome: "refused",
      operation,
      refusedBy: "wallet on chain",
      reasons: reasonViews([{ code: err.code, message: err.text }]),
      ...(err.txHash ? { transaction: { hash: err.txHash, blockNumber: err.receipt?.blockNumber.toString(), status: "reverted" as const } } : {}),
    };
    return answer(view, [
      `REFUSED by the wallet on chain: ${operation}. The co-signer approved it, but the wallet refused it when it ran; nothing moved.`,
      err.txHash ? `Transaction ${err.txHash} reverted.` : "It was not sent (the revert was found before sending).",
      ...reasonLines(view),
    ]);
  }
  return undefined;
}

/**
 * The answer for a decision the co-signer or a person rejected: nothing was signed.
 * @example return rejectedAnswer(book, operation, decision)
 */
export async function rejectedAnswer(book: AssetBook, operation: string, decision: Decision): Promise<CallToolResult> {
  const refusedBy = decision.reasons.some((r) => r.code === "REJECTED_BY_APPROVER") ? "a person" : "co-signer";
  const view: OutcomeView = {
    outcome: "refused",
    operation,
    refusedBy,
    decisionId: decision.id,
    digest: decision.digest,
    reasons: reasonViews(decision.reasons),
    simulation: await simulationView(book, decision),
  };
  return answer(view, [
    `REFUSED by ${refusedBy === "a person" ? "a person" : "the co-signer"}: ${operation}. Nothing was signed or sent.`,
    ...reasonLines(view),
    `Decision ${decision.id}, digest ${decision.digest}.`,
    changesLine(view),
  ]);
}

function reasonViews(reasons: readonly { code: string; message: string }[]): ReasonView[] {
  return reasons.map((r) => ({ code: r.code, message: r.message, whatToDo: adviceFor(r.code) }));
}

function reasonLines(view: OutcomeView): string[] {
  return view.reasons.flatMap((r) => [`${r.code}: ${r.message}`, `What to do: ${r.whatToDo}`]);
}

function changesLine(view: OutcomeView): string {
  const sim = view.simulation;
  if (!sim) return "";
  if (!sim.success) return `Simulated at block ${sim.blockNumber}: reverts${sim.revertReason ? ` ${sim.revertReason}` : ""}.`;
  const changes = sim.changes.map((c) => `${c.name ?? c.account} ${c.baseUnits.startsWith("-") ? "" : "+"}${c.amount}`);
  return `Simulated at block ${sim.blockNumber}: ${changes.join(", ") || "no balance changes"}.`;
}

async function simulationView(book: AssetBook, decision: Decision): Promise<OutcomeView["simulation"]> {
  const sim = decision.simulation;
  if (!sim) return undefined;
  const changes = await Promise.all(
    sim.changes.map(async (c) => {
      const delta = BigInt(c.delta);
      const info = await book.info(c.asset === "native" ? "native" : (c.asset as Hex)).catch(() => undefined);
      const amount = info ? amountJson(delta, info) : { amount: `${delta} base units of ${c.asset}`, baseUnits: delta.toString() };
      const name = book.nameOf(c.account);
      return { account: c.account, ...(name ? { name } : {}), asset: c.asset, ...amount };
    }),
  );
  return { blockNumber: sim.blockNumber, success: sim.success, ...(sim.revertReason ? { revertReason: sim.revertReason } : {}), changes };
}

function answer(view: OutcomeView, lines: string[]): CallToolResult {
  return { content: [{ type: "text", text: lines.filter((l) => l !== "").join("\n") }], structuredContent: view };
}

