/**
 * The store contract on PostgreSQL: the same suite as SQLite, each test in a fresh schema of the database named by
 * DATABASE_URL (`.ci/run` sets it). Without DATABASE_URL the suite is skipped and says how to run it.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import pg from "pg";
import { loadMigrations } from "../../src/store/migrations";
import { PostgresStore } from "../../src/store/postgres";
import { storeContract } from "./contract";

const url = process.env.DATABASE_URL;
const schemas: string[] = [];

/** A fresh, empty store in a schema of its own. */
async function freshStore(): Promise<PostgresStore> {
  const schema = `cs_test_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  return PostgresStore.open(url!, { schema, timeoutMs: 3_000 });
}

/** Drops the schemas the tests made. */
async function dropSchemas(): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await client.end();
}

if (!url) {
  describe("store contract: PostgreSQL", function () {
    it("needs DATABASE_URL (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx hardhat test test/store/postgres.spec.ts)");
  });
} else {
  storeContract("PostgreSQL", freshStore);

  describe("PostgreSQL store: schema and replicas", function () {
    after(dropSchemas);

    it("applies its numbered migrations once, recorded in schema_migrations", async function () {
      const schema = `cs_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      const first = await PostgresStore.open(url, { schema });
      const second = await PostgresStore.open(url, { schema });
      await Promise.all([first.close(), second.close()]);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
      await client.end();
      const known = loadMigrations("postgres");
      expect(rows.map((r) => r.version)).to.deep.equal(known.map((m) => m.version));
      expect(rows[0].name).to.equal("initial");
    });

    it("keeps the same indexes on decisions as SQLite: the pending listing's holds pending decisions only", async function () {
      const schema = `cs_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      await (await PostgresStore.open(url, { schema })).close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'decisions' ORDER BY indexname`, [schema]);
      await client.end();
      expect(rows.map((r) => r.indexname)).to.deep.equal(["decisions_digest", "decisions_idempotency", "decisions_live_nonce", "decisions_pending", "decisions_pkey", "decisions_seq_key"]);
      expect(rows.find((r) => r.indexname === "decisions_pending").indexdef).to.match(/\(chain_id, created_at\) WHERE \(status = 'pending_approval'::text\)$/);
    });

    it("refuses to open a schema newer than the migrations it knows, and names both versions", async function () {
      const schema = `cs_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      await (await PostgresStore.open(url, { schema })).close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (99, 'from_the_future', 'now')`);
      await client.end();
      try {
        await PostgresStore.open(url, { schema });
        expect.fail("opened a schema newer than it knows");
      } catch (err) {
        expect((err as Error).message).to.match(/version 99, newer than this co-signer knows \(\d+\)/);
      }
    });

    it("keeps one audit chain when two stores (two replicas) append at once", async function () {
      const schema = `cs_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      const a = await PostgresStore.open(url, { schema });
      const b = await PostgresStore.open(url, { schema });
      try {
        await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).appendAudit("refusal", null, { i })));
        expect(await a.verifyAudit()).to.deep.equal({ ok: true, checked: 40 });
        expect((await b.auditHead()).seq).to.equal(40);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("refuses to change or delete an audit record, even by hand", async function () {
      const schema = `cs_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      const store = await PostgresStore.open(url, { schema });
      await store.appendAudit("refusal", null, { code: "NONCE_USED" });
      await store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (const sql of [`UPDATE ${schema}.audit_log SET kind = 'x'`, `DELETE FROM ${schema}.audit_log`, `TRUNCATE ${schema}.audit_log`]) {
          try {
            await client.query(sql);
            expect.fail(`${sql} succeeded`);
          } catch (err) {
            expect((err as Error).message).to.match(/append-only/);
          }
        }
      } finally {
        await client.end();
      }
    });

    it("lets one replica at a time hold a lease, and hands it over when the holder's session dies", async function () {
      const schema = `cs_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      const a = await PostgresStore.open(url, { schema });
      const b = await PostgresStore.open(url, { schema });
      try {
        const held = await a.tryLease("monitor");
        expect(held, "the first try holds it").to.not.equal(undefined);
        expect(await b.tryLease("monitor"), "a second replica does not").to.equal(undefined);
        expect(await b.tryLease("other"), "another name is another lease").to.not.equal(undefined);
        await held!.release();
        const taken = await b.tryLease("monitor");
        expect(taken, "released: the other replica takes it").to.not.equal(undefined);
        // The holder's session ends as a crash ends it: the lease says it is lost, and the other replica takes over.
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('countersign.lease.monitor')::oid AND granted`,
        );
        await admin.end();
        await taken!.lost;
        const again = await a.tryLease("monitor");
        expect(again, "after the holder died").to.not.equal(undefined);
        await again!.release();
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("ends the holder's lease when its database session hangs, so it stops believing it follows the chain", async function () {
      const schema = `cs_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      const proxy = await freezableProxy(new URL(url));
      const through = new URL(url);
      through.host = `127.0.0.1:${proxy.port}`;
      const a = await PostgresStore.open(through.toString(), { schema });
      const b = await PostgresStore.open(url, { schema });
      try {
        const held = await a.tryLease("monitor", 500);
        expect(held).to.not.equal(undefined);
        // The network goes silent (a partition): nothing is closed, nothing answers.
        proxy.freeze();
        const started = Date.now();
        await held!.lost;
        expect(Date.now() - started, "the holder noticed within a few heartbeats").to.be.lessThan(5_000);
        // The server drops the dead session (its TCP keepalives would); the other replica takes over.
        proxy.dropServerSide();
        let taken: Awaited<ReturnType<typeof b.tryLease>>;
        for (let i = 0; i < 40 && !taken; i++) {
          taken = await b.tryLease("monitor");
          if (!taken) await new Promise((r) => setTimeout(r, 100));
        }
        expect(taken, "another replica took the lease").to.not.equal(undefined);
        await taken!.release();
      } finally {
        proxy.close();
        await Promise.all([a.close().catch(() => undefined), b.close()]);
      }
    });

    it("answers STORE_UNAVAILABLE when the server cannot be reached", async function () {
      try {
        await PostgresStore.open("postgres://postgres@127.0.0.1:1/none", { timeoutMs: 1_000 });
        expect.fail("opened a store on a closed port");
      } catch (err) {
        expect((err as { code?: string }).code).to.equal("STORE_UNAVAILABLE");
      }
    });
  });
}

/** A TCP proxy to the database that can go silent (a partition) and then drop its side towards the server. */
async function freezableProxy(target: URL): Promise<{ port: number; freeze(): void; dropServerSide(): void; close(): void }> {
  const toServer = new Set<Socket>();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    toServer.add(upstream);
    client.on("data", (d) => {
      if (!frozen) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!frozen) client.write(d);
    });
    const end = () => {
      if (!frozen) {
        client.destroy();
        upstream.destroy();
      }
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => void (frozen = true),
    dropServerSide: () => toServer.forEach((s) => s.destroy()),
    close: () => {
      toServer.forEach((s) => s.destroy());
      server.close();
    },
  };
}
