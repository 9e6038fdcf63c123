/**
 * deployments/<network>.json: where a deployment put things, so that owner tasks, the co-signer and people can
 * find them. Written by scripts/deploy.ts; `npm start` writes deployments/localhost.json in a compatible shape
 * (at least `chainId`, `wallet`, `tokens`), which the owner tasks read the same way.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { addressSchema } from "../intent/schema";

/** What scripts/deploy.ts records. Amounts are decimal strings (base units); times in unix seconds. */
export interface DeploymentRecord {
  network: string;
  chainId: number;
  factory: Address;
  wallet: Address;
  /** "created" by this deployment, or "existing": found already deployed with this policy and salt, and verified. */
  walletOrigin: "created" | "existing";
  salt: Hex;
  deployer: Address;
  roles: { owner: Address; cosigner: Address; guardians: Address[]; sessionKeys: { key: Address; validUntil: number }[] };
  budgets: { token: Address; symbol: string; limit: string; period: number; maxPerOperation: string }[];
  /** Allowlisted recipients by name. */
  recipients: Record<string, Address>;
  callPermissions: { target: Address; selector: Hex }[];
  /** Token addresses by symbol. */
  tokens: Record<string, Address>;
  txs: { what: string; hash: Hex }[];
  blockNumber: string;
  deployedAt: string;
}

/** The fields owner tasks need from any deployments file (scripts/deploy.ts's or `npm start`'s). */
const anyRecordSchema = z.looseObject({
  chainId: z.number().int().positive(),
  wallet: addressSchema,
  tokens: z.record(z.string(), addressSchema).optional(),
});

/**
 * The folder of deployment records: DEPLOYMENTS_DIR, or deployments/ at the repository root (whatever the cwd).
 * @example deploymentsDir({ DEPLOYMENTS_DIR: "/tmp/d" }) // "/tmp/d"
 */
export function deploymentsDir(env: Record<string, string | undefined> = process.env): string {
  return env.DEPLOYMENTS_DIR ? resolve(env.DEPLOYMENTS_DIR) : join(__dirname, "..", "..", "deployments");
}

/**
 * The record file of `network`.
 * @example recordPath("sepolia") // …/deployments/sepolia.json
 */
export function recordPath(network: string, env: Record<string, string | undefined> = process.env): string {
  if (!/^[A-Za-z0-9_-]+$/.test(network)) throw new Error(`bad network name ${network}`);
  return join(deploymentsDir(env), `${network}.json`);
}

/**
 * Writes `record` to deployments/<record.network>.json and returns the path.
 * @example const path = writeRecord(record) // "…/deployments/sepolia.json"
 */
export function writeRecord(record: DeploymentRecord, env: Record<string, string | undefined> = process.env): string {
  const path = recordPath(record.network, env);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

/**
 * Reads the wallet, chain id and tokens of `network`'s deployment, or undefined when there is no record.
 * @example const wallet = readRecord("sepolia")?.wallet
 */
export function readRecord(
  network: string,
  env: Record<string, string | undefined> = process.env,
): { chainId: number; wallet: Address; tokens: Record<string, Address>; path: string } | undefined {
  const path = recordPath(network, env);
  if (!existsSync(path)) return undefined;
  const parsed = anyRecordSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) throw new Error(`${path} is not a deployment record: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return { chainId: parsed.data.chainId, wallet: parsed.data.wallet, tokens: parsed.data.tokens ?? {}, path };
}
