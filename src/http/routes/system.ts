/** GET /healthz (liveness with the fork's lag), /metrics (Prometheus), /openapi.json and /v1/deployment. */
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { openApiDocument } from "../openapi";
import type { ServiceContext } from "../context";

export function systemRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { cosigner, config, metrics, guardian } = ctx;

  app.get("/healthz", async (_req, reply) => {
    const { fork, store } = cosigner;
    const problems: string[] = [];
    const reachable = fork.watcher.reachable();
    if (!reachable) problems.push(`upstream unreachable: ${fork.watcher.lastError ?? "no answer"}`);
    const lag = fork.lag;
    if (lag > BigInt(config.MAX_HEAD_LAG)) problems.push(`fork is ${lag} blocks behind the upstream (max ${config.MAX_HEAD_LAG})`);
    const follower = ctx.monitor?.status();
    if (follower && follower.lagBlocks > BigInt(config.MONITOR_MAX_LAG_BLOCKS)) {
      problems.push(`monitor is ${follower.lagBlocks} blocks behind the upstream (max ${config.MONITOR_MAX_LAG_BLOCKS})`);
    }
    try {
      await store.auditHead();
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
      ...(follower
        ? {
            monitor: {
              running: follower.running,
              lastBlock: follower.lastBlock?.toString() ?? null,
              lag: follower.lagBlocks.toString(),
              maxLag: config.MONITOR_MAX_LAG_BLOCKS,
              ...(follower.lastError ? { lastError: follower.lastError } : {}),
            },
          }
        : {}),
    });
  });

  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  // The server URL is configuration (PUBLIC_BASE_URL) or the address this service listens on; never a request's
  // Host header, which any client sets and which the cached document would then show to everyone.
  let document: Record<string, unknown> | undefined;
  app.get("/openapi.json", async () => {
    if (document) return document;
    const serverUrl = config.PUBLIC_BASE_URL?.replace(/\/+$/, "") ?? listenUrl(app);
    const built = openApiDocument(serverUrl);
    if (serverUrl) document = built;
    return built;
  });

  app.get("/v1/deployment", async (_req, reply) => {
    if (!ctx.deployment) return reply.code(404).send({ error: { code: "ROUTE_NOT_FOUND", message: "this service was started without a deployment record" } });
    return ctx.deployment;
  });
}

/** http://host:port of the address `app` listens on (IPv6 in brackets); undefined before it listens. */
function listenUrl(app: FastifyInstance): string | undefined {
  const address = app.server.address() as AddressInfo | string | null;
  if (!address || typeof address === "string") return undefined;
  const host = address.family === "IPv6" || address.address.includes(":") ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
