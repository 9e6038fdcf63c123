/**
 * Configuration: the environment, parsed once at start-up by one zod schema. Secrets (keys, passwords, tokens)
 * are read here and never logged; `describeConfig` prints the rest.
 */
import { z } from "zod";
import { addressSchema, uint256Schema } from "./intent/schema";

const bool = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1");

export const configSchema = z
  .object({
    UPSTREAM_RPC_URL: z.url().optional(),
    COSIGNER_KEYSTORE_PATH: z.string().min(1).optional(),
    COSIGNER_KEYSTORE_PASSWORD: z.string().optional(),
    COSIGNER_PRIVATE_KEY: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of 0x-hex")
      .optional(),
    ALLOW_RAW_KEY: bool.default(false),
    NODE_ENV: z.string().default("development"),
    DB_PATH: z.string().default("data/countersign.sqlite"),
    /** A shared PostgreSQL store for replicas (postgres://…); when set it is used instead of DB_PATH. */
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional(),
    HOST: z.string().default("127.0.0.1"),
    PORT: z.coerce.number().int().min(0).max(65535).default(8787),
    /**
     * The URL clients reach the service at (its /openapi.json names it as the server); default: http://HOST:port
     * of the address the service listens on. Never taken from a request's Host header.
     */
    PUBLIC_BASE_URL: z.url().optional(),
    MAX_TTL_SECONDS: z.coerce.number().int().positive().default(300),
    MAX_HEAD_LAG: z.coerce.number().int().min(0).default(2),
    HEAD_POLL_MS: z.coerce.number().int().positive().default(100),
    FORK_HARDFORK: z.string().default("prague"),
    /** JSON object: asset ("native" or token address) → amount in base units above which a person reviews. */
    REVIEW_THRESHOLDS: z.string().default("{}"),
    REVIEW_NEW_RECIPIENTS: bool.default(true),
    /** The guardian key the operator's pause endpoint sends `pause()` with (keystore, or raw key in development). */
    GUARDIAN_KEYSTORE_PATH: z.string().min(1).optional(),
    GUARDIAN_KEYSTORE_PASSWORD: z.string().optional(),
    GUARDIAN_PRIVATE_KEY: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of 0x-hex")
      .optional(),
    APPROVER_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    // --- people in the loop (issue 11; docs/approvals.md) ---
    /** The approval policy file (JSON, src/approvals/policy.ts); without it REVIEW_THRESHOLDS and REVIEW_NEW_RECIPIENTS are the rules. */
    APPROVAL_POLICY_FILE: z.string().min(1).optional(),
    /** The named approvers and their tokens' SHA-256 (JSON, src/approvals/approvers.ts), besides APPROVER_TOKEN. */
    APPROVERS_FILE: z.string().min(1).optional(),
    /** The name APPROVER_TOKEN's holder approves as. */
    APPROVER_NAME: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 _ . @ -").default("approver"),
    /** Seconds a pending operation waits for people before it expires (never past its own deadline). */
    PENDING_TTL_SECONDS: z.coerce.number().int().positive().max(86_400).default(900),
    /** Operations per minute one agent signer (session key) may propose. */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(120),
    /**
     * Proposals per minute to one wallet, counted once the signer is verified as one of its session keys (so a
     * stranger cannot use a wallet's allowance up): bounds what all of a wallet's keys together make the fork do.
     */
    RATE_LIMIT_PER_WALLET_PER_MINUTE: z.coerce.number().int().positive().default(600),
    /**
     * The wallets served (comma-separated addresses), besides the deployment the service starts with. Any other
     * wallet is refused WALLET_NOT_FOUND before anything runs on the fork, whoever its co-signer is.
     */
    SERVED_WALLETS: z.string().default(""),
    /** Wall-clock budget of one simulation once it holds the fork (ms): past it the run is refused. */
    SIMULATION_BUDGET_MS: z.coerce.number().int().positive().default(2000),
    /** Most simulations waiting for or holding the fork; past it requests are refused 503 BUSY with Retry-After. */
    FORK_MAX_QUEUE: z.coerce.number().int().positive().default(64),
    FORK_RECYCLE_EVERY: z.coerce.number().int().nonnegative().default(5000),
    FORK_RECYCLE_GROWTH_MIB: z.coerce.number().int().nonnegative().default(160),
    /** Requests per minute one client IP may make (a coarse limit in front of everything but /healthz and /metrics). */
    RATE_LIMIT_PER_IP_PER_MINUTE: z.coerce.number().int().positive().default(3000),
    /**
     * Replicas behind one load balancer: each counts its share (limit / REPLICAS, rounded up) of the signer, wallet
     * and IP limits, so the limits hold across replicas when the balancer spreads requests evenly (docs/deploy.md).
     */
    REPLICAS: z.coerce.number().int().positive().default(1),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    // --- the monitor's chain follower (src/monitor/follower.ts) ---
    /** Whether the service follows the chain (records executions, tells the breaker's rules). */
    MONITOR_ENABLED: bool.default(true),
    /** Milliseconds between the follower's polls of the upstream head. */
    MONITOR_POLL_MS: z.coerce.number().int().positive().default(500),
    /** Recorded blocks kept to detect and undo a reorg (default 12; 6 on the local chain 31337). */
    MONITOR_REORG_DEPTH: z.coerce.number().int().positive().max(10_000).optional(),
    /** /healthz is unhealthy when the follower is more than this many blocks behind the upstream head. */
    MONITOR_MAX_LAG_BLOCKS: z.coerce.number().int().min(0).default(5),
    /** Replicas on one PostgreSQL store: how often a standby tries to take the monitor lease (ms). */
    MONITOR_LEASE_RETRY_MS: z.coerce.number().int().positive().default(2000),
    // --- the breaker's rules and alerts (src/monitor/rules.ts, src/monitor/webhook.ts) ---
    /**
     * JSON: the breaker's rules, `{"default": {…}, "wallets": {"0x…": {…}}}` (fields of ruleSetSchema in
     * src/monitor/rules.ts; unset fields keep the defaults: pause on an unattributed or mismatched execution, revoke a
     * key after 3 manipulation refusals in 10 minutes, flag on 50% of a budget in 10 minutes or a control change).
     */
    MONITOR_RULES: z.string().default("{}"),
    /** Where each incident is POSTed as JSON (retried with backoff; never delays the breaker). */
    ALERT_WEBHOOK_URL: z.url().optional(),
  })
  .superRefine((env, ctx) => {
    for (const entry of env.SERVED_WALLETS.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
      if (!/^0x[0-9a-fA-F]{40}$/.test(entry)) ctx.addIssue({ code: "custom", path: ["SERVED_WALLETS"], message: `${entry} is not an address` });
    }
    if (env.COSIGNER_KEYSTORE_PATH && env.COSIGNER_KEYSTORE_PASSWORD === undefined) {
      ctx.addIssue({ code: "custom", path: ["COSIGNER_KEYSTORE_PASSWORD"], message: "is required with COSIGNER_KEYSTORE_PATH" });
    }
    if (env.GUARDIAN_KEYSTORE_PATH && env.GUARDIAN_KEYSTORE_PASSWORD === undefined) {
      ctx.addIssue({ code: "custom", path: ["GUARDIAN_KEYSTORE_PASSWORD"], message: "is required with GUARDIAN_KEYSTORE_PATH" });
    }
    if (env.GUARDIAN_PRIVATE_KEY && env.NODE_ENV === "production" && !env.ALLOW_RAW_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["GUARDIAN_PRIVATE_KEY"],
        message: "a raw key is for development only; use GUARDIAN_KEYSTORE_PATH in production",
      });
    }
    if (env.COSIGNER_PRIVATE_KEY && env.NODE_ENV === "production" && !env.ALLOW_RAW_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["COSIGNER_PRIVATE_KEY"],
        message: "a raw key is for development only; use COSIGNER_KEYSTORE_PATH in production",
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

const thresholdsSchema = z.record(z.union([z.literal("native"), addressSchema]), uint256Schema);

/** Parses REVIEW_THRESHOLDS into a map (asset → base units). */
export function parseThresholds(json: string): Map<string, bigint> {
  const parsed = thresholdsSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`REVIEW_THRESHOLDS: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const out = new Map<string, bigint>();
  for (const [asset, amount] of Object.entries(parsed.data)) out.set(asset, amount);
  return out;
}

/**
 * Parses `env` (process.env by default); throws one error naming every bad variable.
 * @example const config = loadConfig()
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k]) => k in configSchema.shape));
  const result = configSchema.safeParse(relevant);
  if (!result.success) {
    throw new Error(`invalid configuration: ${result.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  return result.data;
}

/** The configuration without secrets, for the start-up log line. */
export function describeConfig(config: Config): Record<string, unknown> {
  const { COSIGNER_PRIVATE_KEY, COSIGNER_KEYSTORE_PASSWORD, GUARDIAN_PRIVATE_KEY, GUARDIAN_KEYSTORE_PASSWORD, APPROVER_TOKEN, ...rest } =
    config;
  return {
    ...rest,
    // Provider URLs often carry an API key in the path or query: log the origin only.
    UPSTREAM_RPC_URL: rest.UPSTREAM_RPC_URL ? `${new URL(rest.UPSTREAM_RPC_URL).origin}/[redacted]` : undefined,
    // A webhook URL often carries its secret in the path or query: the origin only.
    ALERT_WEBHOOK_URL: rest.ALERT_WEBHOOK_URL ? `${new URL(rest.ALERT_WEBHOOK_URL).origin}/[redacted]` : undefined,
    // The database URL may carry a password: host and database only.
    DATABASE_URL: rest.DATABASE_URL ? redactDatabaseUrl(rest.DATABASE_URL) : undefined,
    COSIGNER_PRIVATE_KEY: COSIGNER_PRIVATE_KEY ? "[redacted]" : undefined,
    COSIGNER_KEYSTORE_PASSWORD: COSIGNER_KEYSTORE_PASSWORD ? "[redacted]" : undefined,
    GUARDIAN_PRIVATE_KEY: GUARDIAN_PRIVATE_KEY ? "[redacted]" : undefined,
    GUARDIAN_KEYSTORE_PASSWORD: GUARDIAN_KEYSTORE_PASSWORD ? "[redacted]" : undefined,
    APPROVER_TOKEN: APPROVER_TOKEN ? "[redacted]" : undefined,
  };
}

/** postgres://user:secret@host:5432/db?sslmode=… → postgres://host:5432/db (no user, password or parameters). */
function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "[redacted]";
  }
}
