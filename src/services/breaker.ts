/**
 * The breaker flow: `pause()` on chain with the guardian key, the wallet flagged (its later operations go to a
 * person) and the evidence in the audit log in one store transaction. Called by the pause route and by the monitor.
 */
import type { Logger } from "pino";
import type { Address } from "viem";
import { CountersignError } from "../errors";
import type { Guardian } from "../monitor/guardian";
import type { Store } from "../store";

/** Who tripped the breaker and why. */
export interface TripCause {
  /** Where the trip came from ("api", "monitor"). */
  source: string;
  /** Who (an operator's name, or a rule). */
  operator: string;
  reason: string;
  /** More evidence for the audit record. */
  evidence?: Record<string, unknown>;
}

/** What a trip came to. */
export interface TripResult {
  wallet: Address;
  paused: true;
  txHash: string;
  status: "confirmed" | "submitted";
  blockNumber?: string;
  guardian: Address;
  auditSeq: number;
}

export interface BreakerOptions {
  chainId: number;
  store: Store;
  guardian: Guardian | null;
  /** The wallet's guardians as the chain says now. */
  guardiansOf: (wallet: Address) => Promise<Address[]>;
  /** Counts trips (e.g. a prom-client counter). */
  trips?: { inc(): void };
  logger?: Logger;
}

/**
 * Trips and clears the breaker of served wallets.
 * @example await breaker.pause(wallet, { source: "api", operator: "alice", reason: "suspicious memo" })
 */
export class Breaker {
  constructor(private readonly options: BreakerOptions) {}

  /**
   * Pauses `wallet` on chain, flags it and records why.
   * @throws CountersignError GUARDIAN_UNAVAILABLE (no guardian key), NOT_A_GUARDIAN, UPSTREAM_UNAVAILABLE.
   */
  async pause(wallet: Address, cause: TripCause): Promise<TripResult> {
    const { chainId, store, guardian, logger } = this.options;
    if (!guardian) {
      throw new CountersignError("GUARDIAN_UNAVAILABLE", "no guardian key is configured (GUARDIAN_KEYSTORE_PATH or GUARDIAN_PRIVATE_KEY)");
    }
    const guardians = await this.options.guardiansOf(wallet);
    if (!guardians.includes(guardian.address)) {
      throw new CountersignError("NOT_A_GUARDIAN", `this service's guardian ${guardian.address} is not a guardian of ${wallet}`, {
        guardian: guardian.address,
        guardians,
      });
    }
    // Always sent, even if the fork says paused: the fork may be a block behind an unpause.
    const result = await guardian.pause(wallet);
    const record = await store.flagAnomaly(
      chainId,
      wallet,
      cause.reason,
      {
        source: cause.source,
        operator: cause.operator,
        guardian: guardian.address,
        txHash: result.txHash,
        status: result.status,
        blockNumber: result.blockNumber,
        ...cause.evidence,
      },
      "breaker.pause",
    );
    this.options.trips?.inc();
    logger?.warn({ wallet, txHash: result.txHash, operator: cause.operator, reason: cause.reason, auditSeq: record.seq }, "breaker: wallet paused");
    return {
      wallet,
      paused: true,
      txHash: result.txHash,
      status: result.status,
      ...(result.blockNumber !== undefined ? { blockNumber: result.blockNumber.toString() } : {}),
      guardian: guardian.address,
      auditSeq: record.seq,
    };
  }

  /** Lifts a wallet's anomaly flag once people have looked (unpausing on chain is the owner's). */
  async clear(wallet: Address, operator: string): Promise<{ wallet: Address; cleared: boolean; anomaly: string | null }> {
    const was = await this.options.store.clearAnomaly(this.options.chainId, wallet, operator);
    this.options.logger?.info({ wallet, operator, was: was ?? null }, "anomaly flag cleared");
    return { wallet, cleared: was !== undefined, anomaly: was ?? null };
  }
}
