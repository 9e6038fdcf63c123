/**
 * The deployment file the co-signer service serves: deployments/localhost.json written by `npm start`, or any
 * deployments/<network>.json (scripts/deploy.ts writes those) read when the service runs against another chain.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { addressSchema } from "../intent/schema";

/** A deployment file; fields beyond these are kept as they are. */
export const deploymentFileSchema = z
  .object({
    network: z.string().optional(),
    chainId: z.number().int().positive(),
    rpcUrl: z.string().optional(),
    cosignerUrl: z.string().optional(),
    factory: addressSchema.optional(),
    wallet: addressSchema,
    tokens: z.record(z.string(), addressSchema).default({}),
    dex: addressSchema.optional(),
    roles: z
      .object({ owner: addressSchema, sessionKey: addressSchema, cosigner: addressSchema, guardian: addressSchema })
      .partial()
      .loose()
      .default({}),
    recipients: z.record(z.string(), addressSchema).default({}),
  })
  .loose();
export type DeploymentFile = z.infer<typeof deploymentFileSchema>;

/**
 * Reads and checks a deployment record.
 * @example const d = readDeploymentFile("deployments/sepolia.json")
 */
export function readDeploymentFile(path: string): DeploymentFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read the deployment record ${path}: ${(err as Error).message}`);
  }
  const parsed = deploymentFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

/**
 * Writes a deployment record atomically (temp file, then rename), creating its folder.
 * @example writeDeploymentFile("deployments/localhost.json", record)
 */
export function writeDeploymentFile(path: string, record: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
  renameSync(tmp, path);
}
