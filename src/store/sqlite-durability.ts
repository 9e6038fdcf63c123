/**
 * The embedded store's durability, off the event loop. SQLite runs with synchronous=NORMAL (a commit writes the WAL
 * and does not wait for the disk) and never checkpoints on the store's own connection: `Durability` makes every
 * commit durable with an fdatasync of the WAL on libuv's thread pool (one at a time, each covering every commit made
 * before it started): a write is answered, and a decision it wrote is shown by any read, only once that commit is on
 * disk. `Checkpointer` copies the WAL into the database from a connection of its own, in a worker thread.
 *
 * With synchronous=FULL each commit's fsync held the event loop: 0.3–1 ms a commit, and 60–412 ms at a time when the
 * disk stalled (a 5-minute soak at 50 decisions a second: every decision in flight waited, the fork's lock with them).
 */
import { fdatasync, openSync, closeSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { CountersignError } from "../errors";

/** Makes the file behind `fd` durable (fdatasync on libuv's pool). */
export type Sync = (fd: number) => Promise<void>;

const datasync: Sync = (fd) => new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));

/**
 * Commits, and when they are on disk.
 * @example await durability.commit(["op_…"]) // resolves once the WAL holding that commit is on disk
 */
export class Durability {
  private commits = 0;
  private synced = 0;
  private syncing?: Promise<void>;
  private fd?: number;
  /** Why the store can no longer tell what is on disk (a failed fdatasync): every later operation is refused. */
  failure?: CountersignError;
  /** Rows (decision ids) last written by a commit not yet on disk, with that commit's number. */
  private readonly undurable = new Map<string, number>();

  /** `walPath`: the WAL file (undefined for a store in memory: nothing to sync). `sync`: tests make it slow or fail. */
  constructor(
    private readonly walPath: string | undefined,
    private readonly sync: Sync = datasync,
  ) {}

  /** Notes a commit that wrote the rows `ids`; resolves once it is on disk, or rejects STORE_UNAVAILABLE. */
  commit(ids: readonly string[] = []): Promise<void> {
    const seq = ++this.commits;
    // In memory nothing is synced, and nothing is ever waited for.
    if (this.walPath !== undefined) for (const id of ids) this.undurable.set(id, seq);
    return this.until(seq);
  }

  /** Resolves once every commit that wrote one of the rows `ids` is on disk (at once for rows that are). */
  shown(ids: readonly string[]): Promise<void> {
    let seq = 0;
    for (const id of ids) seq = Math.max(seq, this.undurable.get(id) ?? 0);
    return seq === 0 ? Promise.resolve() : this.until(seq);
  }

  /** Throws the failure that stopped the store, if one did. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  private async until(seq: number): Promise<void> {
    if (this.walPath === undefined) return void (this.synced = Math.max(this.synced, seq));
    while (this.synced < seq) {
      this.check();
      // One fdatasync at a time; the commits made while one runs share the next.
      this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
      await this.syncing;
    }
    this.check();
  }

  private async syncOnce(): Promise<void> {
    const upTo = this.commits;
    try {
      this.fd ??= openSync(this.walPath!, "r");
      await this.sync(this.fd);
    } catch (err) {
      // The kernel may have dropped what it could not write: nothing the store holds is known to be on disk.
      this.failure ??= new CountersignError("STORE_UNAVAILABLE", `the store cannot make its writes durable: ${(err as Error).message}`);
      throw this.failure;
    }
    this.synced = upTo;
    for (const [id, seq] of this.undurable) if (seq <= upTo) this.undurable.delete(id);
  }

  /** Waits for the fdatasync in flight, then closes the WAL's descriptor. */
  async close(): Promise<void> {
    await this.syncing?.catch(() => undefined);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The worker's code: a connection of its own that checkpoints the WAL (PASSIVE: never waits for a lock) when told. */
const CHECKPOINTER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("synchronous = NORMAL");
parentPort.on("message", (m) => {
  if (m === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ done: true, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ done: true, error: String(err && err.message || err) });
  }
});
`;

/**
 * Checkpoints the WAL into the database off the event loop: in a worker thread with its own connection, at most one
 * at a time, once `everyCommits` commits were made since the last (SQLite's own default is every 1000 WAL pages, a
 * commit here writes about ten). In WAL mode a checkpoint syncs the WAL, then the database: on this thread, a stalled
 * disk would hold the event loop.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private since = 0;
  private running = false;
  private closed = false;
  /** Checkpoints done, and the last one's failure if it failed (the WAL then grows until one succeeds). */
  readonly stats = { checkpoints: 0, lastError: undefined as string | undefined, walFrames: 0 };

  constructor(
    path: string,
    private readonly everyCommits = 100,
  ) {
    this.worker = new Worker(CHECKPOINTER, { eval: true, workerData: { path, module: require.resolve("better-sqlite3") } });
    this.worker.unref();
    this.worker.on("message", (m: { log?: number; checkpointed?: number; error?: string }) => {
      this.running = false;
      this.stats.checkpoints += 1;
      this.stats.lastError = m.error;
      if (m.log !== undefined) this.stats.walFrames = m.log;
    });
    this.worker.on("error", (err) => {
      this.running = false;
      this.stats.lastError = err.message;
    });
  }

  /** Notes a commit; starts a checkpoint once enough were made and none is running. */
  committed(): void {
    this.since += 1;
    if (this.since >= this.everyCommits) this.now();
  }

  /** Starts a checkpoint unless one is running. */
  now(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.since = 0;
    this.worker.postMessage("checkpoint");
  }

  /** Closes the worker's connection and ends it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.postMessage("close");
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref())]);
    await this.worker.terminate();
  }
}
