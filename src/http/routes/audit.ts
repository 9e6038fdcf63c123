/**
 * GET /v1/audit (paged, oldest first) and GET /v1/audit/verify (recomputes the hash chain). Both need the approver
 * token: the log holds every intent, memo and call.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { parse } from "../parse";
import { auditQuerySchema } from "../schemas";
import type { ServiceContext } from "../server";

export function auditRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { store } = ctx.cosigner;
  const authenticate = async (req: FastifyRequest) => ctx.requireToken(req);

  app.get("/v1/audit", { onRequest: authenticate }, async (req) => {
    const { after, limit } = parse(auditQuerySchema, req.query ?? {}, "query");
    const records = store.listAudit(after, limit);
    const head = store.auditHead();
    const last = records.at(-1)?.seq;
    return { records, next: last !== undefined && last < head.seq ? last : null, head };
  });

  app.get("/v1/audit/verify", { onRequest: authenticate }, async () => store.verifyAudit());
}
