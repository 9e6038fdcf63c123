/**
 * The monitor's execution records in PostgreSQL (the `Executions` interface of types.ts; tables in migration 002),
 * the same records and audit kinds as sqlite-executions.ts. Every function runs inside the caller's transaction.
 */
import type pg from "pg";
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

type Queryable = Pick<pg.PoolClient, "query">;
type Append = (c: Queryable, kind: string, ref: string | null, payload: unknown, at: string) => Promise<unknown>;
type SetPosition = (c: Queryable, chainId: number, follower: string, position: ChainPosition) => Promise<void>;

const ORDER = "ORDER BY block_number ASC, log_index ASC";

/**
 * Records a block and moves the follower, inside the caller's transaction; the stored position is locked first, so
 * two followers of one name cannot both record the same block.
 * @throws PositionConflict unless the follower stands at the block's parent (or nowhere yet).
 */
export async function recordBlock(c: Queryable, b: BlockRecord, setPosition: SetPosition, append: Append, at: string): Promise<void> {
  const { rows } = await c.query<{ block_number: string; block_hash: string }>(
    `SELECT block_number, block_hash FROM monitor_positions WHERE chain_id = $1 AND follower = $2 FOR UPDATE`,
    [b.chainId, b.follower],
  );
  const stored = rows[0] ? { blockNumber: BigInt(rows[0].block_number), blockHash: rows[0].block_hash } : undefined;
  if (stored && (stored.blockNumber !== b.number - 1n || stored.blockHash !== b.parentHash)) {
    throw new PositionConflict({ number: b.number, parentHash: b.parentHash }, stored);
  }
  const n = b.number.toString();
  for (const e of b.executions) {
    await c.query(
      `INSERT INTO executions (chain_id, follower, wallet, digest, session_key, nonce, tx_hash, block_number, block_hash, log_index,
         relayer, gas_used, decision_id, changes, simulated, matches_simulation)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        e.chainId,
        b.follower,
        e.wallet,
        e.digest,
        e.sessionKey,
        e.nonce,
        e.txHash,
        n,
        b.hash,
        e.logIndex,
        e.relayer,
        e.gasUsed,
        e.decisionId,
        toJson(e.changes),
        e.simulated === null ? null : toJson(e.simulated),
        e.matchesSimulation,
      ],
    );
    if (e.decisionId) await c.query(`UPDATE decisions SET tx_hash = $1 WHERE id = $2`, [e.txHash, e.decisionId]);
    await append(c, "executed", e.decisionId ?? e.digest, executedPayload({ ...e, blockNumber: b.number, blockHash: b.hash }), at);
  }
  for (const o of b.ownerExecutions) {
    await c.query(
      `INSERT INTO owner_executions (chain_id, follower, wallet, target, value, selector, tx_hash, block_number, log_index)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [o.chainId, b.follower, o.wallet, o.target, o.value, o.selector, o.txHash, n, o.logIndex],
    );
    await append(c, "owner.executed", o.wallet, { ...o, blockNumber: b.number }, at);
  }
  for (const ch of b.controlChanges) {
    await c.query(
      `INSERT INTO control_changes (chain_id, follower, wallet, event, args, tx_hash, block_number, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [ch.chainId, b.follower, ch.wallet, ch.event, toJson(ch.args), ch.txHash, n, ch.logIndex],
    );
    await append(c, "control.changed", ch.wallet, { ...ch, blockNumber: b.number }, at);
  }
  await c.query(
    `INSERT INTO monitor_blocks (chain_id, follower, number, hash, parent_hash) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (chain_id, follower, number) DO UPDATE SET hash = excluded.hash, parent_hash = excluded.parent_hash`,
    [b.chainId, b.follower, n, b.hash, b.parentHash],
  );
  if (b.forgetBelow !== undefined) {
    await c.query(`DELETE FROM monitor_blocks WHERE chain_id = $1 AND follower = $2 AND number < $3`, [b.chainId, b.follower, b.forgetBelow.toString()]);
  }
  await setPosition(c, b.chainId, b.follower, { blockNumber: b.number, blockHash: b.hash });
}

/** Undoes blocks from `fromBlock` on, inside the caller's transaction; returns what it removed, in chain order. */
export async function undoFrom(
  c: Queryable,
  chainId: number,
  follower: string,
  fromBlock: bigint,
  to: ChainPosition,
  setPosition: SetPosition,
  append: Append,
  at: string,
): Promise<UndoneBlocks> {
  const args = [chainId, follower, fromBlock.toString()];
  const where = `WHERE chain_id = $1 AND follower = $2 AND block_number >= $3`;
  const undone: UndoneBlocks = {
    executions: (await c.query<ExecutionRow>(`SELECT * FROM executions ${where} ${ORDER}`, args)).rows.map(executionFromRow),
    ownerExecutions: (await c.query<OwnerRow>(`SELECT * FROM owner_executions ${where} ${ORDER}`, args)).rows.map(ownerExecutionFromRow),
    controlChanges: (await c.query<ControlRow>(`SELECT * FROM control_changes ${where} ${ORDER}`, args)).rows.map(controlChangeFromRow),
  };
  for (const e of undone.executions) {
    if (e.decisionId) await c.query(`UPDATE decisions SET tx_hash = NULL WHERE id = $1`, [e.decisionId]);
    await append(c, "execution.reverted", e.decisionId ?? e.digest, { ...executedPayload(e), reason: "reorg" }, at);
  }
  for (const o of undone.ownerExecutions) await append(c, "owner.execution.reverted", o.wallet, { ...o, reason: "reorg" }, at);
  for (const ch of undone.controlChanges) await append(c, "control.change.reverted", ch.wallet, { ...ch, reason: "reorg" }, at);
  for (const table of ["executions", "owner_executions", "control_changes"]) await c.query(`DELETE FROM ${table} ${where}`, args);
  await c.query(`DELETE FROM monitor_blocks WHERE chain_id = $1 AND follower = $2 AND number >= $3`, args);
  await setPosition(c, chainId, follower, to);
  return undone;
}

/** The read side of the Executions interface. */
export const executionQueries = {
  async ofDecision(c: Queryable, decisionId: string): Promise<StoredExecution[]> {
    return (await c.query<ExecutionRow>(`SELECT * FROM executions WHERE decision_id = $1 ${ORDER}`, [decisionId])).rows.map(executionFromRow);
  },
  async byDigest(c: Queryable, chainId: number, wallet: string, digest: string): Promise<StoredExecution | undefined> {
    const { rows } = await c.query<ExecutionRow>(
      `SELECT * FROM executions WHERE chain_id = $1 AND wallet = $2 AND digest = $3 ORDER BY block_number DESC LIMIT 1`,
      [chainId, wallet, digest],
    );
    return rows[0] ? executionFromRow(rows[0]) : undefined;
  },
  async chainFrom(c: Queryable, chainId: number, fromBlock: bigint): Promise<StoredExecution[]> {
    const { rows } = await c.query<ExecutionRow>(`SELECT * FROM executions WHERE chain_id = $1 AND block_number >= $2 ${ORDER}`, [chainId, fromBlock.toString()]);
    return rows.map(executionFromRow);
  },
  async ownerOf(c: Queryable, chainId: number, wallet: string, fromBlock: bigint): Promise<StoredOwnerExecution[]> {
    const { rows } = await c.query<OwnerRow>(`SELECT * FROM owner_executions WHERE chain_id = $1 AND wallet = $2 AND block_number >= $3 ${ORDER}`, [
      chainId,
      wallet,
      fromBlock.toString(),
    ]);
    return rows.map(ownerExecutionFromRow);
  },
  async controlOf(c: Queryable, chainId: number, wallet: string, fromBlock: bigint): Promise<StoredControlChange[]> {
    const { rows } = await c.query<ControlRow>(`SELECT * FROM control_changes WHERE chain_id = $1 AND wallet = $2 AND block_number >= $3 ${ORDER}`, [
      chainId,
      wallet,
      fromBlock.toString(),
    ]);
    return rows.map(controlChangeFromRow);
  },
  async recent(c: Queryable, chainId: number, follower: string, limit: number): Promise<{ number: bigint; hash: string; parentHash: string }[]> {
    const { rows } = await c.query<{ number: string; hash: string; parent_hash: string }>(
      `SELECT number, hash, parent_hash FROM monitor_blocks WHERE chain_id = $1 AND follower = $2 ORDER BY number DESC LIMIT $3`,
      [chainId, follower, limit],
    );
    return rows.map((r) => ({ number: BigInt(r.number), hash: r.hash, parentHash: r.parent_hash }));
  },
};
