-- Fewer index writes per decision: the index on (session_key, created_at) served no query, and the pending listing
-- needs only the pending decisions indexed, which a decision that is approved or rejected on the spot never is.
DROP INDEX IF EXISTS decisions_session_key;
DROP INDEX IF EXISTS decisions_pending;
CREATE INDEX decisions_pending ON decisions (chain_id, created_at) WHERE status = 'pending_approval';
