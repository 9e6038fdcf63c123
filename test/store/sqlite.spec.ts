import Database from "better-sqlite3";
import { expect } from "chai";
import { fstatSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CountersignError } from "../../src/errors";
import { SqliteStore, type NewDecision } from "../../src/store";
import { waitFor } from "../support/engine";
import { storeContract } from "./contract";

storeContract("SQLite (file)", async () => SqliteStore.open(join(mkdtempSync(join(tmpdir(), "cs-store-")), "store.sqlite")));
storeContract("SQLite (:memory:)", async () => SqliteStore.open(":memory:"));

describe("SqliteStore: group commit", function () {
  const WALLET = "0x1111111111111111111111111111111111111111";
  let serial = 0;
  const decision = (nonce: string): NewDecision => ({
    chainId: 31337,
    wallet: WALLET,
    nonce,
    digest: `0x${(++serial).toString(16).padStart(64, "0")}`,
    status: "approved",
    sessionKey: "0x4444444444444444444444444444444444444444",
    idempotencyKey: null,
    requestHash: `h${serial}`,
    request: { nonce },
    simulation: { blockNumber: "7", changes: [] },
    reasons: [],
    cosignerSignature: "0xsig",
    recipients: [],
  });
  const open = () => SqliteStore.open(join(mkdtempSync(join(tmpdir(), "cs-group-")), "store.sqlite"));
  /** The store's connection: what the tests below look at (the WAL) or break (a commit). */
  const dbOf = (store: SqliteStore) => (store as unknown as { db: Database.Database }).db;
  /** Frames in the write-ahead log: pages written by commits since it was emptied. */
  const walFrames = (db: Database.Database) => (db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[])[0]!.log;

  it("commits the inserts of one turn of the event loop together: a fraction of the pages written one by one", async function () {
    const store = open();
    try {
      const db = dbOf(store);
      db.pragma("wal_checkpoint(TRUNCATE)");
      for (let i = 0; i < 10; i++) await store.insert(decision(`${i}`), {});
      const alone = walFrames(db);
      db.pragma("wal_checkpoint(TRUNCATE)");
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.insert(decision(`${100 + i}`), {})));
      const together = walFrames(db);
      expect(alone, "one commit per insert").to.be.at.least(30);
      expect(together * 3, `${together} frames together against ${alone} one by one`).to.be.below(alone);
      expect(await store.verifyAudit()).to.deep.equal({ ok: true, checked: 20 });
    } finally {
      await store.close();
    }
  });

  it("indexes only what a query reads: the pending listing reads an index of pending decisions, no index is kept unread", async function () {
    const store = open();
    try {
      const db = dbOf(store);
      await store.insert(decision("1"), {});
      const pending = await store.insert({ ...decision("2"), status: "pending_approval", cosignerSignature: null }, {});
      const stmts = (store as unknown as { stmts: { pending: Database.Statement } }).stmts;
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${stmts.pending.source}`).all({ chain_id: 31337, wallet: null, before: null, limit: 10 }) as { detail: string }[];
      expect(plan.map((p) => p.detail).join("; ")).to.match(/USING INDEX decisions_pending\b/);
      const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decisions' AND sql IS NOT NULL`).all() as { name: string; sql: string }[];
      expect(indexes.map((i) => i.name).sort()).to.deep.equal(["decisions_digest", "decisions_idempotency", "decisions_live_nonce", "decisions_pending"]);
      expect(indexes.find((i) => i.name === "decisions_pending")!.sql).to.match(/WHERE status = 'pending_approval'$/);
      expect((await store.listPending({ chainId: 31337 })).map((d) => d.id)).to.deep.equal([pending.id]);
    } finally {
      await store.close();
    }
  });

  it("fails every insert of the group STORE_UNAVAILABLE, and keeps none, when their commit fails", async function () {
    const store = open();
    try {
      const db = dbOf(store);
      // A commit that fails: a deferred foreign key broken by the insert of nonce 666, checked only at COMMIT.
      db.pragma("foreign_keys = ON");
      db.exec(`CREATE TABLE breaks (ref TEXT REFERENCES decisions(id) DEFERRABLE INITIALLY DEFERRED);
               CREATE TRIGGER break_commit AFTER INSERT ON decisions WHEN NEW.nonce = '666' BEGIN INSERT INTO breaks VALUES ('op_none'); END;`);
      const results = await Promise.allSettled([store.insert(decision("1"), {}), store.insert(decision("666"), {}), store.insert(decision("2"), {})]);
      expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected", "rejected"]);
      for (const r of results) expect(((r as PromiseRejectedResult).reason as CountersignError).code).to.equal("STORE_UNAVAILABLE");
      expect(await store.findLiveByNonce(31337, WALLET, "1")).to.equal(undefined);
      expect(await store.findLiveByNonce(31337, WALLET, "2")).to.equal(undefined);
      expect((await store.auditHead()).seq).to.equal(0);
      // The next group commits as usual.
      expect((await store.insert(decision("3"), {})).nonce).to.equal("3");
    } finally {
      await store.close();
    }
  });
});

describe("SqliteStore: durable off the event loop", function () {
  const WALLET = "0x2222222222222222222222222222222222222222";
  let serial = 0;
  const decision = (): NewDecision => {
    const n = ++serial;
    return {
      chainId: 31337,
      wallet: WALLET,
      nonce: `${n}`,
      digest: `0x${n.toString(16).padStart(64, "0")}`,
      status: "approved",
      sessionKey: "0x4444444444444444444444444444444444444444",
      idempotencyKey: null,
      requestHash: `h${n}`,
      request: { nonce: `${n}` },
      simulation: { blockNumber: "7", changes: [] },
      reasons: [],
      cosignerSignature: "0xsig",
      recipients: [],
    };
  };
  /** A disk whose fdatasyncs wait for `release()` (each call counted, and the descriptor it got kept). */
  function slowDisk() {
    const waiting: (() => void)[] = [];
    const disk = {
      calls: 0,
      fds: [] as number[],
      sync: (fd: number) => {
        disk.calls += 1;
        disk.fds.push(fd);
        return new Promise<void>((resolve) => waiting.push(resolve));
      },
      release: () => waiting.splice(0).forEach((r) => r()),
    };
    return disk;
  }
  const settledYet = async (p: Promise<unknown>) => {
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 50));
    return settled;
  };
  const pathOf = () => join(mkdtempSync(join(tmpdir(), "cs-durable-")), "store.sqlite");
  /** Runs `fn` on a store at `path` whose disk is slowDisk(), then lets the disk go and closes the store. */
  async function withSlowDisk(path: string, fn: (store: SqliteStore, disk: ReturnType<typeof slowDisk>) => Promise<void>) {
    const disk = slowDisk();
    const store = SqliteStore.open(path, { sync: disk.sync });
    try {
      await fn(store, disk);
    } finally {
      disk.release();
      await store.close();
    }
  }

  it("answers an insert only once the WAL's fdatasync returned, and the event loop runs meanwhile", async function () {
    const path = pathOf();
    await withSlowDisk(path, async (store, disk) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const inserted = store.insert(decision(), {});
      const early = await settledYet(inserted);
      clearInterval(timer);
      expect(early, "answered before the disk said it holds the commit").to.equal(false);
      expect(ticks, "the event loop ran while the disk was slow").to.be.at.least(3);
      expect(disk.calls).to.equal(1);
      expect(fstatSync(disk.fds[0]!).ino, "the descriptor synced is the WAL's").to.equal(statSync(`${path}-wal`).ino);
      disk.release();
      expect((await inserted).status).to.equal("approved");
    });
  });

  it("shows no decision before it is on disk: a read of it waits, a read of another does not", async function () {
    await withSlowDisk(pathOf(), async (store, disk) => {
      const d = decision();
      const inserted = store.insert(d, {});
      await new Promise((r) => setImmediate(r));
      const read = store.findByDigest(d.chainId, d.wallet, d.digest);
      expect(await settledYet(read), "a signed decision shown before it is on disk").to.equal(false);
      expect(await store.findByDigest(d.chainId, d.wallet, `0x${"ab".repeat(32)}`)).to.equal(undefined);
      disk.release();
      expect((await read)?.cosignerSignature).to.equal("0xsig");
      await inserted;
    });
  });

  it("makes the commits made while one fdatasync ran durable with the next one: two for five inserts", async function () {
    await withSlowDisk(pathOf(), async (store, disk) => {
      const first = store.insert(decision(), {});
      await waitFor(() => disk.calls === 1, "the first fdatasync");
      const more: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        more.push(store.insert(decision(), {}));
        await new Promise((r) => setImmediate(r));
      }
      disk.release();
      await first;
      await waitFor(() => disk.calls === 2, "the second fdatasync");
      disk.release();
      await Promise.all(more);
      expect(disk.calls).to.equal(2);
    });
  });

  it("fails closed when the disk fails: the insert, and every operation after it, STORE_UNAVAILABLE", async function () {
    const store = SqliteStore.open(pathOf(), { sync: () => Promise.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })) });
    try {
      const err = await store.insert(decision(), {}).then(
        () => expect.fail("answered though its commit could not be made durable"),
        (e: CountersignError) => e,
      );
      expect(err.code).to.equal("STORE_UNAVAILABLE");
      expect(err.message).to.include("EIO");
      for (const after of [() => store.insert(decision(), {}), () => store.get("op_x"), () => store.auditHead()]) {
        const later = await after().then(
          () => expect.fail("the store went on after a failed fdatasync"),
          (e: CountersignError) => e,
        );
        expect(later.code).to.equal("STORE_UNAVAILABLE");
      }
    } finally {
      await store.close();
    }
  });

  it("checkpoints the WAL into the database from a worker thread: the WAL is emptied while inserts go on", async function () {
    const path = pathOf();
    const store = SqliteStore.open(path, { checkpointEvery: 20 });
    try {
      const stats = store.checkpoints!;
      // Each 20th commit starts a checkpoint; the test waits for it (the worker's start takes a while on a loaded
      // machine, and a checkpoint asked for while one runs is not asked twice) before the next 20.
      const frames: number[] = [];
      for (let round = 1; round <= 5; round++) {
        for (let i = 0; i < 20; i++) await store.insert(decision(), {});
        await waitFor(() => stats.checkpoints >= round, `checkpoint ${round}`);
        expect(stats.checkpoints, `checkpoints after ${round * 20} commits`).to.equal(round);
        expect(stats.lastError).to.equal(undefined);
        frames.push(stats.walFrames);
      }
      // The WAL starts again from its beginning after a checkpoint: it holds about the last 20 commits each time
      // (~150-190 pages here), where without checkpoints it would hold them all (5 times as many by the last).
      for (const f of frames.slice(1)) expect(f, `WAL pages at each checkpoint: ${frames}`).to.be.below(frames[0] * 1.5);
      // Another connection reads every decision from the database file the checkpoints wrote.
      const reader = new Database(path, { readonly: true });
      try {
        expect((reader.prepare("SELECT count(*) AS n FROM decisions").get() as { n: number }).n).to.equal(100);
      } finally {
        reader.close();
      }
    } finally {
      await store.close();
    }
  });
});
