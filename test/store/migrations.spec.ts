/**
 * Schema migrations: numbered SQL files, the same numbers and names for both back ends, applied once, and a database
 * newer than the code refused. PostgreSQL's side runs in postgres.spec.ts (it needs DATABASE_URL).
 */
import Database from "better-sqlite3";
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store";
import { loadMigrations, pendingMigrations } from "../../src/store/migrations";

const fresh = () => join(mkdtempSync(join(tmpdir(), "cs-migrations-")), "store.sqlite");

describe("schema migrations", function () {
  it("numbers SQLite's and PostgreSQL's migrations alike: 1, 2, … with the same names", function () {
    const sqlite = loadMigrations("sqlite").map((m) => `${m.version}_${m.name}`);
    const postgres = loadMigrations("postgres").map((m) => `${m.version}_${m.name}`);
    expect(sqlite.length).to.be.greaterThan(1);
    expect(sqlite).to.deep.equal(postgres);
    expect(sqlite[0]).to.equal("1_initial");
  });

  it("refuses a schema newer than the migrations, naming both versions", function () {
    const known = loadMigrations("sqlite");
    expect(pendingMigrations(known, known.length - 1, "sqlite")).to.have.length(1);
    expect(() => pendingMigrations(known, known.length + 1, "sqlite")).to.throw(`version ${known.length + 1}, newer than this co-signer knows (${known.length})`);
  });

  it("applies SQLite's migrations once, recorded in schema_migrations", async function () {
    const path = fresh();
    await SqliteStore.open(path).close();
    await SqliteStore.open(path).close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare(`SELECT version FROM schema_migrations ORDER BY version`).all() as { version: number }[];
    db.close();
    expect(rows.map((r) => r.version)).to.deep.equal(loadMigrations("sqlite").map((m) => m.version));
  });

  it("refuses to open a SQLite database whose schema is newer, and changes nothing in it", async function () {
    const path = fresh();
    await SqliteStore.open(path).close();
    const db = new Database(path);
    db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from_the_future', 'now')`).run();
    db.close();
    expect(() => SqliteStore.open(path)).to.throw(/version 99, newer than this co-signer knows/);
  });

  it("upgrades a database made before migrations were numbered, keeping its decisions and audit chain", async function () {
    const path = fresh();
    const db = new Database(path);
    db.exec(readFileSync(join(__dirname, "../../src/store/migrations/sqlite/001_initial.sql"), "utf8"));
    db.close();
    const before = SqliteStore.open(path);
    await before.appendAudit("refusal", null, { code: "NONCE_USED" });
    await before.close();
    const store = SqliteStore.open(path);
    try {
      expect(await store.verifyAudit()).to.deep.equal({ ok: true, checked: 1 });
      expect(await store.listIncidents()).to.deep.equal([]);
    } finally {
      await store.close();
    }
  });
});
