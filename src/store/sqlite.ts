/**
 * The embedded store: SQLite (better-sqlite3, WAL, synchronous=FULL), the default for `npm start` and the tests.
 *
 * The unique index on (chain, wallet, nonce) over decisions that were not rejected is what makes "never sign
 * twice" hold: a decision is committed here before its signature is returned, and a second digest for the same
 * nonce cannot be committed. The audit log is append-only (triggers refuse UPDATE and DELETE) and hash-chained.
 * better-sqlite3 is synchronous: each method runs in one step and answers through a settled promise, so a
 * transaction never spans an await.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CountersignError } from "../errors";
import { GENESIS, linkHash, newDecisionId, toJson } from "./json";
import {
  MAX_STORED_REQUEST_BYTES,
  UniqueConflict,
  type AuditRecord,
  type AuditVerification,
  type ChainPosition,
  type NewDecision,
  type PendingQuery,
  type Resolution,
  type Restatement,
  type Store,
  type StoredDecision,
} from "./types";

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
CREATE INDEX IF NOT EXISTS decisions_pending ON decisions (chain_id, status, created_at);
CREATE TABLE IF NOT EXISTS monitor_positions (
  chain_id INTEGER NOT NULL, follower TEXT NOT NULL, block_number TEXT NOT NULL, block_hash TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (chain_id, follower)
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

/**
 * The SQLite store.
 * @example const store = SqliteStore.open("data/countersign.sqlite")
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite";
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
      idempotencyTaken: db.prepare(`SELECT 1 FROM decisions WHERE idempotency_key = ?`),
      pending: db.prepare(`SELECT * FROM decisions WHERE chain_id = @chain_id AND status = 'pending_approval'
        AND (@wallet IS NULL OR wallet = @wallet) AND (@before IS NULL OR created_at < @before)
        ORDER BY created_at DESC, rowid DESC LIMIT @limit`),
      resolve: db.prepare(`UPDATE decisions SET status = @status, reasons = @reasons, simulation = @simulation,
        cosigner_signature = @cosigner_signature, updated_at = @updated_at, decided_by = @decided_by
        WHERE id = @id AND status = 'pending_approval'`),
      restate: db.prepare(`UPDATE decisions SET reasons = @reasons, simulation = @simulation, recipients = @recipients,
        updated_at = @updated_at WHERE id = @id AND status = 'pending_approval'`),
      paid: db.prepare(`INSERT OR IGNORE INTO paid_recipients (chain_id, wallet, recipient) VALUES (?, ?, ?)`),
      isPaid: db.prepare(`SELECT 1 FROM paid_recipients WHERE chain_id = ? AND wallet = ? AND recipient = ?`),
      lastAudit: db.prepare(`SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`),
      appendAudit: db.prepare(`INSERT INTO audit_log (seq, at, kind, ref, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      listAudit: db.prepare(`SELECT * FROM audit_log WHERE seq > ? ORDER BY seq ASC LIMIT ?`),
      allAudit: db.prepare(`SELECT * FROM audit_log ORDER BY seq ASC`),
      anomaly: db.prepare(`SELECT reason FROM anomalies WHERE chain_id = ? AND wallet = ? AND cleared_at IS NULL ORDER BY id DESC LIMIT 1`),
      flag: db.prepare(`INSERT INTO anomalies (chain_id, wallet, reason, created_at) VALUES (?, ?, ?, ?)`),
      clear: db.prepare(`UPDATE anomalies SET cleared_at = ? WHERE chain_id = ? AND wallet = ? AND cleared_at IS NULL`),
      position: db.prepare(`SELECT block_number, block_hash FROM monitor_positions WHERE chain_id = ? AND follower = ?`),
      setPosition: db.prepare(`INSERT INTO monitor_positions (chain_id, follower, block_number, block_hash, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (chain_id, follower) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash,
        updated_at = excluded.updated_at`),
    };
  }

  /** Opens (and creates) the store at `path`; ":memory:" for a throwaway one. */
  static open(path: string): SqliteStore {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 5000");
    db.exec(SCHEMA);
    return new SqliteStore(db);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** Runs `fn` in one transaction; a failure of the store is STORE_UNAVAILABLE (nothing is signed). */
  private tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof UniqueConflict || err instanceof CountersignError) throw err;
      // The idempotency key is checked inside the transaction before the insert, so a unique violation left is the nonce's.
      if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") throw new UniqueConflict("nonce");
      throw unavailable(err);
    }
  }

  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw unavailable(err);
    }
  }

  async insert(decision: NewDecision, auditPayload: unknown): Promise<StoredDecision> {
    const now = new Date().toISOString();
    const id = newDecisionId();
    const request = toJson(decision.request);
    if (request.length > MAX_STORED_REQUEST_BYTES) {
      throw new CountersignError("INVALID_REQUEST", `the request is ${request.length} bytes; at most ${MAX_STORED_REQUEST_BYTES} are kept`, {
        bytes: request.length,
        limit: MAX_STORED_REQUEST_BYTES,
      });
    }
    return this.tx(() => {
      if (decision.idempotencyKey !== null && this.stmts.idempotencyTaken.get(decision.idempotencyKey)) throw new UniqueConflict("idempotency");
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

  async resolvePending(id: string, update: Resolution, auditPayload: unknown): Promise<StoredDecision> {
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
      if (result.changes !== 1) throw notPending(id);
      const row = fromRow(this.stmts.get.get(id) as DecisionRow);
      if (row.status === "approved") for (const r of row.recipients) this.stmts.paid.run(row.chainId, row.wallet, r);
      this.appendAuditInTx(`decision.${update.status}`, id, { id, decidedBy: update.decidedBy, ...(auditPayload as object) }, now);
      return row;
    });
  }

  async restatePending(id: string, update: Restatement, auditPayload: unknown): Promise<StoredDecision> {
    const now = new Date().toISOString();
    return this.tx(() => {
      const result = this.stmts.restate.run({
        id,
        reasons: toJson(update.reasons),
        simulation: update.simulation === null ? null : toJson(update.simulation),
        recipients: JSON.stringify(update.recipients),
        updated_at: now,
      });
      if (result.changes !== 1) throw notPending(id);
      this.appendAuditInTx("decision.stale", id, { id, ...(auditPayload as object) }, now);
      return fromRow(this.stmts.get.get(id) as DecisionRow);
    });
  }

  async get(id: string): Promise<StoredDecision | undefined> {
    return this.read(() => maybe(this.stmts.get.get(id)));
  }

  async findByDigest(chainId: number, wallet: string, digest: string): Promise<StoredDecision | undefined> {
    return this.read(() => maybe(this.stmts.byDigest.get(chainId, wallet, digest)));
  }

  async findLiveByNonce(chainId: number, wallet: string, nonce: string): Promise<StoredDecision | undefined> {
    return this.read(() => maybe(this.stmts.liveByNonce.get(chainId, wallet, nonce)));
  }

  async findByIdempotencyKey(key: string): Promise<StoredDecision | undefined> {
    return this.read(() => maybe(this.stmts.byIdempotency.get(key)));
  }

  async listPending(query: PendingQuery): Promise<StoredDecision[]> {
    return this.read(() =>
      (
        this.stmts.pending.all({
          chain_id: query.chainId,
          wallet: query.wallet ?? null,
          before: query.createdBefore ?? null,
          limit: query.limit ?? 100,
        }) as DecisionRow[]
      ).map(fromRow),
    );
  }

  async isRecipientKnown(chainId: number, wallet: string, recipient: string): Promise<boolean> {
    return this.read(() => this.stmts.isPaid.get(chainId, wallet, recipient) !== undefined);
  }

  async activeAnomaly(chainId: number, wallet: string): Promise<string | undefined> {
    return this.read(() => (this.stmts.anomaly.get(chainId, wallet) as { reason: string } | undefined)?.reason);
  }

  async flagAnomaly(chainId: number, wallet: string, reason: string, evidence: unknown = {}, auditKind = "anomaly"): Promise<AuditRecord> {
    const now = new Date().toISOString();
    return this.tx(() => {
      this.stmts.flag.run(chainId, wallet, reason, now);
      return this.appendAuditInTx(auditKind, wallet, { chainId, wallet, reason, ...(evidence as object) }, now);
    });
  }

  async clearAnomaly(chainId: number, wallet: string, by: string): Promise<string | undefined> {
    const now = new Date().toISOString();
    return this.tx(() => {
      const was = (this.stmts.anomaly.get(chainId, wallet) as { reason: string } | undefined)?.reason;
      this.stmts.clear.run(now, chainId, wallet);
      this.appendAuditInTx("anomaly.cleared", wallet, { chainId, wallet, by, was: was ?? null }, now);
      return was;
    });
  }

  async position(chainId: number, follower: string): Promise<ChainPosition | undefined> {
    return this.read(() => {
      const row = this.stmts.position.get(chainId, follower) as { block_number: string; block_hash: string } | undefined;
      return row ? { blockNumber: BigInt(row.block_number), blockHash: row.block_hash } : undefined;
    });
  }

  async setPosition(chainId: number, follower: string, position: ChainPosition): Promise<void> {
    const now = new Date().toISOString();
    this.tx(() => this.stmts.setPosition.run(chainId, follower, position.blockNumber.toString(), position.blockHash, now));
  }

  async appendAudit(kind: string, ref: string | null, payload: unknown): Promise<AuditRecord> {
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

  async auditHead(): Promise<{ seq: number; hash: string }> {
    return this.read(() => (this.stmts.lastAudit.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS });
  }

  async listAudit(afterSeq = 0, limit = 100): Promise<AuditRecord[]> {
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

  /** @example await store.verifyAudit() // { ok: true, checked: 42 } */
  async verifyAudit(): Promise<AuditVerification> {
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

function maybe(row: unknown): StoredDecision | undefined {
  return row ? fromRow(row as DecisionRow) : undefined;
}

function notPending(id: string): CountersignError {
  return new CountersignError("NOT_PENDING", `decision ${id} is no longer pending`, { id });
}

function unavailable(err: unknown): CountersignError {
  return new CountersignError("STORE_UNAVAILABLE", `the decision store failed: ${(err as Error).message}`);
}
