/**
 * Deploys the factory and one wallet configured from a policy, on any chain a viem client reaches (a testnet
 * through Hardhat's provider, or a local node), then reads the wallet back to prove the policy took.
 */
import {
  encodeDeployData,
  encodeFunctionData,
  getAddress,
  keccak256,
  toBytes,
  zeroAddress,
  type Abi,
  type Account,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { loadArtifact } from "../chain/artifacts";
import { resolveAsset, type Policy } from "./policy";
import type { DeploymentRecord } from "./record";

export interface DeployOptions {
  publicClient: PublicClient;
  /** Sends the transactions; its account is the deployer (and the owner when the policy says "deployer"). */
  walletClient: WalletClient;
  policy: Policy;
  /** The Hardhat network name, recorded. */
  network: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/**
 * Deploys the factory (unless the policy names one), mock tokens the policy asks for, and a wallet initialised
 * with the policy's roles, budgets and allowlists; funds it; verifies it on chain; returns the record.
 * @example const record = await deployFromPolicy({ publicClient, walletClient, policy, network: "sepolia" })
 */
export async function deployFromPolicy(options: DeployOptions): Promise<DeploymentRecord> {
  const { publicClient, walletClient, policy, network } = options;
  const log = options.log ?? (() => {});
  const account = walletClient.account as Account | undefined;
  if (!account) throw new Error("the deploying wallet client has no account (set DEPLOYER_PRIVATE_KEY for this network)");
  const deployer = getAddress(account.address);
  const chainId = await publicClient.getChainId();
  const txs: { what: string; hash: Hex }[] = [];

  const send = async (what: string, to: Address | null, data: Hex, value = 0n) => {
    const hash = await walletClient.sendTransaction({ account, chain: null, to, data, value } as never);
    txs.push({ what, hash });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${what}: transaction ${hash} reverted`);
    log(`${what}: ${hash}`);
    return receipt;
  };
  const deploy = async (what: string, name: string, args: readonly unknown[] = []) => {
    const artifact = loadArtifact(name);
    const receipt = await send(what, null, encodeDeployData({ abi: artifact.abi, bytecode: artifact.bytecode, args }));
    if (!receipt.contractAddress) throw new Error(`${what}: no contract address in the receipt`);
    return getAddress(receipt.contractAddress);
  };

  let factory: Address;
  if (policy.factory) {
    const code = await publicClient.getCode({ address: policy.factory });
    if (!code || code === "0x") throw new Error(`policy.factory ${policy.factory} has no code on chain ${chainId}`);
    factory = policy.factory;
    log(`factory: reusing ${factory}`);
  } else {
    factory = await deploy("deploy AgentWalletFactory", "AgentWalletFactory");
  }

  const tokens: Record<string, Address> = {};
  const mints: { token: Address; amount: bigint }[] = [];
  for (const [symbol, token] of Object.entries(policy.tokens)) {
    if (typeof token === "string") {
      tokens[symbol] = token;
      continue;
    }
    tokens[symbol] = await deploy(`deploy mock token ${symbol}`, "MockERC20", [token.mock.name, symbol, token.mock.decimals]);
    if (token.mock.mintToWallet) mints.push({ token: tokens[symbol]!, amount: token.mock.mintToWallet });
  }

  const owner = policy.owner === "deployer" ? deployer : policy.owner;
  const now = (await publicClient.getBlock()).timestamp;
  const config = {
    owner,
    cosigner: policy.cosigner,
    guardians: policy.guardians,
    sessionKeys: policy.sessionKeys.map((k) => ({
      key: k.key,
      validUntil: "validUntil" in k ? k.validUntil : Number(now) + Math.round(k.validForDays * 86_400),
    })),
    budgets: policy.budgets.map((b) => ({
      token: resolveAsset(b.token, tokens),
      limit: b.limit,
      period: BigInt(b.period),
      maxPerOperation: b.maxPerOperation,
    })),
    recipients: Object.values(policy.recipients),
    callPermissions: policy.callPermissions.map((c) => ({ target: resolveAsset(c.target, tokens), selector: c.selector })),
  };
  const factoryAbi = loadArtifact("AgentWalletFactory").abi;
  const salt = keccak256(toBytes(policy.salt));
  const wallet = (await publicClient.readContract({ address: factory, abi: factoryAbi, functionName: "predictWallet", args: [config, salt] })) as Address;
  const existing = await publicClient.getCode({ address: wallet });
  if (existing && existing !== "0x") {
    throw new Error(`a wallet with this policy and salt "${policy.salt}" already exists at ${wallet}; change "salt" for another`);
  }
  await send("create wallet", factory, encodeFunctionData({ abi: factoryAbi, functionName: "createWallet", args: [config, salt] }));

  const erc20 = loadArtifact("MockERC20").abi;
  for (const m of mints) {
    await send(`mint to wallet`, m.token, encodeFunctionData({ abi: erc20, functionName: "mint", args: [wallet, m.amount] }));
  }
  if (policy.fundNative && policy.fundNative > 0n) await send("fund wallet (native)", wallet, "0x", policy.fundNative);

  await verifyWallet(publicClient, wallet, config);
  const symbolOf = (token: Address) => (token === zeroAddress ? "native" : (Object.entries(tokens).find(([, a]) => a === token)?.[0] ?? token));
  return {
    network,
    chainId,
    factory,
    wallet,
    salt,
    deployer,
    roles: { owner, cosigner: policy.cosigner, guardians: policy.guardians, sessionKeys: config.sessionKeys },
    budgets: config.budgets.map((b) => ({
      token: b.token,
      symbol: symbolOf(b.token),
      limit: b.limit.toString(),
      period: Number(b.period),
      maxPerOperation: b.maxPerOperation.toString(),
    })),
    recipients: policy.recipients,
    callPermissions: config.callPermissions,
    tokens,
    txs,
    blockNumber: (await publicClient.getBlockNumber()).toString(),
    deployedAt: new Date().toISOString(),
  };
}

/** Reads the new wallet back and throws if any role or budget differs from the policy. */
async function verifyWallet(
  publicClient: PublicClient,
  wallet: Address,
  config: { owner: Address; cosigner: Address; budgets: { token: Address; limit: bigint; period: bigint; maxPerOperation: bigint }[]; recipients: Address[] },
): Promise<void> {
  const abi: Abi = loadArtifact("AgentWallet").abi;
  const read = (functionName: string, args: readonly unknown[] = []) => publicClient.readContract({ address: wallet, abi, functionName, args });
  const owner = (await read("owner")) as Address;
  const cosigner = (await read("cosigner")) as Address;
  if (owner !== config.owner) throw new Error(`verification: owner is ${owner}, expected ${config.owner}`);
  if (cosigner !== config.cosigner) throw new Error(`verification: co-signer is ${cosigner}, expected ${config.cosigner}`);
  for (const b of config.budgets) {
    const [limit, period, max] = (await read("budget", [b.token])) as readonly [bigint, bigint, bigint];
    if (limit !== b.limit || period !== b.period || max !== b.maxPerOperation) {
      throw new Error(`verification: budget of ${b.token} is (${limit}, ${period}, ${max}), expected (${b.limit}, ${b.period}, ${b.maxPerOperation})`);
    }
  }
  for (const r of config.recipients) {
    if (!((await read("isRecipientAllowed", [r])) as boolean)) throw new Error(`verification: ${r} is not allowlisted`);
  }
}
