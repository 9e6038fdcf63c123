/** What every store back end shares: JSON with bigints, request hashes and the audit chain's link. */
import { createHash } from "node:crypto";

/** The hash before the first audit record. */
export const GENESIS = "0".repeat(64);

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** SHA-256 (hex) of a request body (or of its toJson form), to tell an idempotent retry from a reuse of the key. */
export function requestHash(value: unknown): string {
  return createHash("sha256").update(typeof value === "string" ? value : toJson(value)).digest("hex");
}

/** The hash of one audit record, chained to the previous one. */
export function linkHash(prevHash: string, seq: number, at: string, kind: string, ref: string | null, payload: string): string {
  return createHash("sha256").update([prevHash, seq, at, kind, ref ?? "", payload].join("\x1f")).digest("hex");
}

/** A new decision id. */
export function newDecisionId(): string {
  return `op_${crypto.randomUUID().replaceAll("-", "")}`;
}
