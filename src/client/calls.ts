/**
 * Builders of the calls and the intent of the common operations: a payment and a swap on the demo DEX.
 * Pure functions: nothing here signs or sends.
 */
import { encodeFunctionData, getAddress, parseAbi, type Address } from "viem";
import type { Call } from "../eip712";

/** "native" for ETH, or an ERC-20 token address. */
export type Asset = "native" | Address;

const erc20Abi = parseAbi([
  "function transfer(address to, uint256 amount) returns (bool)",
  "function approve(address spender, uint256 amount) returns (bool)",
]);

/** The demo DEX (contracts/mocks/MockDex.sol): pulls `amountIn` with transferFrom, pays at least `minAmountOut`. */
export const mockDexAbi = parseAbi([
  "function swap(address tokenIn, address tokenOut, uint256 amountIn, uint256 minAmountOut) returns (uint256 amountOut)",
  "function quote(address tokenIn, address tokenOut, uint256 amountIn) view returns (uint256)",
]);

/** A payment of `amount` base units of `asset` to `to`. */
export interface TransferParams {
  asset: Asset;
  to: Address;
  /** Token base units (wei for "native"). */
  amount: bigint;
  memo?: string;
}

/**
 * A swap of at most `sell.maxAmount` for at least `buy.minAmount`, routed through `via`.
 * `via.dex` is a MockDex-compatible router (`swap(tokenIn, tokenOut, amountIn, minOut)`, pulling `amountIn` with
 * transferFrom); the batch is `approve(dex, maxAmount)` then `swap(sell, buy, maxAmount, minAmount)`, so the
 * allowance is used up inside the operation (the wallet refuses standing approvals).
 */
export interface SwapParams {
  sell: { asset: Address; maxAmount: bigint };
  buy: { asset: Address; minAmount: bigint };
  via: { dex: Address };
  memo?: string;
}

/**
 * The calls of a payment: a native transfer (empty data) or an ERC-20 `transfer(to, amount)`.
 * @example transferCalls({ asset: usdc, to: alice, amount: 10_000_000n }) // [{ target: usdc, value: 0n, data: "0xa9059cbb…" }]
 */
export function transferCalls(p: TransferParams): Call[] {
  if (p.amount <= 0n) throw new RangeError("amount must be greater than zero");
  const to = getAddress(p.to);
  if (p.asset === "native") return [{ target: to, value: p.amount, data: "0x" }];
  return [{ target: getAddress(p.asset), value: 0n, data: encodeFunctionData({ abi: erc20Abi, functionName: "transfer", args: [to, p.amount] }) }];
}

/**
 * The calls of a swap on a MockDex-style router: approve exactly `maxAmount`, then swap it.
 * @example swapCalls({ sell: { asset: usdc, maxAmount: 400_000_000n }, buy: { asset: weth, minAmount: 10n ** 17n }, via: { dex } })
 */
export function swapCalls(p: SwapParams): Call[] {
  if (p.sell.maxAmount <= 0n) throw new RangeError("sell.maxAmount must be greater than zero");
  const dex = getAddress(p.via.dex);
  const sell = getAddress(p.sell.asset);
  const buy = getAddress(p.buy.asset);
  return [
    { target: sell, value: 0n, data: encodeFunctionData({ abi: erc20Abi, functionName: "approve", args: [dex, p.sell.maxAmount] }) },
    {
      target: dex,
      value: 0n,
      data: encodeFunctionData({ abi: mockDexAbi, functionName: "swap", args: [sell, buy, p.sell.maxAmount, p.buy.minAmount] }),
    },
  ];
}
