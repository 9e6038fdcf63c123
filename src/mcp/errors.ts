/**
 * The tool server's own error: an argument the schema let through but that cannot be acted on (an unknown symbol,
 * an amount in another asset's units, more decimals than the token has). It names the field, so the model can fix it.
 * Refusals by the co-signer or the wallet are not errors: they are tool results (src/mcp/outcome.ts).
 */

/**
 * A tool argument that cannot be acted on; `field` is its path in the tool's input ("sell.maxAmount").
 * @example throw new ToolInputError("asset", 'no token with symbol "USDT" among the wallet\'s tokens (USDC, WETH)')
 */
export class ToolInputError extends Error {
  override name = "ToolInputError";
  readonly code = "INVALID_ARGUMENT";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}
