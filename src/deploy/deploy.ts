/**
 * Deploys the factory and one wallet configured from a policy, on any chain a viem client reaches (a testnet
 * through Hardhat's provider, or a local node), then reads the wallet back to prove the policy took.
 */
import {
  encodeDeployData,
  encodeFunctionData,
  getAddress,
  keccak256,
  parseEventLogs,
  toBytes,
  zeroAddress,
  type Account,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { loadArtifact } from "../chain/artifacts";
import { readWalletStatus, type WalletStatus } from "./owner";
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
 * Idempotent for a wallet: when one with this policy and salt is already deployed (an earlier run, or anyone who
 * front-ran this one), it is verified against the policy instead of created, and the deployment goes on.
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
  const wallet = getAddress(
    (await publicClient.readContract({ address: factory, abi: factoryAbi, functionName: "predictWallet", args: [config, salt] })) as Address,
  );
  // The address commits to the whole configuration and the salt, so a wallet already there was created with exactly
  // this policy: by an earlier run, or by anyone who front-ran this one (createWallet is open and returns the existing
  // wallet). Its state may have changed since (the owner's tasks): check it matches the policy before going on.
  const existing = await publicClient.getCode({ address: wallet });
  let created: WalletOrigin;
  if (existing && existing !== "0x") {
    log(`wallet: already deployed at ${wallet} with this policy and salt; verifying it`);
    await verifyWallet(publicClient, wallet, config, `a wallet with this policy and salt "${policy.salt}" already exists at ${wallet}`);
    created = "existing";
  } else {
    const receipt = await send("create wallet", factory, encodeFunctionData({ abi: factoryAbi, functionName: "createWallet", args: [config, salt] }));
    const events = parseEventLogs({ abi: factoryAbi, logs: receipt.logs, eventName: "WalletCreated" }) as unknown as { args: { wallet: Address } }[];
    created = events.some((e) => getAddress(e.args.wallet) === wallet) ? "created" : "existing";
    if (created === "existing") log(`wallet: created by another transaction just before ours at ${wallet}; verifying it`);
  }

  const erc20 = loadArtifact("MockERC20").abi;
  for (const m of mints) {
    await send(`mint to wallet`, m.token, encodeFunctionData({ abi: erc20, functionName: "mint", args: [wallet, m.amount] }));
  }
  if (policy.fundNative && policy.fundNative > 0n) {
    // Up to fundNative, not by it: running the deployment again does not fund the wallet twice.
    const balance = await publicClient.getBalance({ address: wallet });
    if (balance < policy.fundNative) await send("fund wallet (native)", wallet, "0x", policy.fundNative - balance);
    else log(`fund wallet (native): already holds ${balance} wei >= ${policy.fundNative}`);
  }

  await verifyWallet(publicClient, wallet, config, `verification of ${wallet}`);
  const symbolOf = (token: Address) => (token === zeroAddress ? "native" : (Object.entries(tokens).find(([, a]) => a === token)?.[0] ?? token));
  return {
    network,
    chainId,
    factory,
    wallet,
    walletOrigin: created,
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

/** How the recorded wallet came to be: created by this run, or found already deployed with the same policy. */
export type WalletOrigin = "created" | "existing";

/** The configuration createWallet was given (InitConfig). */
interface WalletConfig {
  owner: Address;
  cosigner: Address;
  guardians: Address[];
  sessionKeys: { key: Address; validUntil: number }[];
  budgets: { token: Address; limit: bigint; period: bigint; maxPerOperation: bigint }[];
  recipients: Address[];
  callPermissions: { target: Address; selector: Hex }[];
}

/**
 * Reads the wallet back and throws, naming every difference, unless its roles, session keys, budgets, recipients
 * and call permissions are exactly the configuration's (nothing missing, nothing more).
 * @example await verifyWallet(publicClient, wallet, config, "verification")
 */
export async function verifyWallet(publicClient: PublicClient, wallet: Address, config: WalletConfig, context: string): Promise<void> {
  const status = await readWalletStatus(publicClient, wallet);
  const problems = walletDifferences(status, config);
  if (problems.length) {
    throw new Error(`${context}, but it differs from the policy: ${problems.join("; ")}. Use another "salt" for a new wallet, or make the policy match.`);
  }
}

/** Every way `status` (read on chain) differs from `config`; empty when they match. */
export function walletDifferences(status: WalletStatus, config: WalletConfig): string[] {
  const problems: string[] = [];
  const same = (a: string, b: string) => getAddress(a) === getAddress(b);
  const sets = (what: string, actual: readonly string[], expected: readonly string[]) => {
    const missing = expected.filter((e) => !actual.some((a) => a.toLowerCase() === e.toLowerCase()));
    const extra = actual.filter((a) => !expected.some((e) => a.toLowerCase() === e.toLowerCase()));
    if (missing.length) problems.push(`${what} ${missing.join(", ")} missing`);
    if (extra.length) problems.push(`${what} ${extra.join(", ")} not in the policy`);
  };
  if (!same(status.owner, config.owner)) problems.push(`owner is ${status.owner}, expected ${config.owner}`);
  if (!same(status.cosigner, config.cosigner)) problems.push(`co-signer is ${status.cosigner}, expected ${config.cosigner}`);
  sets("guardian", status.guardians, config.guardians);
  sets(
    "session key",
    status.sessionKeys.map((k) => `${getAddress(k.key)} until ${k.validUntil}`),
    config.sessionKeys.map((k) => `${getAddress(k.key)} until ${k.validUntil}`),
  );
  sets(
    "budget",
    status.budgets.map((b) => `${getAddress(b.token)} (${b.limit}, ${b.period} s, ${b.maxPerOperation})`),
    config.budgets.map((b) => `${getAddress(b.token)} (${b.limit}, ${b.period} s, ${b.maxPerOperation})`),
  );
  sets("recipient", status.recipients, config.recipients);
  sets(
    "call permission",
    status.callPermissions.map((p) => `${getAddress(p.target)}.${p.selector.toLowerCase()}`),
    config.callPermissions.map((p) => `${getAddress(p.target)}.${p.selector.toLowerCase()}`),
  );
  return problems;
}
