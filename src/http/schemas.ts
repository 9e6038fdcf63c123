/**
 * The HTTP API's own schemas, beside the wire shapes of src/api (the operation request, the decision, the error body,
 * the wallet view): the small request bodies and query strings (parsed strictly), and the other answers (for the
 * OpenAPI document and the tests that check answers against it). Amounts are decimal strings in base units;
 * addresses are checksummed 0x-hex.
 */
import { z } from "zod";
import { addressString as address, decimalString as decimal, errorBodySchema as apiErrorBodySchema, hexString as hex } from "../api";
import { ruleDecisionSchema, ruleMatchSchema, ruleSchema } from "../approvals/policy";
import { REASON_CODES } from "../errors";
import { addressSchema } from "../intent/schema";
import { HTTP_ERROR_CODES } from "./errors";

// The answers the SDK reads too (the decision, the wallet view) live in src/api, beside the operation request.
export { decisionSchema, reasonSchema, walletViewSchema } from "../api";

const name = z.string().regex(/^[A-Za-z0-9 _.@:+-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 space _ . @ : + -");

// ---- requests ----

/** POST /v1/operations/:id/approve and /reject body (optional). */
export const approvalRequestSchema = z.strictObject({
  approver: name.optional().describe("Who decides (recorded in the audit log); defaults to \"approver\""),
  note: z.string().max(500, "must be at most 500 characters").optional().describe("Why (kept with a rejection)"),
});

/** POST /v1/wallets/:address/pause body (optional). */
export const pauseRequestSchema = z.strictObject({
  operator: name.optional().describe("Who trips the breaker (recorded in the audit log); defaults to \"operator\""),
  reason: z.string().min(1).max(500, "must be at most 500 characters").optional().describe("Why (recorded with the anomaly flag)"),
});

/** GET /v1/audit query. */
export const auditQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).default(0).describe("Return records with seq greater than this"),
  limit: z.coerce.number().int().min(1).max(500).default(100).describe("At most this many records (1-500)"),
});

/** :address path parameter. */
export const walletParamsSchema = z.strictObject({ address: addressSchema });

/** :id path parameter. */
export const operationParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

/** GET /v1/incidents query. */
export const incidentQuerySchema = z.strictObject({
  state: z.enum(["open", "acknowledged", "resolved"]).optional(),
  wallet: addressSchema.optional(),
  rule: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** :id path parameter of the incident routes. */
export const incidentParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

/** POST /v1/incidents/:id/ack and /resolve body (optional). */
export const incidentUpdateSchema = z.strictObject({
  /** Who acknowledges or resolves (default "operator"). */
  operator: z.string().min(1).max(100).optional(),
  note: z.string().max(1000).optional(),
});

/** GET /v1/approvals query. */
export const approvalsQuerySchema = z.strictObject({
  view: z.enum(["pending", "history"]).default("pending").describe("pending (newest first) or history (settled by people or expired)"),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

// ---- answers ----

/** The body of every 4xx/5xx answer: src/api's error body with `code` narrowed to the codes this service answers with. */
export const errorBodySchema = z.object({
  error: apiErrorBodySchema.shape.error.extend({
    code: z.union([z.enum(REASON_CODES), z.enum(HTTP_ERROR_CODES)]),
    details: z.record(z.string(), z.unknown()).optional().describe("The fields (issues[].path) or values behind the error"),
  }),
});

/** POST /v1/wallets/:address/pause answer. */
export const pauseResultSchema = z.object({
  wallet: address,
  paused: z.literal(true),
  txHash: hex.nullable().describe("null when the wallet was already paused"),
  status: z.enum(["confirmed", "submitted", "already_paused"]),
  blockNumber: decimal.optional(),
  guardian: address,
  auditSeq: z.number().int(),
});

export const auditRecordSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  kind: z.string().describe("decision, decision.approved, decision.rejected, refusal, execution, anomaly, breaker.pause, …"),
  ref: z.string().nullable().describe("The decision id, digest or wallet the record is about"),
  payload: z.unknown(),
  prevHash: z.string(),
  hash: z.string(),
});

/** GET /v1/audit answer. */
export const auditPageSchema = z.object({
  records: z.array(auditRecordSchema),
  next: z.number().int().nullable().describe("Pass as ?after= for the next page; null at the end"),
  head: z.object({ seq: z.number().int(), hash: z.string() }),
});

/** GET /v1/audit/verify answer. */
export const auditVerificationSchema = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  brokenAt: z.number().int().optional(),
  reason: z.string().optional(),
});

/** GET /healthz answer. */
export const healthSchema = z.object({
  status: z.enum(["ok", "unavailable"]),
  problems: z.array(z.string()),
  chainId: z.number().int(),
  cosigner: address,
  guardian: address.nullable(),
  fork: z.object({ head: decimal, lag: decimal, hydratedKeys: z.number().int() }),
  upstream: z.object({ head: decimal, reachable: z.boolean(), lastError: z.string().optional() }),
  maxHeadLag: z.number().int(),
  /** The chain follower, when it runs in this service. */
  monitor: z
    .object({
      /** Whether this replica follows the chain now (it holds the monitor lease); the others stand by. */
      running: z.boolean(),
      lastBlock: decimal.nullable(),
      lag: decimal,
      maxLag: z.number().int(),
      lastError: z.string().optional(),
    })
    .optional(),
});

/** GET /v1/deployment answer: the deployment record this service was started with. */
export const deploymentSchema = z
  .object({
    chainId: z.number().int(),
    wallet: address,
    rpcUrl: z.string().optional(),
    cosignerUrl: z.string().optional(),
    factory: address.optional(),
    tokens: z.record(z.string(), address).optional(),
    dex: address.optional(),
    roles: z.record(z.string(), address).optional(),
    recipients: z.record(z.string(), address).optional(),
  })
  .loose();

/** One action an incident's trip took on chain (or decided not to), newest last in Incident.actions. */
export const incidentActionSchema = z.object({
  kind: z.enum(["pause", "revoke", "flag"]),
  sessionKey: address.optional().describe("The session key revoked (revoke only)"),
  status: z
    .enum(["sending", "submitted", "confirmed", "failed", "already_done", "none"])
    .describe("sending before the transaction is sent, submitted once sent, confirmed once mined, failed, already_done when the chain already was in that state, none for a flag"),
  txHash: hex.nullable(),
  blockNumber: decimal.optional().describe("The block the transaction was mined in"),
  error: z.string().optional().describe("Why it failed"),
  guardian: address.optional().describe("The guardian that sent it"),
  at: z.string(),
});

/** GET /v1/incidents/:id, POST /v1/incidents/:id/ack and /resolve answer: a trip of the breaker (src/store/types.ts Incident). */
export const incidentSchema = z.object({
  id: z.string(),
  chainId: z.number().int(),
  wallet: address,
  sessionKey: address.nullable().describe("The session key a revoke incident is about; null for the wallet as a whole"),
  rule: z.string().describe("The rule that opened it (later rules add evidence)"),
  summary: z.string(),
  evidence: z
    .array(z.object({ rule: z.string(), at: z.string() }).catchall(z.unknown()))
    .describe("The rule that fired and what it saw (digest, expected vs actual changes, refusals…), oldest first"),
  actionKind: z.enum(["pause", "revoke", "flag"]),
  actions: z.array(incidentActionSchema),
  state: z.enum(["open", "acknowledged", "resolved"]),
  openedAt: z.string(),
  updatedAt: z.string(),
  acknowledgedBy: z.string().nullable(),
  acknowledgedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  note: z.string().nullable(),
});

/** GET /v1/incidents answer: newest first. */
export const incidentListSchema = z.object({ incidents: z.array(incidentSchema) });

const assetView = z.union([z.literal("native"), address]);

/** A rule's conditions as GET /v1/policy answers them: ruleMatchSchema with amount.above as a decimal string. */
const ruleMatchViewSchema = ruleMatchSchema.extend({
  asset: assetView.optional().describe("Only when the wallet sends this asset"),
  amount: z
    .strictObject({
      above: decimal.optional().describe("More than this many base units of `asset`"),
      shareOfAvailableBudgetAbove: z.number().min(0).max(1).optional().describe("More than this share (0-1) of the budget available before the operation"),
    })
    .optional(),
});

/**
 * GET /v1/policy answer: the approval policy in force (approvalPolicySchema's rules, with amounts as decimal strings and
 * each decision in words), the rule applied when none matches, and how long a pending operation waits.
 */
export const policyViewSchema = z.object({
  source: z.string().describe("file:<path>, or environment (REVIEW_THRESHOLDS and REVIEW_NEW_RECIPIENTS)"),
  description: z.string().nullable(),
  timeZone: z.string().describe("IANA time zone the timeOfDay conditions are read in"),
  ownAddresses: z.array(address).describe("The owner's own addresses besides the wallet's owner: counterparty own"),
  rules: z.array(
    ruleSchema.extend({
      match: ruleMatchViewSchema,
      summary: z.string().describe("The decision in words"),
    }),
  ),
  noMatch: z.object({ name: z.string(), decide: ruleDecisionSchema, summary: z.string() }).describe("The rule applied when no rule matches"),
  pendingTtlSeconds: z.number().int().describe("Seconds a pending operation waits for its approvals"),
});
