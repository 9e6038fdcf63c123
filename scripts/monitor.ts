/**
 * `npm run monitor`: the chain follower alone, without the API (src/monitor/follower.ts does the work).
 *
 * It follows UPSTREAM_RPC_URL for the wallets of SERVED_WALLETS and of the deployment record DEPLOYMENTS_FILE (if
 * set), records into the store at DATABASE_URL or DB_PATH (the service's store, shared), and resumes where it
 * stopped. MONITOR_POLL_MS and MONITOR_REORG_DEPTH apply. On a store shared by replicas it follows only while it holds
 * the monitor lease (MONITOR_LEASE_RETRY_MS). It trips the breaker as the service does (src/monitor/breaker-rules.ts:
 * the guardian of GUARDIAN_*, MONITOR_RULES, ALERT_WEBHOOK_URL): when it holds the lease, the replicas' followers stand
 * by and their rules see no block. SIGINT or SIGTERM stops it after the block in hand.
 */
import { createPublicClient, http } from "viem";
import { loadConfig } from "../src/config";
import { parseServedWallets } from "../src/authenticate/served-wallets";
import { readDeploymentFile } from "../src/deploy/deployment-file";
import { createLogger } from "../src/logger";
import { createMonitorBreaker } from "../src/monitor/breaker-rules";
import { Monitor } from "../src/monitor/follower";
import { LeaseRunner } from "../src/monitor/lease";
import { openStore } from "../src/store";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const upstreamUrl = config.UPSTREAM_RPC_URL;
  if (!upstreamUrl) throw new Error("UPSTREAM_RPC_URL is required: the chain the monitor follows");
  const deployments = process.env.DEPLOYMENTS_FILE;
  const wallets = [...new Set([...(deployments ? [readDeploymentFile(deployments).wallet] : []), ...parseServedWallets(config.SERVED_WALLETS)])];
  if (wallets.length === 0) throw new Error("no wallet to follow: set SERVED_WALLETS (comma-separated) or DEPLOYMENTS_FILE");
  const store = await openStore(config.DATABASE_URL ?? config.DB_PATH);
  const monitor = new Monitor({ upstreamUrl, store, wallets, pollMs: config.MONITOR_POLL_MS, reorgDepth: config.MONITOR_REORG_DEPTH, logger });
  // The breaker's rules on what it follows (and on the refusals every replica records in the shared store).
  const chainId = await createPublicClient({ transport: http(upstreamUrl, { timeout: 10_000 }) }).getChainId();
  const breaker = await createMonitorBreaker({ config, chainId, store, upstreamUrl, logger });
  if (!breaker.guardian) logger.warn("no guardian key (GUARDIAN_KEYSTORE_PATH or GUARDIAN_PRIVATE_KEY): trips flag and open incidents but send nothing");
  breaker.rules.attach(monitor);
  // Beside replicas on PostgreSQL it follows only while it holds the monitor lease, like a replica would.
  const runner = new LeaseRunner(store, monitor, { retryMs: config.MONITOR_LEASE_RETRY_MS, logger });
  await runner.start();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await runner.stop();
    breaker.stop();
    await store.close();
    logger.info("monitor stopped");
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

main().catch((err) => {
  console.error(`monitor: ${(err as Error).message}`);
  process.exit(1);
});
