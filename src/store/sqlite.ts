/**
 * The embedded store: SQLite (better-sqlite3, WAL), the default for `npm start` and the tests. A commit is answered
 * only once it is on disk, made so off the event loop (sqlite-durability.ts).
 *
 * The unique index on (chain, wallet, nonce) over decisions that were not rejected is what makes "never sign
 * twice" hold: a decision is committed here before its signature is returned, and a second digest for the same
 * nonce cannot be committed. The audit log is append-only (triggers refuse UPDATE and DELETE) and hash-chained.
 * better-sqlite3 is synchronous: each method runs in one step and answers through a settled promise, so a
 * transaction never spans an await; inserts made in the same turn of the event loop share one (group commit).
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CountersignError } from "../errors";
import { GENESIS, linkHash, newDecisionId, toJson } from "./json";
import { loadMigrations, pendingMigrations } from "./migrations";
import { auditFromRow, decisionFromRow, notPending, storedRequest, unavailable, type AuditRow, type DecisionRow } from "./rows";
import { SqliteExecutions } from "./sqlite-executions";
import { SqliteIncidents } from "./sqlite-incidents";
import { SqliteApprovals } from "./sqlite-approvals";
import { Checkpointer, Durability, type Sync } from "./sqlite-durability";
import {
  UniqueConflict,
  type AuditRecord,
  type AuditVerification,
  type BlockRecord,
  type ChainPosition,
  PositionConflict,
  type StoredControlChange,
  type StoredExecution,
  type StoredOwnerExecution,
  type UndoneBlocks,
  type Incident,
  type IncidentAction,
  type IncidentQuery,
  type IncidentState,
  type NewIncident,
  type NewDecision,
  type PendingQuery,
  type Resolution,
  type Restatement,
  type Lease,
  type Store,
  type StoredDecision,
  type ApprovalRecords,
  type ApprovalRequestRecord,
  type ApprovalVote,
} from "./types";


/**
 * The SQLite store.
 * @example const store = SqliteStore.open("data/countersign.sqlite")
 */
export class SqliteStore implements Store, ApprovalRecords {
  readonly kind = "sqlite";
  private readonly db: Database.Database;
  private readonly stmts;
  /** The monitor's execution records (sqlite-executions.ts). */
  private readonly executions: SqliteExecutions;
  /** The breaker's incidents (sqlite-incidents.ts). */
  private readonly incidents: SqliteIncidents;
  /** Approval requests and votes (sqlite-approvals.ts). */
  private readonly approvals: SqliteApprovals;

  private constructor(
    db: Database.Database,
    private readonly durability: Durability,
    private readonly checkpointer?: Checkpointer,
  ) {
    this.db = db;
    this.executions = new SqliteExecutions(db);
    this.incidents = new SqliteIncidents(db);
    this.approvals = new SqliteApprovals(db);
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

  /**
   * Opens (and creates) the store at `path`; ":memory:" for a throwaway one. `options.sync` replaces the fdatasync
   * of the WAL (tests: a slow or failing disk); `options.checkpointEvery`: commits between two checkpoints.
   */
  static open(path: string, options: { sync?: Sync; checkpointEvery?: number } = {}): SqliteStore {
    const file = path !== ":memory:";
    if (file) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    // Commits do not wait for the disk on this connection, and it never checkpoints: Durability and the
    // Checkpointer do both off the event loop, and no commit is answered before it is on disk.
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    if (file) db.pragma("wal_autocheckpoint = 0");
    migrate(db);
    const durability = new Durability(file ? `${path}-wal` : undefined, options.sync);
    return new SqliteStore(db, durability, file ? new Checkpointer(path, options.checkpointEvery) : undefined);
  }

  async close(): Promise<void> {
    await this.durability.close();
    await this.checkpointer?.close();
    this.db.close();
  }

  /** Checkpoints done beside (and the last one's failure), and the WAL's frames after the last. */
  get checkpoints() {
    return this.checkpointer?.stats;
  }

  private readonly leases = new Set<string>();

  /** An embedded store serves one process: the lease is this store's, held until released (never lost). */
  async tryLease(name: string): Promise<Lease | undefined> {
    if (this.leases.has(name)) return undefined;
    this.leases.add(name);
    return { lost: new Promise<void>(() => undefined), release: async () => void this.leases.delete(name) };
  }

  /**
   * Runs `fn` in one transaction and answers once the commit is on disk (`rows`: the decisions it wrote, shown
   * only from then on); a failure of the store is STORE_UNAVAILABLE (nothing is signed).
   */
  private async tx<T>(fn: () => T, rows: (value: T) => readonly string[] = () => []): Promise<T> {
    const value = this.txNow(fn);
    await this.committed(rows(value));
    return value;
  }

  /** Runs `fn` in one transaction, now; the commit is not yet on disk (see committed). */
  private txNow<T>(fn: () => T): T {
    this.durability.check();
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw storeError(err);
    }
  }

  /** Resolves once the last commit (which wrote the decisions `rows`) is on disk. */
  private committed(rows: readonly string[]): Promise<void> {
    this.checkpointer?.committed();
    return this.durability.commit(rows);
  }

  /** `decisions` once every commit that wrote one of them is on disk: a decision is never shown before. */
  private async shown<T extends StoredDecision | StoredDecision[] | undefined>(decisions: T): Promise<T> {
    const ids = decisions === undefined ? [] : Array.isArray(decisions) ? decisions.map((d) => d.id) : [decisions.id];
    await this.durability.shown(ids);
    return decisions;
  }

  /** Inserts waiting for their group's commit (see grouped). */
  private group: { fn: () => StoredDecision; resolve: (d: StoredDecision) => void; reject: (e: unknown) => void }[] = [];

  /**
   * Runs `fn` in the transaction of every insert made in the same turn of the event loop: one commit and one fsync for
   * all of them (group commit; with synchronous=FULL the fsync held the event loop 0.7–1 ms a decision, a third of
   * it under concurrent load). Each insert runs in a savepoint of its own, so one's conflict undoes only its own
   * writes; each answers once the commit is on disk, and if the commit fails, all of them fail STORE_UNAVAILABLE.
   */
  private grouped(fn: () => StoredDecision): Promise<StoredDecision> {
    return new Promise((resolve, reject) => {
      this.group.push({ fn, resolve, reject });
      if (this.group.length === 1) setImmediate(() => this.commitGroup());
    });
  }

  private commitGroup(): void {
    const group = this.group;
    this.group = [];
    const outcomes: ({ ok: true; value: StoredDecision } | { ok: false; error: unknown })[] = [];
    try {
      this.txNow(() => {
        for (const item of group) {
          // SQLite rolls the whole transaction back on some failures (a full disk, an I/O error): then nothing of the
          // group stands, and the rest must not run outside it.
          if (!this.db.inTransaction) throw new Error("the group's transaction was rolled back");
          try {
            outcomes.push({ ok: true, value: this.db.transaction(item.fn)() });
          } catch (error) {
            outcomes.push({ ok: false, error: storeError(error) });
          }
        }
      });
    } catch (err) {
      for (const item of group) item.reject(err);
      return;
    }
    // Each answers once the group's commit is on disk (or fails with the disk).
    const written = outcomes.flatMap((o) => (o.ok ? [o.value.id] : []));
    this.committed(written).then(
      () =>
        group.forEach((item, i) => {
          const outcome = outcomes[i]!;
          if (outcome.ok) item.resolve(outcome.value);
          else item.reject(outcome.error);
        }),
      (err: unknown) => group.forEach((item) => item.reject(err)),
    );
  }

  private read<T>(fn: () => T): T {
    this.durability.check();
    try {
      return fn();
    } catch (err) {
      throw unavailable(err);
    }
  }

  async insert(decision: NewDecision, auditPayload: unknown): Promise<StoredDecision> {
    const now = new Date().toISOString();
    const id = newDecisionId();
    const request = storedRequest(decision);
    return this.grouped(() => {
      if (decision.idempotencyKey !== null && this.stmts.idempotencyTaken.get(decision.idempotencyKey)) throw new UniqueConflict("idempotency");
      const row: DecisionRow = {
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
        tx_hash: null,
        decided_by: decision.decidedBy ?? null,
      };
      this.stmts.insert.run(row);
      if (decision.status === "approved") {
        for (const r of decision.recipients) this.stmts.paid.run(decision.chainId, decision.wallet, r);
      }
      if (decision.approval && decision.status === "pending_approval") this.approvals.request(id, decision.approval);
      this.appendAuditInTx("decision", id, { id, ...(auditPayload as object) }, now);
      // The row as inserted (every column set; tx_hash NULL as the table's default): no read back.
      return decisionFromRow(row);
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
      const row = decisionFromRow(this.stmts.get.get(id) as DecisionRow);
      if (row.status === "approved") for (const r of row.recipients) this.stmts.paid.run(row.chainId, row.wallet, r);
      this.appendAuditInTx(`decision.${update.status}`, id, { id, decidedBy: update.decidedBy, ...(auditPayload as object) }, now);
      return row;
    }, (row) => [row.id]);
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
      return decisionFromRow(this.stmts.get.get(id) as DecisionRow);
    }, (row) => [row.id]);
  }

  async get(id: string): Promise<StoredDecision | undefined> {
    return this.shown(this.read(() => maybe(this.stmts.get.get(id))));
  }

  async findByDigest(chainId: number, wallet: string, digest: string): Promise<StoredDecision | undefined> {
    return this.shown(this.read(() => maybe(this.stmts.byDigest.get(chainId, wallet, digest))));
  }

  async findLiveByNonce(chainId: number, wallet: string, nonce: string): Promise<StoredDecision | undefined> {
    return this.shown(this.read(() => maybe(this.stmts.liveByNonce.get(chainId, wallet, nonce))));
  }

  async findByIdempotencyKey(key: string): Promise<StoredDecision | undefined> {
    return this.shown(this.read(() => maybe(this.stmts.byIdempotency.get(key))));
  }

  async listPending(query: PendingQuery): Promise<StoredDecision[]> {
    return this.shown(this.read(() =>
      (
        this.stmts.pending.all({
          chain_id: query.chainId,
          wallet: query.wallet ?? null,
          before: query.createdBefore ?? null,
          limit: query.limit ?? 100,
        }) as DecisionRow[]
      ).map(decisionFromRow),
    ));
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
    await this.tx(() => this.stmts.setPosition.run(chainId, follower, position.blockNumber.toString(), position.blockHash, now));
  }

  // --- Executions (issue 10 part A): delegated to sqlite-executions.ts ---

  async recordBlock(record: BlockRecord): Promise<void> {
    const now = new Date().toISOString();
    await this.tx(() =>
      this.executions.record(
        record,
        (chainId, follower) => this.positionInTx(chainId, follower),
        (chainId, follower, p, at) => this.stmts.setPosition.run(chainId, follower, p.blockNumber.toString(), p.blockHash, at),
        (kind, ref, payload, at) => this.appendAuditInTx(kind, ref, payload, at),
        now,
      ),
    );
  }

  async undoFrom(chainId: number, follower: string, fromBlock: bigint, position: ChainPosition): Promise<UndoneBlocks> {
    const now = new Date().toISOString();
    return this.tx(() =>
      this.executions.undo(
        chainId,
        follower,
        fromBlock,
        position,
        (c, f, p, at) => this.stmts.setPosition.run(c, f, p.blockNumber.toString(), p.blockHash, at),
        (kind, ref, payload, at) => this.appendAuditInTx(kind, ref, payload, at),
        now,
      ),
    );
  }

  async executionsOfDecision(decisionId: string): Promise<StoredExecution[]> {
    return this.read(() => this.executions.ofDecision(decisionId));
  }

  async executionByDigest(chainId: number, wallet: string, digest: string): Promise<StoredExecution | undefined> {
    return this.read(() => this.executions.byDigest(chainId, wallet, digest));
  }

  async executionsFrom(chainId: number, fromBlock: bigint): Promise<StoredExecution[]> {
    return this.read(() => this.executions.chainFrom(chainId, fromBlock));
  }

  async ownerExecutions(chainId: number, wallet: string, fromBlock = 0n): Promise<StoredOwnerExecution[]> {
    return this.read(() => this.executions.ownerOf(chainId, wallet, fromBlock));
  }

  async controlChanges(chainId: number, wallet: string, fromBlock = 0n): Promise<StoredControlChange[]> {
    return this.read(() => this.executions.controlOf(chainId, wallet, fromBlock));
  }

  async recentBlocks(chainId: number, follower: string, limit: number): Promise<{ number: bigint; hash: string; parentHash: string }[]> {
    return this.read(() => this.executions.recent(chainId, follower, limit));
  }

  private positionInTx(chainId: number, follower: string): ChainPosition | undefined {
    const row = this.stmts.position.get(chainId, follower) as { block_number: string; block_hash: string } | undefined;
    return row ? { blockNumber: BigInt(row.block_number), blockHash: row.block_hash } : undefined;
  }

  // --- end Executions ---

  // --- Incidents (issue 10 part B): delegated to sqlite-incidents.ts ---

  async openIncident(incident: NewIncident): Promise<{ incident: Incident; opened: boolean; record: AuditRecord }> {
    const now = new Date().toISOString();
    return this.tx(() =>
      this.incidents.open(
        incident,
        (kind, ref, payload, at) => this.appendAuditInTx(kind, ref, payload, at),
        (chainId, wallet, reason, at) => this.stmts.flag.run(chainId, wallet, reason, at),
        now,
      ),
    );
  }

  async recordIncidentAction(
    id: string,
    action: IncidentAction,
    auditKind: string,
    auditPayload: Record<string, unknown> = {},
    replaceLast = false,
  ): Promise<{ incident: Incident; record: AuditRecord }> {
    const now = new Date().toISOString();
    return this.tx(() =>
      this.incidents.action(id, action, auditKind, auditPayload, replaceLast, (kind, ref, payload, at) => this.appendAuditInTx(kind, ref, payload, at), now),
    );
  }

  async acknowledgeIncident(id: string, by: string, note?: string): Promise<Incident> {
    const now = new Date().toISOString();
    return this.tx(() => this.incidents.acknowledge(id, by, note, (kind, ref, payload, at) => this.appendAuditInTx(kind, ref, payload, at), now));
  }

  async resolveIncident(id: string, by: string, note?: string): Promise<Incident> {
    const now = new Date().toISOString();
    return this.tx(() => this.incidents.resolve(id, by, note, (kind, ref, payload, at) => this.appendAuditInTx(kind, ref, payload, at), now));
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    return this.read(() => this.incidents.get(id));
  }

  async listIncidents(query: IncidentQuery = {}): Promise<Incident[]> {
    return this.read(() => this.incidents.list(query));
  }

  async countIncidents(): Promise<{ rule: string; state: IncidentState; count: number }[]> {
    return this.read(() => this.incidents.count());
  }

  // --- end Incidents ---

  // --- Approvals (issue 11): delegated to sqlite-approvals.ts ---

  async approvalRequest(decisionId: string): Promise<ApprovalRequestRecord | undefined> {
    return this.read(() => this.approvals.get(decisionId));
  }

  async addApprovalVote(vote: ApprovalVote, auditPayload: unknown): Promise<{ added: boolean; votes: ApprovalVote[] }> {
    return this.tx(() =>
      this.approvals.vote(vote, () => this.appendAuditInTx("decision.vote", vote.decisionId, { id: vote.decisionId, approver: vote.approver, ...(auditPayload as object) }, vote.at)),
    );
  }

  async approvalVotes(decisionId: string): Promise<ApprovalVote[]> {
    return this.read(() => this.approvals.votes(decisionId));
  }

  async listReviewed(chainId: number, limit = 50): Promise<StoredDecision[]> {
    return this.shown(this.read(() => (this.approvals.reviewedRows(chainId, limit) as DecisionRow[]).map(decisionFromRow)));
  }

  // --- end Approvals ---

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
      (this.stmts.listAudit.all(afterSeq, limit) as AuditRow[]).map(auditFromRow),
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

/**
 * Applies the numbered migrations (src/store/migrations/sqlite/) not yet applied, in one transaction, and refuses a
 * database whose schema is newer than them.
 */
function migrate(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  db.transaction(() => {
    const applied = (db.prepare(`SELECT max(version) AS v FROM schema_migrations`).get() as { v: number | null }).v ?? 0;
    const record = db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`);
    for (const m of pendingMigrations(loadMigrations("sqlite"), applied, "sqlite")) {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
}

function maybe(row: unknown): StoredDecision | undefined {
  return row ? decisionFromRow(row as DecisionRow) : undefined;
}

/** A failure inside a transaction as the store reports it: a conflict as itself, anything else STORE_UNAVAILABLE. */
function storeError(err: unknown): Error {
  if (err instanceof UniqueConflict || err instanceof CountersignError || err instanceof PositionConflict) return err;
  // The idempotency key is checked inside the transaction before the insert, so a unique violation left is the nonce's.
  if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") return new UniqueConflict("nonce");
  return unavailable(err);
}
