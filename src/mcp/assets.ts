/**
 * What the tools know about assets and accounts: a token's symbol and decimals (read from the token, once), an asset
 * named by symbol or address, and the names the co-signer's deployment record gives accounts (labels only: every
 * authority is an address the wallet checks).
 */
import { getAddress, isAddress, parseAbi, type Address, type PublicClient } from "viem";
import type { AssetInfo } from "./amounts";
import { ToolInputError } from "./errors";

const erc20 = parseAbi(["function symbol() view returns (string)", "function decimals() view returns (uint8)"]);

const NATIVE: AssetInfo = { asset: "native", symbol: "ETH", decimals: 18 };

/** The part of GET /v1/deployment the tools read: names of accounts and tokens, and the DEX. */
export interface DeploymentNames {
  wallet?: string;
  tokens?: Record<string, string>;
  recipients?: Record<string, string>;
  dex?: string;
}

/**
 * Symbols, decimals and names, read lazily and cached for the server's life.
 * @example const book = new AssetBook(publicClient, () => wallet.budgets.map((b) => b.token)); await book.resolve("USDC", "asset")
 */
export class AssetBook {
  private readonly infos = new Map<Address, Promise<AssetInfo>>();
  private readonly names = new Map<Address, string>();

  /** @param knownTokens the tokens a symbol may name: the wallet's budgeted tokens and the deployment's tokens. */
  constructor(
    private readonly publicClient: PublicClient,
    private readonly knownTokens: () => Promise<readonly Address[]>,
  ) {}

  /** Adds the names of a deployment record (recipients, tokens, DEX, the wallet). */
  addNames(d: DeploymentNames): void {
    const add = (name: string, address: unknown) => {
      if (typeof address === "string" && isAddress(address)) this.names.set(getAddress(address), name);
    };
    for (const [name, a] of Object.entries(d.recipients ?? {})) add(name, a);
    for (const [symbol, a] of Object.entries(d.tokens ?? {})) add(symbol, a);
    add("dex", d.dex);
    add("wallet", d.wallet);
  }

  /** The name of `account`, if the deployment record gives one. */
  nameOf(account: string): string | undefined {
    return isAddress(account) ? this.names.get(getAddress(account)) : undefined;
  }

  /** `0x… (alice)`, or the address alone. */
  label(account: string): string {
    const name = this.nameOf(account);
    return name ? `${name} (${account})` : account;
  }

  /**
   * Symbol and decimals of `asset` ("native" or a token address), read from the token once.
   * @example await book.info(usdc) // { asset: usdc, symbol: "USDC", decimals: 6 }
   */
  info(asset: "native" | Address): Promise<AssetInfo> {
    if (asset === "native") return Promise.resolve(NATIVE);
    const token = getAddress(asset);
    let known = this.infos.get(token);
    if (!known) {
      known = Promise.all([
        this.publicClient.readContract({ address: token, abi: erc20, functionName: "symbol" }),
        this.publicClient.readContract({ address: token, abi: erc20, functionName: "decimals" }),
      ]).then(([symbol, decimals]) => ({ asset: token, symbol, decimals: Number(decimals) }));
      known.catch(() => this.infos.delete(token));
      this.infos.set(token, known);
    }
    return known;
  }

  /**
   * The asset a tool argument names: "ETH" or "native", a token address, or the symbol of one of the known tokens
   * (case-insensitive; an ambiguous or unknown symbol is refused, naming `field`).
   * @example await book.resolve("usdc", "sell.asset") // { asset: "0x5FbD…", symbol: "USDC", decimals: 6 }
   */
  async resolve(text: string, field: string): Promise<AssetInfo> {
    const wanted = text.trim();
    if (/^(eth|native)$/i.test(wanted)) return NATIVE;
    if (/^0x[0-9a-fA-F]{40}$/.test(wanted)) {
      try {
        return await this.info(getAddress(wanted.toLowerCase()));
      } catch {
        throw new ToolInputError(field, `${wanted} is not an ERC-20 token on this chain (symbol() or decimals() failed)`);
      }
    }
    const known = await this.knownInfos();
    const matches = known.filter((i) => i.symbol.toLowerCase() === wanted.toLowerCase());
    if (matches.length === 1) return matches[0]!;
    const symbols = known.map((i) => i.symbol).join(", ") || "none";
    if (matches.length > 1) {
      throw new ToolInputError(field, `more than one known token has the symbol ${wanted} (${matches.map((m) => m.asset).join(", ")}): give the token's address`);
    }
    throw new ToolInputError(field, `no token with symbol "${wanted}" among the wallet's tokens (ETH, ${symbols}): give a known symbol or the token's address`);
  }

  private async knownInfos(): Promise<AssetInfo[]> {
    const tokens = [...new Set((await this.knownTokens()).map((t) => getAddress(t)))];
    const infos = await Promise.all(tokens.map((t) => this.info(t).catch(() => undefined)));
    return infos.filter((i): i is AssetInfo => i !== undefined);
  }
}
