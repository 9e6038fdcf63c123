/**
 * Signature helpers for tests: ways to turn a good signature into one the wallet and the co-signer must refuse.
 */

/** The order n of secp256k1's group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * The malleable twin of a 65-byte (r, s, v) signature: s replaced by n - s and v flipped (27 ↔ 28). It is valid ECDSA
 * and recovers the same address, but its s is in the high half, which OpenZeppelin's ECDSA (and so the wallet and the
 * co-signer) refuses. Applied twice it gives the signature back.
 * @example expectError(await post("/v1/operations", { ...op, agentSignature: highS(op.agentSignature) }), 401, "BAD_AGENT_SIGNATURE")
 */
export function highS<T extends string>(signature: T): T {
  const match = /^0x([0-9a-fA-F]{64})([0-9a-fA-F]{64})(1[bcBC])$/.exec(signature);
  if (!match) throw new Error(`highS: expected a 65-byte signature with v = 27 or 28, got ${signature}`);
  const [, r, s, v] = match as unknown as [string, string, string, string];
  const twin = (SECP256K1_N - BigInt(`0x${s}`)).toString(16).padStart(64, "0");
  return `0x${r.toLowerCase()}${twin}${v.toLowerCase() === "1b" ? "1c" : "1b"}` as T;
}
