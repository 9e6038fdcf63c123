/**
 * Deploys the demo setup on a development chain: factory, one wallet, USDC-like and WETH-like tokens and a DEX,
 * with budgets and allowlists, using Hardhat's development accounts for the roles.
 */
import {
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  getAddress,
  http,
  keccak256,
  parseEther,
  parseUnits,
  toBytes,
  toFunctionSelector,
  zeroAddress,
  type Address,
  type Hex,
} from "viem";
import { devAccount, LOCAL_ROLES } from "../chain/accounts";
import { loadArtifact } from "../chain/artifacts";

export interface DemoDeployment {
  chainId: number;
  rpcUrl: string;
  factory: Address;
  wallet: Address;
  tokens: Record<string, Address>;
  dex: Address;
  /** Token decimals by symbol. */
  decimals: Record<string, number>;
  roles: { owner: Address; sessionKey: Address; cosigner: Address; guardian: Address };
  /** Allowlisted recipients by name. */
  recipients: Record<string, Address>;
  /** Accounts the wallet may not pay (for the demo's injected payment), by name. */
  notAllowlisted: Record<string, Address>;
  /** Last second the demo session key may sign (unix seconds). */
  sessionKeyValidUntil: number;
}

const DAY = 86_400n;

/**
 * Deploys everything the demo and the tests need on the chain at `rpcUrl` (a Hardhat node).
 * @example const d = await deployDemo("http://127.0.0.1:8545")
 */
export async function deployDemo(rpcUrl: string): Promise<DemoDeployment> {
  const owner = devAccount(LOCAL_ROLES.owner);
  const transport = http(rpcUrl);
  const pub = createPublicClient({ transport });
  const client = createWalletClient({ account: owner, transport });
  const chainId = await pub.getChainId();
  const chain = { id: chainId, name: "local", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } } as const;

  let nonce = await pub.getTransactionCount({ address: owner.address, blockTag: "pending" });
  const hashes: Hex[] = [];
  const send = async (to: Address | undefined, data: Hex, value = 0n) => {
    const hash = await client.sendTransaction({ chain, to: to ?? null, data, value, nonce: nonce++, gas: 6_000_000n } as never);
    hashes.push(hash);
    return hash;
  };
  const deploy = async (name: string, args: readonly unknown[] = []) => {
    const artifact = loadArtifact(name);
    const { encodeDeployData } = await import("viem");
    const hash = await send(undefined, encodeDeployData({ abi: artifact.abi, bytecode: artifact.bytecode, args }));
    const receipt = await pub.waitForTransactionReceipt({ hash });
    if (!receipt.contractAddress) throw new Error(`deploying ${name} failed`);
    return getAddress(receipt.contractAddress);
  };

  const factory = await deploy("AgentWalletFactory");
  const usdc = await deploy("MockERC20", ["USD Coin (demo)", "USDC", 6]);
  const weth = await deploy("MockERC20", ["Wrapped Ether (demo)", "WETH", 18]);
  const dex = await deploy("MockDex");

  const roles = {
    owner: owner.address,
    sessionKey: devAccount(LOCAL_ROLES.sessionKey).address,
    cosigner: devAccount(LOCAL_ROLES.cosigner).address,
    guardian: devAccount(LOCAL_ROLES.guardian).address,
  };
  const recipients = { alice: devAccount(LOCAL_ROLES.alice).address, bob: devAccount(LOCAL_ROLES.bob).address };
  const block = await pub.getBlock();
  const config = {
    owner: roles.owner,
    cosigner: roles.cosigner,
    guardians: [roles.guardian],
    sessionKeys: [{ key: roles.sessionKey, validUntil: Number(block.timestamp + 365n * DAY) }],
    budgets: [
      { token: usdc, limit: parseUnits("1000", 6), period: DAY, maxPerOperation: parseUnits("500", 6) },
      { token: weth, limit: parseEther("10"), period: DAY, maxPerOperation: parseEther("5") },
      { token: zeroAddress, limit: parseEther("2"), period: DAY, maxPerOperation: parseEther("1") },
    ],
    recipients: [recipients.alice, recipients.bob],
    callPermissions: [{ target: dex, selector: toFunctionSelector("swap(address,address,uint256,uint256)") }],
  };
  const factoryAbi = loadArtifact("AgentWalletFactory").abi;
  const salt = keccak256(toBytes("countersign-demo"));
  const wallet = (await pub.readContract({ address: factory, abi: factoryAbi, functionName: "predictWallet", args: [config, salt] })) as Address;
  await send(factory, encodeFunctionData({ abi: factoryAbi, functionName: "createWallet", args: [config, salt] }));

  const erc20 = loadArtifact("MockERC20").abi;
  const mint = (token: Address, to: Address, amount: bigint) =>
    send(token, encodeFunctionData({ abi: erc20, functionName: "mint", args: [to, amount] }));
  await mint(usdc, wallet, parseUnits("100000", 6));
  await mint(weth, wallet, parseEther("100"));
  await mint(weth, dex, parseEther("1000"));
  await mint(usdc, dex, parseUnits("1000000", 6));
  await mint(usdc, recipients.alice, 1n); // recipients already hold the tokens
  await send(wallet, "0x", parseEther("10"));
  const dexAbi = loadArtifact("MockDex").abi;
  await send(dex, encodeFunctionData({ abi: dexAbi, functionName: "setRate", args: [usdc, weth, (10n ** 18n * 10n ** 12n) / 4000n] }));
  await send(dex, encodeFunctionData({ abi: dexAbi, functionName: "setRate", args: [weth, usdc, 4000n * 10n ** 6n] }));
  for (const hash of hashes) {
    const r = await pub.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`deployment transaction ${hash} reverted`);
  }
  return {
    chainId,
    rpcUrl,
    factory,
    wallet,
    tokens: { USDC: usdc, WETH: weth },
    dex,
    decimals: { USDC: 6, WETH: 18 },
    roles,
    recipients,
    notAllowlisted: { mallory: devAccount(LOCAL_ROLES.mallory).address },
    sessionKeyValidUntil: config.sessionKeys[0]!.validUntil,
  };
}
