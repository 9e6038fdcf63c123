/**
 * The whole co-signer service: the key, the engine on its warm fork, the guardian and the HTTP API, started and
 * stopped as one. `npm start` (scripts/start.ts) and the end-to-end tests call this.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "./config";
import { describeConfig } from "./config";
import { parseServedWallets } from "./authenticate/served-wallets";
import { createCosigner, loadKey, reviewPolicy, type Cosigner } from "./cosigner";
import { breakerRules, buildServer, type DeploymentInfo } from "./http/server";
import { createLogger } from "./logger";
import { Guardian } from "./monitor/guardian";
import { Monitor } from "./monitor/follower";
import { LeaseRunner } from "./monitor/lease";

export interface ServiceOptions {
  config: Config;
  /** The deployment served: its wallet is checked at start (this key must be its co-signer and nothing else). */
  deployment?: DeploymentInfo;
  logger?: Logger;
  /** Whether /metrics includes process metrics (default true). */
  processMetrics?: boolean;
}

export interface Service {
  /** http://host:port the API listens on. */
  url: string;
  port: number;
  app: FastifyInstance;
  cosigner: Cosigner;
  guardian: Guardian | null;
  /** The chain follower (null when MONITOR_ENABLED=false): add the breaker's rules with monitor.addHandler(...). */
  monitor: Monitor | null;
  logger: Logger;
  /** Closes the API, then stops the fork and closes the store. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts the service from a parsed configuration (UPSTREAM_RPC_URL is required).
 * @example const service = await startService({ config: loadConfig() }); ...; await service.stop()
 */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const upstreamUrl = config.UPSTREAM_RPC_URL;
  if (!upstreamUrl) throw new Error("UPSTREAM_RPC_URL is required: the chain the co-signer forks and serves");
  const key = await loadKey(config);
  const guardian = await Guardian.fromConfig(config, upstreamUrl);
  if (guardian && guardian.address === key.address) {
    throw new Error(`refusing to start: the guardian key ${guardian.address} is the co-signer key; roles must be distinct`);
  }
  logger.info({ config: describeConfig(config), cosigner: key.address, guardian: guardian?.address ?? null }, "starting");
  const cosigner = await createCosigner({
    upstreamUrl,
    key,
    dbPath: config.DATABASE_URL ?? config.DB_PATH,
    review: reviewPolicy(config),
    maxTtlSeconds: config.MAX_TTL_SECONDS,
    maxHeadLag: config.MAX_HEAD_LAG,
    pollMs: config.HEAD_POLL_MS,
    hardfork: config.FORK_HARDFORK,
    logger,
    // Served: the deployment's wallet and those configured; each is checked at start (roles, clone).
    wallets: [...new Set([...(options.deployment ? [options.deployment.wallet] : []), ...parseServedWallets(config.SERVED_WALLETS)])],
    simulationBudgetMs: config.SIMULATION_BUDGET_MS,
    maxQueuedRuns: config.FORK_MAX_QUEUE,
    forkRecycleEvery: config.FORK_RECYCLE_EVERY,
    forkRecycleGrowthMiB: config.FORK_RECYCLE_GROWTH_MIB,
  });
  if (cosigner.served.list.length === 0) {
    logger.warn("no wallet is served (no deployment, SERVED_WALLETS empty): every proposal is refused WALLET_NOT_FOUND");
  }
  // The follower is built before the API (its status feeds /healthz and /metrics) and started after it listens.
  const monitor = config.MONITOR_ENABLED
    ? new Monitor({
        upstreamUrl,
        store: cosigner.store,
        wallets: cosigner.served.list,
        pollMs: config.MONITOR_POLL_MS,
        reorgDepth: config.MONITOR_REORG_DEPTH,
        logger,
      })
    : null;
  let app: FastifyInstance;
  try {
    app = await buildServer({
      cosigner,
      config,
      logger,
      deployment: options.deployment,
      guardian: guardian ?? null,
      upstreamUrl,
      processMetrics: options.processMetrics,
      monitor: monitor ?? undefined,
    });
    await app.listen({ host: config.HOST, port: config.PORT });
  } catch (err) {
    await cosigner.stop();
    if ((err as { code?: string }).code === "EADDRINUSE") {
      throw new Error(`port ${config.PORT} on ${config.HOST} is taken: stop what listens there or set PORT to another port`);
    }
    throw err;
  }
  breakerRules(app)?.attach(monitor); // the breaker's rules: the follower's events and the audit log's refusals
  // One replica follows the chain: the holder of the store's monitor lease (always this process on SQLite).
  const follower = monitor ? new LeaseRunner(cosigner.store, monitor, { retryMs: config.MONITOR_LEASE_RETRY_MS, logger }) : null;
  try {
    await follower?.start();
  } catch (err) {
    await app.close();
    await cosigner.stop();
    throw new Error(`the monitor could not start: ${(err as Error).message}`);
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const url = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${port}`;
  logger.info({ url, chainId: cosigner.fork.chainId, head: cosigner.fork.head.number.toString() }, "listening");
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    cosigner,
    guardian: guardian ?? null,
    monitor,
    logger,
    stop() {
      stopping ??= (async () => {
        await app.close();
        await follower?.stop();
        await cosigner.stop();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}
