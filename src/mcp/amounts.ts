/**
 * Amounts as a model reads and writes them: `"12.5 USDC"` (decimal units and the asset's symbol) or
 * `"12500000 base units"` (the token's smallest unit). Parsed to bigint base units at the edge, formatted with both,
 * so what a tool answers can be given back to a tool as is.
 */
import { formatUnits, type Address } from "viem";
import { ToolInputError } from "./errors";

/** An asset as the tools name it: "native" (ETH) or a token, with its symbol and decimals read from the token. */
export interface AssetInfo {
  asset: "native" | Address;
  symbol: string;
  decimals: number;
}

const UINT256_MAX = 2n ** 256n - 1n;
const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?\s+([^\s\d][^\s]*)$/;
const BASE_UNITS = /^([+-]?)(\d+)\s+base\s+units?$/i;

/** The JSON-schema description of an amount argument (one sentence, for the tool's input schema). */
export const AMOUNT_FORMAT = 'decimal units followed by the asset\'s symbol, e.g. "12.5 USDC" or "0.01 ETH"; or base units, e.g. "12500000 base units"';

/**
 * Parses `text` as an amount of `info` in base units; throws ToolInputError naming `field` when it is not one.
 * `sign` says what is allowed: "positive" (> 0, the default), "non-negative" or "any" (a signed change).
 * @example parseAmount("12.5 USDC", usdcInfo, "amount") // 12_500_000n
 */
export function parseAmount(text: string, info: AssetInfo, field: string, sign: "positive" | "non-negative" | "any" = "positive"): bigint {
  const trimmed = text.trim();
  let value: bigint;
  const base = BASE_UNITS.exec(trimmed);
  const decimal = base ? null : DECIMAL.exec(trimmed);
  if (base) {
    value = BigInt(base[2]!);
    if (base[1] === "-") value = -value;
  } else if (decimal) {
    const [, minus, whole, fraction = "", symbol] = decimal;
    if (symbol!.toLowerCase() !== info.symbol.toLowerCase()) {
      throw new ToolInputError(field, `"${text}" is in ${symbol}, but the asset is ${info.symbol}: write the amount in ${info.symbol}, e.g. "1.5 ${info.symbol}"`);
    }
    if (fraction.length > info.decimals) {
      throw new ToolInputError(field, `"${text}" has ${fraction.length} decimal places; ${info.symbol} has ${info.decimals}`);
    }
    value = BigInt(whole! + fraction.padEnd(info.decimals, "0"));
    if (minus === "-") value = -value;
  } else {
    throw new ToolInputError(field, `"${text}" is not an amount: give ${AMOUNT_FORMAT}`);
  }
  if ((value < 0n ? -value : value) > UINT256_MAX) throw new ToolInputError(field, `"${text}" is larger than any token amount (2^256-1 base units)`);
  if (sign === "positive" && value <= 0n) throw new ToolInputError(field, `must be greater than zero, got "${text}"`);
  if (sign === "non-negative" && value < 0n) throw new ToolInputError(field, `must not be negative, got "${text}"`);
  return value;
}

/**
 * An amount in both forms: `"12.5 USDC (12500000 base units)"`.
 * @example formatAmount(12_500_000n, usdcInfo) // "12.5 USDC (12500000 base units)"
 */
export function formatAmount(amount: bigint, info: AssetInfo): string {
  return `${formatUnits(amount, info.decimals)} ${info.symbol} (${amount} base units)`;
}

/**
 * An amount as JSON for structured tool results: the decimal form with the symbol and the base units as a string.
 * @example amountJson(12_500_000n, usdcInfo) // { amount: "12.5 USDC", baseUnits: "12500000" }
 */
export function amountJson(amount: bigint, info: AssetInfo): { amount: string; baseUnits: string } {
  return { amount: `${formatUnits(amount, info.decimals)} ${info.symbol}`, baseUnits: amount.toString() };
}
