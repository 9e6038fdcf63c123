/**
 * The rows both back ends keep (SQLite and PostgreSQL hold the same columns; PostgreSQL answers BIGINT as a string and
 * BOOLEAN as a boolean where SQLite answers numbers) and the records they become, written once.
 */
import { randomUUID } from "node:crypto";
import { CountersignError } from "../errors";
import { toJson } from "./json";
import { MAX_STORED_REQUEST_BYTES, type AuditRecord, type Incident, type IncidentState, type NewDecision, type StoredControlChange, type StoredDecision, type StoredExecution, type StoredOwnerExecution } from "./types";

export interface DecisionRow {
  id: string;
  chain_id: number;
  wallet: string;
  nonce: string;
  digest: string;
  status: StoredDecision["status"];
  session_key: string | null;
  idempotency_key: string | null;
  request_hash: string;
  request: string;
  simulation: string | null;
  reasons: string;
  cosigner_signature: string | null;
  recipients: string;
  created_at: string;
  updated_at: string;
  tx_hash: string | null;
  decided_by: string | null;
}

export interface AuditRow {
  seq: number | string;
  at: string;
  kind: string;
  ref: string | null;
  payload: string;
  prev_hash: string;
  hash: string;
}

/** A decision row as the stores' callers see it. */
export function decisionFromRow(r: DecisionRow): StoredDecision {
  return {
    id: r.id,
    chainId: r.chain_id,
    wallet: r.wallet,
    nonce: r.nonce,
    digest: r.digest,
    status: r.status,
    sessionKey: r.session_key,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    request: JSON.parse(r.request),
    simulation: r.simulation ? JSON.parse(r.simulation) : null,
    reasons: JSON.parse(r.reasons),
    cosignerSignature: r.cosigner_signature,
    recipients: JSON.parse(r.recipients),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    txHash: r.tx_hash,
    decidedBy: r.decided_by,
  };
}

/** An audit row as a record. */
export function auditFromRow(r: AuditRow): AuditRecord {
  return { seq: Number(r.seq), at: r.at, kind: r.kind, ref: r.ref, payload: JSON.parse(r.payload), prevHash: r.prev_hash, hash: r.hash };
}

export interface ExecutionRow {
  chain_id: number;
  wallet: string;
  digest: string;
  session_key: string;
  nonce: string;
  tx_hash: string;
  block_number: number | string;
  block_hash: string;
  log_index: number;
  relayer: string;
  gas_used: string;
  decision_id: string | null;
  changes: string;
  simulated: string | null;
  matches_simulation: number | boolean | null;
}

export interface OwnerRow {
  chain_id: number;
  wallet: string;
  target: string;
  value: string;
  selector: string;
  tx_hash: string;
  block_number: number | string;
  log_index: number;
}

export interface ControlRow {
  chain_id: number;
  wallet: string;
  event: string;
  args: string;
  tx_hash: string;
  block_number: number | string;
  log_index: number;
}

export const executionFromRow = (r: ExecutionRow): StoredExecution => ({
  chainId: r.chain_id,
  wallet: r.wallet,
  digest: r.digest,
  sessionKey: r.session_key,
  nonce: r.nonce,
  txHash: r.tx_hash,
  blockNumber: BigInt(r.block_number),
  blockHash: r.block_hash,
  logIndex: r.log_index,
  relayer: r.relayer,
  gasUsed: r.gas_used,
  decisionId: r.decision_id,
  changes: JSON.parse(r.changes),
  simulated: r.simulated === null ? null : JSON.parse(r.simulated),
  matchesSimulation: r.matches_simulation === null ? null : Boolean(r.matches_simulation),
});

export const ownerExecutionFromRow = (r: OwnerRow): StoredOwnerExecution => ({
  chainId: r.chain_id,
  wallet: r.wallet,
  target: r.target,
  value: r.value,
  selector: r.selector,
  txHash: r.tx_hash,
  blockNumber: BigInt(r.block_number),
  logIndex: r.log_index,
});

export const controlChangeFromRow = (r: ControlRow): StoredControlChange => ({
  chainId: r.chain_id,
  wallet: r.wallet,
  event: r.event,
  args: JSON.parse(r.args),
  txHash: r.tx_hash,
  blockNumber: BigInt(r.block_number),
  logIndex: r.log_index,
});

/** What an audit record of an execution says. */
export function executedPayload(e: StoredExecution) {
  return {
    chainId: e.chainId,
    wallet: e.wallet,
    digest: e.digest,
    decisionId: e.decisionId,
    sessionKey: e.sessionKey,
    nonce: e.nonce,
    txHash: e.txHash,
    blockNumber: e.blockNumber,
    blockHash: e.blockHash,
    logIndex: e.logIndex,
    relayer: e.relayer,
    gasUsed: e.gasUsed,
    changes: e.changes,
    simulated: e.simulated,
    matchesSimulation: e.matchesSimulation,
  };
}

export interface IncidentRow {
  id: string;
  chain_id: number;
  wallet: string;
  session_key: string | null;
  rule: string;
  summary: string;
  evidence: string;
  action_kind: Incident["actionKind"];
  actions: string;
  state: IncidentState;
  opened_at: string;
  updated_at: string;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  note: string | null;
}

export function incidentFromRow(r: IncidentRow): Incident {
  return {
    id: r.id,
    chainId: r.chain_id,
    wallet: r.wallet,
    sessionKey: r.session_key,
    rule: r.rule,
    summary: r.summary,
    evidence: JSON.parse(r.evidence),
    actionKind: r.action_kind,
    actions: JSON.parse(r.actions),
    state: r.state,
    openedAt: r.opened_at,
    updatedAt: r.updated_at,
    acknowledgedBy: r.acknowledged_by,
    acknowledgedAt: r.acknowledged_at,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at,
    note: r.note,
  };
}

/** A new incident id. */
export function newIncidentId(): string {
  return `inc_${randomUUID().replaceAll("-", "")}`;
}

/**
 * A decision's request as both stores keep it (JSON), refused when larger than they keep.
 * @throws CountersignError INVALID_REQUEST with the size and the limit.
 */
export function storedRequest(decision: NewDecision): string {
  const request = toJson(decision.request);
  if (request.length > MAX_STORED_REQUEST_BYTES) {
    throw new CountersignError("INVALID_REQUEST", `the request is ${request.length} bytes; at most ${MAX_STORED_REQUEST_BYTES} are kept`, {
      bytes: request.length,
      limit: MAX_STORED_REQUEST_BYTES,
    });
  }
  return request;
}

/** A decision that is no longer pending. */
export function notPending(id: string): CountersignError {
  return new CountersignError("NOT_PENDING", `decision ${id} is no longer pending`, { id });
}

/** An incident that cannot move to `wanted` from where it stands. */
export function notOpen(incident: Incident, wanted: string): CountersignError {
  return new CountersignError("INCIDENT_NOT_OPEN", `incident ${incident.id} is ${incident.state}; it cannot be ${wanted}`, {
    id: incident.id,
    state: incident.state,
  });
}

/** A failure of the database: nothing is signed. */
export function unavailable(err: unknown): CountersignError {
  return new CountersignError("STORE_UNAVAILABLE", `the decision store failed: ${(err as Error).message}`);
}
