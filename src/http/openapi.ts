/**
 * GET /openapi.json: the OpenAPI 3.1 document, generated from the same zod schemas that parse the requests
 * (zod 4's z.toJSONSchema; request bodies in their input form: decimal strings, 0x-hex).
 */
import { z } from "zod";
import { decisionSchema, operationRequestDocs, operationRequestSchema, operationViewSchema, walletViewSchema } from "../api";
import {
  approvalRequestSchema,
  auditPageSchema,
  auditVerificationSchema,
  deploymentSchema,
  errorBodySchema,
  healthSchema,
  pauseRequestSchema,
  pauseResultSchema,
} from "./schemas";

type JsonSchema = Record<string, unknown>;

function schema(s: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

/** The operation request's JSON schema with each field described (operationRequestDocs) and callGasLimit's pattern. */
function operationRequest(): JsonSchema {
  const request = schema(operationRequestSchema, "input");
  const properties = request.properties as Record<string, JsonSchema>;
  for (const [field, description] of Object.entries(operationRequestDocs)) {
    const [name, sub] = field.split("[].");
    const property = properties[name!];
    if (!property) throw new Error(`openapi: the operation request has no field ${name}`);
    const target = sub ? ((property.items as JsonSchema).properties as Record<string, JsonSchema>)[sub] : property;
    if (!target) throw new Error(`openapi: the operation request has no field ${field}`);
    target.description = description;
  }
  // The schema pipes a string into uint256Schema; its input form shows only the string.
  properties.callGasLimit = { ...properties.callGasLimit, pattern: "^[1-9][0-9]{0,9}$", examples: ["1000000"] };
  return request;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ content: { "application/json": { schema: ref(name) } } });
const error = (description: string) => ({ description, ...json("Error") });
const bearer = [{ approverToken: [] as string[] }];

/**
 * Builds the OpenAPI document.
 * @example app.get("/openapi.json", () => openApiDocument("http://127.0.0.1:8787"))
 */
export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
  const addressParam = { name: "address", in: "path", required: true, schema: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } };
  const common = {
    "400": error("Invalid request: details.issues names each field and the reason (a missing callGasLimit or bounds says what to send)"),
    "413": error("The body is larger than 64 KiB"),
    "429": error("Rate limited (per agent signer, or per client IP); see Retry-After"),
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "Countersign co-signer",
      version: "1",
      description:
        "Co-signs an agent's AgentWallet operation only after simulating it on a fork and matching the changes to the declared intent. " +
        "Amounts are decimal strings in base units; addresses are 0x-hex. Every 4xx/5xx body is {error: {code, message, details?}}. " +
        "Operations are AgentWallet version 2: they carry callGasLimit and outcome bounds, both signed; a request without them is a 400 that says what to send.",
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: {
        approverToken: { type: "http", scheme: "bearer", description: "APPROVER_TOKEN (approvals, reading any decision, the audit log and the breaker)" },
        readSignature: {
          type: "apiKey",
          in: "header",
          name: "X-Countersign-Signature",
          description:
            "EIP-191 personal_sign by the session key that proposed the decision of `countersign:read:<id>:<X-Countersign-Timestamp>` (65 bytes, 0x-hex); the SDK's getOperation sends it",
        },
        readTimestamp: {
          type: "apiKey",
          in: "header",
          name: "X-Countersign-Timestamp",
          description: "The signed unix seconds; accepted within ±60 s of the service's clock",
        },
      },
      schemas: {
        OperationRequest: operationRequest(),
        ApprovalRequest: schema(approvalRequestSchema, "input"),
        PauseRequest: schema(pauseRequestSchema, "input"),
        Decision: schema(decisionSchema, "output"),
        Operation: schema(operationViewSchema, "output"),
        Error: schema(errorBodySchema, "output"),
        WalletView: schema(walletViewSchema, "output"),
        PauseResult: schema(pauseResultSchema, "output"),
        AuditPage: schema(auditPageSchema, "output"),
        AuditVerification: schema(auditVerificationSchema, "output"),
        Health: schema(healthSchema, "output"),
        Deployment: schema(deploymentSchema, "output"),
      },
    },
    paths: {
      "/v1/operations": {
        post: {
          operationId: "proposeOperation",
          summary: "Propose an operation signed by the agent's session key",
          requestBody: { required: true, ...json("OperationRequest") },
          responses: {
            "200": { description: "approved: carries cosignerSignature", ...json("Decision") },
            "202": { description: "pending_approval: a person decides (POST …/approve or …/reject)", ...json("Decision") },
            "422": {
              description: "rejected (a Decision with reasons, e.g. INTENT_MISMATCH, BOUNDS_MISMATCH, CALL_GAS_TOO_TIGHT), or refused before simulation (an Error: DEADLINE_PASSED, DEADLINE_TOO_FAR, COSIGNER_MISMATCH)",
              content: { "application/json": { schema: { oneOf: [ref("Decision"), ref("Error")] } } },
            },
            ...common,
            "401": error("BAD_AGENT_SIGNATURE, UNKNOWN_SESSION_KEY or SESSION_KEY_EXPIRED"),
            "404": error("WALLET_NOT_FOUND"),
            "409": error("NONCE_USED, NONCE_CONFLICT or IDEMPOTENCY_CONFLICT (details.decisionId only to the session key that made the other decision)"),
            "503": error("WALLET_PAUSED, UPSTREAM_UNAVAILABLE, FORK_STALE, SIMULATION_FAILED or STORE_UNAVAILABLE"),
          },
        },
      },
      "/v1/operations/{id}": {
        get: {
          operationId: "getOperation",
          summary: "The decision: to the session key that proposed it (a signed read) or to the approver token",
          security: [{ readSignature: [] as string[], readTimestamp: [] as string[] }, ...bearer],
          parameters: [idParam],
          responses: {
            "200": { description: "The decision, with the intent, memo, approver and (once executed) the execution", ...json("Operation") },
            "401": error("UNAUTHORIZED: neither the approver token nor a read signed by the decision's session key within ±60 s"),
            "404": error("NOT_FOUND"),
          },
        },
      },
      "/v1/operations/{id}/approve": {
        post: {
          operationId: "approveOperation",
          summary: "A person approves a pending operation: simulated again at the current head, signed only if it still matches",
          security: bearer,
          parameters: [idParam],
          requestBody: { required: false, ...json("ApprovalRequest") },
          responses: {
            "200": {
              description:
                "The new decision: approved; rejected if the re-simulation no longer matches the intent; or still pending_approval with APPROVAL_STALE and the new figures when they are worse for the wallet than those shown (or pay someone new): review and approve again",
              ...json("Decision"),
            },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
            "404": error("NOT_FOUND"),
            "409": error("NOT_PENDING"),
            "503": error("UPSTREAM_UNAVAILABLE, FORK_STALE"),
          },
        },
      },
      "/v1/operations/{id}/reject": {
        post: {
          operationId: "rejectOperation",
          summary: "A person rejects a pending operation",
          security: bearer,
          parameters: [idParam],
          requestBody: { required: false, ...json("ApprovalRequest") },
          responses: {
            "200": { description: "The decision, rejected with REJECTED_BY_APPROVER", ...json("Decision") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
            "404": error("NOT_FOUND"),
            "409": error("NOT_PENDING"),
          },
        },
      },
      "/v1/wallets/{address}": {
        get: {
          operationId: "getWallet",
          summary: "Budgets (available now), caps, allowlists, call permissions, session keys, roles, paused",
          parameters: [addressParam],
          responses: {
            "200": { description: "The wallet's policy at the fork's head", ...json("WalletView") },
            "400": common["400"],
            "404": error("WALLET_NOT_FOUND"),
            "503": error("UPSTREAM_UNAVAILABLE or FORK_STALE"),
          },
        },
      },
      "/v1/wallets/{address}/pause": {
        post: {
          operationId: "pauseWallet",
          summary: "An operator trips the breaker: pause() on chain with the guardian key; the wallet is flagged",
          security: bearer,
          parameters: [addressParam],
          requestBody: { required: false, ...json("PauseRequest") },
          responses: {
            "200": { description: "Paused", ...json("PauseResult") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong operator token"),
            "404": error("WALLET_NOT_FOUND"),
            "422": error("NOT_A_GUARDIAN: this service's guardian key is not a guardian of the wallet"),
            "503": error("GUARDIAN_UNAVAILABLE (no guardian key configured) or UPSTREAM_UNAVAILABLE"),
          },
        },
      },
      "/v1/audit": {
        get: {
          operationId: "listAudit",
          summary: "The hash-chained decision log, oldest first",
          security: bearer,
          parameters: [
            { name: "after", in: "query", required: false, schema: { type: "integer", minimum: 0, default: 0 } },
            { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 500, default: 100 } },
          ],
          responses: {
            "200": { description: "A page of records", ...json("AuditPage") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
          },
        },
      },
      "/v1/audit/verify": {
        get: {
          operationId: "verifyAudit",
          summary: "Recomputes the audit chain",
          security: bearer,
          responses: {
            "200": { description: "ok, or the first broken record", ...json("AuditVerification") },
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
          },
        },
      },
      "/v1/deployment": {
        get: {
          operationId: "getDeployment",
          summary: "The deployment record (addresses) the service was started with",
          responses: { "200": { description: "The record", ...json("Deployment") }, "404": error("ROUTE_NOT_FOUND: no record") },
        },
      },
      "/healthz": {
        get: {
          operationId: "health",
          summary: "Liveness with the fork's head and lag",
          responses: {
            "200": { description: "Upstream reachable and the fork within MAX_HEAD_LAG blocks", ...json("Health") },
            "503": { description: "Upstream unreachable or the fork lagging", ...json("Health") },
          },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics",
          summary: "Prometheus metrics",
          responses: { "200": { description: "text/plain; version=0.0.4", content: { "text/plain": { schema: { type: "string" } } } } },
        },
      },
      "/openapi.json": {
        get: { operationId: "openapi", summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } },
      },
    },
  };
}
