-- People in the loop: what a pending decision waits for (the rule, how many distinct approvers, until when) and the
-- approvers' votes, one per (decision, approver, figures shown) so that nobody counts twice, whichever replica counts.
CREATE TABLE approval_requests (
  decision_id TEXT PRIMARY KEY REFERENCES decisions (id), rule TEXT NOT NULL,
  approvals_required INTEGER NOT NULL CHECK (approvals_required BETWEEN 1 AND 10),
  reversible BOOLEAN NOT NULL, description TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE TABLE approval_votes (
  seq BIGSERIAL UNIQUE,
  decision_id TEXT NOT NULL REFERENCES decisions (id), approver TEXT NOT NULL, shown TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (decision_id, approver, shown)
);
