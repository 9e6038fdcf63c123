/**
 * The shared store: PostgreSQL (`pg`), for several co-signer replicas on several hosts (DATABASE_URL=postgres://…).
 *
 * It keeps the promises of every store (types.ts) across processes, in the database and not in a process:
 * - never sign twice: a decision is committed under the partial unique index on (chain, wallet, nonce) before its
 *   signature leaves; the replica that loses the race gets UniqueConflict and returns the winner's decision;
 * - one audit chain: every append locks the one-row `audit_head` (SELECT … FOR UPDATE) inside its transaction, so
 *   appends from all replicas are serialised; triggers refuse UPDATE, DELETE and TRUNCATE of the log;
 * - fail closed: a database that cannot be reached is STORE_UNAVAILABLE, and nothing is signed.
 */
import pg from "pg";
import { CountersignError } from "../errors";
import { GENESIS, linkHash, newDecisionId, toJson } from "./json";
import { loadMigrations, pendingMigrations } from "./migrations";
import { executionQueries, recordBlock, undoFrom } from "./postgres-executions";
import { incidentOps } from "./postgres-incidents";
import { auditFromRow, decisionFromRow, notPending, storedRequest, unavailable, type AuditRow, type DecisionRow } from "./rows";
import {
  PositionConflict,
  UniqueConflict,
  type ApprovalRequestRecord,
  type ApprovalVote,
  type BlockRecord,
  type Incident,
  type IncidentAction,
  type IncidentQuery,
  type IncidentState,
  type NewIncident,
  type StoredControlChange,
  type StoredExecution,
  type StoredOwnerExecution,
  type UndoneBlocks,
  type AuditRecord,
  type AuditVerification,
  type ChainPosition,
  type NewDecision,
  type PendingQuery,
  type Resolution,
  type Restatement,
  type Lease,
  type Store,
  type StoredDecision,
} from "./types";

type Queryable = Pick<pg.PoolClient, "query">;

export interface PostgresOptions {
  /** A schema of its own (created if missing): tests and side-by-side deployments in one database. */
  schema?: string;
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  /** Longest wait for a connection or a statement (ms, default 5,000): past it the store is unavailable. */
  timeoutMs?: number;
}

const DECISION_COLUMNS = `id, chain_id, wallet, nonce, digest, status, session_key, idempotency_key, request_hash, request, simulation,
  reasons, cosigner_signature, recipients, created_at, updated_at, tx_hash, decided_by`;

/**
 * The PostgreSQL store.
 * @example const store = await PostgresStore.open("postgres://127.0.0.1:5432/countersign")
 */
export class PostgresStore implements Store {
  readonly kind = "postgres";

  private constructor(
    private readonly pool: pg.Pool,
    /** How to open a connection outside the pool (a lease's own session). */
    private readonly clientConfig: pg.ClientConfig,
  ) {}

  /**
   * Connects, applies the migrations this code knows (one transaction, under an advisory lock so replicas starting
   * together do not race) and refuses a schema newer than them.
   * @throws CountersignError STORE_UNAVAILABLE when the database cannot be reached; Error when its schema is newer.
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const { schema } = options;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema name ${JSON.stringify(schema)} is not a plain identifier`);
    const timeoutMs = options.timeoutMs ?? 5_000;
    const config: pg.PoolConfig = {
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1_000,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    };
    if (schema) {
      const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
      try {
        await admin.connect();
        await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } catch (err) {
        throw unavailable(err);
      } finally {
        await admin.end().catch(() => undefined);
      }
    }
    const pool = new pg.Pool(config);
    // An idle connection that breaks (the server restarted) is dropped by the pool; without a listener the error
    // would end the process.
    pool.on("error", () => undefined);
    const { connectionString, connectionTimeoutMillis, options: sessionOptions } = config;
    const store = new PostgresStore(pool, { connectionString, connectionTimeoutMillis, ...(sessionOptions ? { options: sessionOptions } : {}) });
    try {
      await store.migrate();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return store;
  }

  /** Applies the migrations not yet applied, in one transaction. */
  private async migrate(): Promise<void> {
    const migrations = loadMigrations("postgres");
    await this.transaction(async (c) => {
      const { rows: where } = await c.query<{ schema: string | null }>(`SELECT current_schema() AS schema`);
      if (!where[0]?.schema) throw new Error("the database has no schema to create tables in (search_path names none that exists)");
      await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`countersign.migrate.${where[0].schema}`]);
      await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
      const { rows } = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM schema_migrations`);
      for (const m of pendingMigrations(migrations, rows[0]?.v ?? 0, "postgres")) {
        await c.query(m.sql);
        await c.query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, new Date().toISOString()]);
      }
    });
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  /**
   * A session-level advisory lock on a connection of its own: held while that session lives, so a replica that dies
   * (or loses the database) loses the lease with it, and another replica's next try takes it over. A host that
   * vanishes without closing its connection is found by TCP keepalives on both sides (the server drops the session
   * and its lock within about 15 s), and the holder checks its session every few seconds: a check that fails or
   * hangs ends the lease on the holder's side too, so two replicas never both believe they follow the chain for long.
   */
  async tryLease(name: string, heartbeatMs = 3_000): Promise<Lease | undefined> {
    const keepalives = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3";
    const options = [this.clientConfig.options, keepalives].filter(Boolean).join(" ");
    const client = new pg.Client({ ...this.clientConfig, options, keepAlive: true, keepAliveInitialDelayMillis: 5_000, query_timeout: heartbeatMs });
    let lost!: () => void;
    const gone = new Promise<void>((resolve) => (lost = resolve));
    client.on("error", () => lost());
    client.on("end", () => lost());
    try {
      await client.connect();
      const { rows } = await client.query<{ held: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS held`, [`countersign.lease.${name}`]);
      if (rows[0]?.held) {
        const heartbeat = setInterval(() => {
          client.query("SELECT 1").catch(() => {
            lost();
            void client.end().catch(() => undefined);
          });
        }, heartbeatMs);
        heartbeat.unref();
        void gone.then(() => clearInterval(heartbeat));
        return {
          lost: gone,
          async release() {
            clearInterval(heartbeat);
            await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`countersign.lease.${name}`]).catch(() => undefined);
            await client.end().catch(() => undefined);
          },
        };
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw unavailable(err);
    }
    await client.end().catch(() => undefined);
    return undefined;
  }

  /**
   * Runs a write in one transaction that first takes the audit chain's head: every write appends to the chain, and
   * taking the head first (never after a row lock) orders writes from every replica one way, so none deadlock.
   */
  private async tx<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    return this.transaction(async (c) => {
      await c.query(`SELECT seq FROM audit_head FOR UPDATE`);
      return fn(c);
    });
  }

  /** Runs `fn` in one transaction; a failure of the database is STORE_UNAVAILABLE (nothing is signed). */
  private async transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
    let broken = false;
    // The connection may break while it is checked out (the server restarts): the query in progress fails and the
    // connection is discarded; unheard, the client's error event would end the process.
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      if (err instanceof UniqueConflict || err instanceof CountersignError || err instanceof PositionConflict) throw err;
      const e = err as { code?: string; constraint?: string };
      if (e.code === "23505") throw new UniqueConflict(e.constraint === "decisions_idempotency" ? "idempotency" : "nonce");
      throw unavailable(err);
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw unavailable(err);
    }
  }

  async insert(decision: NewDecision, auditPayload: unknown): Promise<StoredDecision> {
    const now = new Date().toISOString();
    const id = newDecisionId();
    const request = storedRequest(decision);
    return this.tx(async (c) => {
      if (decision.idempotencyKey !== null) {
        const taken = await c.query(`SELECT 1 FROM decisions WHERE idempotency_key = $1`, [decision.idempotencyKey]);
        if (taken.rowCount) throw new UniqueConflict("idempotency");
      }
      const { rows } = await c.query<DecisionRow>(
        `INSERT INTO decisions (id, chain_id, wallet, nonce, digest, status, session_key, idempotency_key, request_hash, request,
           simulation, reasons, cosigner_signature, recipients, created_at, updated_at, decided_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16) RETURNING ${DECISION_COLUMNS}`,
        [
          id,
          decision.chainId,
          decision.wallet,
          decision.nonce,
          decision.digest,
          decision.status,
          decision.sessionKey,
          decision.idempotencyKey,
          decision.requestHash,
          request,
          decision.simulation === null ? null : toJson(decision.simulation),
          toJson(decision.reasons),
          decision.cosignerSignature,
          JSON.stringify(decision.recipients),
          now,
          decision.decidedBy ?? null,
        ],
      );
      if (decision.status === "approved") await rememberRecipients(c, decision.chainId, decision.wallet, decision.recipients);
      if (decision.approval && decision.status === "pending_approval") {
        const r = decision.approval;
        await c.query(
          `INSERT INTO approval_requests (decision_id, rule, approvals_required, reversible, description, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
          [id, r.rule, r.approvalsRequired, r.reversible, r.description, r.expiresAt],
        );
      }
      await appendInTx(c, "decision", id, { id, ...(auditPayload as object) }, now);
      return decisionFromRow(rows[0]!);
    });
  }

  async resolvePending(id: string, update: Resolution, auditPayload: unknown): Promise<StoredDecision> {
    const now = new Date().toISOString();
    return this.tx(async (c) => {
      const { rows } = await c.query<DecisionRow>(
        `UPDATE decisions SET status = $2, reasons = $3, simulation = $4, cosigner_signature = $5, updated_at = $6, decided_by = $7
         WHERE id = $1 AND status = 'pending_approval' RETURNING ${DECISION_COLUMNS}`,
        [
          id,
          update.status,
          toJson(update.reasons),
          update.simulation === null ? null : toJson(update.simulation),
          update.cosignerSignature,
          now,
          update.decidedBy,
        ],
      );
      if (rows.length !== 1) throw notPending(id);
      const row = decisionFromRow(rows[0]!);
      if (row.status === "approved") await rememberRecipients(c, row.chainId, row.wallet, row.recipients);
      await appendInTx(c, `decision.${update.status}`, id, { id, decidedBy: update.decidedBy, ...(auditPayload as object) }, now);
      return row;
    });
  }

  async restatePending(id: string, update: Restatement, auditPayload: unknown): Promise<StoredDecision> {
    const now = new Date().toISOString();
    return this.tx(async (c) => {
      const { rows } = await c.query<DecisionRow>(
        `UPDATE decisions SET reasons = $2, simulation = $3, recipients = $4, updated_at = $5
         WHERE id = $1 AND status = 'pending_approval' RETURNING ${DECISION_COLUMNS}`,
        [id, toJson(update.reasons), update.simulation === null ? null : toJson(update.simulation), JSON.stringify(update.recipients), now],
      );
      if (rows.length !== 1) throw notPending(id);
      await appendInTx(c, "decision.stale", id, { id, ...(auditPayload as object) }, now);
      return decisionFromRow(rows[0]!);
    });
  }

  async get(id: string): Promise<StoredDecision | undefined> {
    return maybe(await this.query<DecisionRow>(`SELECT ${DECISION_COLUMNS} FROM decisions WHERE id = $1`, [id]));
  }

  async findByDigest(chainId: number, wallet: string, digest: string): Promise<StoredDecision | undefined> {
    return maybe(
      await this.query<DecisionRow>(
        `SELECT ${DECISION_COLUMNS} FROM decisions WHERE chain_id = $1 AND wallet = $2 AND digest = $3 ORDER BY created_at DESC, seq DESC LIMIT 1`,
        [chainId, wallet, digest],
      ),
    );
  }

  async findLiveByNonce(chainId: number, wallet: string, nonce: string): Promise<StoredDecision | undefined> {
    return maybe(
      await this.query<DecisionRow>(`SELECT ${DECISION_COLUMNS} FROM decisions WHERE chain_id = $1 AND wallet = $2 AND nonce = $3 AND status <> 'rejected'`, [
        chainId,
        wallet,
        nonce,
      ]),
    );
  }

  async findByIdempotencyKey(key: string): Promise<StoredDecision | undefined> {
    return maybe(await this.query<DecisionRow>(`SELECT ${DECISION_COLUMNS} FROM decisions WHERE idempotency_key = $1`, [key]));
  }

  async listPending(query: PendingQuery): Promise<StoredDecision[]> {
    const rows = await this.query<DecisionRow>(
      `SELECT ${DECISION_COLUMNS} FROM decisions WHERE chain_id = $1 AND status = 'pending_approval'
         AND ($2::text IS NULL OR wallet = $2) AND ($3::text IS NULL OR created_at < $3)
       ORDER BY created_at DESC, seq DESC LIMIT $4`,
      [query.chainId, query.wallet ?? null, query.createdBefore ?? null, query.limit ?? 100],
    );
    return rows.map(decisionFromRow);
  }

  async isRecipientKnown(chainId: number, wallet: string, recipient: string): Promise<boolean> {
    const rows = await this.query(`SELECT 1 FROM paid_recipients WHERE chain_id = $1 AND wallet = $2 AND recipient = $3`, [chainId, wallet, recipient]);
    return rows.length > 0;
  }

  async activeAnomaly(chainId: number, wallet: string): Promise<string | undefined> {
    const rows = await this.query<{ reason: string }>(
      `SELECT reason FROM anomalies WHERE chain_id = $1 AND wallet = $2 AND cleared_at IS NULL ORDER BY id DESC LIMIT 1`,
      [chainId, wallet],
    );
    return rows[0]?.reason;
  }

  async flagAnomaly(chainId: number, wallet: string, reason: string, evidence: unknown = {}, auditKind = "anomaly"): Promise<AuditRecord> {
    const now = new Date().toISOString();
    return this.tx(async (c) => {
      await c.query(`INSERT INTO anomalies (chain_id, wallet, reason, created_at) VALUES ($1, $2, $3, $4)`, [chainId, wallet, reason, now]);
      return appendInTx(c, auditKind, wallet, { chainId, wallet, reason, ...(evidence as object) }, now);
    });
  }

  async clearAnomaly(chainId: number, wallet: string, by: string): Promise<string | undefined> {
    const now = new Date().toISOString();
    return this.tx(async (c) => {
      const { rows } = await c.query<{ reason: string }>(
        `SELECT reason FROM anomalies WHERE chain_id = $1 AND wallet = $2 AND cleared_at IS NULL ORDER BY id DESC LIMIT 1 FOR UPDATE`,
        [chainId, wallet],
      );
      const was = rows[0]?.reason;
      await c.query(`UPDATE anomalies SET cleared_at = $1 WHERE chain_id = $2 AND wallet = $3 AND cleared_at IS NULL`, [now, chainId, wallet]);
      await appendInTx(c, "anomaly.cleared", wallet, { chainId, wallet, by, was: was ?? null }, now);
      return was;
    });
  }

  async position(chainId: number, follower: string): Promise<ChainPosition | undefined> {
    const rows = await this.query<{ block_number: string; block_hash: string }>(
      `SELECT block_number, block_hash FROM monitor_positions WHERE chain_id = $1 AND follower = $2`,
      [chainId, follower],
    );
    return rows[0] ? { blockNumber: BigInt(rows[0].block_number), blockHash: rows[0].block_hash } : undefined;
  }

  async setPosition(chainId: number, follower: string, position: ChainPosition): Promise<void> {
    await this.tx((c) => upsertPosition(c, chainId, follower, position));
  }

  // --- Executions: postgres-executions.ts ---

  async recordBlock(record: BlockRecord): Promise<void> {
    const now = new Date().toISOString();
    await this.tx((c) => recordBlock(c, record, upsertPosition, appendInTx, now));
  }

  async undoFrom(chainId: number, follower: string, fromBlock: bigint, position: ChainPosition): Promise<UndoneBlocks> {
    const now = new Date().toISOString();
    return this.tx((c) => undoFrom(c, chainId, follower, fromBlock, position, upsertPosition, appendInTx, now));
  }

  async executionsOfDecision(decisionId: string): Promise<StoredExecution[]> {
    return this.reading((c) => executionQueries.ofDecision(c, decisionId));
  }

  async executionByDigest(chainId: number, wallet: string, digest: string): Promise<StoredExecution | undefined> {
    return this.reading((c) => executionQueries.byDigest(c, chainId, wallet, digest));
  }

  async executionsFrom(chainId: number, fromBlock: bigint): Promise<StoredExecution[]> {
    return this.reading((c) => executionQueries.chainFrom(c, chainId, fromBlock));
  }

  async ownerExecutions(chainId: number, wallet: string, fromBlock = 0n): Promise<StoredOwnerExecution[]> {
    return this.reading((c) => executionQueries.ownerOf(c, chainId, wallet, fromBlock));
  }

  async controlChanges(chainId: number, wallet: string, fromBlock = 0n): Promise<StoredControlChange[]> {
    return this.reading((c) => executionQueries.controlOf(c, chainId, wallet, fromBlock));
  }

  async recentBlocks(chainId: number, follower: string, limit: number): Promise<{ number: bigint; hash: string; parentHash: string }[]> {
    return this.reading((c) => executionQueries.recent(c, chainId, follower, limit));
  }

  // --- Approvals: requests and votes ---

  async approvalRequest(decisionId: string): Promise<ApprovalRequestRecord | undefined> {
    const rows = await this.query<{ decision_id: string; rule: string; approvals_required: number; reversible: boolean; description: string; expires_at: string }>(
      `SELECT * FROM approval_requests WHERE decision_id = $1`,
      [decisionId],
    );
    const r = rows[0];
    return r
      ? { decisionId: r.decision_id, rule: r.rule, approvalsRequired: r.approvals_required, reversible: r.reversible, description: r.description, expiresAt: r.expires_at }
      : undefined;
  }

  async addApprovalVote(vote: ApprovalVote, auditPayload: unknown): Promise<{ added: boolean; votes: ApprovalVote[] }> {
    return this.tx(async (c) => {
      const { rows } = await c.query<{ status: string }>(`SELECT status FROM decisions WHERE id = $1 FOR UPDATE`, [vote.decisionId]);
      const status = rows[0]?.status;
      if (status === undefined) throw new CountersignError("NOT_FOUND", `no decision ${vote.decisionId}`, { id: vote.decisionId });
      if (status !== "pending_approval") {
        throw new CountersignError("NOT_PENDING", `decision ${vote.decisionId} is ${status}, not pending approval`, { id: vote.decisionId, state: status });
      }
      const inserted = await c.query(`INSERT INTO approval_votes (decision_id, approver, shown, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
        vote.decisionId,
        vote.approver,
        vote.shown,
        vote.at,
      ]);
      const added = inserted.rowCount === 1;
      if (added) await appendInTx(c, "decision.vote", vote.decisionId, { id: vote.decisionId, approver: vote.approver, ...(auditPayload as object) }, vote.at);
      return { added, votes: await votesOf(c, vote.decisionId) };
    });
  }

  async approvalVotes(decisionId: string): Promise<ApprovalVote[]> {
    return this.reading((c) => votesOf(c, decisionId));
  }

  async listReviewed(chainId: number, limit = 50): Promise<StoredDecision[]> {
    const rows = await this.query<DecisionRow>(
      `SELECT ${DECISION_COLUMNS} FROM decisions d WHERE chain_id = $1 AND status <> 'pending_approval'
         AND (decided_by IS NOT NULL OR EXISTS (SELECT 1 FROM approval_requests r WHERE r.decision_id = d.id))
       ORDER BY updated_at DESC, seq DESC LIMIT $2`,
      [chainId, limit],
    );
    return rows.map(decisionFromRow);
  }

  // --- Incidents: postgres-incidents.ts ---

  async openIncident(incident: NewIncident): Promise<{ incident: Incident; opened: boolean; record: AuditRecord }> {
    const now = new Date().toISOString();
    return this.tx((c) => incidentOps.open(c, incident, appendInTx, flagInTx, now));
  }

  async recordIncidentAction(
    id: string,
    action: IncidentAction,
    auditKind: string,
    auditPayload: Record<string, unknown> = {},
    replaceLast = false,
  ): Promise<{ incident: Incident; record: AuditRecord }> {
    const now = new Date().toISOString();
    return this.tx((c) => incidentOps.action(c, id, action, auditKind, auditPayload, replaceLast, appendInTx, now));
  }

  async acknowledgeIncident(id: string, by: string, note?: string): Promise<Incident> {
    const now = new Date().toISOString();
    return this.tx((c) => incidentOps.acknowledge(c, id, by, note, appendInTx, now));
  }

  async resolveIncident(id: string, by: string, note?: string): Promise<Incident> {
    const now = new Date().toISOString();
    return this.tx((c) => incidentOps.resolve(c, id, by, note, appendInTx, now));
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    return this.reading((c) => incidentOps.get(c, id));
  }

  async listIncidents(query: IncidentQuery = {}): Promise<Incident[]> {
    return this.reading((c) => incidentOps.list(c, query));
  }

  async countIncidents(): Promise<{ rule: string; state: IncidentState; count: number }[]> {
    return this.reading((c) => incidentOps.count(c));
  }

  /** A read on the pool; a failure of the database is STORE_UNAVAILABLE. */
  private async reading<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    try {
      return await fn(this.pool);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async appendAudit(kind: string, ref: string | null, payload: unknown): Promise<AuditRecord> {
    const now = new Date().toISOString();
    return this.tx((c) => appendInTx(c, kind, ref, payload, now));
  }

  async auditHead(): Promise<{ seq: number; hash: string }> {
    const rows = await this.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM audit_head`);
    return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : { seq: 0, hash: GENESIS };
  }

  async listAudit(afterSeq = 0, limit = 100): Promise<AuditRecord[]> {
    const rows = await this.query<AuditRow>(`SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq ASC LIMIT $2`, [afterSeq, limit]);
    return rows.map(auditFromRow);
  }

  /** @example await store.verifyAudit() // { ok: true, checked: 42 } */
  async verifyAudit(): Promise<AuditVerification> {
    let prev = GENESIS;
    let expectedSeq = 1;
    let checked = 0;
    for (;;) {
      const page = await this.query<AuditRow>(`SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq ASC LIMIT 1000`, [expectedSeq]);
      if (page.length === 0) break;
      for (const r of page) {
        const seq = Number(r.seq);
        if (seq !== expectedSeq) return { ok: false, checked, brokenAt: expectedSeq, reason: `record ${expectedSeq} is missing` };
        if (r.prev_hash !== prev) return { ok: false, checked, brokenAt: seq, reason: "prev_hash does not match the previous record" };
        if (linkHash(r.prev_hash, seq, r.at, r.kind, r.ref, r.payload) !== r.hash) {
          return { ok: false, checked, brokenAt: seq, reason: "the record's content does not match its hash" };
        }
        prev = r.hash;
        expectedSeq += 1;
        checked += 1;
      }
    }
    return { ok: true, checked };
  }
}

/** Appends one audit record inside the caller's transaction, holding the chain's head until it commits. */
async function appendInTx(c: Queryable, kind: string, ref: string | null, payload: unknown, at: string): Promise<AuditRecord> {
  const { rows } = await c.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM audit_head FOR UPDATE`);
  const seq = Number(rows[0]!.seq) + 1;
  const prevHash = rows[0]!.hash;
  const body = toJson(payload);
  const hash = linkHash(prevHash, seq, at, kind, ref, body);
  await c.query(`INSERT INTO audit_log (seq, at, kind, ref, payload, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [seq, at, kind, ref, body, prevHash, hash]);
  await c.query(`UPDATE audit_head SET seq = $1, hash = $2`, [seq, hash]);
  return { seq, at, kind, ref, payload, prevHash, hash };
}

async function votesOf(c: Queryable, decisionId: string): Promise<ApprovalVote[]> {
  const { rows } = await c.query<{ decision_id: string; approver: string; shown: string; at: string }>(
    `SELECT decision_id, approver, shown, at FROM approval_votes WHERE decision_id = $1 ORDER BY at ASC, seq ASC`,
    [decisionId],
  );
  return rows.map((r) => ({ decisionId: r.decision_id, approver: r.approver, shown: r.shown, at: r.at }));
}

async function flagInTx(c: Queryable, chainId: number, wallet: string, reason: string, at: string): Promise<void> {
  await c.query(`INSERT INTO anomalies (chain_id, wallet, reason, created_at) VALUES ($1, $2, $3, $4)`, [chainId, wallet, reason, at]);
}

async function rememberRecipients(c: Queryable, chainId: number, wallet: string, recipients: readonly string[]): Promise<void> {
  for (const r of recipients) {
    await c.query(`INSERT INTO paid_recipients (chain_id, wallet, recipient) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [chainId, wallet, r]);
  }
}

async function upsertPosition(c: Queryable, chainId: number, follower: string, position: ChainPosition): Promise<void> {
  await c.query(
    `INSERT INTO monitor_positions (chain_id, follower, block_number, block_hash, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (chain_id, follower) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash,
       updated_at = excluded.updated_at`,
    [chainId, follower, position.blockNumber.toString(), position.blockHash, new Date().toISOString()],
  );
}

function maybe(rows: DecisionRow[]): StoredDecision | undefined {
  return rows[0] ? decisionFromRow(rows[0]) : undefined;
}
