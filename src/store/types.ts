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
  /** A pending decision's approval request (who must approve, until when), committed with it by stores that keep them. */
  approval?: NewApprovalRequest;
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

// --- Executions (the monitor's record of what happened on chain; issue 10 part A) ---

/** A net change of one asset for one account, as stored (delta a signed decimal string). */
export interface StoredChange {
  account: string;
  asset: string;
  delta: string;
}

/** An `Executed` event of a served wallet, attributed (or not) to a decision, as stored. */
export interface StoredExecution {
  chainId: number;
  wallet: string;
  digest: string;
  sessionKey: string;
  nonce: string;
  txHash: string;
  blockNumber: bigint;
  blockHash: string;
  logIndex: number;
  relayer: string;
  /** Gas used by the whole transaction (decimal string). */
  gasUsed: string;
  /** The approved decision with this digest, or null. */
  decisionId: string | null;
  /** What actually changed. */
  changes: StoredChange[];
  /** What the decision's simulation recorded (null without a decision). */
  simulated: StoredChange[] | null;
  /** Null without a decision. */
  matchesSimulation: boolean | null;
}

/** An `OwnerExecuted` event, as stored. */
export interface StoredOwnerExecution {
  chainId: number;
  wallet: string;
  target: string;
  /** Wei, decimal string. */
  value: string;
  selector: string;
  txHash: string;
  blockNumber: bigint;
  logIndex: number;
}

/** A control event of a served wallet (owner, co-signer, guardians, keys, budgets, allowlists), as stored. */
export interface StoredControlChange {
  chainId: number;
  wallet: string;
  event: string;
  args: Record<string, string | boolean>;
  txHash: string;
  blockNumber: bigint;
  logIndex: number;
}

/** A block a follower processed: what it found in it and where it stands after it, recorded as one. */
export interface BlockRecord {
  chainId: number;
  follower: string;
  number: bigint;
  hash: string;
  parentHash: string;
  executions: StoredExecution[];
  ownerExecutions: StoredOwnerExecution[];
  controlChanges: StoredControlChange[];
  /** Block hashes below this number are forgotten (the reorg window), default: none. */
  forgetBelow?: bigint;
}

/** What an undo removed. */
export interface UndoneBlocks {
  executions: StoredExecution[];
  ownerExecutions: StoredOwnerExecution[];
  controlChanges: StoredControlChange[];
}

/**
 * The monitor's records of what happened on chain. A block is recorded with the follower's new position in one
 * transaction, so each block is recorded exactly once; a reorg undoes blocks from a number on (the audit log, being
 * append-only, gets "…reverted" records instead of losing its "executed" ones).
 */
export interface Executions {
  /**
   * Records a block: its executions (and their "executed" audit records; an attributed decision's txHash is set),
   * owner executions ("owner.executed"), control changes ("control.changed"), its hash, and the follower's
   * position, in one transaction.
   * @throws PositionConflict unless the follower stands at this block's parent (or has no position yet).
   */
  recordBlock(record: BlockRecord): Promise<void>;
  /**
   * Undoes every block from `fromBlock` on for one follower: deletes their executions, owner executions, control
   * changes and hashes, clears the decisions' txHash, appends "execution.reverted" (and "owner.execution.reverted",
   * "control.change.reverted") audit records, and sets the position to `position` (the common ancestor), in one
   * transaction. Returns what it removed, in chain order.
   */
  undoFrom(chainId: number, follower: string, fromBlock: bigint, position: ChainPosition): Promise<UndoneBlocks>;
  /** The executions attributed to a decision, in chain order. */
  executionsOfDecision(decisionId: string): Promise<StoredExecution[]>;
  /** The execution of a wallet's digest, if recorded. */
  executionByDigest(chainId: number, wallet: string, digest: string): Promise<StoredExecution | undefined>;
  /**
   * Every wallet's executions on a chain from `fromBlock` on, in chain order (the breaker's rules reconcile from it:
   * executions recorded whose trip never happened).
   */
  executionsFrom(chainId: number, fromBlock: bigint): Promise<StoredExecution[]>;
  /** A wallet's owner executions and control changes from `fromBlock` on (default all), in chain order. */
  ownerExecutions(chainId: number, wallet: string, fromBlock?: bigint): Promise<StoredOwnerExecution[]>;
  controlChanges(chainId: number, wallet: string, fromBlock?: bigint): Promise<StoredControlChange[]>;
  /** The hashes of the blocks a follower recorded, newest first (at most `limit`): the reorg window. */
  recentBlocks(chainId: number, follower: string, limit: number): Promise<{ number: bigint; hash: string; parentHash: string }[]>;
}

/** Why a block could not be recorded: the follower no longer stands at its parent (another follower moved it). */
export class PositionConflict extends Error {
  readonly code = "POSITION_CONFLICT";
  constructor(
    readonly expected: { number: bigint; parentHash: string },
    readonly stored: ChainPosition | undefined,
  ) {
    super(
      `block ${expected.number} follows ${expected.parentHash}, but the follower stands at ` +
        (stored ? `${stored.blockNumber} (${stored.blockHash})` : "no block"),
    );
  }
}

// --- end Executions ---

// --- Incidents (the breaker's trips; issue 10 part B) ---

/** Where an incident stands: open until a person acknowledges it, resolved once people are done with it. */
export type IncidentState = "open" | "acknowledged" | "resolved";

/** What a trip does: pause the wallet, revoke one session key, or only flag the wallet (a person decides). */
export type IncidentActionKind = "pause" | "revoke" | "flag";

/** One action a trip took on chain (or decided not to), newest last in `Incident.actions`. */
export interface IncidentAction {
  kind: IncidentActionKind;
  /** The session key revoked ("revoke" only). */
  sessionKey?: string;
  /**
   * "sending" before the transaction is sent, "submitted" once sent, "confirmed" once mined, "failed" when it
   * could not be sent or reverted, "already_done" when the chain already was in that state, "none" for a flag.
   */
  status: "sending" | "submitted" | "confirmed" | "failed" | "already_done" | "none";
  txHash: string | null;
  /** The block the transaction was mined in (decimal string). */
  blockNumber?: string;
  /** Why it failed. */
  error?: string;
  /** The guardian that sent it. */
  guardian?: string;
  at: string;
}

/** One piece of evidence: the rule that fired and what it saw (digest, expected vs actual changes, refusals…). */
export interface IncidentEvidence {
  rule: string;
  at: string;
  [key: string]: unknown;
}

/** A trip of the breaker: the rule, the evidence, what was done on chain, and who looked at it. */
export interface Incident {
  id: string;
  chainId: number;
  wallet: string;
  /** The session key a "revoke" incident is about; null for the wallet as a whole. */
  sessionKey: string | null;
  /** The rule that opened it (later rules add evidence). */
  rule: string;
  summary: string;
  evidence: IncidentEvidence[];
  actionKind: IncidentActionKind;
  actions: IncidentAction[];
  state: IncidentState;
  openedAt: string;
  updatedAt: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  note: string | null;
}

/** What opens an incident. */
export interface NewIncident {
  chainId: number;
  wallet: string;
  sessionKey: string | null;
  rule: string;
  summary: string;
  evidence: IncidentEvidence;
  actionKind: IncidentActionKind;
  /** Flag the wallet (its later operations go to a person) in the same transaction, with this reason. */
  flagReason?: string;
}

/** Which incidents to list: newest first. */
export interface IncidentQuery {
  chainId?: number;
  wallet?: string;
  state?: IncidentState;
  rule?: string;
  /** At most this many (default 100). */
  limit?: number;
}

/**
 * Incidents: at most one unresolved incident per (chain, wallet, action kind, session key), so a second trip of the
 * same kind joins the open one (adds evidence) instead of opening another, across processes. Every change is in the
 * audit chain ("incident.opened", "incident.evidence", the action's kind, "incident.acknowledged", "incident.resolved").
 */
export interface Incidents {
  /**
   * Opens an incident, or joins the unresolved one of the same (chain, wallet, action kind, session key) by adding
   * the evidence; flags the wallet if asked; with its audit record; in one transaction.
   */
  openIncident(incident: NewIncident): Promise<{ incident: Incident; opened: boolean; record: AuditRecord }>;
  /** Appends an action (or replaces the newest one when `replaceLast`), with the audit record `auditKind`. */
  recordIncidentAction(
    id: string,
    action: IncidentAction,
    auditKind: string,
    auditPayload?: Record<string, unknown>,
    replaceLast?: boolean,
  ): Promise<{ incident: Incident; record: AuditRecord }>;
  /** @throws CountersignError NOT_FOUND; INCIDENT_NOT_OPEN unless the incident is open. */
  acknowledgeIncident(id: string, by: string, note?: string): Promise<Incident>;
  /** @throws CountersignError NOT_FOUND; INCIDENT_NOT_OPEN when it is already resolved. */
  resolveIncident(id: string, by: string, note?: string): Promise<Incident>;
  getIncident(id: string): Promise<Incident | undefined>;
  listIncidents(query?: IncidentQuery): Promise<Incident[]>;
  /** Incidents counted by rule and state (for /metrics). */
  countIncidents(): Promise<{ rule: string; state: IncidentState; count: number }[]>;
}

// --- end Incidents ---

// --- Approvals (people in the loop; issue 11) ---

/** What a pending decision waits for: the rule that asked, how many distinct approvers, and until when. */
export interface NewApprovalRequest {
  rule: string;
  /** Distinct approvers needed (1-10). */
  approvalsRequired: number;
  reversible: boolean;
  /** Why the rule asks, in its own words. */
  description: string;
  /** After this instant (ISO 8601) the decision can no longer be approved. */
  expiresAt: string;
}

export interface ApprovalRequestRecord extends NewApprovalRequest {
  decisionId: string;
}

/** One approver's approval of a pending decision, bound to the figures they saw. */
export interface ApprovalVote {
  decisionId: string;
  approver: string;
  /** A hash of the simulation shown when they approved: a vote counts only while the figures are the same. */
  shown: string;
  at: string;
}

/**
 * Approval requests and votes. At most one vote per (decision, approver, figures shown), so one approver never counts
 * twice toward a quorum, across processes (after APPROVAL_STALE the new figures need new votes); each vote has its audit
 * record ("decision.vote").
 */
export interface ApprovalRecords {
  /** The approval request committed with a pending decision (NewDecision.approval), if any. */
  approvalRequest(decisionId: string): Promise<ApprovalRequestRecord | undefined>;
  /**
   * Records `approver`'s approval of a pending decision with its audit record, in one transaction; `added` is false
   * when that approver had already approved the same figures (nothing is written then).
   * @throws CountersignError NOT_PENDING when the decision is not pending; NOT_FOUND when there is none.
   */
  addApprovalVote(vote: ApprovalVote, auditPayload: unknown): Promise<{ added: boolean; votes: ApprovalVote[] }>;
  /** The votes on a decision, oldest first. */
  approvalVotes(decisionId: string): Promise<ApprovalVote[]>;
  /** Decisions a person settled or that expired, newest first (the history view), at most `limit` (default 50). */
  listReviewed(chainId: number, limit?: number): Promise<StoredDecision[]>;
}

// --- end Approvals ---

/** A whole store: every interface above, behind one connection. */
export interface Store extends DecisionRecords, AuditLog, AnomalyFlags, RecipientMemory, MonitorCursor, Executions, Incidents, Leases, ApprovalRecords {
  /** Which back end this is ("sqlite", "postgres"). */
  readonly kind: string;
  close(): Promise<void>;
}

/** A held lease: the one replica that runs a singleton (the monitor) until it releases or loses it. */
export interface Lease {
  /** Settles when the lease is lost (its database session ended): the holder must stop at once. */
  readonly lost: Promise<void>;
  release(): Promise<void>;
}

/** Singletons among replicas that share a store: at most one holder per name at a time. */
export interface Leases {
  /**
   * Becomes the holder of `name`, or answers undefined when another replica holds it. A holder that dies loses it
   * with its database session, so another replica's next try takes over.
   */
  tryLease(name: string): Promise<Lease | undefined>;
}

/** Why a decision could not be committed: its nonce or its idempotency key is taken. */
export class UniqueConflict extends Error {
  readonly code = "UNIQUE_CONFLICT";
  constructor(readonly index: "nonce" | "idempotency") {
    super(`unique conflict on ${index}`);
  }
}
