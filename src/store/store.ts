/**
 * Record: decisions and the audit log in SQLite (better-sqlite3, WAL, synchronous=FULL).
 *
 * The unique index on (chain, wallet, nonce) over decisions that were not rejected is what makes "never sign
 * twice" hold: a decision is committed here before its signature is returned, and a second digest for the same
 * nonce cannot be committed. The audit log is append-only (triggers refuse UPDATE and DELETE) and hash-chained.
 */
import Database from "better-sqlite3";
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CountersignError } from "../errors";

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

const GENESIS = "0".repeat(64);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY,
  chain_id INTEGER NOT NULL,
  wallet TEXT NOT NULL,
  nonce TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('approved', 'rejected', 'pending_approval')),
  session_key TEXT,
  idempotency_key TEXT,
  request_hash TEXT NOT NULL,
  request TEXT NOT NULL,
  simulation TEXT,
  reasons TEXT NOT NULL,
  cosigner_signature TEXT,
  recipients TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  tx_hash TEXT,
  decided_by TEXT,
  CHECK (cosigner_signature IS NULL OR status = 'approved')
);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_live_nonce ON decisions (chain_id, wallet, nonce) WHERE status != 'rejected';
CREATE INDEX IF NOT EXISTS decisions_digest ON decisions (digest);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_idempotency ON decisions (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS decisions_session_key ON decisions (session_key, created_at);
CREATE TABLE IF NOT EXISTS paid_recipients (
  chain_id INTEGER NOT NULL, wallet TEXT NOT NULL, recipient TEXT NOT NULL,
  PRIMARY KEY (chain_id, wallet, recipient)
);
CREATE TABLE IF NOT EXISTS anomalies (
  id INTEGER PRIMARY KEY,
  chain_id INTEGER NOT NULL, wallet TEXT NOT NULL, reason TEXT NOT NULL,
  created_at TEXT NOT NULL, cleared_at TEXT
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  ref TEXT,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`;

interface DecisionRow {
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

interface AuditRow {
  seq: number;
  at: string;
  kind: string;
  ref: string | null;
  payload: string;
  prev_hash: string;
  hash: string;
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** SHA-256 (hex) of a request body (or of its toJson form), to tell an idempotent retry from a reuse of the key. */
export function requestHash(value: unknown): string {
  return createHash("sha256").update(typeof value === "string" ? value : toJson(value)).digest("hex");
}

function linkHash(prevHash: string, seq: number, at: string, kind: string, ref: string | null, payload: string): string {
  return createHash("sha256").update([prevHash, seq, at, kind, ref ?? "", payload].join("\x1f")).digest("hex");
}

function fromRow(r: DecisionRow): StoredDecision {
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

/** Thrown by insert() when a live decision for the same (chain, wallet, nonce) or idempotency key exists. */
export class UniqueConflict extends Error {
  constructor(readonly index: "nonce" | "idempotency") {
    super(`unique conflict on ${index}`);
  }
}

/**
 * The decision store and audit log.
 * @example const store = DecisionStore.open("data/countersign.sqlite")
 */
export class DecisionStore {
  private readonly db: Database.Database;
  private readonly stmts;

  private constructor(db: Database.Database) {
    this.db = db;
    this.stmts = {
      insert: db.prepare(`INSERT INTO decisions (id, chain_id, wallet, nonce, digest, status, session_key, idempotency_key,
        request_hash, request, simulation, reasons, cosigner_signature, recipients, created_at, updated_at, decided_by)
        VALUES (@id, @chain_id, @wallet, @nonce, @digest, @status, @session_key, @idempotency_key, @request_hash, @request,
        @simulation, @reasons, @cosigner_signature, @recipients, @created_at, @updated_at, @decided_by)`),
      get: db.prepare(`SELECT * FROM decisions WHERE id = ?`),
      byDigest: db.prepare(`SELECT * FROM decisions WHERE chain_id = ? AND wallet = ? AND digest = ? ORDER BY created_at DESC LIMIT 1`),
      liveByNonce: db.prepare(`SELECT * FROM decisions WHERE chain_id = ? AND wallet = ? AND nonce = ? AND status != 'rejected'`),
      byIdempotency: db.prepare(`SELECT * FROM decisions WHERE idempotency_key = ?`),
      resolve: db.prepare(`UPDATE decisions SET status = @status, reasons = @reasons, simulation = @simulation,
        cosigner_signature = @cosigner_signature, updated_at = @updated_at, decided_by = @decided_by
        WHERE id = @id AND status = 'pending_approval'`),
      restate: db.prepare(`UPDATE decisions SET reasons = @reasons, simulation = @simulation, recipients = @recipients,
        updated_at = @updated_at WHERE id = @id AND status = 'pending_approval'`),
      setTx: db.prepare(`UPDATE decisions SET tx_hash = ?, updated_at = ? WHERE chain_id = ? AND wallet = ? AND digest = ? AND status = 'approved'`),
      paid: db.prepare(`INSERT OR IGNORE INTO paid_recipients (chain_id, wallet, recipient) VALUES (?, ?, ?)`),
      isPaid: db.prepare(`SELECT 1 FROM paid_recipients WHERE chain_id = ? AND wallet = ? AND recipient = ?`),
      lastAudit: db.prepare(`SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`),
      appendAudit: db.prepare(`INSERT INTO audit_log (seq, at, kind, ref, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      listAudit: db.prepare(`SELECT * FROM audit_log WHERE seq > ? ORDER BY seq ASC LIMIT ?`),
      allAudit: db.prepare(`SELECT * FROM audit_log ORDER BY seq ASC`),
      anomaly: db.prepare(`SELECT reason FROM anomalies WHERE chain_id = ? AND wallet = ? AND cleared_at IS NULL ORDER BY id DESC LIMIT 1`),
      flag: db.prepare(`INSERT INTO anomalies (chain_id, wallet, reason, created_at) VALUES (?, ?, ?, ?)`),
      clear: db.prepare(`UPDATE anomalies SET cleared_at = ? WHERE chain_id = ? AND wallet = ? AND cleared_at IS NULL`),
      recentRejections: db.prepare(`SELECT COUNT(*) AS n FROM decisions WHERE session_key = ? AND status = 'rejected' AND created_at >= ?`),
    };
  }

  /** Opens (and creates) the store at `path`; ":memory:" for a throwaway one. */
  static open(path: string): DecisionStore {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 5000");
    db.exec(SCHEMA);
    return new DecisionStore(db);
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction; a failure of the store is STORE_UNAVAILABLE (nothing is signed). */
  private tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof UniqueConflict || err instanceof CountersignError) throw err;
      const code = (err as { code?: string }).code;
      if (code === "SQLITE_CONSTRAINT_UNIQUE") {
        const message = String((err as Error).message);
        throw new UniqueConflict(message.includes("idempotency") ? "idempotency" : "nonce");
      }
      throw new CountersignError("STORE_UNAVAILABLE", `the decision store failed: ${(err as Error).message}`);
    }
  }

  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new CountersignError("STORE_UNAVAILABLE", `the decision store failed: ${(err as Error).message}`);
    }
  }

  /**
   * Commits a new decision and its audit record in one transaction.
   * @throws UniqueConflict when the nonce or the idempotency key is taken.
   */
  insert(decision: NewDecision, auditPayload: unknown): StoredDecision {
    const now = new Date().toISOString();
    const id = `op_${randomUUID().replaceAll("-", "")}`;
    const request = toJson(decision.request);
    if (request.length > MAX_STORED_REQUEST_BYTES) {
      throw new CountersignError("INVALID_REQUEST", `the request is ${request.length} bytes; at most ${MAX_STORED_REQUEST_BYTES} are kept`, {
        bytes: request.length,
        limit: MAX_STORED_REQUEST_BYTES,
      });
    }
    return this.tx(() => {
      this.stmts.insert.run({
        id,
        chain_id: decision.chainId,
        wallet: decision.wallet,
        nonce: decision.nonce,
        digest: decision.digest,
        status: decision.status,
        session_key: decision.sessionKey,
        idempotency_key: decision.idempotencyKey,
        request_hash: decision.requestHash,
        request,
        simulation: decision.simulation === null ? null : toJson(decision.simulation),
        reasons: toJson(decision.reasons),
        cosigner_signature: decision.cosignerSignature,
        recipients: JSON.stringify(decision.recipients),
        created_at: now,
        updated_at: now,
        decided_by: decision.decidedBy ?? null,
      });
      if (decision.status === "approved") {
        for (const r of decision.recipients) this.stmts.paid.run(decision.chainId, decision.wallet, r);
      }
      this.appendAuditInTx("decision", id, { id, ...(auditPayload as object) }, now);
      return fromRow(this.stmts.get.get(id) as DecisionRow);
    });
  }

  /**
   * Resolves a pending decision (a person approved or rejected it), with its audit record.
   * @throws CountersignError NOT_PENDING when it is no longer pending (e.g. another approver resolved it first).
   */
  resolvePending(
    id: string,
    update: Pick<StoredDecision, "status" | "reasons" | "simulation" | "cosignerSignature"> & { decidedBy: string },
    auditPayload: unknown,
  ): StoredDecision {
    const now = new Date().toISOString();
    return this.tx(() => {
      const result = this.stmts.resolve.run({
        id,
        status: update.status,
        reasons: toJson(update.reasons),
        simulation: update.simulation === null ? null : toJson(update.simulation),
        cosigner_signature: update.cosignerSignature,
        updated_at: now,
        decided_by: update.decidedBy,
      });
      if (result.changes !== 1) throw new CountersignError("NOT_PENDING", `decision ${id} is no longer pending`, { id });
      const row = fromRow(this.stmts.get.get(id) as DecisionRow);
      if (row.status === "approved") for (const r of row.recipients) this.stmts.paid.run(row.chainId, row.wallet, r);
      this.appendAuditInTx(`decision.${update.status}`, id, { id, decidedBy: update.decidedBy, ...(auditPayload as object) }, now);
      return row;
    });
  }

  /**
   * Restates a pending decision that stays pending (the figures a person reviews changed): its simulation, reasons
   * and recipients, with an audit record ("decision.stale"); the audit log itself is only appended to.
   * @throws CountersignError NOT_PENDING when it is no longer pending.
   */
  restatePending(
    id: string,
    update: Pick<StoredDecision, "reasons" | "simulation" | "recipients">,
    auditPayload: unknown,
  ): StoredDecision {
    const now = new Date().toISOString();
    return this.tx(() => {
      const result = this.stmts.restate.run({
        id,
        reasons: toJson(update.reasons),
        simulation: update.simulation === null ? null : toJson(update.simulation),
        recipients: JSON.stringify(update.recipients),
        updated_at: now,
      });
      if (result.changes !== 1) throw new CountersignError("NOT_PENDING", `decision ${id} is no longer pending`, { id });
      this.appendAuditInTx("decision.stale", id, { id, ...(auditPayload as object) }, now);
      return fromRow(this.stmts.get.get(id) as DecisionRow);
    });
  }

  /** Links an approved decision to the transaction that executed it. Returns whether one matched. */
  recordExecution(chainId: number, wallet: string, digest: string, txHash: string, evidence: unknown): boolean {
    const now = new Date().toISOString();
    return this.tx(() => {
      const changed = this.stmts.setTx.run(txHash, now, chainId, wallet, digest).changes === 1;
      this.appendAuditInTx("execution", digest, { chainId, wallet, digest, txHash, matched: changed, ...(evidence as object) }, now);
      return changed;
    });
  }

  get(id: string): StoredDecision | undefined {
    return this.read(() => {
      const row = this.stmts.get.get(id) as DecisionRow | undefined;
      return row ? fromRow(row) : undefined;
    });
  }

  findByDigest(chainId: number, wallet: string, digest: string): StoredDecision | undefined {
    return this.read(() => {
      const row = this.stmts.byDigest.get(chainId, wallet, digest) as DecisionRow | undefined;
      return row ? fromRow(row) : undefined;
    });
  }

  findLiveByNonce(chainId: number, wallet: string, nonce: string): StoredDecision | undefined {
    return this.read(() => {
      const row = this.stmts.liveByNonce.get(chainId, wallet, nonce) as DecisionRow | undefined;
      return row ? fromRow(row) : undefined;
    });
  }

  findByIdempotencyKey(key: string): StoredDecision | undefined {
    return this.read(() => {
      const row = this.stmts.byIdempotency.get(key) as DecisionRow | undefined;
      return row ? fromRow(row) : undefined;
    });
  }

  isRecipientKnown(chainId: number, wallet: string, recipient: string): boolean {
    return this.read(() => this.stmts.isPaid.get(chainId, wallet, recipient) !== undefined);
  }

  /** The active anomaly flag of a wallet, if any. */
  activeAnomaly(chainId: number, wallet: string): string | undefined {
    return this.read(() => (this.stmts.anomaly.get(chainId, wallet) as { reason: string } | undefined)?.reason);
  }

  /** Flags a wallet: its operations go to a person until the flag is cleared. */
  flagAnomaly(chainId: number, wallet: string, reason: string, evidence: unknown = {}): void {
    const now = new Date().toISOString();
    this.tx(() => {
      this.stmts.flag.run(chainId, wallet, reason, now);
      this.appendAuditInTx("anomaly", wallet, { chainId, wallet, reason, ...(evidence as object) }, now);
    });
  }

  clearAnomaly(chainId: number, wallet: string, by: string): void {
    const now = new Date().toISOString();
    this.tx(() => {
      this.stmts.clear.run(now, chainId, wallet);
      this.appendAuditInTx("anomaly.cleared", wallet, { chainId, wallet, by }, now);
    });
  }

  /** Rejections of a session key since `sinceIso`. */
  rejectionsSince(sessionKey: string, sinceIso: string): number {
    return this.read(() => (this.stmts.recentRejections.get(sessionKey, sinceIso) as { n: number }).n);
  }

  /** Appends one record to the audit log. */
  appendAudit(kind: string, ref: string | null, payload: unknown): AuditRecord {
    const now = new Date().toISOString();
    return this.tx(() => this.appendAuditInTx(kind, ref, payload, now));
  }

  private appendAuditInTx(kind: string, ref: string | null, payload: unknown, at: string): AuditRecord {
    const last = this.stmts.lastAudit.get() as { seq: number; hash: string } | undefined;
    const seq = (last?.seq ?? 0) + 1;
    const prevHash = last?.hash ?? GENESIS;
    const body = toJson(payload);
    const hash = linkHash(prevHash, seq, at, kind, ref, body);
    this.stmts.appendAudit.run(seq, at, kind, ref, body, prevHash, hash);
    return { seq, at, kind, ref, payload, prevHash, hash };
  }

  /** The newest audit record's sequence number and hash (seq 0 and the genesis hash when the log is empty). */
  auditHead(): { seq: number; hash: string } {
    return this.read(() => (this.stmts.lastAudit.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS });
  }

  /** Audit records after `afterSeq`, oldest first. */
  listAudit(afterSeq = 0, limit = 100): AuditRecord[] {
    return this.read(() =>
      (this.stmts.listAudit.all(afterSeq, limit) as AuditRow[]).map((r) => ({
        seq: r.seq,
        at: r.at,
        kind: r.kind,
        ref: r.ref,
        payload: JSON.parse(r.payload),
        prevHash: r.prev_hash,
        hash: r.hash,
      })),
    );
  }

  /**
   * Recomputes the audit chain and reports the first record whose link does not hold.
   * @example store.verifyAudit() // { ok: true, checked: 42 }
   */
  verifyAudit(): AuditVerification {
    return this.read(() => {
      let prev = GENESIS;
      let expectedSeq = 1;
      let checked = 0;
      for (const r of this.stmts.allAudit.iterate() as IterableIterator<AuditRow>) {
        if (r.seq !== expectedSeq) return { ok: false, checked, brokenAt: expectedSeq, reason: `record ${expectedSeq} is missing` };
        if (r.prev_hash !== prev) return { ok: false, checked, brokenAt: r.seq, reason: "prev_hash does not match the previous record" };
        if (linkHash(r.prev_hash, r.seq, r.at, r.kind, r.ref, r.payload) !== r.hash) {
          return { ok: false, checked, brokenAt: r.seq, reason: "the record's content does not match its hash" };
        }
        prev = r.hash;
        expectedSeq += 1;
        checked += 1;
      }
      return { ok: true, checked };
    });
  }
}
