/**
 * The SQLite tables and statements of approval requests and votes (the `ApprovalRecords` interface of types.ts), kept
 * beside sqlite.ts so that file only delegates. Every function runs inside the caller's transaction or read.
 */
import type Database from "better-sqlite3";
import { CountersignError } from "../errors";
import type { ApprovalRequestRecord, ApprovalVote, NewApprovalRequest } from "./types";

// The tables are in migrations/sqlite/003_approvals.sql: one request per decision; one vote per (decision, approver,
// figures shown), so an approver never counts twice.

interface RequestRow {
  decision_id: string;
  rule: string;
  approvals_required: number;
  reversible: number;
  description: string;
  expires_at: string;
}

interface VoteRow {
  decision_id: string;
  approver: string;
  shown: string;
  at: string;
}

/**
 * Approval requests and votes on one SQLite connection.
 * @example const approvals = new SqliteApprovals(db); approvals.request("op_…", request)
 */
export class SqliteApprovals {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      insertRequest: db.prepare(`INSERT INTO approval_requests (decision_id, rule, approvals_required, reversible, description, expires_at)
        VALUES (?, ?, ?, ?, ?, ?)`),
      request: db.prepare(`SELECT * FROM approval_requests WHERE decision_id = ?`),
      status: db.prepare(`SELECT status FROM decisions WHERE id = ?`),
      insertVote: db.prepare(`INSERT OR IGNORE INTO approval_votes (decision_id, approver, shown, at) VALUES (?, ?, ?, ?)`),
      votes: db.prepare(`SELECT * FROM approval_votes WHERE decision_id = ? ORDER BY at ASC, rowid ASC`),
      reviewed: db.prepare(`SELECT d.* FROM decisions d WHERE d.chain_id = ? AND d.status != 'pending_approval'
        AND (d.decided_by IS NOT NULL OR EXISTS (SELECT 1 FROM approval_requests r WHERE r.decision_id = d.id))
        ORDER BY d.updated_at DESC, d.rowid DESC LIMIT ?`),
    };
  }

  /** Writes the request of a decision just inserted. */
  request(decisionId: string, r: NewApprovalRequest): void {
    this.stmts.insertRequest.run(decisionId, r.rule, r.approvalsRequired, r.reversible ? 1 : 0, r.description, r.expiresAt);
  }

  get(decisionId: string): ApprovalRequestRecord | undefined {
    const row = this.stmts.request.get(decisionId) as RequestRow | undefined;
    return row
      ? {
          decisionId: row.decision_id,
          rule: row.rule,
          approvalsRequired: row.approvals_required,
          reversible: row.reversible === 1,
          description: row.description,
          expiresAt: row.expires_at,
        }
      : undefined;
  }

  /** Adds a vote to a pending decision; `appendAudit` only when it was added. */
  vote(v: ApprovalVote, appendAudit: () => void): { added: boolean; votes: ApprovalVote[] } {
    const status = (this.stmts.status.get(v.decisionId) as { status: string } | undefined)?.status;
    if (status === undefined) throw new CountersignError("NOT_FOUND", `no decision ${v.decisionId}`, { id: v.decisionId });
    if (status !== "pending_approval") {
      throw new CountersignError("NOT_PENDING", `decision ${v.decisionId} is ${status}, not pending approval`, { id: v.decisionId, state: status });
    }
    const added = this.stmts.insertVote.run(v.decisionId, v.approver, v.shown, v.at).changes === 1;
    if (added) appendAudit();
    return { added, votes: this.votes(v.decisionId) };
  }

  votes(decisionId: string): ApprovalVote[] {
    return (this.stmts.votes.all(decisionId) as VoteRow[]).map((r) => ({ decisionId: r.decision_id, approver: r.approver, shown: r.shown, at: r.at }));
  }

  /** Rows of the decisions people settled (or that expired), newest first. */
  reviewedRows(chainId: number, limit: number): unknown[] {
    return this.stmts.reviewed.all(chainId, limit);
  }
}
