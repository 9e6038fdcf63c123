/**
 * The on-call view of the breaker's incidents (approver token): GET /v1/incidents (newest first, by state, wallet,
 * rule), GET /v1/incidents/:id, POST /v1/incidents/:id/ack and /resolve. Acknowledging and resolving are recorded in
 * the audit chain; neither unpauses anything (that is the owner's, on chain) nor clears the wallet's flag
 * (POST /v1/wallets/:address/anomaly/clear).
 */
import type { FastifyInstance } from "fastify";
import { CountersignError } from "../../errors";
import type { ServiceContext } from "../context";
import { parse } from "../parse";
import { incidentParamsSchema, incidentQuerySchema, incidentUpdateSchema } from "../schemas";

/**
 * Registers the incident routes.
 * @example incidentRoutes(app, ctx) // GET /v1/incidents?state=open
 */
export function incidentRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { store, fork } = ctx.cosigner;
  const { approverOnly } = ctx;

  app.get("/v1/incidents", { onRequest: approverOnly }, async (req) => {
    const q = parse(incidentQuerySchema, req.query ?? {}, "query");
    return { incidents: await store.listIncidents({ chainId: fork.chainId, ...q }) };
  });

  app.get("/v1/incidents/:id", { onRequest: approverOnly }, async (req) => {
    const { id } = parse(incidentParamsSchema, req.params);
    const incident = await store.getIncident(id);
    if (!incident) throw new CountersignError("NOT_FOUND", `no incident ${id}`, { id });
    return incident;
  });

  app.post("/v1/incidents/:id/ack", { onRequest: approverOnly }, async (req) => {
    const { id } = parse(incidentParamsSchema, req.params);
    const body = parse(incidentUpdateSchema, req.body ?? {});
    const incident = await store.acknowledgeIncident(id, body.operator ?? "operator", body.note);
    ctx.logger.info({ incidentId: id, by: incident.acknowledgedBy }, "incident acknowledged");
    return incident;
  });

  app.post("/v1/incidents/:id/resolve", { onRequest: approverOnly }, async (req) => {
    const { id } = parse(incidentParamsSchema, req.params);
    const body = parse(incidentUpdateSchema, req.body ?? {});
    const incident = await store.resolveIncident(id, body.operator ?? "operator", body.note);
    ctx.logger.info({ incidentId: id, by: incident.resolvedBy }, "incident resolved");
    return incident;
  });
}
