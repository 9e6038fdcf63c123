import { ethers } from "hardhat";
import type { Signer, BaseContract } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OPERATION_VERSION, operationTypes, type Call } from "../src/eip712";
import type { AgentWallet } from "../typechain-types";

export const NATIVE = ethers.ZeroAddress;
export const HOUR = 3600n;
export const DAY = 86_400n;

/** The gas every call of a test operation gets unless a test says otherwise. */
export const CALL_GAS = 1_000_000n;

/** A bound as tests build it: after the batch, `account`'s `asset` balance changed by at least `minDelta`. */
export interface TestBound {
  asset: string;
  account: string;
  minDelta: bigint;
}

/** A typed operation as tests build it (ethers-friendly: plain strings and bigints). */
export interface TestOperation {
  calls: { target: string; value: bigint; data: string }[];
  nonce: bigint;
  deadline: bigint;
  /** Default CALL_GAS. */
  callGasLimit?: bigint;
  /** Default none. */
  bounds?: TestBound[];
}

/** The EIP-712 message of `op`, defaults filled in. */
export function operationMessage(op: TestOperation) {
  return {
    calls: op.calls,
    nonce: op.nonce,
    deadline: op.deadline,
    callGasLimit: op.callGasLimit ?? CALL_GAS,
    bounds: op.bounds ?? [],
  };
}

/** The shared EIP-712 types (src/eip712.ts), as ethers wants them (mutable). */
export const ethersOperationTypes = {
  Operation: [...operationTypes.Operation],
  Bound: [...operationTypes.Bound],
  Call: [...operationTypes.Call],
};

/** Signs `op` for `wallet` with `signer` using the shared EIP-712 definition in src/eip712.ts. */
export async function signOperation(signer: Signer, wallet: BaseContract, op: TestOperation): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  const domain = { name: "AgentWallet", version: OPERATION_VERSION, chainId, verifyingContract: await wallet.getAddress() };
  return signer.signTypedData(domain, ethersOperationTypes, operationMessage(op));
}

/** Builds an operation with a deadline `ttl` seconds after the latest block. */
export async function operation(
  calls: TestOperation["calls"],
  nonce: bigint,
  ttl = 300n,
  extra: Pick<TestOperation, "callGasLimit" | "bounds"> = {},
): Promise<TestOperation> {
  return { calls, nonce, deadline: BigInt(await time.latest()) + ttl, ...extra };
}

/** The execute() arguments of `op` with its two signatures. */
export function executeArgs(op: TestOperation, agentSig: string, cosignerSig: string) {
  const m = operationMessage(op);
  return [m.calls, m.nonce, m.deadline, m.callGasLimit, m.bounds, agentSig, cosignerSig] as [
    TestOperation["calls"],
    bigint,
    bigint,
    bigint,
    TestBound[],
    string,
    string,
  ];
}

/** Signs with the session key and the co-signer, and returns the execute() arguments. */
export async function signed(wallet: AgentWallet, op: TestOperation, sessionKey: Signer, cosigner: Signer) {
  const agentSig = await signOperation(sessionKey, wallet, op);
  const cosignerSig = await signOperation(cosigner, wallet, op);
  return executeArgs(op, agentSig, cosignerSig);
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
