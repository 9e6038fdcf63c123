/**
 * GET /openapi.json: the OpenAPI 3.1 document, generated from the same zod schemas that parse the requests
 * (zod 4's z.toJSONSchema; request bodies in their input form: decimal strings, 0x-hex).
 */
import { z } from "zod";
import { decisionSchema, operationRequestDocs, operationRequestSchema, operationViewSchema, walletViewSchema } from "../api";
import {
  approvalRequestSchema,
  approvalsQuerySchema,
  auditPageSchema,
  auditVerificationSchema,
  deploymentSchema,
  errorBodySchema,
  healthSchema,
  incidentListSchema,
  incidentParamsSchema,
  incidentQuerySchema,
  incidentSchema,
  incidentUpdateSchema,
  pauseRequestSchema,
  pauseResultSchema,
  policyViewSchema,
} from "./schemas";

type JsonSchema = Record<string, unknown>;

function schema(s: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

/** The parameters of a zod query or path schema, each with its JSON schema (input form) and description. */
function parameters(s: z.ZodType, where: "query" | "path"): JsonSchema[] {
  const { properties, required = [] } = schema(s, "input") as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(properties).map(([name, { description, ...rest }]) => ({
    name,
    in: where,
    required: where === "path" || required.includes(name),
    ...(description ? { description } : {}),
    schema: rest,
  }));
}

/**
 * GET /v1/approvals answer, written out by hand (src/http/routes/ui.ts builds it from the stored decisions; no zod
 * schema describes it): what the approver's page shows for each operation.
 */
function approvalList(): JsonSchema {
  const nullable = (type: string, description?: string) => ({ type: [type, "null"], ...(description ? { description } : {}) });
  const item = {
    type: "object",
    required: ["id", "state", "status", "digest", "wallet", "createdAt", "updatedAt", "expiresAt", "intent", "memo", "simulation", "reasons", "rule", "approvals", "decidedBy", "budget", "execution"],
    properties: {
      id: { type: "string" },
      state: { type: "string", enum: ["pending", "approved", "rejected", "expired"] },
      status: { type: "string", enum: ["approved", "rejected", "pending_approval"] },
      digest: { type: "string", description: "EIP-712 digest of the operation" },
      wallet: { type: "string", description: "Checksummed" },
      createdAt: { type: "string" },
      updatedAt: { type: "string" },
      expiresAt: { type: "string", description: "After this instant (ISO 8601) it can no longer be approved" },
      intent: nullable("object", "The intent as proposed"),
      memo: nullable("string"),
      simulation: nullable("object", "The simulation evidence, as in Decision.simulation"),
      reasons: { type: "array", items: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" } } } },
      rule: {
        type: "object",
        description: "The rule that asked for a person",
        required: ["name", "description", "reversible", "approvalsRequired"],
        properties: { name: { type: "string" }, description: { type: "string" }, reversible: { type: "boolean" }, approvalsRequired: { type: "integer" } },
      },
      approvals: {
        type: "array",
        description: "Approvals that count now, oldest first",
        items: { type: "object", required: ["approver", "at"], properties: { approver: { type: "string" }, at: { type: "string" } } },
      },
      decidedBy: nullable("string"),
      budget: {
        type: "array",
        description: "Per asset the wallet sends (pending only): available now, the outflow, and what is left after it (decimal strings, base units)",
        items: {
          type: "object",
          required: ["asset", "available", "outflow", "after"],
          properties: { asset: { type: "string" }, available: { type: "string" }, outflow: { type: "string" }, after: { type: "string" } },
        },
      },
      execution: {
        ...nullable("object", "The transaction once executed (blockNumber once the monitor has seen it)"),
        properties: { txHash: { type: "string" }, blockNumber: { type: "string" } },
      },
    },
  };
  return {
    type: "object",
    required: ["approver", "now", "view", "names", "assets", "items"],
    properties: {
      approver: nullable("string", "The name of the approver whose token asked"),
      now: { type: "string", description: "The service's clock (ISO 8601)" },
      view: { type: "string", enum: ["pending", "history"] },
      names: { type: "object", additionalProperties: { type: "string" }, description: "Names of the deployment's addresses (checksummed address → wallet, recipient, token symbol, role, dex)" },
      assets: {
        type: "object",
        description: "Symbol and decimals per asset (\"native\" or a checksummed token)",
        additionalProperties: { type: "object", required: ["symbol", "decimals"], properties: { symbol: { type: "string" }, decimals: { type: "integer" } } },
      },
      items: { type: "array", items: item, description: "Pending operations newest first, or the history" },
    },
  };
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
  const incidentIdParams = parameters(incidentParamsSchema, "path");
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
        Incident: schema(incidentSchema, "output"),
        IncidentList: schema(incidentListSchema, "output"),
        IncidentUpdate: schema(incidentUpdateSchema, "input"),
        ApprovalPolicy: schema(policyViewSchema, "output"),
        ApprovalList: approvalList(),
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
      "/v1/incidents": {
        get: {
          operationId: "listIncidents",
          summary: "The breaker's incidents, newest first, by state, wallet and rule",
          security: bearer,
          parameters: parameters(incidentQuerySchema, "query"),
          responses: {
            "200": { description: "The incidents", ...json("IncidentList") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
          },
        },
      },
      "/v1/incidents/{id}": {
        get: {
          operationId: "getIncident",
          summary: "One incident: the rule, the evidence, what was done on chain, and who looked at it",
          security: bearer,
          parameters: incidentIdParams,
          responses: {
            "200": { description: "The incident", ...json("Incident") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
            "404": error("NOT_FOUND"),
          },
        },
      },
      "/v1/incidents/{id}/ack": {
        post: {
          operationId: "acknowledgeIncident",
          summary: "A person acknowledges an open incident (recorded in the audit chain; unpauses nothing)",
          security: bearer,
          parameters: incidentIdParams,
          requestBody: { required: false, ...json("IncidentUpdate") },
          responses: {
            "200": { description: "The incident, acknowledged", ...json("Incident") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
            "404": error("NOT_FOUND"),
            "409": error("INCIDENT_NOT_OPEN: already acknowledged or resolved"),
          },
        },
      },
      "/v1/incidents/{id}/resolve": {
        post: {
          operationId: "resolveIncident",
          summary: "A person resolves an incident (recorded in the audit chain; unpauses nothing and keeps the wallet's flag)",
          security: bearer,
          parameters: incidentIdParams,
          requestBody: { required: false, ...json("IncidentUpdate") },
          responses: {
            "200": { description: "The incident, resolved", ...json("Incident") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
            "404": error("NOT_FOUND"),
            "409": error("INCIDENT_NOT_OPEN: already resolved"),
          },
        },
      },
      "/v1/policy": {
        get: {
          operationId: "getPolicy",
          summary: "The approval policy in force, the rule applied when none matches, and how long a pending operation waits",
          security: bearer,
          responses: {
            "200": { description: "The policy (approvers' names, never their tokens)", ...json("ApprovalPolicy") },
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
          },
        },
      },
      "/v1/approvals": {
        get: {
          operationId: "listApprovals",
          summary: "Pending operations (or the history) with what a person needs to decide; approve and reject at /v1/operations/{id}/approve and /reject",
          security: bearer,
          parameters: parameters(approvalsQuerySchema, "query"),
          responses: {
            "200": { description: "The operations, with names and decimals of the deployment's addresses", ...json("ApprovalList") },
            "400": common["400"],
            "401": error("UNAUTHORIZED: missing or wrong approver token"),
          },
        },
      },
      "/ui": {
        get: {
          operationId: "approverPage",
          summary: "The approver's page (it asks for the approver token and keeps it in sessionStorage)",
          responses: { "200": { description: "HTML (with /ui/app.js and /ui/style.css; a strict Content-Security-Policy)", content: { "text/html": { schema: { type: "string" } } } } },
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
