-- People in the loop: what a pending decision waits for (the rule, how many distinct approvers, until when) and the
-- approvers' votes, one per (decision, approver, figures shown) so that nobody counts twice.
CREATE TABLE IF NOT EXISTS approval_requests (
  decision_id TEXT PRIMARY KEY, rule TEXT NOT NULL, approvals_required INTEGER NOT NULL CHECK (approvals_required BETWEEN 1 AND 10),
  reversible INTEGER NOT NULL, description TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approval_votes (
  decision_id TEXT NOT NULL, approver TEXT NOT NULL, shown TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (decision_id, approver, shown)
);
