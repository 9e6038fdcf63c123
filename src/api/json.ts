/**
 * The JSON primitives of the wire: amounts are decimal strings in base units, bytes and hashes 0x-hex, addresses
 * 0x-hex. The exact forms are what the service writes; the tolerant forms are what the SDK accepts from a service.
 */
import { getAddress, type Address } from "viem";
import { z } from "zod";

/** A decimal string of an integer as the service writes it (no leading zeros; negative for an outflow). */
export const decimalString = z.string().regex(/^-?(0|[1-9][0-9]*)$/, "must be a decimal string");

/** 0x-prefixed hex (any length). */
export const hexString = z.string().regex(/^0x[0-9a-fA-F]*$/, "must be 0x-hex");

/** A 0x address, any case. */
export const addressString = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address");

/** A decimal string of an integer as the SDK accepts it (leading zeros allowed). */
export const tolerantDecimal = z.string().regex(/^-?[0-9]+$/, "must be a decimal string");

/** A 0x address as the SDK accepts it, parsed to its checksummed form. */
export const checksummedAddress = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address")
  .transform((s) => getAddress(s) as Address);
