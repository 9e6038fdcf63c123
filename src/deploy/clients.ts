/**
 * viem clients over an EIP-1193 provider (Hardhat's `hre.network.provider`), which signs with the network's
 * configured accounts: the deployer key of a testnet comes from the environment, never from the repository.
 */
import { createPublicClient, createWalletClient, custom, getAddress, type Address, type PublicClient, type WalletClient } from "viem";

/** The part of an EIP-1193 provider viem needs. */
export interface Eip1193Like {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
}

/**
 * A public client and a wallet client whose account is the provider's first account.
 * @example const { publicClient, walletClient, account } = await clientsFromProvider(hre.network.provider)
 */
export async function clientsFromProvider(
  provider: Eip1193Like,
  options: { pollingInterval?: number } = {},
): Promise<{ publicClient: PublicClient; walletClient: WalletClient; account: Address | undefined }> {
  const transport = custom({ request: (args) => provider.request(args as { method: string; params?: unknown }) });
  const pollingInterval = options.pollingInterval ?? 500;
  const publicClient = createPublicClient({ transport, pollingInterval }) as PublicClient;
  const accounts = (await provider.request({ method: "eth_accounts" })) as string[];
  const account = accounts[0] ? getAddress(accounts[0]) : undefined;
  const walletClient = createWalletClient({ transport, pollingInterval, ...(account ? { account } : {}) });
  return { publicClient, walletClient, account };
}
