/**
 * The messages between the fork and its EVM's process (evm-process.ts → evm-host.ts), and how errors cross it.
 */
import type { Address } from "viem";
import type { AuthRule } from "../authenticate/wallet-auth";
import { CountersignError } from "../errors";
import type { EvmOptions } from "./evm";
import type { BlockEnv } from "./next-block";
import type { SimulationInput } from "./simulate";

/**
 * What the fork asks its EVM's process, for the EVM numbered `evm` in it: a process holds the serving EVM and, for a
 * while, others (a replacement built beside it, a replaced one not yet closed: see evm-host.ts and Fork.recycle).
 */
export type HostRequest = { id: number; evm: number } & (
  | { kind: "open"; options: EvmOptions; relayer: Address; reader: Address; priorityFee: bigint }
  | { kind: "close" }
  | { kind: "rpc"; method: string; params: unknown[] }
  | { kind: "simulate"; version: number; env: BlockEnv; input: SimulationInput & { signer: Address }; self: Address; rule?: AuthRule }
  | { kind: "usage" }
  /** Tests only: requests of `method` fail while `fail` holds (honoured with COUNTERSIGN_EVM_FAULTS=1). */
  | { kind: "fault"; method: string; fail: boolean }
);

/** An error as it crosses the process boundary: the fields the error classifiers read (errors/classify.ts). */
export interface CarriedError {
  message: string;
  name?: string;
  code?: unknown;
  data?: unknown;
  /** A CountersignError's details (it is rebuilt as one). */
  details?: Record<string, unknown>;
  countersign?: boolean;
  providerError?: boolean;
  /** Hardhat's SolidityError (a failed execution with a stack trace). */
  solidity?: boolean;
}

/** What the EVM's process answers; `dirty` when a simulation of that EVM could not revert what it did. */
export type HostReply = { id: number; dirty?: boolean } & ({ result: unknown } | { error: CarriedError });

/** An error as the other process can rebuild it. */
export function carry(err: unknown): CarriedError {
  const e = (err ?? {}) as Record<string, unknown> & { constructor?: { name?: string } };
  return {
    message: typeof e.message === "string" ? e.message : String(err),
    name: typeof e.name === "string" ? e.name : undefined,
    code: e.code,
    data: e.data,
    details: err instanceof CountersignError ? err.details : undefined,
    countersign: err instanceof CountersignError,
    providerError: e._isProviderError === true,
    solidity: e.constructor?.name === "SolidityError" || (Array.isArray(e.stackTrace) && typeof e.data === "string"),
  };
}

/** The error `carried` stood for: a CountersignError again, or an Error with the fields the classifiers read. */
export function rebuild(carried: CarriedError): Error {
  if (carried.countersign) return new CountersignError(carried.code as CountersignError["code"], carried.message, carried.details ?? {});
  const err = new Error(carried.message) as Error & Record<string, unknown>;
  if (carried.name) err.name = carried.name;
  if (carried.code !== undefined) err.code = carried.code;
  if (carried.data !== undefined) err.data = carried.data;
  if (carried.providerError) err._isProviderError = true;
  if (carried.solidity) err.stackTrace = [];
  return err;
}
