-- Fewer index writes per decision: the index on (session_key, created_at) served no query, and the pending listing
-- needs only the pending decisions indexed, which a decision that is approved or rejected on the spot never is.
-- Building the new index reads the whole decisions table (writers wait meanwhile, as for any migration): on a large
-- table that takes longer than the store's statement timeout, which would fail the upgrade at every start.
SET LOCAL statement_timeout = 0;
DROP INDEX IF EXISTS decisions_session_key;
DROP INDEX IF EXISTS decisions_pending;
CREATE INDEX decisions_pending ON decisions (chain_id, created_at) WHERE status = 'pending_approval';
