/**
 * Named approvers: each has a name and a token of their own, configured in a file (APPROVERS_FILE) that holds only
 * the tokens' SHA-256 hashes. A request's bearer token is hashed and compared with every configured hash in constant
 * time; the single APPROVER_TOKEN of earlier versions keeps working as one approver (APPROVER_NAME, default
 * "approver"). The name is what goes into the decision and the audit chain, and what a quorum counts: one approver
 * never counts twice. Approvers hold tokens, never keys: the agent's session key cannot approve anything.
 * Tokens are never logged (src/logger.ts redacts the Authorization header).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";

const approverName = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 _ . @ -");

/** The approvers file: names and the SHA-256 (hex) of each one's token. */
export const approversFileSchema = z.strictObject({
  approvers: z
    .array(
      z.strictObject({
        name: approverName,
        /** sha256 of the token, 64 hex characters (`printf %s "$TOKEN" | sha256sum`). */
        tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, "must be the 64 lowercase hex characters of the token's SHA-256"),
      }),
    )
    .min(1, "must name at least one approver")
    .max(100),
});

/** Someone allowed to approve, reject and operate the breaker. */
export interface Approver {
  name: string;
}

/**
 * The SHA-256 (hex) of a token, as the approvers file stores it.
 * @example hashToken("s3cr3t-token-of-alice-0123456789") // "9f…"
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * The configured approvers, matched by token.
 * @example const approvers = Approvers.load({ file: "approvers.json", legacyToken: config.APPROVER_TOKEN }); approvers.byHeader(req.headers.authorization)
 */
export class Approvers {
  private constructor(private readonly entries: readonly { name: string; hash: Buffer }[]) {}

  /**
   * From the approvers file and/or the single legacy token; throws naming the file and field, or two approvers with
   * one name or one token.
   */
  static load(options: { file?: string; legacyToken?: string; legacyName?: string }): Approvers {
    const entries: { name: string; hash: Buffer }[] = [];
    if (options.file) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(options.file, "utf8"));
      } catch (err) {
        throw new Error(`APPROVERS_FILE ${options.file}: ${(err as Error).message}`);
      }
      const parsed = approversFileSchema.safeParse(json);
      if (!parsed.success) {
        throw new Error(`APPROVERS_FILE ${options.file}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`).join("; ")}`);
      }
      for (const a of parsed.data.approvers) entries.push({ name: a.name, hash: Buffer.from(a.tokenSha256, "hex") });
    }
    if (options.legacyToken) entries.push({ name: options.legacyName ?? "approver", hash: Buffer.from(hashToken(options.legacyToken), "hex") });
    return Approvers.of(entries);
  }

  /** From names and token hashes (tests). */
  static of(entries: readonly { name: string; hash: Buffer }[]): Approvers {
    const names = new Set<string>();
    const hashes = new Set<string>();
    for (const e of entries) {
      if (names.has(e.name)) throw new Error(`approvers: ${e.name} is configured twice (APPROVERS_FILE and APPROVER_NAME must name distinct approvers)`);
      if (hashes.has(e.hash.toString("hex"))) throw new Error(`approvers: ${e.name} has the same token as another approver; each needs their own`);
      names.add(e.name);
      hashes.add(e.hash.toString("hex"));
    }
    return new Approvers(entries);
  }

  /** Whether any approver is configured. */
  get configured(): boolean {
    return this.entries.length > 0;
  }

  /** The approvers' names (never their tokens). */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  /**
   * The approver whose token an Authorization header carries, or undefined. Every configured hash is compared (in
   * constant time, no early exit), so the time taken does not tell which approver, if any, almost matched.
   */
  byHeader(header: string | undefined): Approver | undefined {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? "");
    const given = createHash("sha256").update(match?.[1] ?? "").digest();
    let found: string | undefined;
    for (const e of this.entries) if (timingSafeEqual(given, e.hash) && match !== null && found === undefined) found = e.name;
    return found === undefined ? undefined : { name: found };
  }
}
