/** GET /healthz (liveness with the fork's lag), /metrics (Prometheus), /openapi.json and /v1/deployment. */
import type { FastifyInstance } from "fastify";
import { openApiDocument } from "../openapi";
import type { ServiceContext } from "../server";

export function systemRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { cosigner, config, metrics, guardian } = ctx;

  app.get("/healthz", async (_req, reply) => {
    const { fork, store } = cosigner;
    const problems: string[] = [];
    const reachable = fork.watcher.reachable();
    if (!reachable) problems.push(`upstream unreachable: ${fork.watcher.lastError ?? "no answer"}`);
    const lag = fork.lag;
    if (lag > BigInt(config.MAX_HEAD_LAG)) problems.push(`fork is ${lag} blocks behind the upstream (max ${config.MAX_HEAD_LAG})`);
    try {
      store.auditHead();
    } catch (err) {
      problems.push(`store unavailable: ${(err as Error).message}`);
    }
    return reply.code(problems.length === 0 ? 200 : 503).send({
      status: problems.length === 0 ? "ok" : "unavailable",
      problems,
      chainId: fork.chainId,
      cosigner: cosigner.key.address,
      guardian: guardian?.address ?? null,
      fork: { head: fork.head.number.toString(), lag: lag.toString(), hydratedKeys: fork.stats.hydratedKeys },
      upstream: {
        head: fork.upstreamHead.number.toString(),
        reachable,
        ...(fork.watcher.lastError ? { lastError: fork.watcher.lastError } : {}),
      },
      maxHeadLag: config.MAX_HEAD_LAG,
    });
  });

  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  let document: Record<string, unknown> | undefined;
  app.get("/openapi.json", async (req) => {
    document ??= openApiDocument(`${req.protocol}://${req.host}`);
    return document;
  });

  app.get("/v1/deployment", async (_req, reply) => {
    if (!ctx.deployment) return reply.code(404).send({ error: { code: "ROUTE_NOT_FOUND", message: "this service was started without a deployment record" } });
    return ctx.deployment;
  });
}
