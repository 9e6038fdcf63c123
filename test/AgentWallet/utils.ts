import hre, { ethers } from "hardhat";
import type { Signer, BaseContract } from "ethers";
import { deployWalletFixture } from "../fixtures";
import { DAY, ethersOperationTypes, operationMessage, type TestBound, type TestOperation } from "../helpers";
import { OPERATION_VERSION } from "../../src/eip712";
import type { AgentWallet } from "../../typechain-types";

/** ERC-1271 magic value and the wallet's refusal. */
export const ERC1271_MAGIC = "0x1626ba7e";
export const ERC1271_INVALID = "0xffffffff";
/** `transferFrom(address,address,uint256)`: the same selector on ERC-20 and ERC-721. */
export const TRANSFER_FROM = "0x23b872dd";
export const TRANSFER = "0xa9059cbb";
export const APPROVE = "0x095ea7b3";

/** The "slow" token's budget: 1 unit per second, so the refill at any second is exact. */
export const SLOW_LIMIT = 86_400n;
export const SLOW_PERIOD = 86_400n;
export const FEE_LIMIT = 1_000n * 10n ** 18n;
export const FEE_MAX_PER_OP = 500n * 10n ** 18n;

const iface = new ethers.Interface([
  "function transfer(address,uint256)",
  "function transferFrom(address,address,uint256)",
]);

/** The standard wallet plus the mocks the attack tests need, each permitted or budgeted by the owner. */
export async function walletWithMocksFixture() {
  const base = await deployWalletFixture();
  const { wallet, dex, owner } = base;
  const callback = await ethers.deployContract("CallbackTarget");
  const nft = await ethers.deployContract("MockERC721");
  const feeToken = await ethers.deployContract("FeeOnTransferToken", [100n]); // 1 % fee
  const falseToken = await ethers.deployContract("ReturnFalseToken");
  const modeToken = await ethers.deployContract("ReturnModeToken");
  const slow = await ethers.deployContract("MockERC20", ["Slow", "SLOW", 0]);
  const loose = await ethers.deployContract("MockERC20", ["Unbudgeted", "LOOSE", 18]);
  const walletAddr = await wallet.getAddress();

  const w = wallet.connect(owner);
  await w.setCallPermission(callback, callback.interface.getFunction("callBack")!.selector, true);
  await w.setCallPermission(callback, callback.interface.getFunction("writeSlot0")!.selector, true);
  await w.setCallPermission(dex, dex.interface.getFunction("pull")!.selector, true);
  await w.setBudget({ token: slow, limit: SLOW_LIMIT, period: SLOW_PERIOD, maxPerOperation: SLOW_LIMIT });
  await w.setBudget({ token: feeToken, limit: FEE_LIMIT, period: DAY, maxPerOperation: FEE_MAX_PER_OP });
  await w.setBudget({ token: falseToken, limit: FEE_LIMIT, period: DAY, maxPerOperation: FEE_MAX_PER_OP });
  await w.setBudget({ token: modeToken, limit: FEE_LIMIT, period: DAY, maxPerOperation: FEE_MAX_PER_OP });

  await slow.mint(walletAddr, 1_000_000n);
  await feeToken.mint(walletAddr, 10_000n * 10n ** 18n);
  await falseToken.mint(walletAddr, 10_000n * 10n ** 18n);
  await modeToken.mint(walletAddr, 10_000n * 10n ** 18n);
  await loose.mint(walletAddr, 10_000n * 10n ** 18n);
  await nft.mint(walletAddr, 1n);

  return { ...base, callback, nft, feeToken, falseToken, modeToken, slow, loose };
}

/** The EIP-712 domain of `wallet`, optionally with another chain id or verifying contract. */
export async function domainOf(wallet: BaseContract, overrides: { chainId?: bigint; verifyingContract?: string } = {}) {
  const { chainId } = await ethers.provider.getNetwork();
  return {
    name: "AgentWallet",
    version: OPERATION_VERSION,
    chainId: overrides.chainId ?? chainId,
    verifyingContract: overrides.verifyingContract ?? (await wallet.getAddress()),
  };
}

export const operationTypesMutable = ethersOperationTypes;

const message = operationMessage;

/** Signs `op` for `wallet` under a domain that may differ from the wallet's own (replay tests). */
export async function signWithDomain(
  signer: Signer,
  wallet: BaseContract,
  op: TestOperation,
  overrides: { chainId?: bigint; verifyingContract?: string },
): Promise<string> {
  return signer.signTypedData(await domainOf(wallet, overrides), operationTypesMutable, message(op));
}

/** The address `wallet` recovers from `signature` over `op` (what it reports in UnknownSessionKey). */
export async function recoveredBy(wallet: BaseContract, op: TestOperation, signature: string): Promise<string> {
  return ethers.verifyTypedData(await domainOf(wallet), operationTypesMutable, message(op), signature);
}

/** The off-chain digest of `op` for `wallet` (ethers' EIP-712 encoder). */
export async function digestOf(wallet: BaseContract, op: TestOperation): Promise<string> {
  return ethers.TypedDataEncoder.hash(await domainOf(wallet), operationTypesMutable, message(op));
}

/** What the bare ecrecover precompile returns for a 65-byte `signature` over `digest` (no malleability check). */
export async function ecrecoverPrecompile(digest: string, signature: string): Promise<string> {
  const bytes = ethers.getBytes(signature);
  const input = ethers.concat([digest, ethers.toBeHex(bytes[64], 32), bytes.slice(0, 32), bytes.slice(32, 64)]);
  const out = await ethers.provider.call({ to: "0x0000000000000000000000000000000000000001", data: input });
  return out === "0x" ? ethers.ZeroAddress : ethers.getAddress(ethers.dataSlice(out, 12));
}

/** The EIP-2098 64-byte compact form of a 65-byte signature. */
export function toCompact(signature: string): string {
  return ethers.Signature.from(signature).compactSerialized;
}

/** The private key of Hardhat account `index` (derived from the network's mnemonic), for raw-hash signing. */
export function hardhatSigningKey(index: number): InstanceType<typeof ethers.SigningKey> {
  const accounts = hre.network.config.accounts as { mnemonic: string; path: string; passphrase?: string };
  const wallet = ethers.HDNodeWallet.fromPhrase(accounts.mnemonic, accounts.passphrase ?? "", `${accounts.path}/${index}`);
  return wallet.signingKey;
}

export function erc20TransferFrom(token: string, from: string, to: string, amount: bigint) {
  return { target: token, value: 0n, data: iface.encodeFunctionData("transferFrom", [from, to, amount]) };
}

/** Encodes `transfer(to, amount)` with the address word's upper 12 bytes set (a dirty address). */
export function dirtyTransfer(token: string, to: string, amount: bigint) {
  const clean = ethers.getBytes(iface.encodeFunctionData("transfer", [to, amount]));
  clean.fill(0xff, 4, 16);
  return { target: token, value: 0n, data: ethers.hexlify(clean) };
}

/** A call of the operation: `data` to `target` with `value` wei. */
export function call(target: string, data: string, value = 0n) {
  return { target, value, data };
}

/** Encodes an error of the wallet's ABI, as it appears as `reason` in CallReverted. */
export function walletError(wallet: AgentWallet, name: string, args: unknown[] = []): string {
  return wallet.interface.encodeErrorResult(name, args);
}

/** Builds an operation with an explicit deadline (timing tests control every second). */
export function opAt(
  calls: TestOperation["calls"],
  nonce: bigint,
  deadline: bigint,
  extra: Pick<TestOperation, "callGasLimit" | "bounds"> = {},
): TestOperation {
  return { calls, nonce, deadline, ...extra };
}

/** The operationDigest() arguments of `op`, defaults filled in: (calls, nonce, deadline, callGasLimit, bounds). */
export function digestArgs(op: TestOperation): [TestOperation["calls"], bigint, bigint, bigint, TestBound[]] {
  const m = operationMessage(op);
  return [m.calls, m.nonce, m.deadline, m.callGasLimit, m.bounds];
}
