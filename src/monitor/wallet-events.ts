/**
 * The AgentWallet events the monitor reads, decoded from raw logs: `Executed`, `OwnerExecuted`, and the control
 * events (roles, keys, budgets, allowlists, ownership). `BudgetCharged` is part of an execution's receipt segment,
 * and pause, unpause and nonce invalidation are the breaker's own acts: none of them is a control change here.
 */
import { decodeEventLog, getAddress, toEventSelector, type Abi, type Address, type Hex } from "viem";
import { loadArtifact } from "../chain/artifacts";

/** The wallet events that change who controls it or what the agent path may do. */
export const CONTROL_EVENT_NAMES = [
  "SessionKeyAdded",
  "SessionKeyRevoked",
  "CosignerChanged",
  "GuardianAdded",
  "GuardianRemoved",
  "BudgetSet",
  "BudgetRemoved",
  "RecipientSet",
  "CallPermissionSet",
  "OwnershipTransferStarted",
  "OwnershipTransferred",
] as const;

/** topic0 of `Executed(bytes32,address,uint256)`: also marks where an operation's receipt segment ends. */
export const EXECUTED_TOPIC = toEventSelector("Executed(bytes32,address,uint256)");

/** A raw log as `eth_getLogs` and receipts give it. */
export interface WalletLog {
  address: string;
  topics: string[];
  data: string;
  blockHash: string;
  blockNumber: string;
  transactionHash: string;
  logIndex: string;
}

/** One decoded wallet event of interest. */
export type WalletEvent =
  | { kind: "executed"; wallet: Address; digest: Hex; sessionKey: Address; nonce: bigint; log: WalletLog }
  | { kind: "owner"; wallet: Address; target: Address; value: bigint; selector: Hex; log: WalletLog }
  | { kind: "control"; wallet: Address; event: string; args: Record<string, string | boolean>; log: WalletLog };

let abi: Abi | undefined;
const walletAbi = (): Abi => (abi ??= loadArtifact("AgentWallet").abi);

/** Arguments as the monitor's types carry them: bigints as decimal strings, addresses checksummed. */
function plainArgs(args: Record<string, unknown>): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of Object.entries(args)) {
    if (typeof v === "boolean") out[k] = v;
    else if (typeof v === "bigint" || typeof v === "number") out[k] = v.toString();
    else if (typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v)) out[k] = getAddress(v);
    else out[k] = String(v);
  }
  return out;
}

/**
 * Decodes a wallet's log into the event the monitor records, or undefined for any other log.
 * @example const event = decodeWalletEvent(log) // { kind: "executed", digest: "0x…", … }
 */
export function decodeWalletEvent(log: WalletLog): WalletEvent | undefined {
  let decoded: { eventName: string; args: unknown };
  try {
    decoded = decodeEventLog({ abi: walletAbi(), topics: log.topics as [Hex, ...Hex[]], data: log.data as Hex }) as typeof decoded;
  } catch {
    return undefined;
  }
  const wallet = getAddress(log.address);
  const args = decoded.args as Record<string, unknown>;
  if (decoded.eventName === "Executed") {
    return { kind: "executed", wallet, digest: args.digest as Hex, sessionKey: getAddress(args.sessionKey as string), nonce: args.nonce as bigint, log };
  }
  if (decoded.eventName === "OwnerExecuted") {
    return { kind: "owner", wallet, target: getAddress(args.target as string), value: args.value as bigint, selector: args.selector as Hex, log };
  }
  if ((CONTROL_EVENT_NAMES as readonly string[]).includes(decoded.eventName)) {
    return { kind: "control", wallet, event: decoded.eventName, args: plainArgs(args), log };
  }
  return undefined;
}
