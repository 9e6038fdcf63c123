/**
 * The breaker's incidents in SQLite (the `Incidents` part of the store, issue 10 part B). The partial unique index
 * keeps at most one unresolved incident per (chain, wallet, action kind, session key): a second trip of the same kind
 * joins it, whichever process trips. Every method runs inside the caller's transaction (SqliteStore.tx) and appends
 * its audit records through the callback it is given, so an incident and its audit record commit as one.
 */
import type Database from "better-sqlite3";
import { CountersignError } from "../errors";
import { toJson } from "./json";
import { incidentFromRow, newIncidentId, notOpen, type IncidentRow } from "./rows";

type Append = (kind: string, ref: string | null, payload: unknown, at: string) => AuditRecord;
type Flag = (chainId: number, wallet: string, reason: string, at: string) => void;
import type { AuditRecord, Incident, IncidentAction, IncidentEvidence, IncidentQuery, IncidentState, NewIncident } from "./types";

// The table is in migrations/sqlite/002_monitor.sql.
/**
 * The incident statements of one SQLite connection.
 * @example const incidents = new SqliteIncidents(db); store.tx(() => incidents.open(incident, append, flag, now))
 */
export class SqliteIncidents {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      insert: db.prepare(`INSERT INTO incidents (id, chain_id, wallet, session_key, rule, summary, evidence, action_kind, actions, state,
        opened_at, updated_at) VALUES (@id, @chain_id, @wallet, @session_key, @rule, @summary, @evidence, @action_kind, '[]', 'open',
        @at, @at)`),
      get: db.prepare(`SELECT * FROM incidents WHERE id = ?`),
      unresolved: db.prepare(`SELECT * FROM incidents WHERE chain_id = ? AND wallet = ? AND action_kind = ? AND COALESCE(session_key, '') = ?
        AND state != 'resolved'`),
      setEvidence: db.prepare(`UPDATE incidents SET evidence = ?, updated_at = ? WHERE id = ?`),
      setActions: db.prepare(`UPDATE incidents SET actions = ?, updated_at = ? WHERE id = ?`),
      ack: db.prepare(`UPDATE incidents SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, updated_at = ?,
        note = COALESCE(?, note) WHERE id = ? AND state = 'open'`),
      resolve: db.prepare(`UPDATE incidents SET state = 'resolved', resolved_by = ?, resolved_at = ?, updated_at = ?, note = COALESCE(?, note)
        WHERE id = ? AND state != 'resolved'`),
      list: db.prepare(`SELECT * FROM incidents WHERE (@chain_id IS NULL OR chain_id = @chain_id) AND (@wallet IS NULL OR wallet = @wallet)
        AND (@state IS NULL OR state = @state) AND (@rule IS NULL OR rule = @rule) ORDER BY opened_at DESC, rowid DESC LIMIT @limit`),
      count: db.prepare(`SELECT rule, state, COUNT(*) AS count FROM incidents GROUP BY rule, state`),
    };
  }

  /** Opens an incident or joins the unresolved one of the same kind (in the caller's transaction). */
  open(n: NewIncident, append: Append, flag: Flag, at: string): { incident: Incident; opened: boolean; record: AuditRecord } {
    if (n.flagReason !== undefined) flag(n.chainId, n.wallet, n.flagReason, at);
    const existing = this.stmts.unresolved.get(n.chainId, n.wallet, n.actionKind, n.sessionKey ?? "") as IncidentRow | undefined;
    if (existing) {
      const evidence = [...(JSON.parse(existing.evidence) as IncidentEvidence[]), n.evidence];
      this.stmts.setEvidence.run(toJson(evidence), at, existing.id);
      const record = append("incident.evidence", existing.id, { id: existing.id, chainId: n.chainId, wallet: n.wallet, evidence: n.evidence }, at);
      return { incident: this.mustGet(existing.id), opened: false, record };
    }
    const id = newIncidentId();
    this.stmts.insert.run({
      id,
      chain_id: n.chainId,
      wallet: n.wallet,
      session_key: n.sessionKey,
      rule: n.rule,
      summary: n.summary,
      evidence: toJson([n.evidence]),
      action_kind: n.actionKind,
      at,
    });
    const record = append(
      "incident.opened",
      id,
      { id, chainId: n.chainId, wallet: n.wallet, sessionKey: n.sessionKey, rule: n.rule, summary: n.summary, actionKind: n.actionKind, evidence: n.evidence },
      at,
    );
    return { incident: this.mustGet(id), opened: true, record };
  }

  /** Appends (or replaces the newest) action, with its audit record. */
  action(
    id: string,
    action: IncidentAction,
    auditKind: string,
    payload: Record<string, unknown>,
    replaceLast: boolean,
    append: Append,
    at: string,
  ): { incident: Incident; record: AuditRecord } {
    const current = this.mustGet(id);
    const actions = replaceLast && current.actions.length > 0 ? [...current.actions.slice(0, -1), action] : [...current.actions, action];
    this.stmts.setActions.run(toJson(actions), at, id);
    const record = append(auditKind, current.wallet, { incidentId: id, chainId: current.chainId, wallet: current.wallet, ...action, ...payload }, at);
    return { incident: this.mustGet(id), record };
  }

  acknowledge(id: string, by: string, note: string | undefined, append: Append, at: string): Incident {
    const current = this.mustGet(id);
    if (this.stmts.ack.run(by, at, at, note ?? null, id).changes !== 1) throw notOpen(current, "acknowledged");
    append("incident.acknowledged", id, { id, by, note: note ?? null }, at);
    return this.mustGet(id);
  }

  resolve(id: string, by: string, note: string | undefined, append: Append, at: string): Incident {
    const current = this.mustGet(id);
    if (this.stmts.resolve.run(by, at, at, note ?? null, id).changes !== 1) throw notOpen(current, "resolved");
    append("incident.resolved", id, { id, by, note: note ?? null }, at);
    return this.mustGet(id);
  }

  get(id: string): Incident | undefined {
    const row = this.stmts.get.get(id) as IncidentRow | undefined;
    return row ? incidentFromRow(row) : undefined;
  }

  list(q: IncidentQuery): Incident[] {
    return (
      this.stmts.list.all({
        chain_id: q.chainId ?? null,
        wallet: q.wallet ?? null,
        state: q.state ?? null,
        rule: q.rule ?? null,
        limit: q.limit ?? 100,
      }) as IncidentRow[]
    ).map(incidentFromRow);
  }

  count(): { rule: string; state: IncidentState; count: number }[] {
    return this.stmts.count.all() as { rule: string; state: IncidentState; count: number }[];
  }

  private mustGet(id: string): Incident {
    const found = this.get(id);
    if (!found) throw new CountersignError("NOT_FOUND", `no incident ${id}`, { id });
    return found;
  }
}
