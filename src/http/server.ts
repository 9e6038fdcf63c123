/**
 * The HTTP API (fastify): the edge of the co-signer. It parses and limits requests, hands them to the engine and
 * maps what comes back to the statuses of DESIGN.md's table. Decisions are the engine's; this layer adds none.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import type { Config } from "../config";
import type { Cosigner } from "../cosigner";
import { REDACT_PATHS } from "../logger";
import { Guardian } from "../monitor/guardian";
import { toErrorAnswer, HttpError } from "./errors";
import { ServiceMetrics } from "./metrics";
import { RateLimiter } from "./rate-limit";
import { auditRoutes } from "./routes/audit";
import { operationRoutes } from "./routes/operations";
import { systemRoutes } from "./routes/system";
import { walletRoutes } from "./routes/wallets";
import { incidentRoutes } from "./routes/incidents";
import { policyRoutes } from "./routes/policy";
import { uiRoutes } from "./routes/ui";
import type { MonitorRules } from "../monitor/rules";
import { createMonitorBreaker } from "../monitor/breaker-rules";
import { createPublicClient, http as httpTransport, type Address } from "viem";
import { loadArtifact } from "../chain/artifacts";
import { approverChecks, type DeploymentInfo, type ServiceContext } from "./context";
import { Approvals } from "../services/approvals";
import type { Decision } from "../api/decision";
import { readWalletView } from "./wallet-view";

/** Largest request body accepted (bytes). */
export const BODY_LIMIT = 64 * 1024;

export type { DeploymentInfo, ServiceContext } from "./context";

export interface ServerOptions {
  cosigner: Cosigner;
  config: Config;
  logger?: Logger;
  /** The deployment served; answered at GET /v1/deployment. */
  deployment?: DeploymentInfo;
  /** The breaker's guardian; by default loaded from the config (GUARDIAN_*), sending to `upstreamUrl`. */
  guardian?: Guardian | null;
  /** The chain `pause()` is sent to (default: config.UPSTREAM_RPC_URL, then deployment.rpcUrl). */
  upstreamUrl?: string;
  /** Clock of the rate limiters (ms); tests may pin it. */
  now?: () => number;
  /** Whether /metrics includes process metrics (default true). */
  processMetrics?: boolean;
  /** The chain follower running in this service (its lag in /healthz and /metrics). */
  monitor?: ServiceContext["monitor"];
}

/** Routes the per-IP limit does not apply to: monitoring must see an overloaded service. */
const UNLIMITED = new Set(["/healthz", "/metrics"]);

/**
 * Builds the service's HTTP server (not yet listening).
 * @example const app = await buildServer({ cosigner, config, logger }); await app.listen({ host: "127.0.0.1", port: 8787 })
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { cosigner, config } = options;
  const logger = (options.logger ?? pino({ level: "silent" })).child({ component: "http" }, { redact: { paths: REDACT_PATHS, censor: "[redacted]" } });
  const upstreamUrl = options.upstreamUrl ?? config.UPSTREAM_RPC_URL ?? (options.deployment?.rpcUrl as string | undefined);
  const guardian =
    options.guardian !== undefined ? options.guardian : upstreamUrl ? ((await Guardian.fromConfig(config, upstreamUrl)) ?? null) : null;
  if (guardian && guardian.address === cosigner.key.address) {
    throw new Error(`refusing to start: the guardian key ${guardian.address} is the co-signer key; roles must be distinct`);
  }
  const metrics = new ServiceMetrics(cosigner, { defaultMetrics: options.processMetrics ?? true, monitor: options.monitor });
  // Each replica counts its share of every limit (REPLICAS): together they hold the configured limit.
  const share = (perMinute: number) => Math.ceil(perMinute / config.REPLICAS);
  const ipLimiter = new RateLimiter(share(config.RATE_LIMIT_PER_IP_PER_MINUTE), options.now);
  const signerLimiter = new RateLimiter(share(config.RATE_LIMIT_PER_MINUTE), options.now);
  const walletLimiter = new RateLimiter(share(config.RATE_LIMIT_PER_WALLET_PER_MINUTE), options.now);

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per decision (the engine), one debug line per request (below); not fastify's two per request.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // On close: idle keep-alive sockets are closed at once; requests in flight finish (their decisions are recorded).
    forceCloseConnections: "idle",
    return503OnClosing: true,
  });

  // JSON bodies, with an empty body read as "no body" (approve, reject and pause take an optional one).
  const defaultJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    const text = String(body);
    if (text.trim() === "") return done(null, undefined);
    defaultJson(req, text, done);
  });

  app.addHook("onRequest", async (req) => {
    if (UNLIMITED.has(req.routeOptions.url ?? "")) return;
    const take = ipLimiter.take(req.ip);
    if (!take.ok) {
      metrics.rateLimited.inc({ scope: "ip" });
      throw new HttpError(
        429,
        "RATE_LIMITED",
        `at most ${config.RATE_LIMIT_PER_IP_PER_MINUTE} requests per minute from one client`,
        { scope: "ip", retryAfterSeconds: take.retryAfterSeconds },
        { "retry-after": String(take.retryAfterSeconds) },
      );
    }
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    req.log.debug({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, "request");
  });

  app.setErrorHandler((err, req, reply) => {
    const answer = toErrorAnswer(err, BODY_LIMIT);
    if (answer.unexpected) req.log.error({ err }, "request failed");
    if (req.method === "POST" && req.routeOptions.url === "/v1/operations") metrics.refused(answer.body.error.code);
    for (const [k, v] of Object.entries(answer.headers)) reply.header(k, v);
    if (answer.status === 401) reply.header("www-authenticate", 'Bearer realm="countersign"');
    reply.code(answer.status).send(answer.body);
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: "ROUTE_NOT_FOUND", message: `no route ${req.method} ${req.url.split("?")[0]}` } });
  });

  // --- the breaker, its rules and alerts (issue 10 part B) ---
  // One factory for the service and the standalone monitor (scripts/monitor.ts); here with the fork's readers and the
  // engine's stops. Without an upstream the rules never see a block and the breaker has no guardian.
  const { breaker, rules, stop: stopBreaker } = await createMonitorBreaker({
    config,
    chainId: cosigner.fork.chainId,
    store: cosigner.store,
    upstreamUrl,
    guardian,
    guardiansOf: async (wallet) => (await readWalletView(cosigner.fork, wallet, cosigner.key.address, cosigner.served)).guardians,
    budgets: async (wallet) =>
      (await readWalletView(cosigner.fork, wallet, cosigner.key.address, cosigner.served)).budgets.map((b) => ({
        token: b.token,
        limit: BigInt(b.limit),
        maxPerOperation: BigInt(b.maxPerOperation),
      })),
    stops: cosigner.engine.stops,
    upstreamHead: () => cosigner.fork.upstreamHead.number,
    trips: metrics.breakerTrips,
    metrics: {
      opened: (rule, action) => metrics.incidentsOpened.inc({ rule, action }),
      latency: (rule, action, blocks, seconds) => {
        metrics.breakerLatencyBlocks.observe({ rule, action }, blocks);
        metrics.breakerLatencySeconds.observe({ rule, action }, seconds);
      },
    },
    onAlert: (outcome) => metrics.alerts.inc({ outcome }),
    logger,
  });
  const pausedReader = upstreamUrl ? createPublicClient({ transport: httpTransport(upstreamUrl, { timeout: 5_000, retryCount: 0 }) }) : undefined;
  metrics.breakerStates = async () =>
    Promise.all(
      cosigner.served.list.map(async (wallet: Address) => {
        const paused = pausedReader
          ? ((await pausedReader.readContract({ address: wallet, abi: loadArtifact("AgentWallet").abi, functionName: "paused" })) as boolean)
          : false;
        const state = paused
          ? "paused"
          : cosigner.engine.stops.isStopped(wallet, null, cosigner.fork.head.number)
            ? "stopping"
            : (await cosigner.store.activeAnomaly(cosigner.fork.chainId, wallet)) !== undefined
              ? "flagged"
              : "ok";
        return { wallet, state } as const;
      }),
    );
  serverRules.set(app, rules);
  app.addHook("onClose", async () => stopBreaker());
  // --- end breaker ---
  const ctx: ServiceContext = {
    cosigner,
    config,
    logger,
    metrics,
    breaker,
    guardian,
    monitor: options.monitor,
    approvals: new Approvals(cosigner.engine, cosigner.store, metrics, { pendingTtlSeconds: config.PENDING_TTL_SECONDS }),
    deployment: options.deployment,
    signerLimiter,
    walletLimiter,
    ...approverChecks(config),
  };
  operationRoutes(app, ctx);
  walletRoutes(app, ctx);
  auditRoutes(app, ctx);
  systemRoutes(app, ctx);
  incidentRoutes(app, ctx);
  policyRoutes(app, ctx);
  uiRoutes(app, ctx);
  // Operations per rule of the approval policy (auto, person, refused), for /metrics.
  const countPolicy = (policy: { rule: string } | undefined, status: Decision["status"]) => metrics.policyDecided(policy?.rule ?? "refused", status);
  cosigner.engine.policyListeners.add(countPolicy);
  app.addHook("onClose", async () => void cosigner.engine.policyListeners.delete(countPolicy));
  return app;
}

const serverRules = new WeakMap<FastifyInstance, MonitorRules>();

/**
 * The breaker's rules of a server built by buildServer: the service attaches them to its chain follower.
 * @example breakerRules(app)?.attach(monitor)
 */
export function breakerRules(app: FastifyInstance): MonitorRules | undefined {
  return serverRules.get(app);
}
