import Database from "better-sqlite3";
import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CountersignError } from "../../src/errors";
import { SqliteStore, type NewDecision } from "../../src/store";
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
