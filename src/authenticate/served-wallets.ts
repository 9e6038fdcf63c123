/**
 * Which wallets this co-signer serves: a configured list (SERVED_WALLETS, plus the deployment it was started with),
 * never "any clone of the implementation". Anyone can create an AgentWallet through the public factory that names
 * this co-signer and a key of their own as its session key; only the wallets an operator listed get fork time.
 */
import { getAddress, type Address } from "viem";
import { CountersignError } from "../errors";

/**
 * The set of wallets served, checked in memory before anything runs on the fork.
 * @example const served = new ServedWallets([deployment.wallet]); served.check(req.wallet)
 */
export class ServedWallets {
  private readonly wallets: ReadonlySet<Address>;

  constructor(wallets: Iterable<Address>) {
    this.wallets = new Set([...wallets].map((w) => getAddress(w)));
  }

  /** Whether `wallet` is served. */
  has(wallet: Address): boolean {
    return this.wallets.has(getAddress(wallet));
  }

  /** The served wallets, checksummed. */
  get list(): Address[] {
    return [...this.wallets];
  }

  /** Refuses (WALLET_NOT_FOUND, 404) a wallet this co-signer does not serve. */
  check(wallet: Address, chainId: number): void {
    if (!this.has(wallet)) {
      throw new CountersignError("WALLET_NOT_FOUND", `${wallet} is not an AgentWallet this co-signer serves on chain ${chainId}`, { wallet });
    }
  }
}

/** Parses SERVED_WALLETS (comma-separated addresses, blanks ignored); throws naming the bad entry. */
export function parseServedWallets(list: string | undefined): Address[] {
  if (!list) return [];
  return list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      if (!/^0x[0-9a-fA-F]{40}$/.test(s)) throw new Error(`SERVED_WALLETS: ${s} is not an address`);
      return getAddress(s);
    });
}
