-- Decisions, known recipients, anomaly flags, the monitor's position and the hash-chained, append-only audit log.
-- IF NOT EXISTS: a database made before migrations were numbered already holds these tables.
CREATE TABLE IF NOT EXISTS decisions (
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
CREATE UNIQUE INDEX IF NOT EXISTS decisions_live_nonce ON decisions (chain_id, wallet, nonce) WHERE status != 'rejected';
CREATE INDEX IF NOT EXISTS decisions_digest ON decisions (digest);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_idempotency ON decisions (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS decisions_session_key ON decisions (session_key, created_at);
CREATE TABLE IF NOT EXISTS paid_recipients (
  chain_id INTEGER NOT NULL, wallet TEXT NOT NULL, recipient TEXT NOT NULL,
  PRIMARY KEY (chain_id, wallet, recipient)
);
CREATE TABLE IF NOT EXISTS anomalies (
  id INTEGER PRIMARY KEY,
  chain_id INTEGER NOT NULL, wallet TEXT NOT NULL, reason TEXT NOT NULL,
  created_at TEXT NOT NULL, cleared_at TEXT
);
CREATE INDEX IF NOT EXISTS decisions_pending ON decisions (chain_id, status, created_at);
CREATE TABLE IF NOT EXISTS monitor_positions (
  chain_id INTEGER NOT NULL, follower TEXT NOT NULL, block_number TEXT NOT NULL, block_hash TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (chain_id, follower)
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  ref TEXT,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
