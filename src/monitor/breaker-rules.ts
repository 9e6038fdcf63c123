/**
 * The breaker wired for a monitor: guardian, breaker, rules (and the on-call webhook) built in one place, so the
 * service (src/http/server.ts) and the standalone monitor (`npm run monitor`, scripts/monitor.ts) trip the same way.
 * Whatever follows the chain (the holder of the monitor lease) then also trips the breaker.
 */
import type { Logger } from "pino";
import { createPublicClient, getAddress, http, type Address } from "viem";
import { loadArtifact } from "../chain/artifacts";
import type { Config } from "../config";
import { Breaker, type BreakerMetrics, type Stops } from "../services/breaker";
import type { Store } from "../store";
import { Guardian } from "./guardian";
import { MonitorRules, parseRulesConfig, type BudgetLimit } from "./rules";
import { AlertWebhook } from "./webhook";

export interface MonitorBreakerOptions {
  config: Config;
  chainId: number;
  store: Store;
  /** The chain followed: the guardian sends there; the default readers read there (none without it). */
  upstreamUrl?: string;
  /** The guardian (default: from GUARDIAN_KEYSTORE_PATH / GUARDIAN_PRIVATE_KEY; null: none). */
  guardian?: Guardian | null;
  /** The wallet's guardians now (default: read on the upstream). */
  guardiansOf?: (wallet: Address) => Promise<Address[]>;
  /** The wallet's budgets now (default: read on the upstream). */
  budgets?: (wallet: Address) => Promise<BudgetLimit[]>;
  /** The engine's stops, when the co-signer runs in this process. */
  stops?: Stops;
  upstreamHead?: () => bigint;
  trips?: { inc(): void };
  metrics?: BreakerMetrics;
  /** Each alert delivery's outcome (metrics). */
  onAlert?: (outcome: "delivered" | "failed") => void;
  /** After how long a breaker transaction without a receipt is sent again (ms, default 30 000). */
  resendAfterMs?: number;
  /** First retry delay of a failed trip (ms, default 1 000). */
  retryMs?: number;
  logger?: Logger;
}

export interface MonitorBreaker {
  guardian: Guardian | null;
  breaker: Breaker;
  rules: MonitorRules;
  webhook?: AlertWebhook;
  /** Stops the rules' timers and the webhook's retries. */
  stop(): void;
}

/**
 * Builds the guardian, the breaker and its rules for a monitor; attach the rules to the follower.
 * @example const { rules } = await createMonitorBreaker({ config, chainId, store, upstreamUrl, logger }); rules.attach(monitor)
 */
export async function createMonitorBreaker(options: MonitorBreakerOptions): Promise<MonitorBreaker> {
  const { config, chainId, store, upstreamUrl, logger } = options;
  const guardian = options.guardian !== undefined ? options.guardian : upstreamUrl ? ((await Guardian.fromConfig(config, upstreamUrl)) ?? null) : null;
  const upstream = upstreamUrl ? upstreamReaders(upstreamUrl) : undefined;
  const unreadable = async (): Promise<never> => {
    throw new Error("no upstream to read the wallet on (UPSTREAM_RPC_URL)");
  };
  const webhook = config.ALERT_WEBHOOK_URL ? new AlertWebhook({ url: config.ALERT_WEBHOOK_URL, logger, onResult: options.onAlert }) : undefined;
  const resendAfterMs = options.resendAfterMs ?? 30_000;
  const breaker = new Breaker({
    chainId,
    store,
    guardian,
    guardiansOf: options.guardiansOf ?? upstream?.guardiansOf ?? unreadable,
    stops: options.stops,
    upstreamHead: options.upstreamHead,
    trips: options.trips,
    metrics: options.metrics,
    resendAfterMs,
    webhook,
    logger,
  });
  const rules = new MonitorRules({
    chainId,
    store,
    breaker,
    rules: parseRulesConfig(config.MONITOR_RULES),
    budgets: options.budgets ?? upstream?.budgets ?? unreadable,
    ...(upstream ? { budgetAt: upstream.budgetAt, blockTimestamp: upstream.blockTimestamp } : {}),
    resendAfterMs,
    retryMs: options.retryMs,
    ...(options.stops ? { stops: options.stops } : {}),
    logger,
  });
  return {
    guardian,
    breaker,
    rules,
    webhook,
    stop() {
      rules.stop();
      webhook?.stop();
    },
  };
}

/** Reads of a wallet on the upstream itself (no fork): its guardians and budgets, now or at a block. */
function upstreamReaders(upstreamUrl: string) {
  const pub = createPublicClient({ transport: http(upstreamUrl, { timeout: 10_000, retryCount: 1 }) });
  const abi = loadArtifact("AgentWallet").abi;
  const read = (wallet: Address, functionName: string, args: readonly unknown[] = [], blockNumber?: bigint) =>
    pub.readContract({ address: wallet, abi, functionName, args, ...(blockNumber !== undefined ? { blockNumber } : {}) }) as Promise<unknown>;
  const budgetAt = async (wallet: Address, token: Address, blockNumber?: bigint) => {
    const [limit, , maxPerOperation] = (await read(wallet, "budget", [token], blockNumber)) as readonly [bigint, bigint, bigint];
    return { limit, maxPerOperation };
  };
  return {
    guardiansOf: async (wallet: Address) => ((await read(wallet, "guardians")) as readonly string[]).map((g) => getAddress(g)),
    budgets: async (wallet: Address): Promise<BudgetLimit[]> => {
      const tokens = (await read(wallet, "budgetedTokens")) as readonly Address[];
      return Promise.all(tokens.map(async (token) => ({ token, ...(await budgetAt(wallet, token)) })));
    },
    budgetAt,
    blockTimestamp: async (blockNumber: bigint) => (await pub.getBlock({ blockNumber })).timestamp,
  };
}
