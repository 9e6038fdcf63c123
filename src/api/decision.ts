/**
 * The decision as the API returns it: what the HTTP layer sends, the SDK parses, and the tests, benchmarks, page and
 * tool server read. Amounts are decimal strings on the wire.
 */
import type { Hex } from "viem";
import { z } from "zod";
import { REASON_CODES, type Reason } from "../errors";
import { addressString, decimalString, hexString, tolerantDecimal } from "./json";

/** A decision's outcome: signed, refused, or waiting for a person. */
export type DecisionStatus = "approved" | "rejected" | "pending_approval";

/** The simulation evidence of a decision (amounts as decimal strings). */
export interface SimulationView {
  blockNumber: string;
  success: boolean;
  revertReason?: string;
  changes: { account: string; asset: string; delta: string }[];
  gasUsed: string;
}

/** What happened on chain to an approved operation, as the monitor recorded it (amounts as decimal strings). */
export interface ExecutionView {
  txHash: Hex;
  blockNumber: string;
  /** What actually changed, derived as the simulated changes are. */
  changes: { account: string; asset: string; delta: string }[];
  /** Whether `changes` equal the simulation's for every asset and account either names. */
  matchesSimulation: boolean;
  /** Who sent the transaction, and the gas it used. */
  relayer?: string;
  gasUsed?: string;
}

/** A decision as the API returns it. */
export interface Decision {
  id: string;
  status: DecisionStatus;
  digest: Hex;
  cosignerSignature?: Hex;
  reasons: Reason[];
  simulation: SimulationView | null;
  /** GET /v1/operations/:id only: the intent as proposed (JSON), its memo, and who decided a reviewed operation. */
  intent?: Record<string, unknown>;
  memo?: string | null;
  decidedBy?: string | null;
  /** GET /v1/operations/:id only, once the monitor has seen the operation executed. */
  execution?: ExecutionView;
}

const statusSchema = z.enum(["approved", "rejected", "pending_approval"]);

/** One reason of a decision, as the service writes it: a known reason code and a sentence. */
export const reasonSchema = z.object({ code: z.enum(REASON_CODES), message: z.string() });

/**
 * A decision exactly as POST /v1/operations, GET /v1/operations/:id, approve and reject answer it (the OpenAPI
 * document's Decision; tests check answers against it).
 * @example const decision = decisionSchema.parse(res.body)
 */
export const decisionSchema = z.object({
  id: z.string(),
  status: statusSchema,
  digest: hexString.describe("EIP-712 digest of the operation: the join key with the audit log and the Executed event"),
  cosignerSignature: hexString.optional().describe("Present only when approved"),
  reasons: z.array(reasonSchema),
  simulation: z
    .object({
      blockNumber: decimalString,
      success: z.boolean(),
      revertReason: z.string().optional(),
      changes: z.array(z.object({ account: addressString, asset: z.string(), delta: decimalString })),
      gasUsed: decimalString,
    })
    .nullable(),
});

const changeSchema = z.object({ account: addressString, asset: z.string(), delta: decimalString });

/** What happened on chain to an approved operation (GET /v1/operations/:id, once executed). */
export const executionSchema = z.object({
  txHash: hexString,
  blockNumber: decimalString,
  changes: z.array(changeSchema).describe("What actually changed, derived by the code that derives the simulated changes"),
  matchesSimulation: z.boolean(),
  relayer: addressString.optional(),
  gasUsed: decimalString.optional(),
});

/**
 * GET /v1/operations/:id: the decision, plus in one answer the intent and memo, who decided a reviewed operation,
 * and (once executed) the transaction and what actually changed.
 * @example const view = operationViewSchema.parse(res.body); view.execution?.matchesSimulation
 */
export const operationViewSchema = decisionSchema.extend({
  intent: z.record(z.string(), z.unknown()).optional().describe("The intent as proposed"),
  memo: z.string().nullable().optional(),
  decidedBy: z.string().nullable().optional().describe("The approver of a reviewed operation; null when the policy decided"),
  execution: executionSchema.optional().describe("Absent until the monitor has seen the operation executed"),
});

/**
 * A decision as the SDK reads it: the same shape, tolerant of what a newer service may send (reason codes it does
 * not know pass through as strings, unknown fields are dropped, a missing simulation reads as null) but strict about
 * the fields the SDK acts on.
 */
export const tolerantDecisionSchema = z.object({
  id: z.string().min(1),
  status: statusSchema,
  digest: hexString,
  cosignerSignature: hexString.optional(),
  reasons: z.array(
    z.object({
      // Unknown codes from a newer server pass through as strings.
      code: z.union([z.enum(REASON_CODES), z.string()]),
      message: z.string(),
    }),
  ),
  simulation: z
    .object({
      blockNumber: tolerantDecimal,
      success: z.boolean(),
      revertReason: z.string().optional(),
      changes: z.array(z.object({ account: z.string(), asset: z.string(), delta: tolerantDecimal })),
      gasUsed: tolerantDecimal,
    })
    .nullable()
    .optional()
    .transform((s) => s ?? null),
  execution: z
    .object({
      txHash: hexString,
      blockNumber: tolerantDecimal,
      changes: z.array(z.object({ account: z.string(), asset: z.string(), delta: tolerantDecimal })),
      matchesSimulation: z.boolean(),
    })
    .optional(),
});

/**
 * Parses a decision body (tolerantly, see tolerantDecisionSchema); throws if it is not one.
 * @example const decision = parseDecision(await res.json())
 */
export function parseDecision(body: unknown): Decision {
  return tolerantDecisionSchema.parse(body) as Decision;
}

/**
 * Whether an answer's body is a decision rather than an error body (a 422 may carry either).
 * @example if (res.status === 422 && isDecisionBody(json)) throw new CosignerRejectedError(parseDecision(json))
 */
export function isDecisionBody(json: unknown): boolean {
  return typeof json === "object" && json !== null && "status" in json && "id" in json && !("error" in json);
}
