/**
 * What the monitor sees on the chain and tells its handlers: the follower (follower.ts) reads each block of the
 * upstream once, attributes every `Executed` event of a served wallet to the decision behind it, and passes what it
 * found to handlers (the breaker's rules, rules.ts). Nothing here decides anything.
 */
import type { Address, Hex } from "viem";
import type { AssetChange } from "../simulation/changes";

/** A block the follower processed. */
export interface ObservedBlock {
  chainId: number;
  number: bigint;
  hash: Hex;
  parentHash: Hex;
  /** Seconds. */
  timestamp: bigint;
  /** Transactions in the block: with more than one, block-level native ETH figures may include others' transfers. */
  transactionCount: number;
}

/** One `Executed` event of a served wallet, joined to its decision (if any) and to what actually changed. */
export interface ObservedExecution {
  chainId: number;
  wallet: Address;
  digest: Hex;
  sessionKey: Address;
  nonce: bigint;
  txHash: Hex;
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  /** Who sent the transaction. */
  relayer: Address;
  /** Gas used by the whole transaction. */
  gasUsed: bigint;
  /** The approved decision with this digest, or null: the co-signer key was used outside the service. */
  decisionId: string | null;
  /** What the decision's simulation recorded (null without a decision). */
  simulated: AssetChange[] | null;
  /** What actually changed, derived by the code that derives the simulated changes. */
  actual: AssetChange[];
  /** Whether `actual` equals `simulated` for every asset and account either names (null without a decision). */
  matchesSimulation: boolean | null;
}

/** An `OwnerExecuted` event: the owner moved funds or called out without limits (recorded, never a trip by itself). */
export interface ObservedOwnerExecution {
  chainId: number;
  wallet: Address;
  target: Address;
  value: bigint;
  selector: Hex;
  txHash: Hex;
  blockNumber: bigint;
  logIndex: number;
}

/**
 * A change of the wallet's own control seen on chain: owner, co-signer, guardians, session keys, budgets,
 * allowlists. `event` is the event's name as the ABI gives it; `args` its decoded arguments (bigints as strings).
 */
export interface ControlChange {
  chainId: number;
  wallet: Address;
  event: string;
  args: Record<string, string | boolean>;
  txHash: Hex;
  blockNumber: bigint;
  logIndex: number;
}

/**
 * What the monitor tells its handlers, in chain order, each block once. A handler that throws does not stop the
 * follower (the error is logged and counted); handlers are awaited one after the other.
 */
export interface MonitorHandler {
  onExecution?(execution: ObservedExecution, block: ObservedBlock): Promise<void>;
  onOwnerExecution?(execution: ObservedOwnerExecution, block: ObservedBlock): Promise<void>;
  onControlChange?(change: ControlChange, block: ObservedBlock): Promise<void>;
  /** After every event of a block was handled and the block recorded. */
  onBlock?(block: ObservedBlock): Promise<void>;
  /** Blocks from `fromBlock` on were dropped by a reorg; their records are undone. */
  onReorg?(fromBlock: bigint, chainId: number): Promise<void>;
}
