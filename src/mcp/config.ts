/**
 * The tool server's configuration: the environment, parsed once by one zod schema. The session key comes from an
 * encrypted JSON keystore, or (development only) a raw key; neither it nor the password is ever logged or printed.
 */
import { readFile } from "node:fs/promises";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { addressSchema } from "../intent/schema";

export const mcpConfigSchema = z
  .object({
    /** Base URL of the co-signer, e.g. http://127.0.0.1:8787. */
    COSIGNER_URL: z.url(),
    /** JSON-RPC URL of the wallet's chain (reads, and sending `execute`). */
    RPC_URL: z.url(),
    /** The AgentWallet the agent operates. */
    WALLET: addressSchema,
    SESSION_KEY_KEYSTORE_PATH: z.string().min(1).optional(),
    SESSION_KEY_KEYSTORE_PASSWORD: z.string().optional(),
    SESSION_KEY_PRIVATE_KEY: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of 0x-hex")
      .optional(),
    /** The MockDex-style router `propose_swap` uses; default: the `dex` of the co-signer's deployment record. */
    DEX: addressSchema.optional(),
    NODE_ENV: z.string().default("development"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    if (env.SESSION_KEY_KEYSTORE_PATH && env.SESSION_KEY_PRIVATE_KEY) {
      ctx.addIssue({ code: "custom", path: ["SESSION_KEY_PRIVATE_KEY"], message: "set either SESSION_KEY_KEYSTORE_PATH or SESSION_KEY_PRIVATE_KEY, not both" });
    }
    if (!env.SESSION_KEY_KEYSTORE_PATH && !env.SESSION_KEY_PRIVATE_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["SESSION_KEY_KEYSTORE_PATH"],
        message: "is required (with SESSION_KEY_KEYSTORE_PASSWORD), or SESSION_KEY_PRIVATE_KEY in development",
      });
    }
    if (env.SESSION_KEY_KEYSTORE_PATH && env.SESSION_KEY_KEYSTORE_PASSWORD === undefined) {
      ctx.addIssue({ code: "custom", path: ["SESSION_KEY_KEYSTORE_PASSWORD"], message: "is required with SESSION_KEY_KEYSTORE_PATH" });
    }
    if (env.SESSION_KEY_PRIVATE_KEY && env.NODE_ENV === "production") {
      ctx.addIssue({ code: "custom", path: ["SESSION_KEY_PRIVATE_KEY"], message: "a raw key is for development only; use SESSION_KEY_KEYSTORE_PATH in production" });
    }
  });

export type McpConfig = z.infer<typeof mcpConfigSchema>;

/**
 * Parses the environment; throws one Error naming every bad variable (never its value).
 * @example const config = loadMcpConfig(process.env)
 */
export function loadMcpConfig(env: Record<string, string | undefined>): McpConfig {
  const result = mcpConfigSchema.safeParse(env);
  if (result.success) return result.data;
  throw new Error(`invalid configuration: ${result.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`).join("; ")}`);
}

/**
 * The session key as a viem local account: from the keystore (decrypted here, once) or the development raw key.
 * @example const sessionKey = await loadSessionKey(config)
 */
export async function loadSessionKey(config: McpConfig): Promise<LocalAccount> {
  if (config.SESSION_KEY_KEYSTORE_PATH) {
    const { Wallet } = await import("ethers");
    let json: string;
    try {
      json = await readFile(config.SESSION_KEY_KEYSTORE_PATH, "utf8");
    } catch (err) {
      throw new Error(`SESSION_KEY_KEYSTORE_PATH: cannot read ${config.SESSION_KEY_KEYSTORE_PATH} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    try {
      const wallet = await Wallet.fromEncryptedJson(json, config.SESSION_KEY_KEYSTORE_PASSWORD ?? "");
      return privateKeyToAccount(wallet.privateKey as Hex);
    } catch {
      throw new Error("SESSION_KEY_KEYSTORE_PATH: the keystore could not be decrypted with SESSION_KEY_KEYSTORE_PASSWORD");
    }
  }
  return privateKeyToAccount(config.SESSION_KEY_PRIVATE_KEY as Hex);
}
