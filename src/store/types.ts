/**
 * The store's interfaces: what the engine, the HTTP services, the monitor and the approvals page may ask of any back
 * end (SQLite embedded, PostgreSQL for replicas). All asynchronous; every back end passes test/store/contract.ts.
 *
 * What every back end guarantees:
 * - a decision is committed, with its audit record, in one transaction, before its signature is returned;
 * - at most one live (not rejected) decision per (chain, wallet, nonce) and one decision per idempotency key: a second
 *   is refused with UniqueConflict, recognised by its code;
 * - the audit log is append-only and hash-chained, appends serialised by the store, not by a process;
 * - a failure of the store is STORE_UNAVAILABLE (CountersignError): the caller does not sign.
 */

/**
 * Most bytes of a decision's stored request (its JSON): the HTTP body limit (64 KiB). The engine refuses a larger
 * request (INVALID_REQUEST) before it simulates; the store refuses one too, so no caller can grow the log past it.
 */
export const MAX_STORED_REQUEST_BYTES = 64 * 1024;

/** A decision as stored; amounts are decimal strings (the store is an edge). */
export interface StoredDecision {
  id: string;
  chainId: number;
  wallet: string;
  nonce: string;
  digest: string;
  status: "approved" | "rejected" | "pending_approval";
  sessionKey: string | null;
  idempotencyKey: string | null;
  requestHash: string;
  request: unknown;
  simulation: unknown;
  reasons: { code: string; message: string }[];
  cosignerSignature: string | null;
  /** Accounts this decision pays (the transfer's recipient, or whoever receives what the wallet sends). */
  recipients: string[];
  createdAt: string;
  updatedAt: string;
  txHash: string | null;
  decidedBy: string | null;
}

export type NewDecision = Omit<StoredDecision, "id" | "createdAt" | "updatedAt" | "txHash" | "decidedBy"> & {
  decidedBy?: string | null;
};

/** What a person's resolution of a pending decision changes. */
export type Resolution = Pick<StoredDecision, "status" | "reasons" | "simulation" | "cosignerSignature"> & { decidedBy: string };

/** What a re-simulation that keeps a decision pending changes. */
export type Restatement = Pick<StoredDecision, "reasons" | "simulation" | "recipients">;

/** Which pending decisions to list: newest first. */
export interface PendingQuery {
  chainId: number;
  /** Only this wallet's. */
  wallet?: string;
  /** Only those created before this instant (ISO 8601): the older ones, e.g. to expire them. */
  createdBefore?: string;
  /** At most this many (default 100). */
  limit?: number;
}

/** One audit record. */
export interface AuditRecord {
  seq: number;
  at: string;
  kind: string;
  ref: string | null;
  payload: unknown;
  prevHash: string;
  hash: string;
}

/** The result of re-computing the audit chain. */
export interface AuditVerification {
  ok: boolean;
  checked: number;
  /** The first record whose link does not hold. */
  brokenAt?: number;
  reason?: string;
}

/** Where a follower of the chain stands: the last block it processed. */
export interface ChainPosition {
  blockNumber: bigint;
  blockHash: string;
}

/** Decisions: committed before a signature leaves, unique per live nonce and per idempotency key. */
export interface DecisionRecords {
  /**
   * Commits a new decision and its audit record ("decision") in one transaction; an approved one's recipients
   * become known recipients.
   * @throws UniqueConflict when the nonce or the idempotency key is taken.
   */
  insert(decision: NewDecision, auditPayload: unknown): Promise<StoredDecision>;
  /**
   * Resolves a pending decision (a person approved or rejected it), with its audit record ("decision.<status>").
   * @throws CountersignError NOT_PENDING when it is no longer pending.
   */
  resolvePending(id: string, update: Resolution, auditPayload: unknown): Promise<StoredDecision>;
  /**
   * Keeps a pending decision pending with figures the person has not seen, with an audit record ("decision.stale").
   * @throws CountersignError NOT_PENDING when it is no longer pending.
   */
  restatePending(id: string, update: Restatement, auditPayload: unknown): Promise<StoredDecision>;
  get(id: string): Promise<StoredDecision | undefined>;
  /** The newest decision of a wallet with this digest. */
  findByDigest(chainId: number, wallet: string, digest: string): Promise<StoredDecision | undefined>;
  /** The live (not rejected) decision for a nonce. */
  findLiveByNonce(chainId: number, wallet: string, nonce: string): Promise<StoredDecision | undefined>;
  findByIdempotencyKey(key: string): Promise<StoredDecision | undefined>;
  /** Pending decisions, newest first. */
  listPending(query: PendingQuery): Promise<StoredDecision[]>;
}

/** The hash-chained, append-only audit log. */
export interface AuditLog {
  /** Appends one record. */
  appendAudit(kind: string, ref: string | null, payload: unknown): Promise<AuditRecord>;
  /** The newest record's sequence number and hash (seq 0 and the genesis hash when the log is empty). */
  auditHead(): Promise<{ seq: number; hash: string }>;
  /** Records after `afterSeq`, oldest first. */
  listAudit(afterSeq?: number, limit?: number): Promise<AuditRecord[]>;
  /** Recomputes the chain and reports the first record whose link does not hold. */
  verifyAudit(): Promise<AuditVerification>;
}

/** Anomaly flags: a flagged wallet's operations go to a person until people clear the flag. */
export interface AnomalyFlags {
  /** The active flag's reason, if any. */
  activeAnomaly(chainId: number, wallet: string): Promise<string | undefined>;
  /**
   * Flags a wallet and appends the audit record `auditKind` (default "anomaly") with the evidence, in one transaction.
   */
  flagAnomaly(chainId: number, wallet: string, reason: string, evidence?: unknown, auditKind?: string): Promise<AuditRecord>;
  /** Clears a wallet's flags, with an audit record ("anomaly.cleared"). Returns the reason cleared, if one was active. */
  clearAnomaly(chainId: number, wallet: string, by: string): Promise<string | undefined>;
}

/** The accounts a wallet has paid under an approved decision (first payments may need a person). */
export interface RecipientMemory {
  isRecipientKnown(chainId: number, wallet: string, recipient: string): Promise<boolean>;
}

/** Where the monitor stands on each chain, so that a restart resumes where it stopped. */
export interface MonitorCursor {
  position(chainId: number, follower: string): Promise<ChainPosition | undefined>;
  setPosition(chainId: number, follower: string, position: ChainPosition): Promise<void>;
}

/** A whole store: every interface above, behind one connection. */
export interface Store extends DecisionRecords, AuditLog, AnomalyFlags, RecipientMemory, MonitorCursor {
  /** Which back end this is ("sqlite", "postgres"). */
  readonly kind: string;
  close(): Promise<void>;
}

/** Why a decision could not be committed: its nonce or its idempotency key is taken. */
export class UniqueConflict extends Error {
  readonly code = "UNIQUE_CONFLICT";
  constructor(readonly index: "nonce" | "idempotency") {
    super(`unique conflict on ${index}`);
  }
}
