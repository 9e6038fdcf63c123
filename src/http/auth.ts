/**
 * The approver (operator) token: a shared secret sent as `Authorization: Bearer <token>`, compared in constant
 * time. It is never logged (see src/logger.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Whether an Authorization header carries `token`. Both sides are hashed first so the comparison takes the same
 * time whatever the length or content of the header.
 * @example bearerMatches(req.headers.authorization, config.APPROVER_TOKEN)
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? "");
  const given = createHash("sha256").update(match?.[1] ?? "").digest();
  const expected = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, expected) && match !== null;
}
