/**
 * The breaker's incidents in PostgreSQL (the `Incidents` interface of types.ts; table in migration 002), the same
 * records and audit kinds as sqlite-incidents.ts. Trips of the same kind from several replicas at once are
 * serialised by a transaction-scoped advisory lock on (chain, wallet, kind, key), so the second joins the first's
 * incident; the partial unique index stays the last word. Every function runs inside the caller's transaction.
 */
import type pg from "pg";
import { CountersignError } from "../errors";
import { toJson } from "./json";
import { incidentFromRow, newIncidentId, notOpen, type IncidentRow } from "./rows";
import type { AuditRecord, Incident, IncidentAction, IncidentEvidence, IncidentQuery, IncidentState, NewIncident } from "./types";

type Queryable = Pick<pg.PoolClient, "query">;
type Append = (c: Queryable, kind: string, ref: string | null, payload: unknown, at: string) => Promise<AuditRecord>;
type Flag = (c: Queryable, chainId: number, wallet: string, reason: string, at: string) => Promise<void>;

const COLUMNS = `id, chain_id, wallet, session_key, rule, summary, evidence, action_kind, actions, state, opened_at, updated_at,
  acknowledged_by, acknowledged_at, resolved_by, resolved_at, note`;

async function get(c: Queryable, id: string, lock = false): Promise<Incident | undefined> {
  const { rows } = await c.query<IncidentRow>(`SELECT ${COLUMNS} FROM incidents WHERE id = $1${lock ? " FOR UPDATE" : ""}`, [id]);
  return rows[0] ? incidentFromRow(rows[0]) : undefined;
}

async function mustGet(c: Queryable, id: string, lock = false): Promise<Incident> {
  const found = await get(c, id, lock);
  if (!found) throw new CountersignError("NOT_FOUND", `no incident ${id}`, { id });
  return found;
}


/**
 * The Incidents operations on a transaction's connection.
 * @example await incidentOps.open(client, incident, appendInTx, flag, now)
 */
export const incidentOps = {
  /** Opens an incident or joins the unresolved one of the same kind. */
  async open(c: Queryable, n: NewIncident, append: Append, flag: Flag, at: string): Promise<{ incident: Incident; opened: boolean; record: AuditRecord }> {
    await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`countersign.incident.${n.chainId}.${n.wallet}.${n.actionKind}.${n.sessionKey ?? ""}`]);
    if (n.flagReason !== undefined) await flag(c, n.chainId, n.wallet, n.flagReason, at);
    const { rows } = await c.query<IncidentRow>(
      `SELECT ${COLUMNS} FROM incidents WHERE chain_id = $1 AND wallet = $2 AND action_kind = $3 AND COALESCE(session_key, '') = $4
         AND state <> 'resolved' FOR UPDATE`,
      [n.chainId, n.wallet, n.actionKind, n.sessionKey ?? ""],
    );
    const existing = rows[0];
    if (existing) {
      const evidence = [...(JSON.parse(existing.evidence) as IncidentEvidence[]), n.evidence];
      await c.query(`UPDATE incidents SET evidence = $1, updated_at = $2 WHERE id = $3`, [toJson(evidence), at, existing.id]);
      const record = await append(c, "incident.evidence", existing.id, { id: existing.id, chainId: n.chainId, wallet: n.wallet, evidence: n.evidence }, at);
      return { incident: await mustGet(c, existing.id), opened: false, record };
    }
    const id = newIncidentId();
    await c.query(
      `INSERT INTO incidents (id, chain_id, wallet, session_key, rule, summary, evidence, action_kind, actions, state, opened_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '[]', 'open', $9, $9)`,
      [id, n.chainId, n.wallet, n.sessionKey, n.rule, n.summary, toJson([n.evidence]), n.actionKind, at],
    );
    const record = await append(
      c,
      "incident.opened",
      id,
      { id, chainId: n.chainId, wallet: n.wallet, sessionKey: n.sessionKey, rule: n.rule, summary: n.summary, actionKind: n.actionKind, evidence: n.evidence },
      at,
    );
    return { incident: await mustGet(c, id), opened: true, record };
  },

  /** Appends (or replaces the newest) action, with its audit record. */
  async action(
    c: Queryable,
    id: string,
    action: IncidentAction,
    auditKind: string,
    payload: Record<string, unknown>,
    replaceLast: boolean,
    append: Append,
    at: string,
  ): Promise<{ incident: Incident; record: AuditRecord }> {
    const current = await mustGet(c, id, true);
    const actions = replaceLast && current.actions.length > 0 ? [...current.actions.slice(0, -1), action] : [...current.actions, action];
    await c.query(`UPDATE incidents SET actions = $1, updated_at = $2 WHERE id = $3`, [toJson(actions), at, id]);
    const record = await append(c, auditKind, current.wallet, { incidentId: id, chainId: current.chainId, wallet: current.wallet, ...action, ...payload }, at);
    return { incident: await mustGet(c, id), record };
  },

  async acknowledge(c: Queryable, id: string, by: string, note: string | undefined, append: Append, at: string): Promise<Incident> {
    const current = await mustGet(c, id, true);
    const result = await c.query(
      `UPDATE incidents SET state = 'acknowledged', acknowledged_by = $1, acknowledged_at = $2, updated_at = $2, note = COALESCE($3, note)
       WHERE id = $4 AND state = 'open'`,
      [by, at, note ?? null, id],
    );
    if (result.rowCount !== 1) throw notOpen(current, "acknowledged");
    await append(c, "incident.acknowledged", id, { id, by, note: note ?? null }, at);
    return mustGet(c, id);
  },

  async resolve(c: Queryable, id: string, by: string, note: string | undefined, append: Append, at: string): Promise<Incident> {
    const current = await mustGet(c, id, true);
    const result = await c.query(
      `UPDATE incidents SET state = 'resolved', resolved_by = $1, resolved_at = $2, updated_at = $2, note = COALESCE($3, note)
       WHERE id = $4 AND state <> 'resolved'`,
      [by, at, note ?? null, id],
    );
    if (result.rowCount !== 1) throw notOpen(current, "resolved");
    await append(c, "incident.resolved", id, { id, by, note: note ?? null }, at);
    return mustGet(c, id);
  },

  get,

  async list(c: Queryable, q: IncidentQuery): Promise<Incident[]> {
    const { rows } = await c.query<IncidentRow>(
      `SELECT ${COLUMNS} FROM incidents WHERE ($1::integer IS NULL OR chain_id = $1) AND ($2::text IS NULL OR wallet = $2)
         AND ($3::text IS NULL OR state = $3) AND ($4::text IS NULL OR rule = $4) ORDER BY opened_at DESC, seq DESC LIMIT $5`,
      [q.chainId ?? null, q.wallet ?? null, q.state ?? null, q.rule ?? null, q.limit ?? 100],
    );
    return rows.map(incidentFromRow);
  },

  async count(c: Queryable): Promise<{ rule: string; state: IncidentState; count: number }[]> {
    const { rows } = await c.query<{ rule: string; state: IncidentState; count: string }>(`SELECT rule, state, count(*) AS count FROM incidents GROUP BY rule, state`);
    return rows.map((r) => ({ rule: r.rule, state: r.state, count: Number(r.count) }));
  },
};
