-- The monitor: what executed on chain (attributed to decisions), owner executions, control changes, the recent block
-- hashes of each follower (its reorg window), and the breaker's incidents (at most one unresolved per kind).
CREATE TABLE IF NOT EXISTS executions (
  chain_id INTEGER NOT NULL, follower TEXT NOT NULL, wallet TEXT NOT NULL, digest TEXT NOT NULL, session_key TEXT NOT NULL,
  nonce TEXT NOT NULL, tx_hash TEXT NOT NULL, block_number INTEGER NOT NULL, block_hash TEXT NOT NULL, log_index INTEGER NOT NULL,
  relayer TEXT NOT NULL, gas_used TEXT NOT NULL, decision_id TEXT, changes TEXT NOT NULL, simulated TEXT, matches_simulation INTEGER,
  PRIMARY KEY (chain_id, follower, tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS executions_decision ON executions (decision_id);
CREATE INDEX IF NOT EXISTS executions_digest ON executions (chain_id, wallet, digest);
CREATE INDEX IF NOT EXISTS executions_block ON executions (chain_id, follower, block_number);
CREATE TABLE IF NOT EXISTS owner_executions (
  chain_id INTEGER NOT NULL, follower TEXT NOT NULL, wallet TEXT NOT NULL, target TEXT NOT NULL, value TEXT NOT NULL,
  selector TEXT NOT NULL, tx_hash TEXT NOT NULL, block_number INTEGER NOT NULL, log_index INTEGER NOT NULL,
  PRIMARY KEY (chain_id, follower, tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS owner_executions_wallet ON owner_executions (chain_id, wallet, block_number);
CREATE TABLE IF NOT EXISTS control_changes (
  chain_id INTEGER NOT NULL, follower TEXT NOT NULL, wallet TEXT NOT NULL, event TEXT NOT NULL, args TEXT NOT NULL,
  tx_hash TEXT NOT NULL, block_number INTEGER NOT NULL, log_index INTEGER NOT NULL,
  PRIMARY KEY (chain_id, follower, tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS control_changes_wallet ON control_changes (chain_id, wallet, block_number);
CREATE TABLE IF NOT EXISTS monitor_blocks (
  chain_id INTEGER NOT NULL, follower TEXT NOT NULL, number INTEGER NOT NULL, hash TEXT NOT NULL, parent_hash TEXT NOT NULL,
  PRIMARY KEY (chain_id, follower, number)
);
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY,
  chain_id INTEGER NOT NULL,
  wallet TEXT NOT NULL,
  session_key TEXT,
  rule TEXT NOT NULL,
  summary TEXT NOT NULL,
  evidence TEXT NOT NULL,
  action_kind TEXT NOT NULL CHECK (action_kind IN ('pause', 'revoke', 'flag')),
  actions TEXT NOT NULL DEFAULT '[]',
  state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  opened_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  acknowledged_by TEXT,
  acknowledged_at TEXT,
  resolved_by TEXT,
  resolved_at TEXT,
  note TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_one_unresolved ON incidents (chain_id, wallet, action_kind, COALESCE(session_key, ''))
  WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents (opened_at);
