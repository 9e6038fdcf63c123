/**
 * The edge: zod schemas that turn untrusted JSON into typed values (checksummed addresses, bigint amounts within
 * uint256, bounded sizes). Inner code never sees raw JSON.
 */
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { ValidationError } from "../errors";

export const MAX_CALLS = 16;
export const MAX_CALLDATA_BYTES = 24 * 1024;
export const MAX_MEMO_CHARS = 500;
const UINT256_MAX = 2n ** 256n - 1n;

/** A 0x address; mixed case must carry a valid checksum. Parsed to its checksummed form. */
export const addressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address")
  .refine((s) => isAddress(s, { strict: true }) || s === s.toLowerCase() || s.slice(2) === s.slice(2).toUpperCase(), "has a bad checksum")
  .transform((s) => getAddress(s) as Address);

/** A decimal string of a non-negative integer ≤ 2^256-1, parsed to bigint. */
export const uint256Schema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, "must be a decimal string of a non-negative integer")
  .transform((s) => BigInt(s))
  .refine((n) => n <= UINT256_MAX, "must be at most 2^256-1");

/** A signed decimal string with magnitude ≤ 2^256-1, parsed to bigint. */
export const int256Schema = z
  .string()
  .regex(/^-?(0|[1-9][0-9]{0,77})$/, "must be a decimal string of an integer")
  .transform((s) => BigInt(s))
  .refine((n) => (n < 0n ? -n : n) <= UINT256_MAX, "must be within ±(2^256-1)");

/** Calldata: 0x-prefixed, whole bytes, at most 24 KiB. */
export const calldataSchema = z
  .string()
  .regex(/^0x([0-9a-fA-F]{2})*$/, "must be 0x-prefixed hex of whole bytes")
  .refine((s) => (s.length - 2) / 2 <= MAX_CALLDATA_BYTES, `must be at most ${MAX_CALLDATA_BYTES} bytes`)
  .transform((s) => s.toLowerCase() as Hex);

/** A 65-byte ECDSA signature. */
export const signatureSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte 0x-hex signature")
  .transform((s) => s.toLowerCase() as Hex);

/** "native" for ETH, or an ERC-20 token address (never the zero address, which would read as ETH). */
export const assetSchema = z.union([
  z.literal("native"),
  addressSchema.refine((a) => a !== "0x0000000000000000000000000000000000000000", 'must not be the zero address (use "native")'),
]);
export type Asset = z.infer<typeof assetSchema>;

const memoSchema = z.string().max(MAX_MEMO_CHARS, `must be at most ${MAX_MEMO_CHARS} characters`).optional();

export const callSchema = z.strictObject({
  target: addressSchema,
  value: uint256Schema,
  data: calldataSchema,
});

export const transferIntentSchema = z.strictObject({
  kind: z.literal("transfer"),
  asset: assetSchema,
  to: addressSchema,
  amount: uint256Schema.refine((n) => n > 0n, "must be greater than zero"),
  memo: memoSchema,
});

export const swapIntentSchema = z
  .strictObject({
    kind: z.literal("swap"),
    sell: z.strictObject({ asset: assetSchema, maxAmount: uint256Schema }),
    // A swap that may buy nothing is a gift: the minimum must be positive.
    buy: z.strictObject({ asset: assetSchema, minAmount: uint256Schema.refine((n) => n > 0n, "must be greater than zero") }),
    memo: memoSchema,
  })
  .refine((i) => i.sell.asset !== i.buy.asset, { path: ["buy", "asset"], message: "must differ from sell.asset" });

export const callIntentSchema = z.strictObject({
  kind: z.literal("call"),
  expect: z.array(z.strictObject({ asset: assetSchema, delta: int256Schema })).max(32),
  memo: memoSchema,
});

/** What the agent says it means to do; compared with what the fork shows the operation does. */
export const intentSchema = z.discriminatedUnion("kind", [transferIntentSchema, swapIntentSchema, callIntentSchema]);
export type Intent = z.infer<typeof intentSchema>;

export const MAX_BOUNDS = 32;
const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;
/** Largest callGasLimit accepted (gas): more than any block holds. */
export const MAX_CALL_GAS_LIMIT = 1_000_000_000n;

/** Says what to send when a version-2 field is missing (a version-1 client). */
const required = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? `required (operation version 2): ${what}` : undefined),
});

/** One outcome bound: after the batch, `account`'s balance of `asset` (zero address = native) changed by >= minDelta. */
export const boundSchema = z.strictObject({
  asset: addressSchema,
  account: addressSchema,
  minDelta: int256Schema.refine((n) => n >= INT256_MIN && n <= INT256_MAX, "must be within the int256 range"),
});

/** POST /v1/operations body. */
export const operationRequestSchema = z.strictObject({
  chainId: z.number().int().positive(),
  wallet: addressSchema,
  calls: z.array(callSchema).min(1, "must hold at least one call").max(MAX_CALLS, `must hold at most ${MAX_CALLS} calls`),
  nonce: uint256Schema,
  deadline: uint256Schema,
  callGasLimit: z
    .string(required('the gas every call gets, a decimal string such as "1000000" (the SDK fills it)'))
    .pipe(uint256Schema)
    .refine((n) => n > 0n && n <= MAX_CALL_GAS_LIMIT, `must be between 1 and ${MAX_CALL_GAS_LIMIT}`),
  bounds: z
    .array(boundSchema, required("the outcome bounds derived from the intent (deriveBounds in src/intent/bounds.ts; the SDK fills them), [] only for a plain transfer"))
    .max(MAX_BOUNDS, `must hold at most ${MAX_BOUNDS} bounds`),
  agentSignature: signatureSchema,
  intent: intentSchema,
  idempotencyKey: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 _ . : -")
    .optional(),
});
export type OperationRequest = z.infer<typeof operationRequestSchema>;
/** The JSON form of an operation request (what an agent sends). */
export type OperationRequestJson = z.input<typeof operationRequestSchema>;

/**
 * Parses untrusted input into an OperationRequest or throws a ValidationError naming each bad field.
 * @example const request = parseOperationRequest(JSON.parse(body))
 */
export function parseOperationRequest(input: unknown): OperationRequest {
  const result = operationRequestSchema.safeParse(input);
  if (!result.success) {
    throw new ValidationError(result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })));
  }
  return result.data;
}
