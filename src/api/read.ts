/**
 * A signed read of a decision (GET /v1/operations/:id) on the wire: the session key signs (EIP-191 personal_sign)
 * `countersign:read:<id>:<unix seconds>` and sends the signature and the seconds in two headers. The service's side
 * (recovering the signer, the time window) is src/http/read-auth.ts.
 */

/** Header carrying the signature (65 bytes of 0x-hex). */
export const READ_SIGNATURE_HEADER = "x-countersign-signature";
/** Header carrying the signed timestamp (unix seconds, decimal). */
export const READ_TIMESTAMP_HEADER = "x-countersign-timestamp";

/**
 * The message a session key signs to read decision `id` at `timestamp` (unix seconds).
 * @example await sessionKey.signMessage({ message: readMessage(decision.id, Math.floor(Date.now() / 1000)) })
 */
export function readMessage(id: string, timestamp: number | bigint): string {
  return `countersign:read:${id}:${timestamp}`;
}
