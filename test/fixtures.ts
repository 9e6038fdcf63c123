import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { DAY, NATIVE } from "./helpers";

export const USDC_LIMIT = 1_000n * 10n ** 6n; // 1,000 USDC per day
export const USDC_MAX_PER_OP = 500n * 10n ** 6n;
export const WETH_LIMIT = 10n * 10n ** 18n;
export const WETH_MAX_PER_OP = 5n * 10n ** 18n;
export const ETH_LIMIT = 2n * 10n ** 18n;
export const ETH_MAX_PER_OP = 1n * 10n ** 18n;

/**
 * The standard wallet: roles by Hardhat account (0 owner, 1 session key, 2 co-signer, 3 guardian,
 * 5 and 6 allowlisted recipients, 7 not allowlisted), USDC (6 dp) and WETH (18 dp) and ETH budgeted per day,
 * a DEX whose swap() is permitted, and funds in the wallet.
 */
export async function deployWalletFixture() {
  const [owner, sessionKey, cosigner, guardian, relayer, alice, bob, mallory] = await ethers.getSigners();
  const factory = await ethers.deployContract("AgentWalletFactory");
  const usdc = await ethers.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
  const weth = await ethers.deployContract("MockERC20", ["Wrapped Ether", "WETH", 18]);
  const dex = await ethers.deployContract("MockDex");
  const [usdcAddr, wethAddr, dexAddr] = await Promise.all([usdc.getAddress(), weth.getAddress(), dex.getAddress()]);
  const validUntil = BigInt(await time.latest()) + 30n * DAY;
  const config = {
    owner: owner.address,
    cosigner: cosigner.address,
    guardians: [guardian.address],
    sessionKeys: [{ key: sessionKey.address, validUntil }],
    budgets: [
      { token: usdcAddr, limit: USDC_LIMIT, period: DAY, maxPerOperation: USDC_MAX_PER_OP },
      { token: wethAddr, limit: WETH_LIMIT, period: DAY, maxPerOperation: WETH_MAX_PER_OP },
      { token: NATIVE, limit: ETH_LIMIT, period: DAY, maxPerOperation: ETH_MAX_PER_OP },
    ],
    recipients: [alice.address, bob.address],
    callPermissions: [{ target: dexAddr, selector: dex.interface.getFunction("swap")!.selector }],
  };
  const salt = ethers.id("countersign-test");
  const walletAddress = await factory.predictWallet(config, salt);
  await factory.createWallet(config, salt);
  const wallet = await ethers.getContractAt("AgentWallet", walletAddress);

  await usdc.mint(walletAddress, 10_000n * 10n ** 6n);
  await weth.mint(walletAddress, 100n * 10n ** 18n);
  await owner.sendTransaction({ to: walletAddress, value: 10n * 10n ** 18n });
  // Recipients already hold the tokens (steady-state transfers, as in the gas benchmark).
  await usdc.mint(alice.address, 1n);
  await weth.mint(alice.address, 1n);
  await dex.setRate(usdcAddr, wethAddr, 10n ** 18n * 10n ** 12n / 4000n); // 1 WETH = 4000 USDC
  await weth.mint(dexAddr, 1_000n * 10n ** 18n);

  return { factory, wallet, usdc, weth, dex, config, salt, owner, sessionKey, cosigner, guardian, relayer, alice, bob, mallory };
}
