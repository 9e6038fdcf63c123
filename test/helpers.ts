import { ethers } from "hardhat";
import type { Signer, BaseContract } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { operationTypes, type Call } from "../src/eip712";
import type { AgentWallet } from "../typechain-types";

export const NATIVE = ethers.ZeroAddress;
export const HOUR = 3600n;
export const DAY = 86_400n;

/** A typed operation as tests build it (ethers-friendly: plain strings and bigints). */
export interface TestOperation {
  calls: { target: string; value: bigint; data: string }[];
  nonce: bigint;
  deadline: bigint;
}

/** Signs `op` for `wallet` with `signer` using the shared EIP-712 definition in src/eip712.ts. */
export async function signOperation(signer: Signer, wallet: BaseContract, op: TestOperation): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  const domain = { name: "AgentWallet", version: "1", chainId, verifyingContract: await wallet.getAddress() };
  const types = { Operation: [...operationTypes.Operation], Call: [...operationTypes.Call] };
  return signer.signTypedData(domain, types, { calls: op.calls, nonce: op.nonce, deadline: op.deadline });
}

/** Builds an operation with a deadline `ttl` seconds after the latest block. */
export async function operation(calls: TestOperation["calls"], nonce: bigint, ttl = 300n): Promise<TestOperation> {
  return { calls, nonce, deadline: BigInt(await time.latest()) + ttl };
}

/** Signs with the session key and the co-signer, and returns the execute() arguments. */
export async function signed(
  wallet: AgentWallet,
  op: TestOperation,
  sessionKey: Signer,
  cosigner: Signer,
): Promise<[TestOperation["calls"], bigint, bigint, string, string]> {
  const agentSig = await signOperation(sessionKey, wallet, op);
  const cosignerSig = await signOperation(cosigner, wallet, op);
  return [op.calls, op.nonce, op.deadline, agentSig, cosignerSig];
}

export function erc20Transfer(token: string, to: string, amount: bigint) {
  const data = new ethers.Interface(["function transfer(address,uint256)"]).encodeFunctionData("transfer", [to, amount]);
  return { target: token, value: 0n, data };
}

export function erc20Approve(token: string, spender: string, amount: bigint) {
  const data = new ethers.Interface(["function approve(address,uint256)"]).encodeFunctionData("approve", [spender, amount]);
  return { target: token, value: 0n, data };
}

export function nativeTransfer(to: string, value: bigint) {
  return { target: to, value, data: "0x" };
}

export type { Call };
