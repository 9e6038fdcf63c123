/**
 * What the co-signer's HTTP API answers, parsed at the edge into typed values. The schemas are tolerant of
 * fields they do not know (a newer server may add some) but strict about the ones the SDK acts on.
 */
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import type { Decision } from "../engine";
import { REASON_CODES } from "../errors";

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/, "must be 0x-hex");
const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address")
  .transform((s) => getAddress(s) as Address);
const decimal = z.string().regex(/^-?[0-9]+$/, "must be a decimal string");

const reasonSchema = z.object({
  // Unknown codes from a newer server pass through as strings.
  code: z.union([z.enum(REASON_CODES), z.string()]),
  message: z.string(),
});

/** A decision as GET/POST /v1/operations answer it. */
export const decisionSchema = z.object({
  id: z.string().min(1),
  status: z.enum(["approved", "rejected", "pending_approval"]),
  digest: hex,
  cosignerSignature: hex.optional(),
  reasons: z.array(reasonSchema),
  simulation: z
    .object({
      blockNumber: decimal,
      success: z.boolean(),
      revertReason: z.string().optional(),
      changes: z.array(z.object({ account: z.string(), asset: z.string(), delta: decimal })),
      gasUsed: decimal,
    })
    .nullable()
    .optional()
    .transform((s) => s ?? null),
});

/** The error body of a request the co-signer could not decide. */
export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/**
 * One budget as GET /v1/wallets/:address reports it (token base units; seconds).
 * `token` is "native" or a token address.
 */
export interface WalletBudget {
  token: "native" | Address;
  limit: bigint;
  period: bigint;
  maxPerOperation: bigint;
  /** What may flow out now, refilled to the latest block. */
  available: bigint;
}

/** What an agent needs to plan: GET /v1/wallets/:address, typed (amounts bigint; unix seconds). */
export interface WalletInfo {
  address: Address;
  chainId: number;
  /** Block (of the co-signer's fork) the answer was read at, and its timestamp. */
  blockNumber: bigint;
  timestamp: bigint;
  paused: boolean;
  owner: Address;
  cosigner: Address;
  /** Whether the wallet's co-signer is the service that answered. */
  cosignerIsThisService: boolean;
  guardians: Address[];
  budgets: WalletBudget[];
  recipients: Address[];
  callPermissions: { target: Address; selector: Hex }[];
  sessionKeys: { key: Address; validUntil: bigint; active: boolean }[];
}

const big = decimal.transform((v) => BigInt(v));

/** GET /v1/wallets/:address. */
export const walletInfoSchema = z
  .object({
    address,
    chainId: z.number().int(),
    blockNumber: big,
    timestamp: big,
    paused: z.boolean(),
    owner: address,
    cosigner: address,
    cosignerIsThisService: z.boolean(),
    guardians: z.array(address),
    budgets: z.array(
      z.object({
        token: z.union([z.literal("native"), address]),
        limit: big,
        period: big,
        maxPerOperation: big,
        available: big,
      }),
    ),
    recipients: z.array(address),
    callPermissions: z.array(z.object({ target: address, selector: hex.transform((s) => s as Hex) })),
    sessionKeys: z.array(z.object({ key: address, validUntil: big, active: z.boolean() })),
  })
  .transform((w): WalletInfo => w);

/**
 * Parses a decision body; throws if it is not one.
 * @example const decision = parseDecision(await res.json())
 */
export function parseDecision(body: unknown): Decision {
  return decisionSchema.parse(body) as Decision;
}
