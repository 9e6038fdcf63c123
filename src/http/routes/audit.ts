/**
 * GET /v1/audit (paged, oldest first) and GET /v1/audit/verify (recomputes the hash chain). Both need the approver
 * token: the log holds every intent, memo and call.
 */
import type { FastifyInstance } from "fastify";
import { parse } from "../parse";
import { auditQuerySchema } from "../schemas";
import type { ServiceContext } from "../context";

export function auditRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { store } = ctx.cosigner;
  const { approverOnly } = ctx;

  app.get("/v1/audit", { onRequest: approverOnly }, async (req) => {
    const { after, limit } = parse(auditQuerySchema, req.query ?? {}, "query");
    const records = await store.listAudit(after, limit);
    const head = await store.auditHead();
    const last = records.at(-1)?.seq;
    return { records, next: last !== undefined && last < head.seq ? last : null, head };
  });

  app.get("/v1/audit/verify", { onRequest: approverOnly }, async () => store.verifyAudit());
}
