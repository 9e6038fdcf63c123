/**
 * What kind of failure an error from outside the co-signer is: the in-process EVM (Hardhat's EDR), a JSON-RPC node,
 * viem, or Node's network stack. Each classifier reads structured fields (class names, JSON-RPC codes, `data`, Node's
 * `code`) anywhere along the `cause` chain. This is the one file that reads an error's message text, and only where
 * the library that produced the error gives nothing else; each such match names that library.
 */
import type { Hex } from "viem";

/** The fields of one error in a cause chain that the classifiers read. */
interface Link {
  name?: unknown;
  code?: unknown;
  data?: unknown;
  message?: unknown;
  cause?: unknown;
  stackTrace?: unknown;
  _isProviderError?: unknown;
}

/** JSON-RPC error codes the classifiers rely on. */
export const RPC_ERROR_CODES = {
  /** geth, reth, anvil, Erigon: execution reverted; the return data is in `data`. */
  executionReverted: 3,
  /** Hardhat's failed transaction or call that is not a revert (out of gas), and EDR's failed fork request. */
  invalidInput: -32000,
  /** Hardhat node: a reverted transaction or call; the return data is in `data.data`. */
  internal: -32603,
} as const;

/** Node's (and undici's) codes of a network failure: the other end could not be reached or did not answer. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/** viem's transport errors (and the DOM's TimeoutError of AbortSignal.timeout): the request got no usable answer. */
const TRANSPORT_ERROR_NAMES = new Set(["HttpRequestError", "TimeoutError", "WebSocketRequestError", "SocketClosedError"]);

/** viem's errors for a call the node reported as reverted. */
const REVERT_ERROR_NAMES = new Set(["ContractFunctionRevertedError", "ExecutionRevertedError"]);

/**
 * Every error in `err`'s cause chain, `err` first; stops at the first non-object and at a cycle.
 * @example for (const e of causes(err)) if ((e as { code?: unknown }).code === "ECONNREFUSED") return true;
 */
export function* causes(err: unknown): Generator<object, void, undefined> {
  const seen = new Set<unknown>();
  for (let e = err; e !== null && typeof e === "object" && !seen.has(e); e = (e as Link).cause) {
    seen.add(e);
    yield e;
  }
}

/**
 * The hex `data` one error carries, or the `data.data` JSON-RPC nodes nest it in (viem's RpcRequestError, Hardhat's
 * ProviderError); "0x" counts. Looks at this one error only, not at its causes.
 * @example hexDataOf({ code: -32603, data: { data: "0xdeadbeef" } }) // "0xdeadbeef"
 */
export function hexDataOf(e: unknown): Hex | undefined {
  if (e === null || typeof e !== "object") return undefined;
  const data = (e as Link).data;
  if (isHexString(data)) return data;
  if (data !== null && typeof data === "object" && isHexString((data as Link).data)) return (data as Link).data as Hex;
  return undefined;
}

/**
 * The first hex `data` (or `data.data`) along `err`'s cause chain: the return data of a revert, "0x" when it has none.
 * @example const data = errorData(err) // "0x3b4c7a5f…"
 */
export function errorData(err: unknown): Hex | undefined {
  for (const e of causes(err)) {
    const data = hexDataOf(e);
    if (data !== undefined) return data;
  }
  return undefined;
}

/**
 * The hash of the transaction an EVM error is about, if one along the cause chain names it: Hardhat EDR does for a
 * transaction it mined and that failed (`transactionHash`, or `data.transactionHash` on a JSON-RPC error object).
 * @example if (transactionHashOf(err) === undefined) throw err // not the transaction's own failure
 */
export function transactionHashOf(err: unknown): Hex | undefined {
  for (const e of causes(err)) {
    const link = e as { transactionHash?: unknown; data?: { transactionHash?: unknown } | null };
    const hash = link.transactionHash ?? link.data?.transactionHash;
    if (isHexString(hash) && hash.length > 2) return hash;
  }
  return undefined;
}

/**
 * Whether the EVM reverted or halted on an invalid instruction (not out of gas: see isOutOfGas), by any error in the
 * chain: viem's ContractFunctionRevertedError / ExecutionRevertedError, JSON-RPC code 3, ethers' CALL_EXCEPTION,
 * Hardhat EDR's SolidityError (in process), or a Hardhat node's -32603 carrying the return data in `data.data`.
 * @example try { await rpc("eth_call", [tx, "latest"]) } catch (err) { if (isRevert(err)) return notFound() }
 */
export function isRevert(err: unknown): boolean {
  for (const e of causes(err)) {
    const link = e as Link;
    if (typeof link.name === "string" && REVERT_ERROR_NAMES.has(link.name)) return true;
    if (link.code === RPC_ERROR_CODES.executionReverted || link.code === "CALL_EXCEPTION") return true;
    // Hardhat's EdrProviderWrapper throws a SolidityError (its `name` is plain "Error") for every failed execution it
    // has a stack trace for, with the return data in `data`.
    if (e.constructor?.name === "SolidityError" || (Array.isArray(link.stackTrace) && isHexString(link.data))) return true;
    // The same failure without a stack trace, and every revert a Hardhat node answers over JSON-RPC.
    if (link.code === RPC_ERROR_CODES.internal && isHexString((link.data as Link | null | undefined)?.data)) return true;
  }
  return false;
}

/**
 * Whether the execution ran out of gas: Hardhat EDR's `data.reason.OutOfGas`, or a Hardhat node's -32000 that says so.
 * @example if (isRevert(err) || isOutOfGas(err)) throw new CountersignError("WALLET_NOT_FOUND", "…")
 */
export function isOutOfGas(err: unknown): boolean {
  for (const e of causes(err)) {
    const link = e as Link;
    const data = link.data as { reason?: { OutOfGas?: unknown }; message?: unknown } | null | undefined;
    if (data?.reason?.OutOfGas !== undefined) return true;
    // Text only: a Hardhat node's JSON-RPC answer names out of gas in its message and nowhere else.
    if (link.code === RPC_ERROR_CODES.invalidInput && /\bout of gas\b/i.test(`${String(link.message ?? "")} ${String(data?.message ?? "")}`)) return true;
  }
  return false;
}

/**
 * Whether the error means a chain endpoint could not be reached or failed to answer (never that the EVM refused):
 * the co-signer's UPSTREAM_UNAVAILABLE (UpstreamError, CountersignError), viem's transport errors, Node's network
 * codes, a failed fetch, or Hardhat EDR's failed request to the chain it forks.
 * @example if (isUpstreamFailure(err)) throw new CountersignError("UPSTREAM_UNAVAILABLE", "…")
 */
export function isUpstreamFailure(err: unknown): boolean {
  for (const e of causes(err)) {
    const link = e as Link;
    if (link.code === "UPSTREAM_UNAVAILABLE") return true;
    if (typeof link.name === "string" && TRANSPORT_ERROR_NAMES.has(link.name)) return true;
    if (typeof link.code === "string" && NETWORK_CODES.has(link.code)) return true;
    const message = typeof link.message === "string" ? link.message : "";
    // Text only: fetch (undici in Node, browsers) throws a bare TypeError whose cause may carry no code ("bad port").
    if (link.name === "TypeError" && /^(fetch failed|Failed to fetch)$/.test(message)) return true;
    // Text only: Hardhat EDR reports a failed request to the forked chain as a ProviderError -32000 with no data,
    // e.g. "The response reported error `-32603`: `upstream unreachable: …`" (the UpstreamCache's answer) or
    // "error trying to connect: tcp connect error: Connection refused", "operation timed out".
    if (link._isProviderError === true && link.code === RPC_ERROR_CODES.invalidInput && EDR_REMOTE_FAILURE.test(message)) return true;
  }
  return false;
}

/** Hardhat EDR's messages for a failed request to the forked chain (see isUpstreamFailure). */
const EDR_REMOTE_FAILURE = /response reported error|error trying to connect|error sending request|connection refused|timed out|upstream|remote|JSON-RPC/i;

function isHexString(value: unknown): value is Hex {
  return typeof value === "string" && /^0x[0-9a-fA-F]*$/.test(value);
}

/**
 * What may be shown or logged of an error: its first line (viem's shortMessage when it has one), with every URL cut
 * to its origin, since provider URLs carry API keys in their path or query.
 * @example publicMessage(err) // "HTTP request failed. Status: 500 URL: https://eth.example.com/[redacted]"
 */
export function publicMessage(err: unknown): string {
  const e = err as { shortMessage?: unknown; message?: unknown } | undefined;
  const text = typeof e?.shortMessage === "string" ? e.shortMessage : typeof e?.message === "string" ? e.message : String(err);
  return (text.split("\n")[0] ?? "").replace(/\b(https?|wss?):\/\/[^\s"'<>]+/g, (url) => {
    try {
      return `${new URL(url).origin}/[redacted]`;
    } catch {
      return "[redacted URL]";
    }
  });
}
