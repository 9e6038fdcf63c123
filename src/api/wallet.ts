/**
 * GET /v1/wallets/:address: the wallet's policy as the co-signer sees it. `walletViewSchema` is the JSON exactly as
 * the service writes it; `walletInfoSchema` is what the SDK reads from it, typed (amounts bigint; unix seconds).
 */
import type { Address, Hex } from "viem";
import { z } from "zod";
import { addressString, checksummedAddress, decimalString, hexString, tolerantDecimal } from "./json";

/**
 * GET /v1/wallets/:address exactly as the service answers it (the OpenAPI document's WalletView).
 * @example const view = walletViewSchema.parse(res.body)
 */
export const walletViewSchema = z.object({
  address: addressString,
  chainId: z.number().int(),
  blockNumber: decimalString.describe("The block the state was read in: the next block after the fork's head, as a simulation now would run"),
  timestamp: decimalString.describe("That block's timestamp (unix seconds, now): budgets are available as of this second"),
  paused: z.boolean(),
  owner: addressString,
  pendingOwner: addressString,
  cosigner: addressString,
  cosignerIsThisService: z.boolean(),
  guardians: z.array(addressString),
  sessionKeys: z.array(
    z.object({ key: addressString, validUntil: decimalString.describe("Last valid second (unix seconds, inclusive)"), active: z.boolean() }),
  ),
  budgets: z.array(
    z.object({
      token: z.union([z.literal("native"), addressString]),
      limit: decimalString.describe("Bucket capacity (base units)"),
      period: decimalString.describe("Seconds to refill from empty to limit"),
      maxPerOperation: decimalString.describe("Per-operation cap on gross outflow (base units)"),
      available: decimalString.describe("Gross outflow allowed now (base units)"),
    }),
  ),
  recipients: z.array(addressString).describe("Allowlisted recipients of native and budgeted-token transfers"),
  callPermissions: z.array(z.object({ target: addressString, selector: hexString })),
  codeHash: hexString,
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

const big = tolerantDecimal.transform((v) => BigInt(v));

/**
 * GET /v1/wallets/:address as the SDK reads it: typed, tolerant of fields it does not know.
 * @example const info: WalletInfo = walletInfoSchema.parse(await res.json())
 */
export const walletInfoSchema = z
  .object({
    address: checksummedAddress,
    chainId: z.number().int(),
    blockNumber: big,
    timestamp: big,
    paused: z.boolean(),
    owner: checksummedAddress,
    cosigner: checksummedAddress,
    cosignerIsThisService: z.boolean(),
    guardians: z.array(checksummedAddress),
    budgets: z.array(
      z.object({
        token: z.union([z.literal("native"), checksummedAddress]),
        limit: big,
        period: big,
        maxPerOperation: big,
        available: big,
      }),
    ),
    recipients: z.array(checksummedAddress),
    callPermissions: z.array(z.object({ target: checksummedAddress, selector: hexString.transform((s) => s as Hex) })),
    sessionKeys: z.array(z.object({ key: checksummedAddress, validUntil: big, active: z.boolean() })),
  })
  .transform((w): WalletInfo => w);
