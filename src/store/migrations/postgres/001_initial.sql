-- Decisions, known recipients, anomaly flags, the monitor's position and the hash-chained audit log.
-- Text columns hold what the SQLite store holds (ISO timestamps, decimal strings, JSON), so both stores answer alike.
CREATE TABLE decisions (
  seq BIGSERIAL UNIQUE,
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
CREATE UNIQUE INDEX decisions_live_nonce ON decisions (chain_id, wallet, nonce) WHERE status <> 'rejected';
CREATE INDEX decisions_digest ON decisions (digest);
CREATE UNIQUE INDEX decisions_idempotency ON decisions (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX decisions_session_key ON decisions (session_key, created_at);
CREATE INDEX decisions_pending ON decisions (chain_id, status, created_at);
CREATE TABLE paid_recipients (
  chain_id INTEGER NOT NULL, wallet TEXT NOT NULL, recipient TEXT NOT NULL,
  PRIMARY KEY (chain_id, wallet, recipient)
);
CREATE TABLE anomalies (
  id BIGSERIAL PRIMARY KEY,
  chain_id INTEGER NOT NULL, wallet TEXT NOT NULL, reason TEXT NOT NULL,
  created_at TEXT NOT NULL, cleared_at TEXT
);
CREATE TABLE monitor_positions (
  chain_id INTEGER NOT NULL, follower TEXT NOT NULL, block_number TEXT NOT NULL, block_hash TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (chain_id, follower)
);
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  ref TEXT,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
-- One row: the chain's head. Appends lock it (SELECT … FOR UPDATE), so appends from every replica are serialised
-- by the database and the chain stays one chain.
CREATE TABLE audit_head (
  one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (one, seq, hash) VALUES (TRUE, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
