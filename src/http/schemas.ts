/**
 * The HTTP API's own schemas, beside the operation request of src/intent/schema.ts: the small request bodies and
 * query strings (parsed strictly), and the answers (for the OpenAPI document and the tests that check answers
 * against it). Amounts are decimal strings in base units; addresses are checksummed 0x-hex.
 */
import { z } from "zod";
import { REASON_CODES } from "../errors";
import { addressSchema } from "../intent/schema";
import { HTTP_ERROR_CODES } from "./errors";

const decimal = z.string().regex(/^-?(0|[1-9][0-9]*)$/, "must be a decimal string");
const hex = z.string().regex(/^0x[0-9a-fA-F]*$/, "must be 0x-hex");
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address");
const name = z.string().regex(/^[A-Za-z0-9 _.@:+-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 space _ . @ : + -");

// ---- requests ----

/**
 * What the OpenAPI document says about the fields of POST /v1/operations (src/intent/schema.ts parses them; these
 * are the words for people and generated clients). Version 2 of the operation added callGasLimit and bounds.
 */
export const operationRequestDocs = {
  chainId: "Chain id of the wallet's chain (the co-signer serves one)",
  wallet: "The AgentWallet",
  calls: "The batch, in order: CALL target with value wei and data (0x = a native transfer)",
  nonce: "Unordered nonce (decimal string; each used once)",
  deadline: "Last second the operation may run (unix seconds, inclusive; decimal string)",
  callGasLimit:
    "Gas every call gets, exactly (decimal string, 1 to 1000000000; the SDK's default is 1000000). Signed: the wallet forwards " +
    "exactly this gas to each call and reverts InsufficientGas if the relayer left too little; the co-signer simulates with it " +
    "and refuses calls that use close to all of it (CALL_GAS_TOO_TIGHT)",
  bounds:
    "Outcome bounds, signed, checked by the wallet after the batch (BoundViolated otherwise): exactly deriveBounds(intent, wallet) " +
    "of src/intent/bounds.ts, in its order (transfer: wallet >= -amount, recipient >= +amount; swap: wallet >= -sell.maxAmount of " +
    "the sold asset, >= +buy.minAmount of the bought one; call: wallet >= each declared delta), or [] for a plain transfer of " +
    "native ETH or of a budgeted token. Anything else is rejected with BOUNDS_MISMATCH",
  "bounds[].asset": "Token address, or 0x0000000000000000000000000000000000000000 for native ETH",
  "bounds[].account": "Whose balance is bounded (the wallet, or a transfer's recipient)",
  "bounds[].minDelta": "Smallest allowed change of the balance, after minus before (signed decimal string in base units; negative = outflow)",
  agentSignature: "EIP-712 signature of Operation(calls, nonce, deadline, callGasLimit, bounds) by a session key (domain AgentWallet, version 2)",
  intent: "What the agent means to do; the fork's balance changes must match it",
  idempotencyKey: "A retried request with the same key answers the first decision",
} as const;

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

// ---- answers ----

export const reasonSchema = z.object({ code: z.enum(REASON_CODES), message: z.string() });

/** A decision, as POST /v1/operations, GET /v1/operations/:id, approve and reject answer it. */
export const decisionSchema = z.object({
  id: z.string(),
  status: z.enum(["approved", "rejected", "pending_approval"]),
  digest: hex.describe("EIP-712 digest of the operation: the join key with the audit log and the Executed event"),
  cosignerSignature: hex.optional().describe("Present only when approved"),
  reasons: z.array(reasonSchema),
  simulation: z
    .object({
      blockNumber: decimal,
      success: z.boolean(),
      revertReason: z.string().optional(),
      changes: z.array(z.object({ account: address, asset: z.string(), delta: decimal })),
      gasUsed: decimal,
    })
    .nullable(),
});

/** The body of every 4xx/5xx answer. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.union([z.enum(REASON_CODES), z.enum(HTTP_ERROR_CODES)]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional().describe("The fields (issues[].path) or values behind the error"),
  }),
});

/** GET /v1/wallets/:address: what an agent needs to plan. */
export const walletViewSchema = z.object({
  address,
  chainId: z.number().int(),
  blockNumber: decimal.describe("The block the state was read in: the next block after the fork's head, as a simulation now would run"),
  timestamp: decimal.describe("That block's timestamp (unix seconds, now): budgets are available as of this second"),
  paused: z.boolean(),
  owner: address,
  pendingOwner: address,
  cosigner: address,
  cosignerIsThisService: z.boolean(),
  guardians: z.array(address),
  sessionKeys: z.array(
    z.object({ key: address, validUntil: decimal.describe("Last valid second (unix seconds, inclusive)"), active: z.boolean() }),
  ),
  budgets: z.array(
    z.object({
      token: z.union([z.literal("native"), address]),
      limit: decimal.describe("Bucket capacity (base units)"),
      period: decimal.describe("Seconds to refill from empty to limit"),
      maxPerOperation: decimal.describe("Per-operation cap on gross outflow (base units)"),
      available: decimal.describe("Gross outflow allowed now (base units)"),
    }),
  ),
  recipients: z.array(address).describe("Allowlisted recipients of native and budgeted-token transfers"),
  callPermissions: z.array(z.object({ target: address, selector: hex })),
  codeHash: hex,
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
