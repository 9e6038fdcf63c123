/**
 * A signed read: how a session key proves, without a shared secret, that it may read a decision it proposed.
 * The SDK signs (EIP-191 personal_sign) `countersign:read:<id>:<unix seconds>` and sends the signature and the
 * seconds in two headers; the service recovers the signer and accepts it within ±READ_SIGNATURE_WINDOW_SECONDS
 * of its own clock when it is the decision's session key. The wire half (headers, message) is src/api/read.ts.
 */
import { recoverMessageAddress, type Address, type Hex } from "viem";
import { READ_SIGNATURE_HEADER, READ_TIMESTAMP_HEADER, readMessage } from "../api/read";

export { READ_SIGNATURE_HEADER, READ_TIMESTAMP_HEADER, readMessage };

/** How far the signed timestamp may be from the service's clock (seconds, either way). */
export const READ_SIGNATURE_WINDOW_SECONDS = 60;

/** Why a signed read was refused, or the address that signed it. */
export type ReadSigner = { ok: true; signer: Address } | { ok: false; problem: string };

/**
 * The signer of a read of decision `id`, from the two headers; refused when either is missing or malformed, the
 * timestamp is outside the window around `now` (unix seconds), or the signature does not recover.
 * @example const r = await readSigner(id, req.headers["x-countersign-signature"], req.headers["x-countersign-timestamp"], now)
 */
export async function readSigner(id: string, signature: unknown, timestamp: unknown, now: number): Promise<ReadSigner> {
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    return { ok: false, problem: `${READ_SIGNATURE_HEADER} must be a 65-byte 0x-hex signature` };
  }
  if (typeof timestamp !== "string" || !/^[0-9]{1,12}$/.test(timestamp)) {
    return { ok: false, problem: `${READ_TIMESTAMP_HEADER} must be unix seconds` };
  }
  const at = Number(timestamp);
  if (Math.abs(at - now) > READ_SIGNATURE_WINDOW_SECONDS) {
    return { ok: false, problem: `the signed timestamp ${at} is more than ${READ_SIGNATURE_WINDOW_SECONDS} s from now (${now})` };
  }
  try {
    return { ok: true, signer: await recoverMessageAddress({ message: readMessage(id, at), signature: signature as Hex }) };
  } catch {
    return { ok: false, problem: "the read signature does not recover" };
  }
}
