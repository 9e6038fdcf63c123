/**
 * The SQLite tables and statements of the monitor's execution records (the `Executions` interface of types.ts),
 * kept beside sqlite.ts so that file only delegates. Every function runs inside the caller's transaction.
 */
import type Database from "better-sqlite3";
import { toJson } from "./json";
import {
  controlChangeFromRow,
  executedPayload,
  executionFromRow,
  ownerExecutionFromRow,
  type ControlRow,
  type ExecutionRow,
  type OwnerRow,
} from "./rows";
import {
  PositionConflict,
  type BlockRecord,
  type ChainPosition,
  type StoredControlChange,
  type StoredExecution,
  type StoredOwnerExecution,
  type UndoneBlocks,
} from "./types";

// The tables (migrations/sqlite/002_monitor.sql): one row per event, keyed by (chain, follower, transaction, log index).

type Append = (kind: string, ref: string | null, payload: unknown, at: string) => unknown;
type Position = (chainId: number, follower: string) => ChainPosition | undefined;
type SetPosition = (chainId: number, follower: string, position: ChainPosition, at: string) => void;

/**
 * The prepared statements and the operations of the Executions interface on one SQLite connection.
 * @example const executions = new SqliteExecutions(db); db.transaction(() => executions.record(block, ...))()
 */
export class SqliteExecutions {
  private readonly s;

  constructor(db: Database.Database) {
    const order = "ORDER BY block_number ASC, log_index ASC";
    this.s = {
      insertExecution: db.prepare(`INSERT INTO executions (chain_id, follower, wallet, digest, session_key, nonce, tx_hash, block_number,
        block_hash, log_index, relayer, gas_used, decision_id, changes, simulated, matches_simulation) VALUES (@chain_id, @follower, @wallet,
        @digest, @session_key, @nonce, @tx_hash, @block_number, @block_hash, @log_index, @relayer, @gas_used, @decision_id, @changes,
        @simulated, @matches_simulation)`),
      insertOwner: db.prepare(`INSERT INTO owner_executions (chain_id, follower, wallet, target, value, selector, tx_hash, block_number,
        log_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertControl: db.prepare(`INSERT INTO control_changes (chain_id, follower, wallet, event, args, tx_hash, block_number, log_index)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      insertBlock: db.prepare(`INSERT OR REPLACE INTO monitor_blocks (chain_id, follower, number, hash, parent_hash) VALUES (?, ?, ?, ?, ?)`),
      forgetBlocks: db.prepare(`DELETE FROM monitor_blocks WHERE chain_id = ? AND follower = ? AND number < ?`),
      setTxHash: db.prepare(`UPDATE decisions SET tx_hash = ? WHERE id = ?`),
      executionsFrom: db.prepare(`SELECT * FROM executions WHERE chain_id = ? AND follower = ? AND block_number >= ? ${order}`),
      ownerFrom: db.prepare(`SELECT * FROM owner_executions WHERE chain_id = ? AND follower = ? AND block_number >= ? ${order}`),
      controlFrom: db.prepare(`SELECT * FROM control_changes WHERE chain_id = ? AND follower = ? AND block_number >= ? ${order}`),
      deleteExecutions: db.prepare(`DELETE FROM executions WHERE chain_id = ? AND follower = ? AND block_number >= ?`),
      deleteOwner: db.prepare(`DELETE FROM owner_executions WHERE chain_id = ? AND follower = ? AND block_number >= ?`),
      deleteControl: db.prepare(`DELETE FROM control_changes WHERE chain_id = ? AND follower = ? AND block_number >= ?`),
      deleteBlocks: db.prepare(`DELETE FROM monitor_blocks WHERE chain_id = ? AND follower = ? AND number >= ?`),
      ofDecision: db.prepare(`SELECT * FROM executions WHERE decision_id = ? ${order}`),
      byDigest: db.prepare(`SELECT * FROM executions WHERE chain_id = ? AND wallet = ? AND digest = ? ORDER BY block_number DESC LIMIT 1`),
      ofChainFrom: db.prepare(`SELECT * FROM executions WHERE chain_id = ? AND block_number >= ? ${order}`),
      ownerOfWallet: db.prepare(`SELECT * FROM owner_executions WHERE chain_id = ? AND wallet = ? AND block_number >= ? ${order}`),
      controlOfWallet: db.prepare(`SELECT * FROM control_changes WHERE chain_id = ? AND wallet = ? AND block_number >= ? ${order}`),
      recent: db.prepare(`SELECT number, hash, parent_hash FROM monitor_blocks WHERE chain_id = ? AND follower = ? ORDER BY number DESC LIMIT ?`),
    };
  }

  /** Records a block and moves the follower (inside the caller's transaction). */
  record(b: BlockRecord, position: Position, setPosition: SetPosition, append: Append, at: string): void {
    const stored = position(b.chainId, b.follower);
    if (stored && (stored.blockNumber !== b.number - 1n || stored.blockHash !== b.parentHash)) {
      throw new PositionConflict({ number: b.number, parentHash: b.parentHash }, stored);
    }
    const n = Number(b.number);
    for (const e of b.executions) {
      this.s.insertExecution.run({
        chain_id: e.chainId,
        follower: b.follower,
        wallet: e.wallet,
        digest: e.digest,
        session_key: e.sessionKey,
        nonce: e.nonce,
        tx_hash: e.txHash,
        block_number: n,
        block_hash: b.hash,
        log_index: e.logIndex,
        relayer: e.relayer,
        gas_used: e.gasUsed,
        decision_id: e.decisionId,
        changes: toJson(e.changes),
        simulated: e.simulated === null ? null : toJson(e.simulated),
        matches_simulation: e.matchesSimulation === null ? null : e.matchesSimulation ? 1 : 0,
      });
      if (e.decisionId) this.s.setTxHash.run(e.txHash, e.decisionId);
      append("executed", e.decisionId ?? e.digest, executedPayload({ ...e, blockNumber: b.number, blockHash: b.hash }), at);
    }
    for (const o of b.ownerExecutions) {
      this.s.insertOwner.run(o.chainId, b.follower, o.wallet, o.target, o.value, o.selector, o.txHash, n, o.logIndex);
      append("owner.executed", o.wallet, { ...o, blockNumber: b.number }, at);
    }
    for (const c of b.controlChanges) {
      this.s.insertControl.run(c.chainId, b.follower, c.wallet, c.event, toJson(c.args), c.txHash, n, c.logIndex);
      append("control.changed", c.wallet, { ...c, blockNumber: b.number }, at);
    }
    this.s.insertBlock.run(b.chainId, b.follower, n, b.hash, b.parentHash);
    if (b.forgetBelow !== undefined) this.s.forgetBlocks.run(b.chainId, b.follower, Number(b.forgetBelow));
    setPosition(b.chainId, b.follower, { blockNumber: b.number, blockHash: b.hash }, at);
  }

  /** Undoes blocks from `fromBlock` on (inside the caller's transaction). */
  undo(chainId: number, follower: string, fromBlock: bigint, to: ChainPosition, setPosition: SetPosition, append: Append, at: string): UndoneBlocks {
    const from = Number(fromBlock);
    const undone: UndoneBlocks = {
      executions: (this.s.executionsFrom.all(chainId, follower, from) as ExecutionRow[]).map(executionFromRow),
      ownerExecutions: (this.s.ownerFrom.all(chainId, follower, from) as OwnerRow[]).map(ownerExecutionFromRow),
      controlChanges: (this.s.controlFrom.all(chainId, follower, from) as ControlRow[]).map(controlChangeFromRow),
    };
    for (const e of undone.executions) {
      if (e.decisionId) this.s.setTxHash.run(null, e.decisionId);
      append("execution.reverted", e.decisionId ?? e.digest, { ...executedPayload(e), reason: "reorg" }, at);
    }
    for (const o of undone.ownerExecutions) append("owner.execution.reverted", o.wallet, { ...o, reason: "reorg" }, at);
    for (const c of undone.controlChanges) append("control.change.reverted", c.wallet, { ...c, reason: "reorg" }, at);
    this.s.deleteExecutions.run(chainId, follower, from);
    this.s.deleteOwner.run(chainId, follower, from);
    this.s.deleteControl.run(chainId, follower, from);
    this.s.deleteBlocks.run(chainId, follower, from);
    setPosition(chainId, follower, to, at);
    return undone;
  }

  ofDecision(decisionId: string): StoredExecution[] {
    return (this.s.ofDecision.all(decisionId) as ExecutionRow[]).map(executionFromRow);
  }

  byDigest(chainId: number, wallet: string, digest: string): StoredExecution | undefined {
    const row = this.s.byDigest.get(chainId, wallet, digest) as ExecutionRow | undefined;
    return row ? executionFromRow(row) : undefined;
  }

  chainFrom(chainId: number, fromBlock: bigint): StoredExecution[] {
    return (this.s.ofChainFrom.all(chainId, Number(fromBlock)) as ExecutionRow[]).map(executionFromRow);
  }

  ownerOf(chainId: number, wallet: string, fromBlock: bigint): StoredOwnerExecution[] {
    return (this.s.ownerOfWallet.all(chainId, wallet, Number(fromBlock)) as OwnerRow[]).map(ownerExecutionFromRow);
  }

  controlOf(chainId: number, wallet: string, fromBlock: bigint): StoredControlChange[] {
    return (this.s.controlOfWallet.all(chainId, wallet, Number(fromBlock)) as ControlRow[]).map(controlChangeFromRow);
  }

  recent(chainId: number, follower: string, limit: number): { number: bigint; hash: string; parentHash: string }[] {
    return (this.s.recent.all(chainId, follower, limit) as { number: number; hash: string; parent_hash: string }[]).map((r) => ({
      number: BigInt(r.number),
      hash: r.hash,
      parentHash: r.parent_hash,
    }));
  }
}
